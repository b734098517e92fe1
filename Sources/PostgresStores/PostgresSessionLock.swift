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
/// try (a contended lock, at once again: see ``PostgresDatabase/holdLock(_:contended:onHeld:)``).
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
    /// For a contended lock: how often its connection is checked while held, and how long a check
    /// may take before the connection is taken for dead and closed (the lock then counts as lost).
    static let lockCheckInterval: Duration = .seconds(1)
    static let lockCheckTimeout: Duration = .seconds(5)
    /// For a contended lock: how long one try waits in the lock's queue on the server
    /// (`lock_timeout`; a try that ends so is made again at once), and on the client.
    static let lockWaitSeconds = 60
    static let lockWaitTimeout: Duration = .seconds(75)

    /// Takes the advisory lock `hashtextextended(key, 0)` on a connection of its own and holds it
    /// until ``PostgresSessionLock/release()`` (see ``PostgresSessionLock``). The lock counts as
    /// lost the moment its connection closes.
    ///
    /// With `contended` (a lock the nodes take turns holding, such as the desk's), a try waits in
    /// the lock's queue up to ``lockWaitSeconds`` and is made again at once, without a warning;
    /// while held, the connection is checked every ``lockCheckInterval`` (a query that must answer
    /// within ``lockCheckTimeout``), so that a connection that died without a word (a partition, the
    /// database's host gone) is closed and the turn ends within seconds, not when TCP gives up; and
    /// the session asks the server to end it soon after this process's host vanishes (TCP
    /// keepalives 5 s idle, 2 s apart, 3 lost; unacknowledged data 11 s). `onHeld` runs on the
    /// lock's connection once it is held, before ``PostgresSessionLock/isHeld`` says so (to record
    /// who holds it); if it throws, the lock is let go and taken again.
    ///
    /// A node's own lock (not contended) is not checked so: a slow database must not make a live
    /// node look dead (``PostgresNodeRegistry``).
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
                                let settings = [
                                    "tcp_keepalives_idle = 5", "tcp_keepalives_interval = 2", "tcp_keepalives_count = 3", "tcp_user_timeout = 11000",
                                    "lock_timeout = '\(Self.lockWaitSeconds)s'", "statement_timeout = '\(Self.lockWaitSeconds + 5)s'",
                                ]
                                for setting in settings {
                                    try? await Self.within(Self.lockCheckTimeout, connection) {
                                        for try await _ in try await connection.query("SET \(unescaped: setting)", logger: logger) {}
                                    }
                                }
                            }
                            while true {
                                do {
                                    try await Self.within(contended ? Self.lockWaitTimeout : .seconds(3_600), connection) {
                                        for try await _ in try await connection.query("SELECT pg_advisory_lock(hashtextextended(\(key), 0))", logger: logger) {}
                                    }
                                    break
                                } catch let error as PSQLError where contended && error.serverInfo?[.sqlState] == "55P03" {
                                    continue  // lock_timeout: another node holds it; wait again, on the same connection
                                }
                            }
                            try await onHeld?(connection, logger)
                            lock.set(true)
                            // Lost the moment the connection closes (the server ended the session,
                            // the database restarted), not at the next check.
                            connection.closeFuture.whenComplete { _ in lock.set(false) }
                            heldSince = .now
                            wait = .milliseconds(500)
                            if contended {
                                while !Task.isCancelled {
                                    try await Task.sleep(for: Self.lockCheckInterval)
                                    try await Self.within(Self.lockCheckTimeout, connection) {
                                        for try await _ in try await connection.query("SELECT 1", logger: logger) {}
                                    }
                                }
                            } else {
                                try? await connection.closeFuture.get()
                            }
                        } catch {
                            if !Task.isCancelled { logger.warning("database lock not held", metadata: ["key": .string(key), "error": .string("\(error)")]) }
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

    /// Runs `body`, closing `connection` if it has not finished within `limit` (its query then
    /// fails): a client-side bound for a connection that may have died without a word.
    static func within(_ limit: Duration, _ connection: PostgresConnection, _ body: () async throws -> Void) async throws {
        let finished = Atomic<Bool>(false)
        let watchdog = Task {
            try await Task.sleep(for: limit)
            if !finished.load(ordering: .acquiring) {
                let _: EventLoopFuture<Void> = connection.close()
            }
        }
        defer {
            finished.store(true, ordering: .releasing)
            watchdog.cancel()
        }
        try await body()
    }
}
