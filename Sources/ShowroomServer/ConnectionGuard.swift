import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// Bounds every TCP connection the HTTP server accepts, before HTTP or WebSocket handling sees a
/// byte: at most ``maximumConnections`` open at once, and a connection that has not sent a whole
/// request head (up to its blank line) within ``firstRequestDeadline`` of opening is closed (as
/// nginx's `client_header_timeout`). Without it a client that connected and sent nothing, or half
/// a request line, held a socket forever (found by the hardening review). How long the server
/// then takes to answer does not count. Between requests on a kept-alive connection the HTTP
/// layer's idle timeout (``ServerConfiguration/httpIdleTimeoutSeconds``) applies, and an upgraded
/// `/ws` has its own (`hello` within 10 s, then 30 s idle).
struct ConnectionGuard: Sendable {
    /// Connections open at once (HTTP and `/ws` together).
    var maximumConnections: Int
    /// From accept to the end of the first request head.
    var firstRequestDeadline: TimeAmount
    let open = Counter()

    final class Counter: Sendable {
        private let value = Mutex(0)
        /// Takes a slot; false when all `limit` are taken.
        func take(limit: Int) -> Bool {
            value.withLock { v in
                guard v < limit else { return false }
                v += 1
                return true
            }
        }
        func give() { value.withLock { $0 = max(0, $0 - 1) } }
        var current: Int { value.withLock { $0 } }
    }

    /// Wraps the server's child channel so that ``Handler`` is the first in each pipeline.
    func wrap<Inner: ServerChildChannel>(_ inner: Inner) -> Guarded<Inner> { Guarded(inner: inner, guard: self) }

    struct Guarded<Inner: ServerChildChannel>: ServerChildChannel {
        let inner: Inner
        let `guard`: ConnectionGuard

        func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Inner.Value> {
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(Handler(guard: self.guard))
            }.flatMap { inner.setup(channel: channel, logger: logger) }
        }

        func handle(value: Inner.Value, logger: Logger) async { await inner.handle(value: value, logger: logger) }
    }

    final class Handler: ChannelDuplexHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        typealias OutboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private let `guard`: ConnectionGuard
        private var counted = false
        private var deadline: Scheduled<Void>?

        init(guard: ConnectionGuard) { self.guard = `guard` }

        func handlerAdded(context: ChannelHandlerContext) {
            guard self.guard.open.take(limit: self.guard.maximumConnections) else {
                context.close(promise: nil)
                return
            }
            counted = true
            let channel = context.channel
            deadline = context.eventLoop.scheduleTask(in: self.guard.firstRequestDeadline) { channel.close(promise: nil) }
        }

        func handlerRemoved(context: ChannelHandlerContext) { release() }

        func channelInactive(context: ChannelHandlerContext) {
            release()
            context.fireChannelInactive()
        }

        /// How much of the head's end ("\r\n\r\n") the bytes so far end with.
        private var matched = 0
        private static let headEnd: [UInt8] = [13, 10, 13, 10]

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if deadline != nil {
                let bytes = unwrapInboundIn(data)
                for b in bytes.readableBytesView {
                    matched = b == Self.headEnd[matched] ? matched + 1 : (b == 13 ? 1 : 0)
                    if matched == 4 {
                        // A whole request head: from here on the HTTP layer's and /ws's timeouts apply.
                        deadline?.cancel()
                        deadline = nil
                        break
                    }
                }
            }
            context.fireChannelRead(data)
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            context.write(data, promise: promise)
        }

        private func release() {
            deadline?.cancel()
            deadline = nil
            if counted {
                counted = false
                self.guard.open.give()
            }
        }
    }
}
