import Foundation

/// A serial executor on a thread of its own, for an actor that calls a synchronous store
/// (``DeskService``, ``AssistService``, ``ShopWebhooks``): a call that waits on the disk or on
/// PostgreSQL then holds this thread, never one of Swift's cooperative pool — which has one
/// thread per core (two on CI), so two blocked actors there stopped every other task of the
/// server while the database was slow (docs/cluster.md). One thread per actor; it ends with
/// ``stop()`` (the actor's `deinit`), after the jobs queued by then.
public final class StoreThreadExecutor: SerialExecutor, @unchecked Sendable {
    private static let key = "showroom.storeThread"
    /// The name of the executor whose thread this is; nil on any other thread.
    public static var currentName: String? { Thread.current.threadDictionary[key] as? String }

    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var jobs: [UnownedJob] = []
    private var stopped = false

    private let name: String
    /// Guarded by `condition`: the thread starts with the first job, so an actor whose `init`
    /// throws (and whose `deinit` then never runs) leaves no thread behind.
    private var started = false

    init(name: String) { self.name = name }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        if !started {
            started = true
            // The thread holds the executor until it is stopped.
            let thread = Thread { [self, name] in
                // Marked for ``currentName`` (a thread's name is no help on Linux: it keeps its
                // creator's, a dispatch thread's, whatever is set).
                Thread.current.threadDictionary[Self.key] = name
                run()
            }
            thread.start()
        }
        condition.signal()
        condition.unlock()
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    /// Ends the thread once the queued jobs have run.
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedSerialExecutor()) }
        }
    }
}
