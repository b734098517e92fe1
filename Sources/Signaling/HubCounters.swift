import Synchronization

/// The chat's counters since start, shared by every room (atomics: rooms run concurrently).
final class HubCounters: Sendable {
    let stored = Atomic(0), duplicates = Atomic(0), delivered = Atomic(0), resumed = Atomic(0), joins = Atomic(0)
    let slowConsumers = Atomic(0), identityRateLimited = Atomic(0), roomBusy = Atomic(0), pruned = Atomic(0)
    let members = Atomic(0)
    let refusals = Mutex<[String: Int]>([:])

    func add(_ counter: borrowing Atomic<Int>, _ n: Int = 1) { counter.add(n, ordering: .relaxed) }

    /// A request refused by a quota (``HubSnapshot/quotaRefusals``).
    func refused(_ quota: String) { refusals.withLock { $0[quota, default: 0] += 1 } }
}

/// The hub's figures for `/metrics` (docs/metrics.md).
public struct HubSnapshot: Sendable, Equatable {
    public var rooms = 0
    public var members = 0
    /// Chat messages stored, retried sends answered from the store, messages queued to members
    /// (every kind), backlog messages sent on resume, joins, members dropped as too slow.
    public var stored = 0
    public var duplicates = 0
    public var delivered = 0
    public var resumed = 0
    public var joins = 0
    public var slowConsumers = 0
    /// Sends refused by the per-identity rate; room operations refused because the room's store
    /// queue was full; messages deleted by retention.
    public var identityRateLimited = 0
    public var roomBusy = 0
    public var pruned = 0
    /// Requests refused by a quota, by quota (`connections_per_server`, `connections_per_identity`,
    /// `members_per_room`, `media_sessions_per_connection`).
    public var quotaRefusals: [String: Int] = [:]
    /// Bytes queued for `/ws` connections now, the most one connection has held, and connections
    /// closed for going over their budget.
    public var queuedBytes = 0
    public var queuedBytesPeak = 0
    public var overBudget = 0
    public init() {}
}
