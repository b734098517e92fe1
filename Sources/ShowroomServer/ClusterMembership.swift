import Foundation
import Logging
import PostgresStores
import ShowroomCore
import Relay
import ServiceLifecycle
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// This node in a cluster on PostgreSQL (`--database` with a relay; docs/cluster.md, "Nodes and
/// placement"): it reports its heartbeat and load every ``ServerConfiguration/heartbeatInterval``,
/// answers where a room lives (``home(of:)``, which places it the first time), holds its session
/// lock while it lives (``PostgresSessionLock``: if the process dies, the others see it at once),
/// and leaves the registry when it stops gracefully, so its rooms are placed again at once.
public final class ClusterMembership: Service, Sendable {
    let registry: PostgresNodeRegistry
    let relay: RelayServer
    let deadAfter: TimeInterval
    let interval: Duration
    let mediaAddress: String
    let logger: Logger
    /// The threads every registry call runs on, with the bound on placement lookups waiting.
    let calls: BlockingCallQueue
    /// This process's id, in `/healthz` as `node`: what ``reachesItself(_:)`` looks for.
    let instance = UUID().uuidString
    /// Its URL once ``reachesItself(_:)`` said so: then it registers, and rooms placed at that URL
    /// are its own.
    private let verified = Mutex<String?>(nil)
    /// This node's URL once it has checked that the URL reaches it (nil until then).
    var verifiedURL: String? { verified.withLock { $0 } }
    /// This node's URL: `--node-url`, or `http://HOST:PORT` once the server is listening.
    private let url = Mutex<String?>(nil)
    private let known = AsyncStream<String>.makeStream()

    /// The database call behind ``home(of:)`` (the registry's, or a test's).
    let place: @Sendable (_ room: String, _ now: Date, _ deadAfter: TimeInterval) throws -> ClusterNode?

    init(
        registry: PostgresNodeRegistry, relay: RelayServer, url: String?, deadAfter: TimeInterval, interval: Duration, mediaAddress: String,
        logger: Logger, calls: BlockingCallQueue = BlockingCallQueue(),
        place: (@Sendable (String, Date, TimeInterval) throws -> ClusterNode?)? = nil
    ) {
        self.registry = registry
        self.place = place ?? { room, now, deadAfter in try registry.place(room: room, now: now, deadAfter: deadAfter) }
        self.calls = calls
        self.relay = relay
        self.deadAfter = deadAfter
        self.interval = interval
        self.mediaAddress = mediaAddress
        self.logger = logger
        if let url { listening(at: url) }
    }

    /// Tells the membership its URL (at most once: the first wins).
    func listening(at url: String) {
        let first = self.url.withLock { current -> Bool in
            guard current == nil else { return false }
            current = url
            return true
        }
        if first {
            known.continuation.yield(url)
            known.continuation.finish()
        }
    }

    /// The node `room` lives on, placing it now if it has none live; nil when no node is live yet
    /// (the room is then served here). The database call (a transaction) runs on one of
    /// ``calls``' threads, not the request's cooperative one; `storage` at once when too many
    /// wait (the database is slow). One lookup per room at a time: callers asking while one is
    /// under way share its answer, so a flood of offers or `/ws` publishes for one room (any
    /// token holder can send them) takes one of ``calls``' places, not all of them.
    func home(of room: String) async throws(PostgresStoreError) -> ClusterNode? {
        let (place, deadAfter, calls) = (self.place, self.deadAfter, self.calls)
        do {
            return try await lookups.run(room) {
                try await calls.run { () throws(PostgresStoreError) in
                    do { return try place(room, Date(), deadAfter) } catch let e as PostgresStoreError { throw e } catch {
                        throw PostgresStoreError("placement: \(error)")
                    }
                }
            }
        } catch let error as PostgresStoreError {
            throw error
        } catch {
            throw PostgresStoreError("placement: \(error)")
        }
    }

    /// Callers that shared a lookup under way instead of making their own (since start).
    var sharedLookups: Int { lookups.shared }
    /// Failed lookups are logged once per 10 s, with how many failed in between.
    let lookupFailures = LogThrottle()
    /// Placement lookups under way, by room (at most one each).
    private let lookups = SingleFlight<String, ClusterNode?>()

