import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import WebRTCClient

/// The desk mode's HTTP/1.1 client: a bounded pool of keep-alive connections for the API's short
/// requests, and one connection of its own per workspace event stream (`GET /api/desk/events`).
///
/// Written on SwiftNIO rather than taken from URLSession so that every bound is the tool's own and
/// visible here: how many connections it opens, how long a request may take, how large an answer or
/// one server-sent event may be. URLSession on Linux streams no response bodies either.
final class DeskHTTPClient: Sendable {
    /// An answer: its status and body (capped at ``maximumResponseBytes``).
    struct Response: Sendable {
        var status: Int
        var body: ByteBuffer
        var keepAlive: Bool
        var text: String { String(buffer: body) }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:] }
        /// The server's refusal as it words it, `code: reason` (Hummingbird's `{"error":{"message":…}}`),
        /// or the body's first 300 bytes.
        var reason: String {
            if let error = json["error"] as? [String: Any], let message = error["message"] as? String { return message }
            return String(text.prefix(300))
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        /// The connection ended before any byte of an answer: safe to send again on a new one.
        var beforeAnswer = false
    }

    /// A larger answer is refused (the largest the desk sends is an overview or a report).
    static let maximumResponseBytes = 8 << 20
    /// One server-sent event at most, as the workspace page takes it.
    static let maximumEventBytes = 1 << 20
    /// The server closes a kept-alive connection after 30 s idle; the pool drops it before that.
    static let idleLimit: Duration = .seconds(20)
    /// A request that takes longer fails (and its connection is closed).
    static let requestTimeout: TimeAmount = .seconds(30)

    let host: String
    let port: Int
    let group: any EventLoopGroup
    let maximumConnections: Int

    private struct Pool {
        var idle: [(channel: any Channel, since: ContinuousClock.Instant)] = []
        /// Connections open or being opened (idle ones included).
        var open = 0
        /// Callers waiting for a connection: handed an idle one, or nil to open one in a slot
        /// freed for them.
        var waiters: [CheckedContinuation<(any Channel)?, Never>] = []
    }
    private let pool = Mutex(Pool())

    init(host: String, port: Int, group: any EventLoopGroup, maximumConnections: Int) {
        self.host = host
        self.port = port
        self.group = group
        self.maximumConnections = maximumConnections
    }

    // MARK: Requests

    /// One request on a pooled connection; a connection that turned out closed before answering
    /// (the server ended it while it was idle) is replaced once.
    func request(_ method: HTTPMethod, _ path: String, token: String?, json: [String: Any]? = nil) async throws -> Response {
        let body = try json.map { ByteBuffer(data: try JSONSerialization.data(withJSONObject: $0)) }
        do {
            return try await attempt(method, path, token: token, body: body)
        } catch let failure as Failure where failure.beforeAnswer {
            return try await attempt(method, path, token: token, body: body)
        }
    }

    private func attempt(_ method: HTTPMethod, _ path: String, token: String?, body: ByteBuffer?) async throws -> Response {
        let channel = try await acquire()
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: "\(host):\(port)")
        if let token { head.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        } else if method == .POST || method == .PUT {
            head.headers.add(name: "Content-Length", value: "0")
        }
        let promise = channel.eventLoop.makePromise(of: Response.self)
        let timeout = channel.eventLoop.scheduleTask(in: Self.requestTimeout) {
            promise.fail(Failure(description: "no answer to \(method) \(path) within \(Self.requestTimeout.nanoseconds / 1_000_000_000) s"))
            channel.close(promise: nil)
        }
        channel.writeAndFlush(ResponseCollector.Outgoing(head: head, body: body, promise: promise), promise: nil)
        do {
            let response = try await promise.futureResult.get()
            timeout.cancel()
            release(channel, reusable: response.keepAlive)
            return response
        } catch {
            timeout.cancel()
            release(channel, reusable: false)
            throw error
        }
    }

    private func acquire() async throws -> any Channel {
        let reused: (any Channel)? = await withCheckedContinuation { (waiter: CheckedContinuation<(any Channel)?, Never>) in
            enum Next { case now((any Channel)?), later }
            var stale: [any Channel] = []
            let next = pool.withLock { p -> Next in
                let now = ContinuousClock.now
                while let last = p.idle.popLast() {
                    if last.channel.isActive, now - last.since < Self.idleLimit { return .now(last.channel) }
                    stale.append(last.channel)
                    p.open -= 1
                }
                if p.open < maximumConnections {
                    p.open += 1
                    return .now(nil)
                }
                p.waiters.append(waiter)
                return .later
            }
            for s in stale { s.close(promise: nil) }
            if case .now(let channel) = next { waiter.resume(returning: channel) }
        }
        if let reused { return reused }
        do {
            return try await connect { channel in try channel.pipeline.syncOperations.addHandler(ResponseCollector()) }
        } catch {
            release(nil, reusable: false)
            throw Failure(description: "cannot connect to \(host):\(port): \(error)")
        }
    }

    /// Back to the pool (or closed), and to the next waiter if one waits.
    private func release(_ channel: (any Channel)?, reusable: Bool) {
        let keep = reusable && channel?.isActive == true
        if !keep { channel?.close(promise: nil) }
        let waiter = pool.withLock { p -> (CheckedContinuation<(any Channel)?, Never>, (any Channel)?)? in
            if !p.waiters.isEmpty {
                // The waiter takes this connection, or its slot (nil: it opens a new one).
                return (p.waiters.removeFirst(), keep ? channel : nil)
            }
            if keep, let channel { p.idle.append((channel, .now)) } else { p.open -= 1 }
            return nil
        }
        if let (w, c) = waiter { w.resume(returning: c) }
    }

    /// Closes the idle connections (requests in flight finish on theirs).
    func shutdown() {
        let idle = pool.withLock { p -> [any Channel] in
            defer { p.open -= p.idle.count; p.idle = [] }
            return p.idle.map(\.channel)
        }
        for c in idle { c.close(promise: nil) }
    }

    private func connect(_ handlers: @escaping @Sendable (any Channel) throws -> Void) async throws -> any Channel {
        try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try handlers(channel)
                }
            }
            .connect(host: host, port: port).get()
    }

    // MARK: Server-sent events

    /// One event of a stream: its `event:` name, its `data:` (only for the names asked to be
    /// kept; others are counted, not copied), and when its last line arrived (µs, monotonic).
    struct Event: Sendable {
        var name: String
        var data: String?
        var arrived: Int64
        var bytes: Int
    }

    /// An open event stream: its events until the connection ends, and how to end it.
    struct EventStream: Sendable {
        let events: AsyncStream<Event>
        let channel: any Channel
        func close() { channel.close(promise: nil) }
    }

    /// `GET path` on a connection of its own, kept open for server-sent events. Throws with the
    /// server's `status code: reason` when the answer is not 200.
    func events(_ path: String, token: String, keeping names: Set<String>) async throws -> EventStream {
        let (events, sink) = AsyncStream<Event>.makeStream()
        // Fulfilled by the parser on the stream's own loop: 200, or the refusal's reason.
        let promise = group.any().makePromise(of: Void.self)
        let channel: any Channel
        do {
            channel = try await connect { channel in
                try channel.pipeline.syncOperations.addHandler(EventStreamParser(keeping: names, sink: sink, head: promise))
            }
        } catch {
            promise.fail(Failure(description: "not connected"))
            throw Failure(description: "cannot connect to \(host):\(port): \(error)")
        }
        var request = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        request.headers.add(name: "Host", value: "\(host):\(port)")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "text/event-stream")
        channel.write(HTTPClientRequestPart.head(request), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let timeout = channel.eventLoop.scheduleTask(in: Self.requestTimeout) {
            promise.fail(Failure(description: "no answer to GET \(path) within \(Self.requestTimeout.nanoseconds / 1_000_000_000) s"))
            channel.close(promise: nil)
        }
        do {
            try await promise.futureResult.get()
            timeout.cancel()
        } catch {
            timeout.cancel()
            channel.close(promise: nil)
            throw error
        }
        return EventStream(events: events, channel: channel)
    }
}

