import Synchronization

/// One call per key at a time: callers asking for a key whose call is under way share its answer
/// instead of making their own (Go's `singleflight`). Whoever is answered first forgets the call,
/// so the next caller asks afresh — an answer is never cached here. What the call reaches (a
/// database, another node) then sees one request per key however many callers a flood brings.
public final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let running = Mutex<[Key: Task<Value, any Error>]>([:])
    private let shares = Atomic<Int>(0)

    public init() {}

    /// Callers that shared a call under way instead of making their own (since start).
    public var shared: Int { shares.load(ordering: .relaxed) }

    /// `call`'s answer for `key`, or that of the call for `key` already under way.
    public func run(_ key: Key, _ call: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let task = running.withLock { pending in
            if let task = pending[key] {
                shares.add(1, ordering: .relaxed)
                return task
            }
            let task = Task { try await call() }
            pending[key] = task
            return task
        }
        let result = await task.result
        running.withLock { pending in if pending[key] == task { pending[key] = nil } }
        return try result.get()
    }
}
