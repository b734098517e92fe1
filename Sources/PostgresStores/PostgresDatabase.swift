import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// One PostgreSQL database, called synchronously: the store protocols (``Chat/ChatStore``,
/// ``Desk/DeskStore``, …) are synchronous, as SQLite's calls are. A call takes a connection from a
/// small pool, runs its statements with postgres-nio on this database's own event loop and waits
/// for the answer — blocking its thread, so callers make the calls on threads of their own (the
/// chat's store threads, the desk's and assist's executors: docs/cluster.md), never on Swift's
/// cooperative pool nor on a NIO event loop thread.
///
/// Bounds (docs/limits.md): at most ``maximumConnections`` connections; a call waits at most
/// ``connectionWait`` for one to be free and each statement at most ``statementTimeout`` (then
/// its connection is closed and the call fails with a ``PostgresStoreError``). A connection that
/// broke is dropped; the next call opens a new one, so the stores recover by themselves when the
/// database comes back.
public final class PostgresDatabase: Sendable {
    public let location: PostgresLocation
    public let maximumConnections: Int
    /// How long a call waits for a free connection (or for a new one to open) before it fails.
    public let connectionWait: TimeAmount
    /// How long one statement may take before its connection is closed and the call fails.
    public let statementTimeout: TimeAmount

    let configuration: PostgresConnection.Configuration
    /// One loop of its own: waiting on a future from a NIO loop thread would deadlock it, and
    /// no store call runs on this one.
    let group: MultiThreadedEventLoopGroup
    private let state = NIOLockedValueBox(Pool())
    private let slots: DispatchSemaphore
    let logger: Logger

    private struct Pool {
        var idle: [PostgresConnection] = []
        var nextID = 0
        var closed = false
    }

    /// Prepares the pool; no connection is opened until the first call (``check()`` opens one).
    public init(
        _ location: PostgresLocation, maximumConnections: Int = 8, connectionWait: TimeAmount = .seconds(5),
        statementTimeout: TimeAmount = .seconds(10), logger: Logger = Logger(label: "showroom.postgres")
    ) throws(PostgresStoreError) {
        precondition(maximumConnections > 0)
        self.location = location
        self.maximumConnections = maximumConnections
        self.connectionWait = connectionWait
        self.statementTimeout = statementTimeout
        self.logger = logger
        let tls: PostgresConnection.Configuration.TLS
        do {
            switch location.tls {
            case .disable: tls = .disable
            case .prefer, .require:
                var c = TLSConfiguration.makeClientConfiguration()
                c.certificateVerification = .none
                let context = try NIOSSLContext(configuration: c)
                tls = location.tls == .prefer ? .prefer(context) : .require(context)
            case .verifyFull:
                tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        } catch {
            throw PostgresStoreError("TLS for \(location): \(error)")
        }
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password, database: location.database,
            tls: tls)
        configuration.options.connectTimeout = connectionWait
        // The server's own bounds, so that a statement the client gave up on does not keep running
        // (and holding its locks) there: https://www.postgresql.org/docs/15/runtime-config-client.html
        let seconds = max(1, statementTimeout.nanoseconds / 1_000_000_000)
        configuration.options.additionalStartupParameters = [
            ("statement_timeout", "\(seconds)s"), ("lock_timeout", "\(max(1, seconds / 2))s"),
            ("idle_in_transaction_session_timeout", "\(seconds * 3)s"),
        ]
        self.configuration = configuration
        self.slots = DispatchSemaphore(value: maximumConnections)
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    deinit {
        // Waiting on a NIO loop thread would trap: there, the connections and the loop are left to
        // the process's end (the server holds its database for its whole life).
        guard MultiThreadedEventLoopGroup.currentEventLoop == nil else { return }
        close()
        try? group.syncShutdownGracefully()
    }

    /// Closes the idle connections; calls after this fail.
    public func close() {
        let idle = state.withLockedValue { pool in
            pool.closed = true
            defer { pool.idle = [] }
            return pool.idle
        }
        for connection in idle { Self.close(connection) }
    }

    /// Opens a connection and runs `SELECT 1`: whether the database answers now.
    public func check() throws(PostgresStoreError) {
        do { _ = try read("check") { session in try session.query("SELECT 1") } } catch let e as PostgresStoreError { throw e } catch {
            throw PostgresStoreError("check: \(error)")
        }
    }

    /// Runs `body` in one transaction: ``transaction(_:_:)``. Every write goes through a
    /// transaction ended by an explicit `COMMIT`, whose answer comes only once the commit is done
    /// (flushed to the WAL): a statement committing by itself under the extended query protocol is
    /// answered *before* its commit, at which it can still fail (a full notification queue) or be
    /// lost (the server crashing in between) — an acknowledgement built on that answer would be a
    /// promise not kept. Errors are ``PostgresStoreError``s, or what `body` threw of its own.
    public func run<T>(_ what: String, _ body: (PostgresSession) throws -> T) throws -> T {
        try transaction(what, body)
    }

    /// Runs `body` on one connection, each statement by itself, without `BEGIN`/`COMMIT`: for
    /// statements that change nothing (one round trip each). Never for a write (see ``run(_:_:)``).
    public func read<T>(_ what: String, _ body: (PostgresSession) throws -> T) throws -> T {
        try withConnection(what) { session in try body(session) }
    }

    /// Runs `body` in one transaction (`BEGIN` … `COMMIT`, `ROLLBACK` when it throws), at READ
    /// COMMITTED: a body that reads what it then writes locks the rows it reads (`FOR UPDATE`,
    /// or an `INSERT … ON CONFLICT DO UPDATE … RETURNING`). A deadlock or serialization failure
    /// (SQLSTATE 40P01, 40001) runs it again, up to three times. An error `body` throws that is not
    /// the database's comes out as it is (a store's `conflict`, `not_found`).
    public func transaction<T>(_ what: String, _ body: (PostgresSession) throws -> T) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try withConnection(what) { session in
                    try session.execute("BEGIN")
                    do {
                        let value = try body(session)
                        try session.execute("COMMIT")
                        return value
                    } catch {
                        // A failed ROLLBACK (a broken connection) is the original error's to tell.
                        if session.isUsable { _ = try? session.execute("ROLLBACK") }
                        throw error
                    }
                }
            } catch let e as PostgresStoreError where ["40P01", "40001"].contains(e.sqlState ?? "") && attempt < 3 {
                continue
            }
        }
    }

    /// A connection for `body`, back to the pool after it unless it broke.
    private func withConnection<T>(_ what: String, _ body: (PostgresSession) throws -> T) throws -> T {
        guard slots.wait(timeout: .now() + .nanoseconds(Int(connectionWait.nanoseconds))) == .success else {
            throw PostgresStoreError("\(what): all \(maximumConnections) database connections busy for \(connectionWait.nanoseconds / 1_000_000) ms")
        }
        defer { slots.signal() }
        let connection = try checkOut(what)
        let session = PostgresSession(connection: connection, timeout: statementTimeout, logger: logger)
        do {
            let value = try body(session)
            checkIn(connection, usable: session.isUsable)
            return value
        } catch let e as PostgresStoreError {
            checkIn(connection, usable: session.isUsable)
            throw PostgresStoreError(what, e)
        } catch {
            checkIn(connection, usable: session.isUsable)
            throw error
        }
    }

    private func checkOut(_ what: String) throws(PostgresStoreError) -> PostgresConnection {
        let (reused, id, closed): (PostgresConnection?, Int, Bool) = state.withLockedValue { pool in
            while let c = pool.idle.popLast() {
                if !c.isClosed { return (c, 0, pool.closed) }
            }
            pool.nextID += 1
            return (nil, pool.nextID, pool.closed)
        }
        guard !closed else { throw PostgresStoreError("\(what): the database is closed") }
        if let reused { return reused }
        do {
            return try PostgresConnection.connect(on: group.next(), configuration: configuration, id: id, logger: logger).wait()
        } catch {
            throw PostgresStoreError("\(what): connecting to \(location)", error)
        }
    }

    private func checkIn(_ connection: PostgresConnection, usable: Bool) {
        let keep = usable && !connection.isClosed && state.withLockedValue { pool in
            guard !pool.closed else { return false }
            pool.idle.append(connection)
            return true
        }
        if !keep { Self.close(connection) }
    }

    /// Closes a connection and waits until it is (postgres-nio asserts that a connection is closed
    /// before it is released).
    private static func close(_ connection: PostgresConnection) {
        let closed: EventLoopFuture<Void> = connection.close()
        try? closed.wait()
    }
}

