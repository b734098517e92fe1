import Foundation
import GRDB

/// The embedded catalog store: one SQLite file (WAL, through GRDB). Products are rows with their
/// fields as columns (attributes and videos as JSON text); events are rows in arrival order.
///
/// An import is one transaction with one prepared statement: 100,000 products are written in
/// well under a second (docs/benchmarks.md, "Assist").
///
/// A product or event with a NUL character in a text column is refused as `invalid_argument` and
/// nothing is written; looking up a SKU or shopper with one finds nothing (``StorableText``):
/// SQLite's bindings would cut the text at the NUL, and PostgreSQL's store cannot hold it.
public final class SQLiteCatalogStore: CatalogStore {
    private let pool: DatabasePool
    public let path: String

    public init(path: String, durableAgainstPowerLoss: Bool = false) throws(AssistError) {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durableAgainstPowerLoss ? "FULL" : "NORMAL")")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            var migrator = DatabaseMigrator()
            migrator.registerMigration("v1") { db in
                try db.execute(
                    sql: """
                        CREATE TABLE product (
                            sku TEXT PRIMARY KEY NOT NULL, position INTEGER NOT NULL, title TEXT NOT NULL, price_minor INTEGER NOT NULL,
                            currency TEXT NOT NULL, image TEXT, category TEXT, stock INTEGER NOT NULL, attributes TEXT, videos TEXT);
                        CREATE INDEX product_position ON product (position);
                        CREATE TABLE shopper_event (
                            seq INTEGER PRIMARY KEY AUTOINCREMENT, shopper TEXT NOT NULL, kind TEXT NOT NULL, sku TEXT NOT NULL,
                            time_ms INTEGER NOT NULL, order_id TEXT, quantity INTEGER NOT NULL, price_minor INTEGER, currency TEXT);
                        CREATE INDEX shopper_event_of ON shopper_event (shopper, time_ms, seq);
                        CREATE TABLE shopper_stat (shopper TEXT PRIMARY KEY NOT NULL, events INTEGER NOT NULL) WITHOUT ROWID;
                        """)
            }
            try migrator.migrate(pool)
        } catch {
            throw AssistError(.storage, "opening \(path): \(error)")
        }
    }

    private func run<T>(_ what: String, _ body: () throws -> T) throws(AssistError) -> T {
        do { return try body() } catch let e as AssistError { throw e } catch { throw AssistError(.storage, "catalog store, \(what): \(error)") }
    }

    private static let upsertSQL = """
        INSERT INTO product (sku, position, title, price_minor, currency, image, category, stock, attributes, videos)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (sku) DO UPDATE SET title = excluded.title, price_minor = excluded.price_minor, currency = excluded.currency,
            image = excluded.image, category = excluded.category, stock = excluded.stock, attributes = excluded.attributes,
            videos = excluded.videos
        """

    private static func write(_ db: Database, _ products: [Product], firstPosition: Int) throws {
        let statement = try db.makeStatement(sql: upsertSQL)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for (i, p) in products.enumerated() {
            let videos = p.videos.isEmpty ? nil : String(decoding: try encoder.encode(p.videos), as: UTF8.self)
            try statement.execute(arguments: [
                p.sku, firstPosition + i, p.title, p.priceMinor, p.currency, p.image, p.category, p.stock,
                p.attributes.isEmpty ? nil : Product.attributesJSON(p.attributes), videos,
            ])
        }
    }

    public func replaceCatalog(_ products: [Product]) throws(AssistError) {
        for p in products { try StorableText.check(p) }
        try run("replace catalog") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM product")
                try Self.write(db, products, firstPosition: 0)
            }
        }
    }

    public func upsert(_ products: [Product]) throws(AssistError) {
        for p in products { try StorableText.check(p) }
        try run("upsert") {
            try pool.write { db in
                let next = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(position) + 1, 0) FROM product") ?? 0
                try Self.write(db, products, firstPosition: next)
            }
        }
    }

    public func setStock(_ updates: [StockUpdate]) throws(AssistError) {
        // No stored SKU holds a NUL: one with it is not found (and nothing changed).
        if let u = updates.first(where: { !StorableText.isStorable($0.sku) }) {
            throw AssistError(.notFound, "no product with sku \(u.sku.debugDescription)")
        }
        try run("set stock") {
            try pool.write { db in
                let statement = try db.makeStatement(sql: "UPDATE product SET stock = ? WHERE sku = ?")
                for u in updates {
                    try statement.execute(arguments: [u.stock, u.sku])
                    guard db.changesCount == 1 else { throw AssistError(.notFound, "no product with sku \(u.sku)") }
                }
            }
        }
    }

    public func products() throws(AssistError) -> [Product] {
        try run("read products") {
            try pool.read { db in
                let decoder = JSONDecoder()
                var out: [Product] = []
                let rows = try Row.fetchCursor(
                    db, sql: "SELECT sku, title, price_minor, currency, image, category, stock, attributes, videos FROM product ORDER BY position")
                while let row = try rows.next() {
                    let attributes: String? = row[7]
                    let videos: String? = row[8]
                    out.append(
                        Product(
                            sku: row[0], title: row[1], priceMinor: row[2], currency: row[3], image: row[4], category: row[5],
                            attributes: try attributes.map { try decoder.decode([String: String].self, from: Data($0.utf8)) } ?? [:],
                            stock: row[6], videos: try videos.map { try decoder.decode([ProductVideo].self, from: Data($0.utf8)) } ?? []))
                }
                return out
            }
        }
    }

    public func append(_ events: [ShopperEvent], retentionPerShopper: Int) throws(AssistError) {
        for e in events { try StorableText.check(e) }
        try run("append events") {
            try pool.write { db in
                let insert = try db.makeStatement(
                    sql: "INSERT INTO shopper_event (shopper, kind, sku, time_ms, order_id, quantity, price_minor, currency) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
                var added: [String: Int] = [:]
                for e in events {
                    try insert.execute(arguments: [e.shopper, e.kind.rawValue, e.sku, e.timeMs, e.orderId, e.quantity, e.priceMinor, e.currency])
                    added[e.shopper, default: 0] += 1
                }
                // Retention, in chunks: a per-shopper count says when a shopper passes a quarter over
                // the limit, and only then are their oldest events deleted (a delete per shopper per
                // batch would cost more than the inserts). Readers apply the limit exactly.
                let retention = max(1, retentionPerShopper)
                let count = try db.makeStatement(
                    sql: "INSERT INTO shopper_stat (shopper, events) VALUES (?, ?) ON CONFLICT (shopper) DO UPDATE SET events = events + excluded.events RETURNING events")
                let trim = try db.makeStatement(
                    sql: """
                        DELETE FROM shopper_event WHERE shopper = ?1 AND seq IN (
                            SELECT seq FROM shopper_event WHERE shopper = ?1 ORDER BY time_ms DESC, seq DESC LIMIT -1 OFFSET ?2)
                        """)
                let reset = try db.makeStatement(sql: "UPDATE shopper_stat SET events = ? WHERE shopper = ?")
                for (shopper, n) in added {
                    let total = try Int.fetchOne(count, arguments: [shopper, n]) ?? 0
                    if total > retention + max(1, retention / 4) {
                        try trim.execute(arguments: [shopper, retention])
                        try reset.execute(arguments: [retention, shopper])
                    }
                }
            }
        }
    }

    private static func events(_ db: Database, _ sql: String, _ arguments: StatementArguments) throws -> [ShopperEvent] {
        var out: [ShopperEvent] = []
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try rows.next() {
            let kind: String = row[1]
            guard let k = ShopperEvent.Kind(rawValue: kind) else { continue }
            out.append(
                ShopperEvent(shopper: row[0], kind: k, sku: row[2], timeMs: row[3], orderId: row[4], quantity: row[5], priceMinor: row[6], currency: row[7]))
        }
        return out
    }

    /// Every event kept (a shopper may have up to a quarter more than the retention until the next
    /// trim; ``ShopperEventLog/init(restoring:retentionPerShopper:coPurchases:)`` keeps the newest).
    public func events() throws(AssistError) -> [ShopperEvent] {
        try run("read events") {
            try pool.read { db in
                try Self.events(
                    db, "SELECT shopper, kind, sku, time_ms, order_id, quantity, price_minor, currency FROM shopper_event ORDER BY time_ms, seq", [])
            }
        }
    }

    public func events(of shopper: String) throws(AssistError) -> [ShopperEvent] {
        guard StorableText.isStorable(shopper) else { return [] }
        return try run("read events") {
            try pool.read { db in
                try Self.events(
                    db,
                    "SELECT shopper, kind, sku, time_ms, order_id, quantity, price_minor, currency FROM shopper_event WHERE shopper = ? ORDER BY time_ms, seq",
                    [shopper])
            }
        }
    }
}
