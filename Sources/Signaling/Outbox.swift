import Synchronization

/// Server-wide figures of every connection's ``Outbox``, for `/metrics`.
public final class OutboxTotals: Sendable {
    /// Bytes queued now, over all connections.
    public let bytes = Atomic<Int>(0)
    /// The most one connection has held since start.
    public let peak = Atomic<Int>(0)
    /// Connections closed because they went over their budget.
    public let overflows = Atomic<Int>(0)
    public init() {}
}

/// One connection's outgoing queue, shared by whoever sends to it (its session, every room it is
/// in) and its writer: an ``OutboxQueue`` behind a lock, a wake-up for the writer, and two
/// hooks — ``onFailure(_:)`` (the connection must end: over budget, or a room could not serve it)
/// and ``whenBelow(_:_:)`` (a resume backlog sends its next page once the client has taken the
/// previous one).
///
/// Its writer (a `/ws` connection's, on the connection's event loop) is called through
/// ``onWake(_:)`` when the queue gets something while the writer is idle, and then takes
/// everything queued at once with ``takeBatch(maximumBytes:maximumCount:)``: one wake-up and one
/// flush for all the messages that arrived meanwhile, and no task woken per message.
public final class Outbox: Sendable {
    struct State {
        var queue: OutboxQueue
        var failure: (@Sendable (SignalingError) -> Void)?
        var drained: (threshold: Int, action: @Sendable () -> Void)?
        /// The batch writer's wake-up (``onWake(_:)``).
        var wake: (@Sendable () -> Void)?
        /// The batch writer was woken and has not yet found the queue empty: no new wake-up.
        var awake = false
    }

    private let state: Mutex<State>
    private let totals: OutboxTotals?

    public init(budget: Int, totals: OutboxTotals? = nil) {
        state = Mutex(State(queue: OutboxQueue(budget: budget)))
        self.totals = totals
    }

    public var budget: Int { state.withLock { $0.queue.budget } }
    /// Bytes queued now (the message being written included).
    public var bytes: Int { state.withLock { $0.queue.bytes } }
    public var peak: Int { state.withLock { $0.queue.peak } }

    /// Sets what to do when the connection must end (the first failure only is reported).
    public func onFailure(_ handler: @escaping @Sendable (SignalingError) -> Void) { state.withLock { $0.failure = handler } }

    /// Queues an encoded message; false when it was not queued: the connection is over its budget
    /// (it is then failed with `slow_consumer`) or is closing.
    @discardableResult
    public func deliver(_ text: String) -> Bool {
        let (offer, wake, failure, delta) = state.withLock { s in
            let before = s.queue.bytes
            let offer = s.queue.offer(text)
            let wake = offer == .queued ? s.wakeIfIdle() : nil
            let failure = offer == .overBudget ? s.failure.take() : nil
            return (offer, wake, failure, s.queue.bytes - before)
        }
        account(delta)
        wake?()
        if offer == .overBudget, let failure {  // the first time only: the connection is ending
            totals?.overflows.add(1, ordering: .relaxed)
            failure(SignalingError(.slowConsumer, "more than \(budget) bytes waiting to be sent; reconnect and resume"))
        }
        return offer == .queued
    }

    /// The connection must end with `error` (reported once, to the ``onFailure(_:)`` handler).
    public func fail(_ error: SignalingError) {
        let handler = state.withLock { $0.failure.take() }
        handler?(error)
    }

    /// Sends what is queued, then `last`, then ends.
    public func close(last: String?) { finish { $0.close(last: last) } }

    /// Drops what is queued, sends `last`, then ends.
    public func abandon(last: String?) { finish { $0.abandon(last: last) } }

    private func finish(_ change: (inout OutboxQueue) -> Void) {
        let (wake, delta) = state.withLock { s in
            let before = s.queue.bytes
            change(&s.queue)
            s.failure = nil
            s.drained = nil  // a resume page that would no longer be taken (and a cycle with its room)
            return (s.wakeIfIdle(), s.queue.bytes - before)
        }
        account(delta)
        wake?()
    }

    /// Sets the batch writer's wake-up: called (never under the lock, from whatever thread queued
    /// something or ended the queue) once per idle period — after it, nothing wakes the writer
    /// again until a ``takeBatch(maximumBytes:maximumCount:)`` has found the queue empty. Called at once if
    /// something is queued already.
    public func onWake(_ wake: @escaping @Sendable () -> Void) {
        let now = state.withLock { s in
            s.wake = wake
            return s.queue.isEmpty && s.queue.phase == .open ? nil : s.wakeIfIdle()
        }
        now?()
    }

    /// For the batch writer: the previous batch counts as written; the next messages, at most
    /// `maximumCount` and as many as fit in `maximumBytes` (at least one), and whether the queue
    /// has ended (then the wake-up is let go). An empty batch of an
    /// open queue puts the writer to sleep until the next wake-up.
    public func takeBatch(maximumBytes: Int, maximumCount: Int = .max) -> (texts: [String], ended: Bool) {
        let (texts, ended, drained, delta) = state.withLock { s in
            let before = s.queue.bytes
            let texts = s.queue.nextBatch(maximumBytes: maximumBytes, maximumCount: maximumCount)
            if texts.isEmpty { s.awake = false }
            if s.queue.phase == .ended { s.wake = nil }  // the writer holds its outbox: no cycle left
            var drained: (@Sendable () -> Void)?
            if let d = s.drained, s.queue.bytes < d.threshold || s.queue.phase != .open {
                drained = d.action
                s.drained = nil
            }
            return (texts, s.queue.phase == .ended, drained, s.queue.bytes - before)
        }
        account(delta)
        drained?()
        return (texts, ended)
    }

    /// Runs `action` once, when fewer than `threshold` bytes are queued (at once if that is so now).
    public func whenBelow(_ threshold: Int, _ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            if s.queue.bytes < threshold || s.queue.phase != .open { return true }
            s.drained = (threshold, action)
            return false
        }
        if now { action() }
    }

    /// The next message if one is queued (the previous one counts as written), for tests and a
    /// writer that polls: a batch of one.
    public func tryNext() -> String? { takeBatch(maximumBytes: 0, maximumCount: 1).texts.first }

    private func account(_ delta: Int) {
        guard let totals, delta != 0 else { return }
        totals.bytes.add(delta, ordering: .relaxed)
        if delta > 0 {
            let mine = peak
            var current = totals.peak.load(ordering: .relaxed)
            while mine > current {
                let (exchanged, original) = totals.peak.compareExchange(expected: current, desired: mine, ordering: .relaxed)
                if exchanged { break }
                current = original
            }
        }
    }
}

extension Outbox.State {
    /// The batch writer's wake-up if it is idle (and marks it awake).
    fileprivate mutating func wakeIfIdle() -> (@Sendable () -> Void)? {
        guard let wake, !awake else { return nil }
        awake = true
        return wake
    }
}

extension Optional {
    fileprivate mutating func take() -> Wrapped? {
        defer { self = nil }
        return self
    }
}
