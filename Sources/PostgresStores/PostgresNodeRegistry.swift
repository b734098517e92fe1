import Foundation
import PostgresNIO

/// The cluster's nodes and where each room lives, as rows every node reads: `cluster_node` (one
/// per node, its heartbeat and load) and `cluster_room` (a room's node). A room is placed when it
/// is first used, on ``ClusterNode/leastLoaded(_:)`` of the live nodes; it stays there while that
/// node is live, and is placed again at its next use once the node has missed its heartbeats for
/// `deadAfter` (or left). Placing takes the room's advisory lock, so two nodes placing one room at
/// once agree.
public final class PostgresNodeRegistry: Sendable {
    public let database: PostgresDatabase

    public static let migrations = [
        PostgresMigration(
            "cluster.v1",
            [
                """
                CREATE TABLE cluster_node (
                    url TEXT PRIMARY KEY, media_address TEXT NOT NULL, cores BIGINT NOT NULL, sessions BIGINT NOT NULL,
                    cpu DOUBLE PRECISION NOT NULL, heartbeat DOUBLE PRECISION NOT NULL)
                """,
                "CREATE TABLE cluster_room (room TEXT PRIMARY KEY, node TEXT NOT NULL, placed_at DOUBLE PRECISION NOT NULL)",
            ]),
        PostgresMigration("cluster.v2", ["ALTER TABLE cluster_node ADD COLUMN holds_lock BOOLEAN NOT NULL DEFAULT false"]),
        // The desk's node: written by the session holding the `desk` lock, on that session.
        PostgresMigration(
            "cluster.v3",
            ["CREATE TABLE cluster_desk (id INTEGER PRIMARY KEY CHECK (id = 1), url TEXT NOT NULL, pid INTEGER NOT NULL, since DOUBLE PRECISION NOT NULL)"]),
    ]

    /// The key of the lock the desk's node holds: one node at a time runs the desk (docs/cluster.md).
    public static let deskLockKey = "desk"

    /// The key of the session lock a node holds while it lives (``PostgresSessionLock``); the
    /// registry's queries spell the same `'node:' || url` in SQL.
    public static func lockKey(_ url: String) -> String { "node:" + url }

    /// Holds `url`'s session lock for this process (until released): report
    /// ``PostgresSessionLock/isHeld`` in its heartbeats.
    public func holdLock(for url: String) -> PostgresSessionLock { database.holdLock(Self.lockKey(url)) }

    /// Waits in line for the desk's lock for this process, `url` the node's address, and holds it
    /// once it is this node's turn (until released). While held, the lock's session is recorded as
    /// the desk's (``deskNode()``); the moment this process dies, the next node in line has it.
    /// `onHeld` is called once the row says so (before the lock reports itself held).
    public func holdDeskLock(for url: String, onHeld: @escaping @Sendable () -> Void = {}) -> PostgresSessionLock {
        database.holdLock(Self.deskLockKey, contended: true) { connection, logger in
            let now = Date().timeIntervalSince1970
            for try await _ in try await connection.query(
                """
                INSERT INTO cluster_desk (id, url, pid, since) VALUES (1, \(url), pg_backend_pid(), \(now))
                ON CONFLICT (id) DO UPDATE SET url = excluded.url, pid = excluded.pid, since = excluded.since
                """, logger: logger)
            {}
            onHeld()
        }
    }

    /// The URL of the node running the desk: the one whose session holds the desk's lock now (not
    /// merely the last to record it). Nil while no node does (between one's death and the next
    /// one's start).
    public func deskNode() throws(PostgresStoreError) -> String? {
        try Self.run("desk node") {
            try database.read("desk node") { session in
                try session.query(
                    "SELECT d.url FROM cluster_desk d WHERE d.id = 1 AND \(unescaped: Self.lockHeld("'\(Self.deskLockKey)'", pid: "d.pid"))"
                ).first?.decode(String.self)
            }
        }
    }

    /// Applies the cluster's migrations to `database`.
    public init(database: PostgresDatabase) throws(PostgresStoreError) {
        self.database = database
        try Self.run("migrations") { try database.migrate(Self.migrations) }
    }

    private static func run<T>(_ what: String, _ body: () throws -> T) throws(PostgresStoreError) -> T {
        do { return try body() } catch let e as PostgresStoreError { throw e } catch { throw PostgresStoreError("cluster, \(what): \(error)") }
    }

    /// Records `node`'s heartbeat and load (adding it the first time).
    public func heartbeat(_ node: ClusterNode) throws(PostgresStoreError) {
        try Self.run("heartbeat") {
            try database.run("heartbeat") { session in
                try session.execute(
                    """
                    INSERT INTO cluster_node (url, media_address, cores, sessions, cpu, heartbeat, holds_lock)
                    VALUES (\(node.url), \(node.mediaAddress), \(node.cores), \(node.sessions), \(node.cpu), \(node.heartbeat.timeIntervalSince1970),
                        \(node.holdsLock) AND \(unescaped: Self.lockHeld("'node:' || $1")))  -- $1: the url, the first value bound
                    ON CONFLICT (url) DO UPDATE SET media_address = excluded.media_address, cores = excluded.cores,
                        sessions = excluded.sessions, cpu = excluded.cpu, heartbeat = excluded.heartbeat, holds_lock = excluded.holds_lock
                    """)
            }
        }
    }

