import AsyncHTTPClient
import Desk
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PostgresStores
import ShowroomCore
import ServiceLifecycle
import Signaling
import Synchronization

/// The desk in a cluster (docs/cluster.md, "The desk on several nodes"): one node at a time runs
/// it — the queue, routing, the bot, the workspace streams and agent assist — and every other node
/// forwards the desk's and assist's HTTP API (`/api/…`) there, streams included, so that an agent
/// on one node gets a consultation whose shopper is on another.
///
/// The turn is a PostgreSQL session lock (``PostgresNodeRegistry/holdDeskLock(for:)``): every node
/// with a desk waits in line for it, and the one holding it records itself as the desk's node.
/// When that node dies (`kill -9` included) or stops, its session ends and the next in line has
/// the lock at once; it builds a fresh ``DeskService`` and ``AssistService`` from the store —
/// every open consultation, its queue place and its assignee, an offer made before the change
/// voided back to the queue — and starts answering. The desk reads the consultations' rooms of
/// every node through the store (``ConsultationFeed``), not this node's rooms alone.
public final class DeskLeadership: Service, Sendable {
    /// One turn of this node at the desk: what answers the desk's routes while it lasts.
    struct Term: Sendable {
        let desk: DeskService
        let assist: AssistService?
        let responder: RouterResponder<BasicRequestContext>
    }

    /// The header a forwarded request carries (the forwarding node's URL): a node that is not the
    /// desk's answers such a request `unavailable` rather than forwarding it again.
    static let forwardedHeader = HTTPField.Name("Showroom-Forwarded")!
    /// How long the desk's node, once looked up, is taken as known (a failed forward forgets it).
    static let leaderTTL: Duration = .seconds(1)
    /// How often the lock's state is read: how late a node notices it gained or lost its turn.
    static let poll: Duration = .milliseconds(100)
    /// Workspace streams forwarded at once to the desk's node, each on a connection of its own
    /// for as long as it is open; past it one waits for a connection, until ``headDeadline``.
    static let maximumForwardedStreams = 1_024
    /// Other requests forwarded at once (each holds its connection only while the desk's node
    /// answers: its body has arrived whole before it is sent).
    static let maximumForwardedCalls = 256
    /// A request body is read whole before it is forwarded, up to this size and within
    /// ``bodyDeadline`` (a client trickling its body holds its own connection, not one of
    /// the desk's); a larger one (a catalog import) is streamed.
    static let maximumBufferedBody = 1 << 20
    static let bodyDeadline: Duration = .seconds(10)
    /// Turns that failed to start in a row before this node gives up its place at the desk to
    /// the next in line (and joins the line again after ``rejoinAfter``).
    static let maximumFailedStarts = 3
    static let rejoinAfter: Duration = .seconds(5)
    /// A forwarded request's answer must begin within this long; a stream's body may then go
    /// quiet for at most ``readTimeout`` (a workspace stream writes a keep-alive every 15 s).
    static let headDeadline: TimeAmount = .seconds(15)
    static let readTimeout: TimeAmount = .seconds(40)
    /// Chunks of a forwarded workspace stream held for a client that does not read; past it the
    /// stream ends (as the desk's own stream buffer does for its notices).
    static let streamChunks = 256

    let registry: PostgresNodeRegistry
    let cluster: ClusterMembership
    let hub: RoomHub
    let logger: Logger
    private let build: @Sendable () throws -> Term
    private let term = Mutex<Term?>(nil)
    /// Forwards workspace streams, and everything else, on pools of their own.
    private let streamClient: HTTPClient
    private let callClient: HTTPClient
    /// The desk's node as last looked up, and the lookup under way (one at a time).
    private let leader = Mutex<(url: String?, at: ContinuousClock.Instant)?>(nil)
    private let lookup = SingleFlight<String, String?>()
    /// Failed lookups and forwards (one per request while the desk's node is away) are logged
    /// once per 10 s, with a count.
    private let failures = LogThrottle()

