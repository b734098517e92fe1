import Chat
import Foundation
import Synchronization

/// Threads of their own for the chat store's calls, which block (SQLite reads and writes, an fsync
/// with `--durable`). Run on Swift's cooperative pool — one thread per core, two on the reference
/// machine — one slow disk access would stall every task of the process; here it holds one of
/// these threads. Rooms make at most one call at a time each (``RoomGate``), so a stalled room
/// holds at most one thread and the others keep serving.
public final class StoreThreads: Sendable {
    /// The work list the threads share (kept apart from `self` so that the threads do not keep
    /// the pool alive).
    final class Jobs: Sendable {
        let queue = Mutex<(items: [@Sendable () -> Void], head: Int)>(([], 0))
        let available = DispatchSemaphore(value: 0)

        func push(_ job: @escaping @Sendable () -> Void) {
            queue.withLock { $0.items.append(job) }
            available.signal()
        }

        /// The next job, or nil for a signal without a job (the pool is stopping).
        func pop() -> (@Sendable () -> Void)? {
            available.wait()
            return queue.withLock { q in
                guard q.head < q.items.count else { return nil }  // a stop signal
                let job = q.items[q.head]
                q.head += 1
                if q.head > 64 && q.head * 2 > q.items.count {
                    q.items.removeFirst(q.head)
                    q.head = 0
                }
                return job
            }
        }
    }

    private let jobs = Jobs()
    public let count: Int

    public init(count: Int, name: String = "showroom-store") {
        self.count = max(1, count)
        for i in 0..<self.count {
            let jobs = self.jobs
            let thread = Thread {
                while let job = jobs.pop() { job() }
            }
            thread.name = "\(name)-\(i)"
            thread.start()
        }
    }

    /// Each thread ends at a signal that finds no job, once the jobs before it are done.
    deinit {
        for _ in 0..<count { jobs.available.signal() }
    }

    /// Runs `body` on one of the threads and returns its result; the calling task is suspended
    /// meanwhile (it holds no thread).
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws(ChatError) -> T) async throws(ChatError) -> T {
        let result: Result<T, ChatError> = await withCheckedContinuation { c in
            jobs.push {
                do throws(ChatError) {
                    c.resume(returning: .success(try body()))
                } catch {
                    c.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
