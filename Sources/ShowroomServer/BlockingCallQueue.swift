import Dispatch
import Foundation
import PostgresStores

/// A fixed set of threads for blocking database calls made on a request's behalf (the cluster's
/// placement lookups: ``ClusterMembership/home(of:)``), with a written bound on the calls that
/// wait for one (docs/limits.md, "The database"): while PostgreSQL stalls, each call holds its
/// thread up to the pool's wait and timeouts, so unbounded dispatch threads would pile up with
/// every WHIP/WHEP offer. Past ``limit`` waiting the call fails at once with `storage` (HTTP
/// `503`), and one that has waited ``maximumWait`` for a thread fails then, unrun — the caller
/// retries.
///
/// An `urgent` call (the node's own heartbeat, pruning and leave, one at a time) runs on a thread
/// of its own, so that a flood of offers can neither refuse it nor keep it waiting behind them:
/// a live node does not look dead because its offers queue.
public final class BlockingCallQueue: @unchecked Sendable {
    private final class Job: @unchecked Sendable {
        let id: UInt64
        let queued: ContinuousClock.Instant
        let run: @Sendable (_ expired: Bool) -> Void
        init(id: UInt64, queued: ContinuousClock.Instant, run: @escaping @Sendable (_ expired: Bool) -> Void) {
            self.id = id
            self.queued = queued
            self.run = run
        }
    }

    /// Calls that may wait for a thread.
    public let limit: Int
    /// How long a call may wait for a thread before it fails without running.
    public let maximumWait: Duration
    private let threads: Int
    private let now: @Sendable () -> ContinuousClock.Instant

    private let condition = NSCondition()
    /// Guarded by `condition`: the calls waiting, oldest first.
    private var jobs: [Job] = []
    private var nextID: UInt64 = 0
    private var started = false
    /// Urgent calls, on a lane of their own.
    private let urgentCondition = NSCondition()
    /// Guarded by `urgentCondition`.
    private var urgentJobs: [@Sendable () -> Void] = []
    private var urgentStarted = false

    /// - Parameters:
    ///   - threads: threads that run calls (started with the first call; they live as long as the
    ///     process), and one more for urgent calls.
    ///   - limit: calls that may wait for one of them (at least 1).
    ///   - maximumWait: how long a call may wait before it fails unrun.
    ///   - now: the clock a waiting call's age is read on when a thread takes it (injected by
    ///     tests); a call still waiting `maximumWait` later by the system's clock fails then too.
    public init(
        threads: Int = 2, limit: Int = 64, maximumWait: Duration = .seconds(5),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.threads = max(1, threads)
        self.limit = max(1, limit)
        self.maximumWait = maximumWait
        self.now = now
    }

    /// Calls waiting for a thread now (urgent ones not counted).
    public var queued: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count
    }

    /// Runs `body` on one of the queue's threads and returns what it returned, without holding a
    /// thread of Swift's cooperative pool; `storage` at once when ``limit`` calls wait already,
    /// or unrun once it waited ``maximumWait``.
    public func run<T: Sendable>(
        urgent: Bool = false, _ body: @escaping @Sendable () throws(PostgresStoreError) -> T
    ) async throws(PostgresStoreError) -> T {
        let maximumWait = self.maximumWait
        let result: Result<T, PostgresStoreError> = await withCheckedContinuation { done in
            @Sendable func call() {
                do throws(PostgresStoreError) { done.resume(returning: .success(try body())) } catch { done.resume(returning: .failure(error)) }
            }
            if urgent {
                enqueueUrgent(call)
                return
            }
            condition.lock()
            guard jobs.count < limit else {
                condition.unlock()
                done.resume(returning: .failure(PostgresStoreError("\(limit) database calls wait already: the database is slow")))
                return
            }
            nextID += 1
            let job = Job(id: nextID, queued: now()) { expired in
                if expired {
                    done.resume(returning: .failure(PostgresStoreError("waited over \(maximumWait) for a database thread: the database is slow")))
                } else {
                    call()
                }
            }
            jobs.append(job)
            startIfNeeded()
            condition.signal()
            condition.unlock()
            // Still waiting then: it fails without running (whichever comes first, this or a thread).
            let nanoseconds = Int(clamping: maximumWait.components.seconds * 1_000_000_000 + maximumWait.components.attoseconds / 1_000_000_000)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [weak self] in
                self?.expire(job.id)
            }
        }
        return try result.get()
    }

    /// Fails the call `id` if it still waits.
    private func expire(_ id: UInt64) {
        condition.lock()
        let index = jobs.firstIndex { $0.id == id }
        let job = index.map { jobs.remove(at: $0) }
        condition.unlock()
        job?.run(true)
    }

    private func enqueueUrgent(_ call: @escaping @Sendable () -> Void) {
        urgentCondition.lock()
        urgentJobs.append(call)
        if !urgentStarted {
            urgentStarted = true
            Thread { [self] in
                while true {
                    urgentCondition.lock()
                    while urgentJobs.isEmpty { urgentCondition.wait() }
                    let next = urgentJobs.removeFirst()
                    urgentCondition.unlock()
                    next()
                }
            }.start()
        }
        urgentCondition.signal()
        urgentCondition.unlock()
    }

    /// Guarded by `condition`.
    private func startIfNeeded() {
        guard !started else { return }
        started = true
        for _ in 0..<threads { Thread { [self] in work() }.start() }
    }

    private func work() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.run(now() - job.queued > maximumWait)
        }
    }
}