    /// A node leaving (a graceful stop): its row goes, so its rooms are placed again at once.
    public func leave(_ url: String) throws(PostgresStoreError) {
        try Self.run("leave") { try database.run("leave") { session in try session.execute("DELETE FROM cluster_node WHERE url = \(url)") } }
    }

    /// SQL: whether some session of this database holds the advisory lock `hashtextextended(key, 0)`
    /// (`key` an SQL expression) — in `pg_locks`, a `bigint` key shows as its high half in
    /// `classid`, its low half in `objid`, and `objsubid` 1.
    /// With `pid` (an SQL expression), held by that backend.
    static func lockHeld(_ key: String, pid: String? = nil) -> String {
        """
        EXISTS (
            SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1\(pid.map { " AND l.pid = \($0)" } ?? "")
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.classid::bigint = ((hashtextextended(\(key), 0) >> 32) & 4294967295)
            AND l.objid::bigint = (hashtextextended(\(key), 0) & 4294967295))
        """
    }

    /// A node's columns (the table named `n`), and whether it lost the lock it reported holding.
    /// (A heartbeat reports holding it only when the database sees it held, so a lock connection
    /// that died unnoticed by its node makes that node judged by heartbeats alone, not dead.)
    private static let nodeColumns = "n.url, n.media_address, n.cores, n.sessions, n.cpu, n.heartbeat, n.holds_lock, n.holds_lock AND NOT "
        + lockHeld("'node:' || n.url")

    private static func node(_ row: PostgresRow) throws -> ClusterNode {
        let (url, media, cores, sessions, cpu, heartbeat, holdsLock, lockLost) = try row.decode((String, String, Int, Int, Double, Double, Bool, Bool).self)
        return ClusterNode(
            url: url, mediaAddress: media, cores: cores, sessions: sessions, cpu: cpu, heartbeat: Date(timeIntervalSince1970: heartbeat),
            holdsLock: holdsLock, lockLost: lockLost)
    }

    /// Forgets what nobody needs, so that the tables hold what is live and not every room ever
    /// used: `node`'s placements made before `placedBefore` of rooms it serves no session in now
    /// (`keeping`: those it does) — their next use places them afresh —, the rows of nodes silent
    /// since `silentSince`, and the placements on nodes no longer registered. How many placements
    /// and nodes went.
    @discardableResult
    public func prune(node: String, keeping: Set<String>, placedBefore: Date, silentSince: Date) throws(PostgresStoreError) -> (rooms: Int, nodes: Int) {
        try Self.run("prune") {
            try database.run("prune") { session in
                let rooms = try session.execute(
                    "DELETE FROM cluster_room WHERE node = \(node) AND placed_at < \(placedBefore.timeIntervalSince1970) AND NOT (room = ANY(\(Array(keeping))))")
                let nodes = try session.execute("DELETE FROM cluster_node WHERE heartbeat < \(silentSince.timeIntervalSince1970)")
                let orphans = try session.execute("DELETE FROM cluster_room r WHERE NOT EXISTS (SELECT 1 FROM cluster_node n WHERE n.url = r.node)")
                return (rooms + orphans, nodes)
            }
        }
    }

    /// Every node registered (live or not), by URL.
    public func nodes() throws(PostgresStoreError) -> [ClusterNode] {
        try Self.run("nodes") {
            try database.read("nodes") { session in
                try session.query("SELECT \(unescaped: Self.nodeColumns) FROM cluster_node n ORDER BY n.url").map(Self.node)
            }
        }
    }

    /// The node `room` lives on: where it is placed if that node is live at `now`, else a new
    /// placement on the least loaded live node (stored). Nil when no node is live.
    public func place(room: String, now: Date, deadAfter: TimeInterval) throws(PostgresStoreError) -> ClusterNode? {
        try Self.run("place") {
            // The common case, a room placed on a live node, in one read without a lock: every
            // offer of a busy room asks, and a lock per offer would queue them all on one room.
            let current = try database.read("place") { session in
                try session.query(
                    """
                    SELECT \(unescaped: Self.nodeColumns) FROM cluster_room r JOIN cluster_node n ON n.url = r.node WHERE r.room = \(room)
                    """
                ).first.map(Self.node)
            }
            if let current, current.isLive(now: now, deadAfter: deadAfter) { return current }
            return try database.transaction("place") { session -> ClusterNode? in
                // The room's lock: two nodes placing it at once take turns, the second finds it placed.
                try session.execute("SELECT pg_advisory_xact_lock(hashtextextended(\("room:" + room), 0))")
                let nodes = try session.query("SELECT \(unescaped: Self.nodeColumns) FROM cluster_node n").map(Self.node)
                let live = nodes.filter { $0.isLive(now: now, deadAfter: deadAfter) }
                if let placed = try session.query("SELECT node FROM cluster_room WHERE room = \(room)").first?.decode(String.self),
                    let node = live.first(where: { $0.url == placed })
                {
                    return node
                }
                guard let chosen = ClusterNode.leastLoaded(live) else { return nil }
                try session.execute(
                    """
                    INSERT INTO cluster_room (room, node, placed_at) VALUES (\(room), \(chosen.url), \(now.timeIntervalSince1970))
                    ON CONFLICT (room) DO UPDATE SET node = excluded.node, placed_at = excluded.placed_at
                    """)
                return chosen
            }
        }
    }
}