/// Sends one request at a time and collects its answer (head, body up to the cap, end).
private final class ResponseCollector: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Outgoing
    typealias OutboundOut = HTTPClientRequestPart

    struct Outgoing: Sendable {
        var head: HTTPRequestHead
        var body: ByteBuffer?
        var promise: EventLoopPromise<DeskHTTPClient.Response>
    }

    private var promise: EventLoopPromise<DeskHTTPClient.Response>?
    private var status = 0
    private var keepAlive = true
    private var body = ByteBuffer()
    private var answered = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise writePromise: EventLoopPromise<Void>?) {
        let out = unwrapOutboundIn(data)
        guard promise == nil else {
            out.promise.fail(DeskHTTPClient.Failure(description: "a request is already in flight on this connection"))
            return
        }
        promise = out.promise
        status = 0
        keepAlive = true
        body.clear()
        answered = false
        context.write(wrapOutboundOut(.head(out.head)), promise: nil)
        if let b = out.body { context.write(wrapOutboundOut(.body(.byteBuffer(b))), promise: nil) }
        context.write(wrapOutboundOut(.end(nil)), promise: writePromise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        answered = true
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            keepAlive = head.isKeepAlive
        case .body(var chunk):
            guard body.readableBytes + chunk.readableBytes <= DeskHTTPClient.maximumResponseBytes else {
                fail(DeskHTTPClient.Failure(description: "an answer over \(DeskHTTPClient.maximumResponseBytes) bytes"))
                context.close(promise: nil)
                return
            }
            body.writeBuffer(&chunk)
        case .end:
            let p = promise
            promise = nil
            p?.succeed(DeskHTTPClient.Response(status: status, body: body, keepAlive: keepAlive))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(DeskHTTPClient.Failure(description: "the server closed the connection", beforeAnswer: !answered))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(DeskHTTPClient.Failure(description: "\(error)", beforeAnswer: !answered))
        context.close(promise: nil)
    }

    private func fail(_ error: DeskHTTPClient.Failure) {
        let p = promise
        promise = nil
        p?.fail(error)
    }
}

