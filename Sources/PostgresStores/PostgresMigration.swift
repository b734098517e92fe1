import PostgresNIO

/// One versioned step of a store's schema: its statements, applied once, in order, at start.
/// Names are the store's and the version's (`chat.v1`); the applied ones are rows of
/// `schema_migration`. Never edit a migration that has shipped: add the next one.
public struct PostgresMigration: Sendable {
    public let name: String
    public let statements: [String]

    public init(_ name: String, _ statements: [String]) {
        self.name = name
        self.statements = statements
    }
}

extension PostgresDatabase {
    /// The advisory lock every migration of every store takes (a fixed key).
    static let migrationLock: Int64 = 7_380_135

    /// Applies the migrations not applied yet, in order, each in its own transaction with its row
    /// in `schema_migration`. Nodes starting together take turns: the first holds an advisory
    /// lock (https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS) for each
    /// step, the others then find it applied. Returns the names it applied.
    @discardableResult
    public func migrate(_ migrations: [PostgresMigration]) throws -> [String] {
        // Under the lock too: two nodes creating the table at once collide in PostgreSQL's catalog
        // (a unique violation on pg_type), `IF NOT EXISTS` or not.
        try transaction("migrations table") { session in
            try session.execute("SELECT pg_advisory_xact_lock(\(Self.migrationLock))")
            try session.execute(
                "CREATE TABLE IF NOT EXISTS schema_migration (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        }
        var applied: [String] = []
        for migration in migrations {
            let done = try transaction("migration \(migration.name)") { session -> Bool in
                try session.execute("SELECT pg_advisory_xact_lock(\(Self.migrationLock))")
                guard try session.query("SELECT 1 FROM schema_migration WHERE name = \(migration.name)").isEmpty else { return false }
                for statement in migration.statements { try session.execute(PostgresQuery(unsafeSQL: statement)) }
                try session.execute("INSERT INTO schema_migration (name) VALUES (\(migration.name))")
                return true
            }
            if done { applied.append(migration.name) }
        }
        return applied
    }
}
