import Assist
import Chat
import Desk
import Foundation
import Logging
import PostgresStores

/// Where the server keeps what must survive a restart — chat, desk, agent assist and the
/// catalog: SQLite files in the data directory (the embedded default), or one PostgreSQL database
/// that several nodes share (`--database postgres://…` or `SHOWROOM_DATABASE_URL`; docs/cluster.md).
/// Every store opens through here, so one switch chooses for all of them.
enum StoreLocation {
    /// `chat.sqlite`, `desk.sqlite`, `assist.sqlite` and `assist-catalog.sqlite` in `directory`;
    /// `durable`: synced on every commit (`--durable`).
    case sqlite(directory: String, durable: Bool)
    /// One pool of connections for every store; each store's tables and migrations are its own.
    case postgres(PostgresDatabase)

    /// From the configuration: PostgreSQL when a database URL is set (checked now: the database
    /// answers, or the server does not start), else the data directory's files.
    static func open(_ configuration: ServerConfiguration, dataDirectory: String, logger: Logger) throws(ServerError) -> StoreLocation {
        guard let url = configuration.databaseURL else { return .sqlite(directory: dataDirectory, durable: configuration.durableChat) }
        do {
            let database = try PostgresDatabase(PostgresLocation(url: url), logger: logger)
            try database.check()
            logger.info("showroom database", metadata: ["database": .string(database.location.description)])
            return .postgres(database)
        } catch {
            throw ServerError(.storage, "database: \(error.description)")
        }
    }

    private func file(_ name: String) -> String {
        guard case .sqlite(let directory, _) = self else { return "" }
        return URL(fileURLWithPath: directory).appendingPathComponent(name).path
    }

    func chatStore() throws(ChatError) -> any ChatStore {
        switch self {
        case .sqlite(_, let durable): try SQLiteChatStore(path: file("chat.sqlite"), durableAgainstPowerLoss: durable)
        case .postgres(let database): try PostgresChatStore(database: database)
        }
    }

    func deskStore() throws(DeskError) -> any DeskStore {
        switch self {
        case .sqlite(_, let durable): try SQLiteDeskStore(path: file("desk.sqlite"), durableAgainstPowerLoss: durable)
        case .postgres(let database): try PostgresDeskStore(database: database)
        }
    }

    func assistStore() throws(AssistError) -> any AssistStore {
        switch self {
        case .sqlite(_, let durable): try SQLiteAssistStore(path: file("assist.sqlite"), durableAgainstPowerLoss: durable)
        case .postgres(let database): try PostgresAssistStore(database: database)
        }
    }

    func catalogStore() throws(AssistError) -> any CatalogStore {
        switch self {
        case .sqlite(_, let durable): try SQLiteCatalogStore(path: file("assist-catalog.sqlite"), durableAgainstPowerLoss: durable)
        case .postgres(let database): try PostgresCatalogStore(database: database)
        }
    }
}
