/// What a store shared by several nodes tells each of them: that a room's messages reached a seq
/// (any node's append, this one's too), or that it may have missed some of those signals.
public enum ChatStoreSignal: Sendable, Equatable {
    /// `room` has every message up to `seq` stored.
    case appended(room: String, seq: Int64)
    /// The feed was interrupted (its connection to the database broke, or the reader fell
    /// behind): signals may have been lost, so every open room reads what it has not delivered.
    case resumed
}

/// A ``ChatStore`` that other nodes write too (PostgreSQL: docs/cluster.md). The store stays the
/// source of truth: a signal only says where to read, so a lost or late one delays a delivery
/// and loses nothing.
public protocol SharedChatStore: ChatStore {
    /// The signals from now on, starting with ``ChatStoreSignal/resumed`` once the store listens.
    /// Each call is a feed of its own; it ends when the stream is dropped.
    func signals() -> AsyncStream<ChatStoreSignal>
}
