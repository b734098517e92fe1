import Foundation
import Logging
import PostgresStores
import Relay
import ServiceLifecycle
import Synchronization

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
    /// This node's URL: `--node-url`, or `http://HOST:PORT` once the server is listening.
    private let url = Mutex<String?>(nil)
    private let known = AsyncStream<String>.makeStream()

    init(
        registry: PostgresNodeRegistry, relay: RelayServer, url: String?, deadAfter: TimeInterval, interval: Duration, mediaAddress: String,
        logger: Logger, calls: BlockingCallQueue = BlockingCallQueue()
    ) {
        self.registry = registry
        self.calls = calls
        self.relay = relay
        self.deadAfter = deadAfter
        self.interval = interval
        self.mediaAddress = mediaAddress
        self.logger = logger
        if let url { listening(at: url) }
    }

    /// The URL other nodes and clients reach this one at, once known.
    var nodeURL: String? { url.withLock { $0 } }

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
    /// wait (the database is slow).
    func home(of room: String) async throws(PostgresStoreError) -> ClusterNode? {
        let (registry, deadAfter) = (self.registry, self.deadAfter)
        return try await calls.run { () throws(PostgresStoreError) in try registry.place(room: room, now: Date(), deadAfter: deadAfter) }
    }

    /// The URL of the node `room` lives on when it is another one (placing it first); nil when it
    /// is this node's, or no node is live yet (the room is then served here).
    func elsewhere(_ room: String) async throws(PostgresStoreError) -> String? {
        guard let me = nodeURL, let home = try await home(of: room), home.url != me else { return nil }
        return home.url
    }

    public func run() async throws {
        let url: String? = await cancelWhenGracefulShutdown {
            var url: String?
            for await u in self.known.stream { url = u }
            return url
        }
        guard let url else { return }
        logger.info("cluster node", metadata: ["url": .string(url), "deadAfter": .stringConvertible(deadAfter)])
        // Held while this process lives: the others see it gone the moment it dies.
        let lock = registry.holdLock(for: url)
        defer { lock.release() }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.beat(url, holdsLock: lock.isHeld)
                try? await Task.sleep(for: self.interval)
            }
        }
        let registry = self.registry
        do { try await calls.run(urgent: true) { () throws(PostgresStoreError) in try registry.leave(url) } } catch {
            logger.warning("cluster: leaving the registry failed", metadata: ["error": .string(error.description)])
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
