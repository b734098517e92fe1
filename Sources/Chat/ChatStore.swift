import Foundation

/// Where chat messages live. Every call is synchronous and atomic; `append` returns only after
/// the message is durably stored, so an acknowledgement built on it is a promise kept. Calls may
/// block on disk: the signaling layer makes them on threads of their own (`StoreThreads`), never
/// on the cooperative pool, one at a time per room.
/// SQLite (``SQLiteChatStore``) is the embedded default; a PostgreSQL store can follow behind the
/// same protocol.
public protocol ChatStore: Sendable {
    /// Stores a message with the room's next `seq`, or — when this sender already sent one with
    /// this `clientID` in this room (and it has not been deleted by retention) — returns that one,
    /// with `duplicate` set, and stores nothing. A room's seqs never go back, retention or not.
    func append(
        room: String, clientID: String, sender: String, senderRole: String, content: ChatContent, at: Date
    ) throws(ChatError) -> (message: StoredMessage, duplicate: Bool)
    /// Messages with seq > `after`, oldest first: at most `limit`, and no more than `maxBytes` of
    /// stored size (``StoredMessage/storedSize``) beyond the first — a page always holds at least
    /// one message when there is one.
    func messages(room: String, after: Int64, limit: Int, maxBytes: Int) throws(ChatError) -> [StoredMessage]
    /// Messages with seq < `before`, the newest of them, oldest first (history paging), bounded as
    /// above.
    func messages(room: String, before: Int64, limit: Int, maxBytes: Int) throws(ChatError) -> [StoredMessage]
    /// The room's highest seq ever given (0 when none): it does not go back when retention
    /// deletes messages.
    func lastSeq(room: String) throws(ChatError) -> Int64
    /// The room's oldest stored seq (0 when it holds none).
    func firstSeq(room: String) throws(ChatError) -> Int64
    /// Records that `participant` has read up to `seq` (never moves back); returns the stored value.
    func markRead(room: String, participant: String, seq: Int64) throws(ChatError) -> Int64
    /// The room's "read up to" values, the `limit` most advanced ones.
    func readReceipts(room: String, limit: Int) throws(ChatError) -> [String: Int64]
    /// Deletes messages sent before `sentBefore` and, in every room, all but the newest
    /// `keepPerRoom`; in short transactions, so that appends are never held up for long. Returns
    /// how many were deleted.
    func prune(sentBefore: Date?, keepPerRoom: Int?) throws(ChatError) -> Int
}

/// What a store refuses in ids and names (room, client id, sender, role, participant): the NUL
/// character. PostgreSQL's text cannot hold it, and SQLite's bindings cut a string at it (so
/// `a\u{0}b` would be stored as `a`, and two client ids would become one). Message bodies are
/// JSON, where it is escaped, and are not concerned.
public enum StorableName {
    /// `invalid_content` if any of `names` holds a NUL.
    public static func check(_ names: String...) throws(ChatError) {
        if names.contains(where: { $0.utf8.contains(0) }) { throw ChatError(.invalidContent, "a NUL character cannot be stored in an id or name") }
    }
}

extension ChatStore {
    public func messages(room: String, after: Int64, limit: Int) throws(ChatError) -> [StoredMessage] {
        try messages(room: room, after: after, limit: limit, maxBytes: .max)
    }

    public func messages(room: String, before: Int64, limit: Int) throws(ChatError) -> [StoredMessage] {
        try messages(room: room, before: before, limit: limit, maxBytes: .max)
    }

    public func readReceipts(room: String) throws(ChatError) -> [String: Int64] { try readReceipts(room: room, limit: .max) }
}

/// How long chat is kept: messages older than `days`, and beyond the newest `messagesPerRoom` of
/// each room, are deleted by a periodic prune. Nil: no limit (the default: keep everything).
public struct RetentionPolicy: Sendable, Equatable {
    public var days: Int?
    public var messagesPerRoom: Int?

    public init(days: Int? = nil, messagesPerRoom: Int? = nil) {
        self.days = days
        self.messagesPerRoom = messagesPerRoom
    }

    public var isUnlimited: Bool { days == nil && messagesPerRoom == nil }

    /// Prunes `store` by this policy, as of `now`.
    public func prune(_ store: any ChatStore, now: Date) throws(ChatError) -> Int {
        guard !isUnlimited else { return 0 }
        return try store.prune(sentBefore: days.map { now.addingTimeInterval(-Double($0) * 86_400) }, keepPerRoom: messagesPerRoom)
    }
}
