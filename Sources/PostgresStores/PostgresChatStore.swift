import Chat
import Foundation
import PostgresNIO
import ShowroomCore

/// The chat on PostgreSQL, for nodes sharing one database: the same promises as
/// ``Chat/SQLiteChatStore`` (`ChatStore`'s), kept under writers on different nodes.
///
/// - **Gapless per-room seq**: an append (`chat_append`, a PL/pgSQL function, between BEGIN and COMMIT)
///   takes the next seq by incrementing the room's row of `chat_room_seq` (`INSERT … ON CONFLICT
///   DO UPDATE … RETURNING`), which locks that row until it commits, so a room's appends on every
///   node take turns and a seq is used only if its message is stored.
/// - **Idempotent sends**: a unique index on (room, sender, client id); a retry finds the stored
///   message, also when the first try committed on another node a moment earlier (the insert then
///   fails on the index, the block holding the counter's increment is rolled back, and the stored
///   one is answered).
/// - **Durable acknowledgements**: `append` returns after `COMMIT` returns (PostgreSQL's default
///   `synchronous_commit = on`: the commit is flushed to its WAL).
/// - **Signals to every node**: each append notifies ``channel`` with `SEQ ROOM` (`pg_notify` in its
///   transaction, so only a committed message is told, and in commit order): a few bytes, never
///   the message, which every node reads from the table (``signals()``).
///
/// Ids and names with a NUL character are refused as `invalid_content`, as every chat store does
/// (``Chat/StorableName``).
public final class PostgresChatStore: SharedChatStore {
    public let database: PostgresDatabase
    /// The notification channel of the chat's appends.
    public static let channel = "showroom_chat"

    public static let migrations = [
        PostgresMigration(
            "chat.v1",
            [
                """
                CREATE TABLE chat_message (
                    room TEXT NOT NULL, seq BIGINT NOT NULL, client_id TEXT NOT NULL, sender TEXT NOT NULL,
                    sender_role TEXT NOT NULL, body TEXT NOT NULL, sent_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (room, seq))
                """,
                "CREATE UNIQUE INDEX chat_message_client ON chat_message (room, sender, client_id)",
                "CREATE INDEX chat_message_sent_at ON chat_message (sent_at)",
                "CREATE TABLE chat_room_seq (room TEXT PRIMARY KEY, last_seq BIGINT NOT NULL)",
                """
                CREATE TABLE chat_read_receipt (
                    room TEXT NOT NULL, participant TEXT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (room, participant))
                """,
            ]),
        // An append in one round trip (it was BEGIN, one statement, COMMIT): the counter, the row
        // and the notification in one function, its own statement and transaction. A send stored
        // already — before, or by another node a moment ago (the unique index refuses the row) —
        // gives its seq back with the block and answers the stored one: no seq is ever skipped.
        PostgresMigration(
            "chat.v2",
            [
                """
                CREATE FUNCTION chat_append(p_room TEXT, p_client TEXT, p_sender TEXT, p_role TEXT, p_body TEXT, p_at DOUBLE PRECISION)
                RETURNS TABLE (stored_seq BIGINT, duplicate BOOLEAN) LANGUAGE plpgsql AS $$
                DECLARE s BIGINT;
                BEGIN
                    SELECT m.seq INTO s FROM chat_message m WHERE m.room = p_room AND m.sender = p_sender AND m.client_id = p_client;
                    IF FOUND THEN
                        RETURN QUERY SELECT s, TRUE;
                        RETURN;
                    END IF;
                    BEGIN
                        INSERT INTO chat_room_seq AS r (room, last_seq) VALUES (p_room, 1)
                            ON CONFLICT (room) DO UPDATE SET last_seq = r.last_seq + 1 RETURNING r.last_seq INTO s;
                        INSERT INTO chat_message (room, seq, client_id, sender, sender_role, body, sent_at)
                            VALUES (p_room, s, p_client, p_sender, p_role, p_body, p_at);
                    EXCEPTION WHEN unique_violation THEN
                        RETURN QUERY SELECT m.seq, TRUE FROM chat_message m
                            WHERE m.room = p_room AND m.sender = p_sender AND m.client_id = p_client;
                        RETURN;
                    END;
                    PERFORM pg_notify('showroom_chat', s::text || ' ' || p_room);
                    RETURN QUERY SELECT s, FALSE;
                END
                $$
                """
            ]),
    ]

