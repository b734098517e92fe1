import Foundation
import PostgresStores

/// A fixed set of threads for blocking database calls made on a request's behalf (the cluster's
/// placement lookups: ``ClusterMembership/home(of:)``), with a written bound on the calls that
/// wait for one (docs/limits.md, "The database"): while PostgreSQL stalls, each call holds its
/// thread up to the pool's wait and timeouts, so unbounded dispatch threads would pile up with
/// every WHIP/WHEP offer. Past ``limit`` waiting, or once a call has waited ``maximumWait`` for a
/// thread, it fails at once with `storage` (HTTP `503`), and the client retries.
///
/// An `urgent` call (the node's own heartbeat and leave, one at a time) goes to the front and is
/// not counted against the bound, so a flood of offers cannot make a live node look dead.
public final class BlockingCallQueue: @unchecked Sendable {
    private struct Job {
        let queued: ContinuousClock.Instant
        /// Counted against ``limit`` (not urgent); only these expire.
        let counted: Bool
        let run: @Sendable (_ expired: Bool) -> Void
    }

    /// Calls that may wait for a thread.
    public let limit: Int
    /// How long a call may wait for a thread before it fails without running.
    public let maximumWait: Duration
    private let threads: Int
    private let now: @Sendable () -> ContinuousClock.Instant

    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var jobs: [Job] = []
    private var waiting = 0
    private var started = false

    /// - Parameters:
    ///   - threads: threads that run calls (started with the first call; they live as long as the process).
    ///   - limit: calls that may wait for one of them.
    ///   - maximumWait: how long a call may wait before it fails unrun.
    ///   - now: the clock the wait is read on (injected by tests).
    public init(
        threads: Int = 2, limit: Int = 64, maximumWait: Duration = .seconds(5),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.threads = max(1, threads)
        self.limit = max(0, limit)
        self.maximumWait = maximumWait
        self.now = now
    }

    /// Calls waiting for a thread now (urgent ones not counted).
    public var queued: Int {
        condition.lock()
        defer { condition.unlock() }
        return waiting
    }

    /// Runs `body` on one of the queue's threads and returns what it returned, without holding a
    /// thread of Swift's cooperative pool; `storage` at once when ``limit`` calls wait already,
    /// or unrun once it waited ``maximumWait``.
    public func run<T: Sendable>(
        urgent: Bool = false, _ body: @escaping @Sendable () throws(PostgresStoreError) -> T
    ) async throws(PostgresStoreError) -> T {
        let (limit, maximumWait) = (self.limit, self.maximumWait)
        let result: Result<T, PostgresStoreError> = await withCheckedContinuation { done in
            let job = Job(queued: now(), counted: !urgent) { expired in
                if expired {
                    done.resume(returning: .failure(PostgresStoreError("waited over \(maximumWait) for a database thread: the database is slow")))
                    return
                }
                do throws(PostgresStoreError) { done.resume(returning: .success(try body())) } catch { done.resume(returning: .failure(error)) }
            }
            condition.lock()
            if !urgent && waiting >= limit {
                condition.unlock()
                done.resume(returning: .failure(PostgresStoreError("\(limit) database calls wait already: the database is slow")))
                return
            }
            if urgent {
                jobs.insert(job, at: 0)
            } else {
                jobs.append(job)
                waiting += 1
            }
            startIfNeeded()
            condition.signal()
            condition.unlock()
        }
        return try result.get()
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
            if job.counted { waiting -= 1 }
            condition.unlock()
            job.run(job.counted && now() - job.queued > maximumWait)
        }
    }
}
