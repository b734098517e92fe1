import NIOCore
import NIOWebSocket

/// Fails every frame written after a Close frame: "after sending a Close frame, the endpoint MUST
/// NOT send any more data frames" ([RFC 6455 §5.5.1](https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1)).
///
/// It sits right after the `WebSocketFrameEncoder`, so every frame passes it — those of the
/// framework (its echo of a client's Close, its protocol-error Close) and those of the
/// ``OutboxChannelWriter``, which learns from the failed write that the connection is closing and
/// drops what is queued.
final class WebSocketCloseGate: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// What a frame written after the Close fails with.
    struct Closed: Error {}

    private var closed = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !closed else {
            promise?.fail(Closed())
            return
        }
        if unwrapOutboundIn(data).opcode == .connectionClose { closed = true }
        context.write(data, promise: promise)
    }

    /// Puts a gate right after `channel`'s frame encoder (on its loop); false when the pipeline
    /// has none (not a WebSocket).
    static func install(on channel: any Channel) -> Bool {
        assert(channel.eventLoop.inEventLoop)
        let pipeline = channel.pipeline.syncOperations
        guard let encoder = try? pipeline.handler(type: WebSocketFrameEncoder.self) else { return false }
        return (try? pipeline.addHandler(WebSocketCloseGate(), position: .after(encoder))) != nil
    }
}