    /// The URL of the node `room` lives on when it is another one (placing it first); nil when it
    /// is this node's, or no node is live yet (the room is then served here). Until this node has
    /// checked that its URL reaches it, no registered node is this one: a node given another's
    /// URL does not serve that node's rooms. A database failure is logged with its detail and
    /// thrown without it (the client is told `storage`, not the database's address).
    func elsewhere(_ room: String) async throws(PostgresStoreError) -> String? {
        let home: ClusterNode?
        do { home = try await self.home(of: room) } catch {
            if let earlier = lookupFailures.admit() {
                logger.warning(
                    "cluster: placement lookup failed",
                    metadata: ["room": .string(room), "error": .string(error.description), "failedSinceLastLine": .stringConvertible(earlier)])
            }
            throw PostgresStoreError("the cluster's registry did not answer")
        }
        guard let home, home.url != verified.withLock({ $0 }) else { return nil }
        return home.url
    }

    public func run() async throws {
        let url: String? = await cancelWhenGracefulShutdown {
            var url: String?
            for await u in self.known.stream { url = u }
            return url
        }
        guard let url else { return }
        // A node registers only once its URL reaches it: a wrong `--node-url` (or one that another
        // node answers) would draw rooms to an address where this node is not.
        let reached: Bool = await cancelWhenGracefulShutdown {
            var checks = 0
            while !Task.isCancelled {
                if await self.reachesItself(url) { return true }
                if checks % 30 == 0 {
                    self.logger.error(
                        "cluster: --node-url does not reach this node; not taking rooms or the desk until it does",
                        metadata: ["url": .string(url), "checked": .string(url + "/healthz")])
                }
                checks += 1
                try? await Task.sleep(for: self.interval)
            }
            return false
        }
        guard reached else { return }
        verified.withLock { $0 = url }
        logger.info("cluster node", metadata: ["url": .string(url), "deadAfter": .stringConvertible(deadAfter)])
        // Held while this process lives: the others see it gone the moment it dies.
        let lock = registry.holdLock(for: url)
        defer { lock.release() }
        await cancelWhenGracefulShutdown {
            var beats = 0
            while !Task.isCancelled {
                await self.beat(url, holdsLock: lock.isHeld)
                beats += 1
                if beats % Self.pruneEvery == 0 { await self.prune(url) }
                try? await Task.sleep(for: self.interval)
            }
        }
        let registry = self.registry
        do { try await calls.run(urgent: true) { () throws(PostgresStoreError) in try registry.leave(url) } } catch {
            logger.warning("cluster: leaving the registry failed", metadata: ["error": .string(error.description)])
        }
    }

    /// Whether `GET url/healthz` answers with this process's ``instance`` (2 s at most).
    func reachesItself(_ url: String) async -> Bool {
        guard let target = URL(string: url + "/healthz") else { return false }
        let request = URLRequest(url: target, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 2)
        guard let (data, response) = try? await URLSession.shared.dataCancellingSafely(for: request),
            (response as? HTTPURLResponse)?.statusCode == 200,
            let health = try? JSONDecoder().decode(ShowroomServer.Health.self, from: data)
        else { return false }
        return health.node == instance
    }

    /// Every this many heartbeats (a minute at the default 2 s), the node prunes the registry.
    static let pruneEvery = 30
    /// A placement older than this whose room has no session on its node is forgotten.
    static let idlePlacement: TimeInterval = 3_600
    /// A node silent for this long is forgotten, with its placements.
    static let silentNode: TimeInterval = 86_400

    /// ``PostgresNodeRegistry/prune(node:keeping:placedBefore:silentSince:)`` with this node's
    /// rooms in use.
    private func prune(_ url: String) async {
        let (registry, rooms, now) = (self.registry, relay.activeRooms(), Date())
        do {
            _ = try await calls.run(urgent: true) { () throws(PostgresStoreError) in
                try registry.prune(
                    node: url, keeping: rooms, placedBefore: now - Self.idlePlacement, silentSince: now - Self.silentNode)
            }
        } catch {
            logger.warning("cluster: pruning the registry failed", metadata: ["error": .string(error.description)])
        }
    }

    private func beat(_ url: String, holdsLock: Bool) async {
        let snapshot = await relay.snapshot()
        let node = ClusterNode(
            url: url, mediaAddress: mediaAddress, cores: relay.configuration.mediaThreads,
            sessions: snapshot.publishers + snapshot.viewers.values.reduce(0, +), cpu: snapshot.loopBusy, heartbeat: Date(),
            holdsLock: holdsLock)
        let registry = self.registry
        do { try await calls.run(urgent: true) { () throws(PostgresStoreError) in try registry.heartbeat(node) } } catch {
            logger.warning("cluster: heartbeat failed", metadata: ["error": .string(error.description)])
        }
    }
}
