import PostgresNIO

/// A failure reaching or using PostgreSQL: the database refused a statement (`sqlState` says
/// why: https://www.postgresql.org/docs/15/errcodes-appendix.html), the connection broke, or a
/// call waited too long. Each store turns it into its own domain's `storage` error.
public struct PostgresStoreError: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// The server's SQLSTATE when the server refused a statement (`23505`: a unique key taken).
    public var sqlState: String?

    public init(_ description: String, sqlState: String? = nil) {
        self.description = description
        self.sqlState = sqlState
    }

    /// A unique constraint refused the row (SQLSTATE 23505).
    public var isUniqueViolation: Bool { sqlState == "23505" }

    /// From whatever postgres-nio threw: the server's message and SQLSTATE when it is the
    /// server's refusal, else the connection's failure.
    init(_ what: String, _ error: any Error) {
        if let e = error as? PSQLError {
            if let info = e.serverInfo {
                self.init(
                    "\(what): \(info[.message] ?? "refused") (SQLSTATE \(info[.sqlState] ?? "?"))", sqlState: info[.sqlState])
            } else {
                self.init("\(what): \(e.code)")
            }
        } else if let e = error as? PostgresStoreError {
            self.init("\(what): \(e.description)", sqlState: e.sqlState)
        } else {
            self.init("\(what): \(error)")
        }
    }

    /// Whether the connection that raised it may still be used (the server refused one
    /// statement; the session is intact).
    var leavesConnectionUsable: Bool { sqlState != nil }
}
