import AsyncHTTPClient
import Desk
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import PostgresStores
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
    /// Requests forwarded at once to the desk's node, each on a connection of its own (a
    /// workspace stream holds one for as long as it is open); past it a request waits for one,
    /// until ``headDeadline``.
    static let maximumForwarded = 1_024
    /// A forwarded request's answer must begin within this long; a stream's body may then go
    /// quiet for at most ``readTimeout`` (a workspace stream writes a keep-alive every 15 s).
    static let headDeadline: TimeAmount = .seconds(15)
    static let readTimeout: TimeAmount = .seconds(40)

    let registry: PostgresNodeRegistry
    let cluster: ClusterMembership
    let hub: RoomHub
    let logger: Logger
    private let build: @Sendable () throws -> Term
    private let term = Mutex<Term?>(nil)
    private let client: HTTPClient
    /// The desk's node as last looked up, and the lookup under way (one at a time).
    private let leader = Mutex<(url: String?, at: ContinuousClock.Instant)?>(nil)
    private let lookup = Mutex<Task<String?, any Error>?>(nil)

    /// `build` opens this node's desk and assist from the store and their routes; it runs at the
    /// start of each turn.
    init(registry: PostgresNodeRegistry, cluster: ClusterMembership, hub: RoomHub, logger: Logger, build: @escaping @Sendable () throws -> Term) {
        self.registry = registry
        self.cluster = cluster
        self.hub = hub
        self.logger = logger
        self.build = build
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(2), read: Self.readTimeout), decompression: .disabled)
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: Self.maximumForwarded)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
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
            guard starting.load(ordering: .acquiring), ContinuousClock.now < deadline else { return nil }
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
            let lock = self.registry.holdDeskLock(for: url)
            defer { lock.release() }
            while !Task.isCancelled {
                if lock.isHeld { await self.serve(while: lock, url: url) }
                try? await Task.sleep(for: Self.poll)
            }
        }
        term.withLock { $0 = nil }
        try? await client.shutdown()
    }

    /// One turn: the desk and assist built from the store, run until the lock is lost or the
    /// server stops.
    private func serve(while lock: PostgresSessionLock, url: String) async {
        let started = ContinuousClock.now
        starting.store(true, ordering: .releasing)
        let turn: Term
        do { turn = try build() } catch {
            starting.store(false, ordering: .releasing)
            logger.error("desk: cannot start this node's turn", metadata: ["error": .string("\(error)")])
            try? await Task.sleep(for: .seconds(1))
            return
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
            // No request reaches this turn from now on; then it ends (its streams close).
            self.term.withLock { $0 = nil }
            group.cancelAll()
        }
        if !Task.isCancelled { logger.warning("desk: this node lost its turn (its database session ended)", metadata: ["url": .string(url)]) }
    }

    // MARK: Forwarding

    /// The desk's node now (looked up at most once per ``leaderTTL``; one lookup at a time).
    private func leaderURL() async throws -> String? {
        if let known = leader.withLock({ $0 }), ContinuousClock.now - known.at < Self.leaderTTL { return known.url }
        let (registry, calls) = (self.registry, cluster.calls)
        let task = lookup.withLock { running in
            if let running { return running }
            let task = Task { () async throws -> String? in
                try await calls.run { () throws(PostgresStoreError) in try registry.deskNode() }
            }
            running = task
            return task
        }
        let result = await task.result
        lookup.withLock { if $0 == task { $0 = nil } }
        let url = try result.get()
        leader.withLock { $0 = (url, .now) }
        return url
    }

    /// Headers that describe one connection, not the request (RFC 9110 §7.6.1): never forwarded.
    /// https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
    static let hopByHop: Set<String> = ["connection", "proxy-connection", "keep-alive", "te", "transfer-encoding", "upgrade", "trailer", "content-length"]

    /// Sends `request` to the desk's node and streams its answer back. `unavailable` (503) when no
    /// node runs the desk now, when it is this node between turns, when the request was already
    /// forwarded once, or when the desk's node does not answer.
    func forward(_ request: Request) async throws -> Response {
        let unavailable = HTTPError(
            .serviceUnavailable, headers: [.retryAfter: "1"],
            message: "\(DeskError.Code.unavailable.rawValue): the desk is moving to another node; try again in a moment")
        guard request.headers[Self.forwardedHeader] == nil else { throw unavailable }
        let leader: String?
        do { leader = try await leaderURL() } catch {
            logger.warning("desk: looking up the desk's node failed", metadata: ["error": .string("\(error)")])
            throw unavailable
        }
        guard let leader, leader != cluster.verifiedURL else { throw unavailable }
        var outbound = HTTPClientRequest(url: leader + request.uri.description)
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        for field in request.headers where !Self.hopByHop.contains(field.name.canonicalName) {
            outbound.headers.add(name: field.name.rawName, value: field.value)
        }
        outbound.headers.add(name: Self.forwardedHeader.rawName, value: cluster.verifiedURL ?? "")
        if let length = request.headers[.contentLength].flatMap({ Int64($0) }) {
            outbound.body = .stream(request.body, length: .known(length))
        } else if request.headers[.transferEncoding] != nil {
            outbound.body = .stream(request.body, length: .unknown)
        }
        let response: HTTPClientResponse
        do { response = try await client.execute(outbound, deadline: .now() + Self.headDeadline, logger: logger) } catch {
            self.leader.withLock { $0 = nil }
            logger.warning("desk: forwarding to the desk's node failed", metadata: ["node": .string(leader), "error": .string("\(error)")])
            throw unavailable
        }
        var headers = HTTPFields()
        for (name, value) in response.headers where !Self.hopByHop.contains(name.lowercased()) || name.lowercased() == "content-length" {
            if let name = HTTPField.Name(name) { headers.append(HTTPField(name: name, value: value)) }
        }
        return Response(status: HTTPResponse.Status(code: Int(response.status.code)), headers: headers, body: ResponseBody(asyncSequence: response.body))
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