    /// Applies the chat's migrations to `database`.
    public init(database: PostgresDatabase) throws(ChatError) {
        self.database = database
        try run("migrations") { try database.migrate(Self.migrations) }
    }

    @discardableResult
    private func run<T>(_ what: String, _ body: () throws -> T) throws(ChatError) -> T {
        do { return try body() } catch let e as ChatError { throw e } catch let e as PostgresStoreError {
            throw ChatError(.storage, e.description)
        } catch { throw ChatError(.storage, "\(what): \(error)") }
    }

    private static let columns = "room, seq, client_id, sender, sender_role, body, sent_at"

    private static func message(_ row: PostgresRow) throws -> StoredMessage {
        let (room, seq, clientID, sender, role, body, sentAt) = try row.decode((String, Int64, String, String, String, String, Double).self)
        return StoredMessage(
            room: room, seq: seq, clientID: clientID, sender: sender, senderRole: role, content: ChatContent.stored(json: Data(body.utf8)),
            sentAt: Date(timeIntervalSince1970: sentAt))
    }

    public func append(
        room: String, clientID: String, sender: String, senderRole: String, content: ChatContent, at date: Date
    ) throws(ChatError) -> (message: StoredMessage, duplicate: Bool) {
        try StorableName.check(room, clientID, sender, senderRole)
        let body = try run("encoding") { try content.json() }
        let sentAt = date.timeIntervalSince1970
        return try run("append") {
            // `chat_append` (migration chat.v2) between BEGIN and COMMIT: the ack waits for COMMIT's
            // answer, which comes once the commit is flushed (``PostgresDatabase/run(_:_:)``). A
            // duplicate is rare, and its stored message takes a second read.
            let answer = try database.run("append") { session in
                try session.query(
                    "SELECT stored_seq, duplicate FROM chat_append(\(room), \(clientID), \(sender), \(senderRole), \(body), \(sentAt))"
                ).first?.decode((Int64, Bool).self)
            }
            guard let (seq, duplicate) = answer else { throw ChatError(.storage, "append: the database stored nothing and found nothing") }
            guard duplicate else {
                return (
                    StoredMessage(room: room, seq: seq, clientID: clientID, sender: sender, senderRole: senderRole, content: content, sentAt: date),
                    false
                )
            }
            let rows = try database.read("append") { session in
                try session.query("SELECT \(unescaped: Self.columns) FROM chat_message WHERE room = \(room) AND seq = \(seq)")
            }
            guard let row = rows.first else { throw ChatError(.storage, "append: a duplicate that is not stored") }
            return (try Self.message(row), true)
        }
    }

    /// The appends of every node, from the channel's notifications (`SEQ ROOM`; anything else
    /// there is ignored).
    public func signals() -> AsyncStream<ChatStoreSignal> {
        let notices = database.notices(channel: Self.channel)
        // Bounded like the notices (the oldest dropped, then a `resumed` queued behind).
        return AsyncStream(bufferingPolicy: .bufferingNewest(PostgresDatabase.noticeBuffer)) { sink in
            let task = Task {
                for await notice in notices {
                    let signal: ChatStoreSignal
                    switch notice {
                    case .resumed: signal = .resumed
                    case .payload(let text):
                        // Only what an append sends (`SEQ ROOM`, at most 84 bytes): anything else
                        // on the channel is not ours, and is ignored.
                        guard text.utf8.count <= 84, let space = text.firstIndex(of: " "), let seq = Int64(text[..<space]), seq > 0 else { continue }
                        let room = String(text[text.index(after: space)...])
                        guard RoomName.isValid(room) else { continue }
                        signal = .appended(room: room, seq: seq)
                    }
                    if case .dropped = sink.yield(signal) { sink.yield(.resumed) }
                }
                sink.finish()
            }
            sink.onTermination = { _ in task.cancel() }
        }
    }

    /// Rows in order until `maxBytes` (always the first one); the query took at most the limit.
    private static func page(_ rows: [PostgresRow], maxBytes: Int) throws -> [StoredMessage] {
        var remaining = rows.makeIterator()
        return try StoredMessage.page(limit: rows.count, maxBytes: maxBytes) { try remaining.next().map(message) }
    }