/// One connection lent to a call: its statements, each waited for at most the database's
/// statement timeout.
public final class PostgresSession {
    let connection: PostgresConnection
    let timeout: TimeAmount
    let logger: Logger
    /// False once a statement failed other than by the server's refusal (the connection broke or
    /// timed out): the connection is then dropped, not pooled.
    private(set) var isUsable = true

    init(connection: PostgresConnection, timeout: TimeAmount, logger: Logger) {
        self.connection = connection
        self.timeout = timeout
        self.logger = logger
    }

    /// The rows `query` returns (its values are bound parameters: `"… WHERE room = \(room)"`).
    @discardableResult
    public func query(_ query: PostgresQuery) throws(PostgresStoreError) -> [PostgresRow] {
        try result(query).rows
    }

    /// Runs `query`; how many rows it inserted, updated or deleted.
    @discardableResult
    public func execute(_ query: PostgresQuery) throws(PostgresStoreError) -> Int {
        try result(query).metadata.rows ?? 0
    }

    private func result(_ query: PostgresQuery) throws(PostgresStoreError) -> PostgresQueryResult {
        let connection = self.connection
        let expired = NIOLockedValueBox(false)
        let timer = connection.eventLoop.scheduleTask(in: timeout) {
            expired.withLockedValue { $0 = true }
            let _: EventLoopFuture<Void> = connection.close()
        }
        defer {
            timer.cancel()
            // It fired just as the answer came: the connection is closing, so it is not pooled.
            if expired.withLockedValue({ $0 }) { isUsable = false }
        }
        do {
            return try connection.query(query, logger: logger).wait()
        } catch {
            let e = PostgresStoreError("statement", error)
            if !e.leavesConnectionUsable { isUsable = false }
            throw e
        }
    }
}
