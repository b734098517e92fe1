import Foundation

/// One node of a cluster as the others see it (`cluster_node`): where to reach it, what it
/// carries and when it last said so (docs/cluster.md, "Nodes and placement").
public struct ClusterNode: Sendable, Equatable {
    /// Its HTTP base URL (`--node-url`, e.g. `http://10.0.0.11:8080`): also its id, so a node that
    /// restarts at the same address is the same node and keeps its rooms.
    public var url: String
    /// The address its media is announced on (its first `--announce-ip`), for operators.
    public var mediaAddress: String
    /// Cores its media workers run on.
    public var cores: Int
    /// Media sessions it holds (publishers and viewers).
    public var sessions: Int
    /// Its media loops' busy share over the last second, 0…1 (the busiest loop).
    public var cpu: Double
    /// When it last reported (its own clock: nodes are assumed NTP-synchronized, within a second).
    public var heartbeat: Date
    /// Whether it reported holding its session lock (``PostgresSessionLock``, the key
    /// ``PostgresNodeRegistry/lockKey(_:)``): then it is dead as soon as no session holds that lock.
    public var holdsLock: Bool
    /// Read by the registry, not reported: it reported holding its lock and no session holds it
    /// now — its process died or lost the database.
    public var lockLost: Bool

    public init(
        url: String, mediaAddress: String, cores: Int, sessions: Int, cpu: Double, heartbeat: Date, holdsLock: Bool = false, lockLost: Bool = false
    ) {
        self.url = url
        self.mediaAddress = mediaAddress
        self.cores = cores
        self.sessions = sessions
        self.cpu = cpu
        self.heartbeat = heartbeat
        self.holdsLock = holdsLock
        self.lockLost = lockLost
    }

    /// Whether it reported within `deadAfter` of `now`, and has not lost the lock it reported
    /// holding.
    public func isLive(now: Date, deadAfter: TimeInterval) -> Bool { !lockLost && now.timeIntervalSince(heartbeat) <= deadAfter }

    /// Where a room goes when it is first used (or its node died): the live node with the fewest
    /// sessions per core; between equals (within a session per core), the one whose media loops
    /// are least busy (in steps of 10%); then by URL, so every node chooses alike.
    public static func leastLoaded(_ nodes: [ClusterNode]) -> ClusterNode? {
        func key(_ n: ClusterNode) -> (Int, Int, String) {
            let perCore = Double(n.sessions) / Double(max(n.cores, 1))
            let busy = n.cpu.isFinite ? min(max(n.cpu, 0), 1) : 1
            return (Int(min(max(perCore, 0), 1e9).rounded(.down)), Int((busy * 10).rounded(.down)), n.url)
        }
        return nodes.min { key($0) < key($1) }
    }
}
