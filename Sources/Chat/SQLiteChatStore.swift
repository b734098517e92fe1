import Foundation
import GRDB

/// The embedded store: one SQLite file in the data directory, in WAL mode (readers never wait for
/// the writer), through GRDB.
///
/// Durability: with `synchronous = NORMAL` (the default) a committed message survives the process
/// crashing or being killed, but the last commits before a power loss or kernel crash may be lost
/// (WAL is synced at checkpoints, not per commit). `durableAgainstPowerLoss` makes it `FULL`: the
/// WAL is synced on every commit, so an acknowledged message survives power loss too, at the cost
/// of an fsync per message.
public final class SQLiteChatStore: ChatStore {
    private let pool: DatabasePool
    public let path: String
    public let durableAgainstPowerLoss: Bool

    public init(path: String, durableAgainstPowerLoss: Bool = false) throws(ChatError) {
        self.path = path
        self.durableAgainstPowerLoss = durableAgainstPowerLoss
        var config = Configuration()
        // Wait for a lock rather than fail at once: another process (a server restarting while the
        // old one closes its connections and checkpoints) may hold the file for a moment.
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durableAgainstPowerLoss ? "FULL" : "NORMAL")")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            var migrator = DatabaseMigrator()
            migrator.registerMigration("v1") { db in
                try db.execute(
                    sql: """
                        CREATE TABLE message (
                            room TEXT NOT NULL, seq INTEGER NOT NULL, client_id TEXT NOT NULL,
                            sender TEXT NOT NULL, sender_role TEXT NOT NULL, body TEXT NOT NULL, sent_at REAL NOT NULL,
                            PRIMARY KEY (room, seq)) WITHOUT ROWID;
                        CREATE UNIQUE INDEX message_client ON message (room, sender, client_id);
                        CREATE TABLE read_receipt (
                            room TEXT NOT NULL, participant TEXT NOT NULL, seq INTEGER NOT NULL,
                            PRIMARY KEY (room, participant)) WITHOUT ROWID;
                        """)
            }
            // Retention: a room's last seq is kept apart from its messages, so that deleting old
            // (or all) messages never makes seqs start over; sent_at is indexed for pruning by age.
            migrator.registerMigration("v2") { db in
                try db.execute(
                    sql: """
                        CREATE TABLE room_seq (room TEXT PRIMARY KEY NOT NULL, last_seq INTEGER NOT NULL) WITHOUT ROWID;
                        INSERT INTO room_seq (room, last_seq) SELECT room, MAX(seq) FROM message GROUP BY room;
                        CREATE INDEX message_sent_at ON message (sent_at);
                        """)
            }
            try migrator.migrate(pool)
        } catch {
            throw ChatError(.storage, "opening \(path): \(error)")
        }
    }

    /// SQLite's `synchronous` setting on this store's connections: 1 (NORMAL) or 2 (FULL).
    public func synchronousSetting() throws(ChatError) -> Int {
        try run("read") { try pool.read { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 } }
    }

    private static func message(_ row: Row) throws -> StoredMessage {
        let body: String = row["body"]
        return StoredMessage(
            room: row["room"], seq: row["seq"], clientID: row["client_id"], sender: row["sender"], senderRole: row["sender_role"],
            content: ChatContent.stored(json: Data(body.utf8)), sentAt: Date(timeIntervalSince1970: row["sent_at"]))
    }

    private func run<T>(_ what: String, _ body: () throws -> T) throws(ChatError) -> T {
        do { return try body() } catch let e as ChatError { throw e } catch { throw ChatError(.storage, "\(what): \(error)") }
    }

    public func append(
        room: String, clientID: String, sender: String, senderRole: String, content: ChatContent, at date: Date
    ) throws(ChatError) -> (message: StoredMessage, duplicate: Bool) {
        try StorableName.check(room, clientID, sender, senderRole)
        let body = try run("encoding") { try content.json() }
        return try run("append") {
            try pool.write { db -> (StoredMessage, Bool) in
                // Cached statements: this runs once per chat message, and preparing four statements
                // (parse, GRDB's authorizer) each time was a tenth of the store's CPU.
                if let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT * FROM message WHERE room = ? AND sender = ? AND client_id = ?"),
                    arguments: [room, sender, clientID])
                {
                    return (try Self.message(row), true)
                }
                let seq = (try Int64.fetchOne(
                    db.cachedStatement(sql: "SELECT last_seq FROM room_seq WHERE room = ?"), arguments: [room]) ?? 0) + 1
                try db.cachedStatement(
                    sql: "INSERT INTO room_seq (room, last_seq) VALUES (?, ?) ON CONFLICT (room) DO UPDATE SET last_seq = excluded.last_seq"
                ).execute(arguments: [room, seq])
                try db.cachedStatement(
                    sql: "INSERT INTO message (room, seq, client_id, sender, sender_role, body, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                ).execute(arguments: [room, seq, clientID, sender, senderRole, body, date.timeIntervalSince1970])
                return (
                    StoredMessage(room: room, seq: seq, clientID: clientID, sender: sender, senderRole: senderRole, content: content, sentAt: date),
                    false
                )
            }
        }
    }

    /// Rows in order until `limit` or `maxBytes` (always the first one).
    private static func page(_ cursor: RowCursor, limit: Int, maxBytes: Int) throws -> [StoredMessage] {
        try StoredMessage.page(limit: limit, maxBytes: maxBytes) { try cursor.next().map(message) }
    }

    public func messages(room: String, after: Int64, limit: Int, maxBytes: Int) throws(ChatError) -> [StoredMessage] {
        try run("read") {
            try pool.read { db in
                let cursor = try Row.fetchCursor(
                    db, sql: "SELECT * FROM message WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?", arguments: [room, after, limit])
                return try Self.page(cursor, limit: limit, maxBytes: maxBytes)
            }
        }
    }

    public func messages(room: String, before: Int64, limit: Int, maxBytes: Int) throws(ChatError) -> [StoredMessage] {
        try run("read") {
            try pool.read { db in
                let cursor = try Row.fetchCursor(
                    db, sql: "SELECT * FROM message WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?", arguments: [room, before, limit])
                return try Self.page(cursor, limit: limit, maxBytes: maxBytes).reversed()
            }
        }
    }

    public func lastSeq(room: String) throws(ChatError) -> Int64 {
        try run("read") {
            try pool.read { db in try Int64.fetchOne(db, sql: "SELECT last_seq FROM room_seq WHERE room = ?", arguments: [room]) ?? 0 }
        }
    }

    public func firstSeq(room: String) throws(ChatError) -> Int64 {
        try run("read") { try pool.read { db in try Int64.fetchOne(db, sql: "SELECT MIN(seq) FROM message WHERE room = ?", arguments: [room]) ?? 0 } }
    }

    public func markRead(room: String, participant: String, seq: Int64) throws(ChatError) -> Int64 {
        try StorableName.check(room, participant)
        return try run("read receipt") {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO read_receipt (room, participant, seq) VALUES (?, ?, ?)
                        ON CONFLICT (room, participant) DO UPDATE SET seq = MAX(seq, excluded.seq)
                        """, arguments: [room, participant, seq])
                return try Int64.fetchOne(
                    db, sql: "SELECT seq FROM read_receipt WHERE room = ? AND participant = ?", arguments: [room, participant]) ?? seq
            }
        }
    }

    public func readReceipts(room: String, limit: Int) throws(ChatError) -> [String: Int64] {
        try run("read") {
            try pool.read { db in
                var out: [String: Int64] = [:]
                for row in try Row.fetchAll(
                    db, sql: "SELECT participant, seq FROM read_receipt WHERE room = ? ORDER BY seq DESC LIMIT ?", arguments: [room, limit])
                {
                    out[row["participant"]] = row["seq"]
                }
                return out
            }
        }
    }

    /// Deletes in batches of this many rows, one transaction each.
    static let pruneBatch = 1_000

    public func prune(sentBefore: Date?, keepPerRoom: Int?) throws(ChatError) -> Int {
        try run("prune") {
            var deleted = 0
            func batches(_ sql: String, _ arguments: StatementArguments) throws {
                while true {
                    let n = try pool.write { db in
                        try db.execute(sql: sql, arguments: arguments)
                        return db.changesCount
                    }
                    deleted += n
                    if n < Self.pruneBatch { return }
                }
            }
            if let sentBefore {
                try batches(
                    "DELETE FROM message WHERE (room, seq) IN (SELECT room, seq FROM message WHERE sent_at < ? LIMIT \(Self.pruneBatch))",
                    [sentBefore.timeIntervalSince1970])
            }
            if let keepPerRoom {
                let rooms = try pool.read { db in
                    try Row.fetchAll(db, sql: "SELECT room, last_seq FROM room_seq").map { ($0["room"] as String, $0["last_seq"] as Int64) }
                }
                for (room, last) in rooms where last > Int64(keepPerRoom) {
                    try batches(
                        """
                        DELETE FROM message WHERE (room, seq) IN
                            (SELECT room, seq FROM message WHERE room = ? AND seq <= ? ORDER BY seq LIMIT \(Self.pruneBatch))
                        """, [room, last - Int64(keepPerRoom)])
                }
            }
            return deleted
        }
    }
}
