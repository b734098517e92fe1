import Foundation
import GRDB

/// Where chat messages live. Every call is synchronous and atomic; `append` returns only after
/// the message is durably stored, so an acknowledgement built on it is a promise kept.
/// SQLite (``SQLiteChatStore``) is the embedded default; a PostgreSQL store can follow behind the
/// same protocol.
public protocol ChatStore: Sendable {
    /// Stores a message with the room's next `seq`, or — when this sender already sent one with
    /// this `clientID` in this room — returns that one, with `duplicate` set, and stores nothing.
    func append(
        room: String, clientID: String, sender: String, senderRole: String, content: ChatContent, at: Date
    ) throws(ChatError) -> (message: StoredMessage, duplicate: Bool)
    /// Messages with seq > `after`, oldest first, at most `limit`.
    func messages(room: String, after: Int64, limit: Int) throws(ChatError) -> [StoredMessage]
    /// Messages with seq < `before`, the newest `limit` of them, oldest first (history paging).
    func messages(room: String, before: Int64, limit: Int) throws(ChatError) -> [StoredMessage]
    /// The room's highest seq (0 when empty).
    func lastSeq(room: String) throws(ChatError) -> Int64
    /// Records that `participant` has read up to `seq` (never moves back); returns the stored value.
    func markRead(room: String, participant: String, seq: Int64) throws(ChatError) -> Int64
    /// Everyone's "read up to" in the room.
    func readReceipts(room: String) throws(ChatError) -> [String: Int64]
}

/// The embedded store: one SQLite file in the data directory, in WAL mode (readers never wait for
/// the writer), through GRDB. `synchronous = NORMAL`: a committed message survives the process
/// crashing or being killed; `durableAgainstPowerLoss` makes it `FULL` (an fsync per commit) for
/// machines that may lose power.
public final class SQLiteChatStore: ChatStore {
    private let pool: DatabasePool
    public let path: String

    public init(path: String, durableAgainstPowerLoss: Bool = false) throws(ChatError) {
        self.path = path
        var config = Configuration()
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
            try migrator.migrate(pool)
        } catch {
            throw ChatError(.storage, "opening \(path): \(error)")
        }
    }


    private static func message(_ row: Row) throws -> StoredMessage {
        let body: String = row["body"]
        return StoredMessage(
            room: row["room"], seq: row["seq"], clientID: row["client_id"], sender: row["sender"], senderRole: row["sender_role"],
            content: try ChatContent(json: Data(body.utf8)), sentAt: Date(timeIntervalSince1970: row["sent_at"]))
    }

    private func run<T>(_ what: String, _ body: () throws -> T) throws(ChatError) -> T {
        do { return try body() } catch let e as ChatError { throw e } catch { throw ChatError(.storage, "\(what): \(error)") }
    }

    public func append(
        room: String, clientID: String, sender: String, senderRole: String, content: ChatContent, at date: Date
    ) throws(ChatError) -> (message: StoredMessage, duplicate: Bool) {
        let body = try run("encoding") {
            String(decoding: try JSONSerialization.data(withJSONObject: content.jsonObject, options: .sortedKeys), as: UTF8.self)
        }
        return try run("append") {
            try pool.write { db -> (StoredMessage, Bool) in
                if let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM message WHERE room = ? AND sender = ? AND client_id = ?", arguments: [room, sender, clientID])
                {
                    return (try Self.message(row), true)
                }
                let seq = (try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM message WHERE room = ?", arguments: [room]) ?? 0) + 1
                try db.execute(
                    sql: "INSERT INTO message (room, seq, client_id, sender, sender_role, body, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    arguments: [room, seq, clientID, sender, senderRole, body, date.timeIntervalSince1970])
                return (
                    StoredMessage(room: room, seq: seq, clientID: clientID, sender: sender, senderRole: senderRole, content: content, sentAt: date),
                    false
                )
            }
        }
    }

    public func messages(room: String, after: Int64, limit: Int) throws(ChatError) -> [StoredMessage] {
        try run("read") {
            try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM message WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?", arguments: [room, after, limit]
                ).map(Self.message)
            }
        }
    }

    public func messages(room: String, before: Int64, limit: Int) throws(ChatError) -> [StoredMessage] {
        try run("read") {
            try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM message WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?", arguments: [room, before, limit]
                ).map(Self.message).reversed()
            }
        }
    }

    public func lastSeq(room: String) throws(ChatError) -> Int64 {
        try run("read") { try pool.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM message WHERE room = ?", arguments: [room]) ?? 0 } }
    }

    public func markRead(room: String, participant: String, seq: Int64) throws(ChatError) -> Int64 {
        try run("read receipt") {
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

    public func readReceipts(room: String) throws(ChatError) -> [String: Int64] {
        try run("read") {
            try pool.read { db in
                var out: [String: Int64] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT participant, seq FROM read_receipt WHERE room = ?", arguments: [room]) {
                    out[row["participant"]] = row["seq"]
                }
                return out
            }
        }
    }
}