    /// `build` opens this node's desk and assist from the store and their routes; it runs at the
    /// start of each turn.
    init(registry: PostgresNodeRegistry, cluster: ClusterMembership, hub: RoomHub, logger: Logger, build: @escaping @Sendable () throws -> Term) {
        self.registry = registry
        self.cluster = cluster
        self.hub = hub
        self.logger = logger
        self.build = build
        func client(connections: Int) -> HTTPClient {
            var configuration = HTTPClient.Configuration(
                redirectConfiguration: .disallow, timeout: .init(connect: .seconds(2), read: Self.readTimeout), decompression: .disabled)
            // Idle connections go before the desk's node closes them (its idle timeout is 30 s).
            configuration.connectionPool = .init(idleTimeout: .seconds(20), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
            return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        }
        streamClient = client(connections: Self.maximumForwardedStreams)
        callClient = client(connections: Self.maximumForwardedCalls)
    }

    /// This node's turn, while it has one.
    var current: Term? { term.withLock { $0 } }
    /// Whether this node holds the desk's lock and is building its turn (the others may already
    /// forward to it).
    private let starting = Atomic<Bool>(false)
    /// How long a request waits for this node's turn while it is being built.
    static let startWait: Duration = .seconds(3)

    /// This node's turn; while one is being built, waits for it (up to ``startWait``).
    func currentTerm() async -> Term? {
        let deadline = ContinuousClock.now + Self.startWait
        while true {
            if let turn = current { return turn }
            guard starting.load(ordering: .acquiring), ContinuousClock.now < deadline else { return current }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            // The desk's node is named by its URL: wait until this node knows its own.
            var url: String?
            while !Task.isCancelled {
                if let u = self.cluster.verifiedURL {
                    url = u
                    break
                }
                try? await Task.sleep(for: Self.poll)
            }
            guard let url else { return }
            let join = { self.registry.holdDeskLock(for: url) { self.starting.store(true, ordering: .releasing) } }
            var lock = join()
            defer { lock.release() }
            var failedStarts = 0
            while !Task.isCancelled {
                // A lock lost (or taken and lost between two looks) leaves no request waiting
                // for a turn that is not coming.
                if !lock.isHeld { self.starting.store(false, ordering: .releasing) }
                if lock.isHeld {
                    if await self.serve(while: lock, url: url) {
                        failedStarts = 0
                    } else {
                        failedStarts += 1
                        if failedStarts >= Self.maximumFailedStarts {
                            // Let the next node in line try: this one cannot build the desk.
                            lock.release()
                            self.starting.store(false, ordering: .releasing)
                            try? await Task.sleep(for: Self.rejoinAfter)
                            failedStarts = 0
                            lock = join()
                        }
                    }
                }
                try? await Task.sleep(for: Self.poll)
            }
        }
        term.withLock { $0 = nil }
        starting.store(false, ordering: .releasing)
        try? await streamClient.shutdown()
        try? await callClient.shutdown()
    }

    /// One turn: the desk and assist built from the store (on a thread of its own: it reads
    /// every open consultation, and its calls block), run until the lock is lost or the server
    /// stops. False when the turn could not start.
    private func serve(while lock: PostgresSessionLock, url: String) async -> Bool {
        let started = ContinuousClock.now
        starting.store(true, ordering: .releasing)
        let turn: Term
        do {
            let build = self.build
            turn = try await withCheckedThrowingContinuation { continuation in
                Thread.detachNewThread { continuation.resume(with: Result { try build() }) }
            }
        } catch {
            starting.store(false, ordering: .releasing)
            logger.error("desk: cannot start this node's turn", metadata: ["error": .string("\(error)")])
            try? await Task.sleep(for: .seconds(1))
            return false
        }
        // Lost while it was being built: not installed.
        guard lock.isHeld else {
            starting.store(false, ordering: .releasing)
            return true
        }
        term.withLock { $0 = turn }
        starting.store(false, ordering: .releasing)
        logger.info("desk: this node runs the desk", metadata: ["url": .string(url), "startedIn": .string("\(ContinuousClock.now - started)")])
        let (hub, logger) = (self.hub, self.logger)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await turn.desk.run() }
            if let assist = turn.assist { group.addTask { await assist.run() } }
            group.addTask { await ConsultationFeed(hub: hub, desk: turn.desk, assist: turn.assist, logger: logger).run() }
            group.addTask {
                while lock.isHeld, !Task.isCancelled { try? await Task.sleep(for: Self.poll) }
            }
            await group.next()
            // No request reaches this turn from now on; then it ends (its streams close), and
            // what still reaches it is refused.
            self.term.withLock { $0 = nil }
            await turn.desk.stop()
            await turn.assist?.stop()
            group.cancelAll()
        }
        if !Task.isCancelled { logger.warning("desk: this node lost its turn (its database session ended)", metadata: ["url": .string(url)]) }
        return true
    }

    // MARK: Forwarding

    /// The desk's node now (looked up at most once per ``leaderTTL``; one lookup at a time).
    private func leaderURL() async throws -> String? {
        if let known = leader.withLock({ $0 }), ContinuousClock.now - known.at < Self.leaderTTL { return known.url }
        let (registry, calls) = (self.registry, cluster.calls)
        let url = try await lookup.run("desk") {
            try await calls.run { () throws(PostgresStoreError) in try registry.deskNode() }
        }
        leader.withLock { $0 = (url, .now) }
        return url
    }

    /// Headers that describe one connection, not the request (RFC 9110 §7.6.1): never forwarded.
    /// https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
    static let hopByHop: Set<String> = ["connection", "proxy-connection", "keep-alive", "te", "transfer-encoding", "upgrade", "trailer", "content-length"]

    /// The header fields not to forward: ``hopByHop``, and those a `Connection` header names as
    /// this connection's own (RFC 9110 §7.6.1: "a proxy or gateway MUST … remove any header or
    /// trailer field(s) … listed in the Connection header field"), in lowercase.
    static func perConnection(_ connection: [String]) -> Set<String> {
        hopByHop.union(
            connection.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty })
    }

    /// Sends `request` to the desk's node and streams its answer back. `unavailable` (503) when no
    /// node runs the desk now, when it is this node between turns, when the request was already
    /// forwarded once, or when the desk's node does not answer; a body that does not arrive
    /// whole within ``bodyDeadline`` gets `408`, one over its bound `413`.
    func forward(_ request: Request) async throws -> Response {
        let unavailable = HTTPError(
            .serviceUnavailable, headers: [.retryAfter: "1"],
            message: "\(DeskError.Code.unavailable.rawValue): the desk is moving to another node; try again in a moment")
        guard request.headers[Self.forwardedHeader] == nil else { throw unavailable }
        let leader: String?
        do { leader = try await leaderURL() } catch {
            if let earlier = failures.admit() {
                logger.warning("desk: looking up the desk's node failed", metadata: ["error": .string("\(error)"), "failedSinceLastLine": .stringConvertible(earlier)])
            }
            throw unavailable
        }
        guard var leader, leader != cluster.verifiedURL else { throw unavailable }
        var outbound = HTTPClientRequest(url: leader + request.uri.description)
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        let dropped = Self.perConnection(request.headers[values: .connection])
        for field in request.headers where !dropped.contains(field.name.canonicalName) {
            outbound.headers.add(name: field.name.rawName, value: field.value)
        }
        outbound.headers.add(name: Self.forwardedHeader.rawName, value: cluster.verifiedURL ?? "")
        let length = request.headers[.contentLength].flatMap { Int64($0) }
        var replayable = true
        if let length, length <= Self.maximumBufferedBody {
            outbound.body = .bytes(try await Self.collect(request.body))
        } else if length != nil || request.headers[.transferEncoding] != nil {
            // A large or chunked upload (a catalog import): streamed.
            outbound.body = .stream(request.body, length: length.map { .known($0) } ?? .unknown)
            replayable = false
        }
        // The router takes `/api/desk//events/` for the stream too: compare the path's segments.
        let isStream = request.uri.path.split(separator: "/") == ["api", "desk", "events"]
        let client = isStream ? streamClient : callClient
        let response: HTTPClientResponse
        var attempt = 0
        while true {
            attempt += 1
            do {
                response = try await client.execute(outbound, deadline: .now() + Self.headDeadline, logger: logger)
                break
            } catch {
                // Only the desk's node failing says anything about it (not a client that went away).
                guard Self.isNodeFailure(error) else { throw unavailable }
                self.leader.withLock { $0 = nil }
                if let earlier = failures.admit() {
                    logger.warning(
                        "desk: forwarding to the desk's node failed",
                        metadata: ["node": .string(leader), "error": .string("\(error)"), "failedSinceLastLine": .stringConvertible(earlier)])
                }
                // Never sent (no connection): once more to whoever runs the desk now — the node
                // known a moment ago may have just handed it on.
                guard attempt == 1, replayable, Self.neverSent(error), let next = try? await leaderURL(), next != leader,
                    next != cluster.verifiedURL
                else { throw unavailable }
                leader = next
                outbound.url = next + request.uri.description
            }
        }
        var headers = HTTPFields()
        let droppedInAnswer = Self.perConnection(response.headers[canonicalForm: "connection"].map(String.init))
        for (name, value) in response.headers where !droppedInAnswer.contains(name.lowercased()) || name.lowercased() == "content-length" {
            if let name = HTTPField.Name(name) { headers.append(HTTPField(name: name, value: value)) }
        }
        let status = HTTPResponse.Status(code: Int(response.status.code))
        let body = response.body
        guard isStream else { return Response(status: status, headers: headers, body: ResponseBody(asyncSequence: body)) }
        // A workspace stream ends when this server stops (as on the desk's node), so that a
        // graceful stop does not wait for every agent to close their page; the page reconnects.
        return Response(
            status: status, headers: headers,
            body: ResponseBody { writer in
                // Read from the desk's node on a task of its own into a bounded buffer (a client
                // that does not read has its stream ended, and reconnects to a fresh `hello`).
                let (chunks, sink) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .bufferingOldest(Self.streamChunks))
                let reader = Task {
                    do {
                        // A full buffer (the client does not read) or a finished stream ends the copy.
                        for try await chunk in body {
                            if case .enqueued = sink.yield(chunk) { continue }
                            break
                        }
                    } catch {}
                    sink.finish()
                }
                defer { reader.cancel() }
                try await withGracefulShutdownHandler {
                    for await chunk in chunks { try await writer.write(chunk) }
                } onGracefulShutdown: {
                    sink.finish()
                }
                try await writer.finish(nil)
            })
    }

    /// A request body read whole: at most ``maximumBufferedBody`` bytes within ``bodyDeadline``.
    static func collect(_ body: RequestBody) async throws -> ByteBuffer {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await body.collect(upTo: maximumBufferedBody) }
            group.addTask {
                try await Task.sleep(for: bodyDeadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else {
                throw HTTPError(.requestTimeout, message: "invalid_argument: the request's body did not arrive within \(bodyDeadline)")
            }
            return buffer
        }
    }

    /// Whether `error` says no connection to the desk's node was made: the request was not sent.
    static func neverSent(_ error: any Error) -> Bool {
        if error is NIOConnectionError { return true }
        if let error = error as? IOError { return error.errnoCode == ECONNREFUSED }
        return (error as? HTTPClientError) == .connectTimeout
    }

    /// Whether `error` says the desk's node could not be reached or stopped answering.
    static func isNodeFailure(_ error: any Error) -> Bool {
        if error is NIOConnectionError || error is ChannelError || error is IOError { return true }
        guard let error = error as? HTTPClientError else { return false }
        // Not `getConnectionFromPoolTimeout`: this node's own pool was full, the desk's node may be fine.
        return [.connectTimeout, .deadlineExceeded, .remoteConnectionClosed, .readTimeout].contains(error)
    }
}

/// Sends the desk's and assist's API (every path under `/api/`) to this node's turn at the desk,
/// or forwards it to the node that has it (``DeskLeadership``).
struct DeskForwarding: RouterMiddleware {
    let leadership: DeskLeadership

    func handle(
        _ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response
    ) async throws -> Response {
        guard request.uri.path.hasPrefix("/api/") else { return try await next(request, context) }
        if let turn = await leadership.currentTerm() { return try await turn.responder.respond(to: request, context: context) }
        return try await leadership.forward(request)
    }
}