    public func messages(room: String, after: Int64, limit: Int, maxBytes: Int) throws(ChatError) -> [StoredMessage] {
        guard limit > 0 else { return [] }
        return try run("read") {
            let rows = try database.read("read") { session in
                try session.query(
                    "SELECT \(unescaped: Self.columns) FROM chat_message WHERE room = \(room) AND seq > \(after) ORDER BY seq LIMIT \(limit)")
            }
            return try Self.page(rows, maxBytes: maxBytes)
        }
    }

    public func messages(room: String, before: Int64, limit: Int, maxBytes: Int) throws(ChatError) -> [StoredMessage] {
        guard limit > 0 else { return [] }
        return try run("read") {
            let rows = try database.read("read") { session in
                try session.query(
                    "SELECT \(unescaped: Self.columns) FROM chat_message WHERE room = \(room) AND seq < \(before) ORDER BY seq DESC LIMIT \(limit)")
            }
            return try Self.page(rows, maxBytes: maxBytes).reversed()
        }
    }

    public func lastSeq(room: String) throws(ChatError) -> Int64 {
        try run("read") {
            try database.read("read") { session in
                try session.query("SELECT last_seq FROM chat_room_seq WHERE room = \(room)").first?.decode(Int64.self) ?? 0
            }
        }
    }

    public func firstSeq(room: String) throws(ChatError) -> Int64 {
        try run("read") {
            try database.read("read") { session in
                try session.query("SELECT MIN(seq) FROM chat_message WHERE room = \(room)").first?.decode(Int64?.self) ?? 0
            }
        }
    }

    public func markRead(room: String, participant: String, seq: Int64) throws(ChatError) -> Int64 {
        try StorableName.check(room, participant)
        return try run("read receipt") {
            try database.run("read receipt") { session in
                try session.query(
                    """
                    INSERT INTO chat_read_receipt (room, participant, seq) VALUES (\(room), \(participant), \(seq))
                    ON CONFLICT (room, participant) DO UPDATE SET seq = GREATEST(chat_read_receipt.seq, excluded.seq) RETURNING seq
                    """
                ).first?.decode(Int64.self) ?? seq
            }
        }
    }

    public func readReceipts(room: String, limit: Int) throws(ChatError) -> [String: Int64] {
        guard limit > 0 else { return [:] }
        return try run("read") {
            try database.read("read") { session in
                var out: [String: Int64] = [:]
                for row in try session.query(
                    "SELECT participant, seq FROM chat_read_receipt WHERE room = \(room) ORDER BY seq DESC LIMIT \(limit)")
                {
                    let (participant, seq) = try row.decode((String, Int64).self)
                    out[participant] = seq
                }
                return out
            }
        }
    }

    /// Deletes in batches of this many rows, one statement (and transaction) each.
    static let pruneBatch = 1_000

    public func prune(sentBefore: Date?, keepPerRoom: Int?) throws(ChatError) -> Int {
        try run("prune") {
            var deleted = 0
            func batches(_ query: () -> PostgresQuery) throws {
                while true {
                    let n = try database.run("prune") { session in try session.execute(query()) }
                    deleted += n
                    if n < Self.pruneBatch { return }
                }
            }
            if let sentBefore {
                let before = sentBefore.timeIntervalSince1970
                try batches {
                    """
                    DELETE FROM chat_message WHERE (room, seq) IN
                        (SELECT room, seq FROM chat_message WHERE sent_at < \(before) LIMIT \(Self.pruneBatch))
                    """
                }
            }
            if let keepPerRoom {
                let keep = Int64(keepPerRoom)
                let rooms = try database.read("prune") { session in
                    try session.query("SELECT room, last_seq FROM chat_room_seq WHERE last_seq > \(keep)").map { try $0.decode((String, Int64).self) }
                }
                for (room, last) in rooms {
                    try batches {
                        """
                        DELETE FROM chat_message WHERE (room, seq) IN
                            (SELECT room, seq FROM chat_message WHERE room = \(room) AND seq <= \(last - keep) ORDER BY seq LIMIT \(Self.pruneBatch))
                        """
                    }
                }
            }
            return deleted
        }
    }
}
