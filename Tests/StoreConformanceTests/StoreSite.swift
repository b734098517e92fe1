import Chat
import Desk
import Foundation
import GRDB
import PostgresStores
import ShowroomTestSupport
import Testing

/// Which implementation of the store protocols a conformance test runs against: every test in
/// this target runs once with each.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// SQLite files in a temporary directory (the embedded default).
    case sqlite
    /// A fresh database in the test process's throw-away PostgreSQL cluster (``PostgresTestCluster``).
    case postgres

    var testDescription: String { rawValue }
}

/// Where a test's stores live: a temporary directory of SQLite files, or a fresh PostgreSQL
/// database. Every `…Store()` call opens a new store on the same place — a restart, or another
/// node — so a test can check what survives a reopen and what two writers at once do.
struct StoreSite: Sendable {
    let backend: Backend
    /// SQLite: the files' directory.
    let directory: String
    /// PostgreSQL: the database's URL.
    let url: String?

    static func make(_ backend: Backend) async throws -> StoreSite {
        switch backend {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stores-\(UInt64.random(in: 0...UInt64.max))").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return StoreSite(backend: backend, directory: directory, url: nil)
        case .postgres:
            let url = try await PostgresTestCluster.shared().freshDatabase()
            return StoreSite(backend: backend, directory: "", url: url)
        }
    }

    /// A database connection pool of its own: one node's.
    func database() throws -> PostgresDatabase {
        try PostgresDatabase(PostgresLocation(url: url ?? ""))
    }

    func chatStore() throws -> any ChatStore {
        switch backend {
        case .sqlite: try SQLiteChatStore(path: directory + "/chat.sqlite")
        case .postgres: try PostgresChatStore(database: database())
        }
    }

    func deskStore() throws -> any DeskStore {
        switch backend {
        case .sqlite: try SQLiteDeskStore(path: directory + "/desk.sqlite")
        case .postgres: try PostgresDeskStore(database: database())
        }
    }

    /// Changes the chat store's rows behind its back (a row another version wrote, a damaged one):
    /// `body` of the message `seq` of `room` becomes `body`.
    func overwriteChatBody(room: String, seq: Int64, body: String) throws {
        switch backend {
        case .sqlite:
            let queue = try DatabaseQueue(path: directory + "/chat.sqlite")
            try queue.write { db in try db.execute(sql: "UPDATE message SET body = ? WHERE room = ? AND seq = ?", arguments: [body, room, seq]) }
        case .postgres:
            _ = try database().run("overwrite") { session in
                try session.execute("UPDATE chat_message SET body = \(body) WHERE room = \(room) AND seq = \(seq)")
            }
        }
    }

    /// Removes the SQLite directory (a PostgreSQL test database is left to the cluster, which
    /// goes with the test process).
    func remove() {
        if backend == .sqlite { try? FileManager.default.removeItem(atPath: directory) }
    }
}
