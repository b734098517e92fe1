import Foundation

/// Where a PostgreSQL database is, read from a `postgres://` URL (the form libpq and every
/// PostgreSQL tool take): `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE]`.
/// `postgresql://` is accepted too. Percent-escapes in the user, password and database are decoded.
///
/// `sslmode` follows libpq's meaning (https://www.postgresql.org/docs/15/libpq-ssl.html#LIBPQ-SSL-PROTECTION):
/// `disable` (plain TCP), `prefer` (TLS when the server offers it, not verified: the default, as in
/// libpq), `require` (TLS, not verified), `verify-full` (TLS, the server's certificate verified
/// against the system's roots and the host name). `allow` and `verify-ca` are refused.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, Equatable {
        case disable, prefer, require
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    public init(host: String, port: Int = 5432, user: String, password: String? = nil, database: String, tls: TLSMode = .prefer) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Parses a URL; the error says what is wrong with it (never echoing the password).
    public init(url: String) throws(PostgresStoreError) {
        guard let c = URLComponents(string: url), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme.lowercased()) else {
            throw PostgresStoreError("a database URL starts with postgres:// (postgres://USER:PASSWORD@HOST:PORT/DATABASE)")
        }
        guard let host = c.host, !host.isEmpty else { throw PostgresStoreError("the database URL names no host") }
        guard let user = c.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw PostgresStoreError("the database URL names no user")
        }
        let database = String(c.percentEncodedPath.dropFirst()).removingPercentEncoding ?? ""
        guard !database.isEmpty, !database.contains("/") else { throw PostgresStoreError("the database URL names no database (…/DATABASE)") }
        if let port = c.port, !(1...65_535).contains(port) { throw PostgresStoreError("the database URL's port is out of range") }
        var tls = TLSMode.prefer
        for item in c.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw PostgresStoreError("sslmode is one of disable, prefer, require, verify-full")
                }
                tls = mode
            default:
                throw PostgresStoreError("the database URL's parameter \(item.name) is not supported (only sslmode)")
            }
        }
        self.init(
            host: host, port: c.port ?? 5432, user: user, password: c.percentEncodedPassword.flatMap { $0.removingPercentEncoding },
            database: database, tls: tls)
    }

    /// The URL without its password, for logs.
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)?sslmode=\(tls.rawValue)" }
}
