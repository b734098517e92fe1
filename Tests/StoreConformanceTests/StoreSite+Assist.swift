import Assist
import PostgresStores

extension StoreSite {
    /// A new assist store on this site (the server's file name: `assist.sqlite`).
    func assistStore() throws -> any AssistStore {
        switch backend {
        case .sqlite: try SQLiteAssistStore(path: directory + "/assist.sqlite")
        case .postgres: try PostgresAssistStore(database: database())
        }
    }

    /// A new catalog store on this site (the server's file name: `assist-catalog.sqlite`).
    func catalogStore() throws -> any CatalogStore {
        switch backend {
        case .sqlite: try SQLiteCatalogStore(path: directory + "/assist-catalog.sqlite")
        case .postgres: try PostgresCatalogStore(database: database())
        }
    }
}
