import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// A PostgreSQL session-level advisory lock held on a connection of its own, outside the pool
/// ([§9.27.10](https://www.postgresql.org/docs/15/functions-admin.html#FUNCTIONS-ADVISORY-LOCKS)):
/// while this process lives and reaches the database, its session holds the lock, and the moment
/// the process dies — `kill -9` included: the kernel closes its socket and PostgreSQL ends the
/// session — the lock is free, which every other session can see in `pg_locks`. A cluster node
/// holds one so that the others know at once that it died, not a heartbeat timeout later
/// (``PostgresNodeRegistry``). After losing the connection it tries again — 0.5 s, doubling to
/// 5 s; a lock another session holds is waited for up to the server's `lock_timeout` (5 s) each
/// try.
public final class PostgresSessionLock: Sendable {
    private let held = Atomic<Bool>(false)
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Whether this process's session holds the lock now.
    public var isHeld: Bool { held.load(ordering: .acquiring) }

    fileprivate init() {}

    /// Lets the lock go (closes its connection, without waiting for the close); it is not taken
    /// again. Call it before the database is closed.
    public func release() {
        task.withLock { $0 }?.cancel()
        held.store(false, ordering: .releasing)
    }

    /// Holds `self` until ``release()``: a lock is let go only by saying so.
    fileprivate func start(_ body: @escaping @Sendable (PostgresSessionLock) async -> Void) {
        task.withLock { $0 = Task { await body(self) } }
    }

    fileprivate func set(_ value: Bool) { held.store(value, ordering: .releasing) }
}

extension PostgresDatabase {
    /// Takes the advisory lock `hashtextextended(key, 0)` on a connection of its own and holds it
    /// until ``PostgresSessionLock/release()`` (see ``PostgresSessionLock``).
    ///
    /// With `contended` (a lock the nodes take turns holding, such as the desk's), a try waits for
    /// the lock without a time limit — the moment its holder's session ends, the longest waiter
    /// has it — and waiting is not worth a warning. `onHeld` then runs on the lock's connection,
    /// while it is held (to record who holds it); if it throws, the lock is let go and taken again.
    public func holdLock(
        _ key: String, contended: Bool = false, onHeld: (@Sendable (PostgresConnection, Logger) async throws -> Void)? = nil
    ) -> PostgresSessionLock {
        let lock = PostgresSessionLock()
        let (configuration, loop, logger) = (self.configuration, group.next(), self.logger)
        lock.start { lock in
            var wait = Duration.milliseconds(500)
            var id = 2_000_000
            while !Task.isCancelled {
                id += 1
                var heldSince: ContinuousClock.Instant?
                do {
                    let connection = try await PostgresConnection.connect(on: loop, configuration: configuration, id: id, logger: logger)
                    await withTaskCancellationHandler {
                        do {
                            if contended {
                                // No time limits on this session: it waits in the lock's queue.
                                for try await _ in try await connection.query("SET lock_timeout = 0", logger: logger) {}
                                for try await _ in try await connection.query("SET statement_timeout = 0", logger: logger) {}
                            }
                            for try await _ in try await connection.query("SELECT pg_advisory_lock(hashtextextended(\(key), 0))", logger: logger) {}
                            try await onHeld?(connection, logger)
                            lock.set(true)
                            heldSince = .now
                            wait = .milliseconds(500)
                            try? await connection.closeFuture.get()
                        } catch {
                            logger.warning("database lock not taken", metadata: ["key": .string(key), "error": .string("\(error)")])
                        }
                    } onCancel: {
                        let _: EventLoopFuture<Void> = connection.close()
                    }
                    lock.set(false)
                    try? await connection.close()
                } catch {
                    logger.warning("database lock: cannot connect", metadata: ["key": .string(key), "error": .string("\(error)")])
                }
                // Held for a while and lost (the database restarted, the connection was cut): take
                // it again at once — until then the others count this node dead.
                if let heldSince, ContinuousClock.now - heldSince >= .seconds(1) { continue }
                try? await Task.sleep(for: wait)
                wait = min(wait * 2, .seconds(5))
            }
            lock.set(false)
        }
        return lock
    }
}