/// Reads a `text/event-stream` answer (https://html.spec.whatwg.org/multipage/server-sent-events.html):
/// `event:` and `data:` lines up to a blank line make one event; comment lines (`: keep-alive`)
/// are skipped. A line longer than ``DeskHTTPClient/maximumEventBytes`` ends the stream.
private final class EventStreamParser: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let keeping: Set<String>
    private let sink: AsyncStream<DeskHTTPClient.Event>.Continuation
    private var head: EventLoopPromise<Void>?
    private var status = 0
    private var refusal = ByteBuffer()
    private var pending = ByteBuffer()
    /// Bytes of `pending` already searched for a newline.
    private var scanned = 0
    private var name = "message"
    private var data: String?
    private var bytes = 0

    init(keeping: Set<String>, sink: AsyncStream<DeskHTTPClient.Event>.Continuation, head: EventLoopPromise<Void>) {
        self.keeping = keeping
        self.sink = sink
        self.head = head
    }

    func channelRead(context: ChannelHandlerContext, data part: NIOAny) {
        switch unwrapInboundIn(part) {
        case .head(let h):
            status = Int(h.status.code)
            if status == 200 {
                head?.succeed(())
                head = nil
            }
        case .body(var chunk):
            guard status == 200 else {
                if refusal.readableBytes < 4_096 { refusal.writeBuffer(&chunk) }
                return
            }
            pending.writeBuffer(&chunk)
            // Only the new bytes are searched: a `queue` notice can be a long line over many chunks.
            while let newline = pending.readableBytesView.dropFirst(scanned).firstIndex(of: UInt8(ascii: "\n")) {
                let length = newline - pending.readerIndex
                var line = pending.readSlice(length: length)!
                pending.moveReaderIndex(forwardBy: 1)
                scanned = 0
                if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
                self.line(line)
            }
            scanned = pending.readableBytes
            pending.discardReadBytes()
            if pending.readableBytes > DeskHTTPClient.maximumEventBytes {
                context.close(promise: nil)
            }
        case .end:
            if status != 200 {
                let text = String(buffer: refusal)
                let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
                let message = (json?["error"] as? [String: Any])?["message"] as? String ?? String(text.prefix(300))
                head?.fail(DeskHTTPClient.Failure(description: "\(status) \(message)"))
                head = nil
            }
            context.close(promise: nil)
        }
    }

    private func line(_ line: ByteBuffer) {
        bytes += line.readableBytes + 1
        guard line.readableBytes > 0 else {
            // A blank line ends the event.
            if bytes > 1 {
                sink.yield(DeskHTTPClient.Event(name: name, data: data, arrived: monotonicMicros(), bytes: bytes))
            }
            name = "message"
            data = nil
            bytes = 0
            return
        }
        let view = line.readableBytesView
        if view.first == UInt8(ascii: ":") { return }
        if view.starts(with: "event:".utf8) {
            name = String(decoding: view.dropFirst(6), as: UTF8.self).trimmingCharacters(in: .whitespaces)
        } else if view.starts(with: "data:".utf8), keeping.contains(name) {
            let value = String(decoding: view.dropFirst(view.dropFirst(5).first == UInt8(ascii: " ") ? 6 : 5), as: UTF8.self)
            data = data.map { $0 + "\n" + value } ?? value
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        head?.fail(DeskHTTPClient.Failure(description: "the server closed the stream before answering"))
        head = nil
        sink.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
