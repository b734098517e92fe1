import Assist
import Foundation
import PostgresNIO

/// The catalog and the shoppers' events on PostgreSQL, for nodes sharing one database: the same
/// rows as ``Assist/SQLiteCatalogStore`` (`CatalogStore`'s promises), kept under writers on
/// different nodes.
///
/// - **Imports** send their rows as bound arrays, ``batchSize`` rows a statement
///   (`INSERT … SELECT FROM UNNEST(…)`), in one transaction: 100,000 products are ten statements,
///   not 100,000 round trips. A SKU twice in one call keeps its first place and its last fields,
///   as SQLite's row-by-row upsert does.
/// - **Catalog order** is a position column; an import or upsert first locks the product table
///   against other writers (`LOCK … IN EXCLUSIVE MODE`, reads go on) so two nodes appending at
///   once never take the same positions.
/// - **Arrival order** of events is an identity column, numbered in each call's order; events are
///   read by time, ties by that number. On several nodes, calls running at once interleave their
///   numbers.
/// - **Retention** counts each shopper's events in `catalog_shopper_stat` and trims a shopper a
///   quarter over the limit back to it, as SQLite's; the count's row stays locked until the call
///   commits, so two nodes appending for one shopper take turns.
///
/// - **NUL**: PostgreSQL's text cannot hold the NUL character, so a product or event with one in
///   any text field is refused as `invalid_argument` and nothing is written; looking up a SKU or
///   shopper with one finds nothing. SQLite's store does the same: one rule for both,
///   ``Assist/StorableText``.
public final class PostgresCatalogStore: CatalogStore {
    public let database: PostgresDatabase

    /// Rows bound in one statement: big enough that an import is a handful of round trips, small
    /// enough that one statement stays well within the database's statement timeout.
    public static let batchSize = 10_000

    public static let migrations = [
        PostgresMigration(
            "catalog.v1",
            [
                """
                CREATE TABLE catalog_product (
                    sku TEXT PRIMARY KEY, position BIGINT NOT NULL, title TEXT NOT NULL, price_minor BIGINT NOT NULL,
                    currency TEXT NOT NULL, image TEXT, category TEXT, stock BIGINT NOT NULL, attributes TEXT, videos TEXT)
                """,
                "CREATE INDEX catalog_product_position ON catalog_product (position)",
                """
                CREATE TABLE catalog_shopper_event (
                    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, shopper TEXT NOT NULL, kind TEXT NOT NULL, sku TEXT NOT NULL,
                    time_ms BIGINT NOT NULL, order_id TEXT, quantity BIGINT NOT NULL, price_minor BIGINT, currency TEXT)
                """,
                "CREATE INDEX catalog_shopper_event_of ON catalog_shopper_event (shopper, time_ms, seq)",
                "CREATE TABLE catalog_shopper_stat (shopper TEXT PRIMARY KEY, events BIGINT NOT NULL)",
            ])
    ]

    /// Applies the catalog's migrations to `database`.
    public init(database: PostgresDatabase) throws(AssistError) {
        self.database = database
        try run("migrations") { try database.migrate(Self.migrations) }
    }

    @discardableResult
    private func run<T>(_ what: String, _ body: () throws -> T) throws(AssistError) -> T {
        do { return try body() } catch let e as AssistError { throw e } catch let e as PostgresStoreError {
            throw AssistError(.storage, "catalog store, \(e.description)")
        } catch { throw AssistError(.storage, "catalog store, \(what): \(error)") }
    }

    // MARK: Products

    /// An import's rows as columns (one array per column, bound as one parameter each), one row
    /// per SKU: a repeated SKU keeps its first position and takes its last fields.
    private struct ProductColumns {
        var skus: [String] = []
        var positions: [Int64] = []
        var titles: [String] = []
        var prices: [Int64] = []
        var currencies: [String] = []
        /// NULL is not an element a bound array can carry here: absent values are "" with a flag.
        var images: [String] = []
        var hasImage: [Bool] = []
        var categories: [String] = []
        var hasCategory: [Bool] = []
        var stocks: [Int64] = []
        /// JSON, "" for none (JSON is never empty).
        var attributes: [String] = []
        var videos: [String] = []

        /// Positions from 0, in the call's order; ``insert(_:from:)`` shifts them.
        init(_ products: [Product]) throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            var row: [String: Int] = [:]
            for (i, p) in products.enumerated() {
                try StorableText.check(p)
                let attributes = p.attributes.isEmpty ? "" : Product.attributesJSON(p.attributes)
                let videos = p.videos.isEmpty ? "" : String(decoding: try encoder.encode(p.videos), as: UTF8.self)
                if let r = row[p.sku] {
                    titles[r] = p.title
                    prices[r] = p.priceMinor
                    currencies[r] = p.currency
                    images[r] = p.image ?? ""
                    hasImage[r] = p.image != nil
                    categories[r] = p.category ?? ""
                    hasCategory[r] = p.category != nil
                    stocks[r] = Int64(p.stock)
                    self.attributes[r] = attributes
                    self.videos[r] = videos
                    continue
                }
                row[p.sku] = skus.count
                skus.append(p.sku)
                positions.append(Int64(i))
                titles.append(p.title)
                prices.append(p.priceMinor)
                currencies.append(p.currency)
                images.append(p.image ?? "")
                hasImage.append(p.image != nil)
                categories.append(p.category ?? "")
                hasCategory.append(p.category != nil)
                stocks.append(Int64(p.stock))
                self.attributes.append(attributes)
                self.videos.append(videos)
            }
        }

        func insert(_ r: Range<Int>, from first: Int64) -> PostgresQuery {
            """
            INSERT INTO catalog_product (sku, position, title, price_minor, currency, image, category, stock, attributes, videos)
            SELECT u.sku, u.position + \(first), u.title, u.price_minor, u.currency, CASE WHEN u.has_image THEN u.image END,
                CASE WHEN u.has_category THEN u.category END, u.stock, NULLIF(u.attributes, ''), NULLIF(u.videos, '')
            FROM UNNEST(
                \(Array(skus[r]))::text[], \(Array(positions[r]))::int8[], \(Array(titles[r]))::text[], \(Array(prices[r]))::int8[],
                \(Array(currencies[r]))::text[], \(Array(images[r]))::text[], \(Array(hasImage[r]))::bool[],
                \(Array(categories[r]))::text[], \(Array(hasCategory[r]))::bool[], \(Array(stocks[r]))::int8[],
                \(Array(attributes[r]))::text[], \(Array(videos[r]))::text[]
            ) AS u(sku, position, title, price_minor, currency, image, has_image, category, has_category, stock, attributes, videos)
            ON CONFLICT (sku) DO UPDATE SET title = excluded.title, price_minor = excluded.price_minor, currency = excluded.currency,
                image = excluded.image, category = excluded.category, stock = excluded.stock, attributes = excluded.attributes,
                videos = excluded.videos
            """
        }
    }

    /// `0..<n` in ranges of at most ``batchSize``.
    private static func batches(_ n: Int) -> [Range<Int>] {
        stride(from: 0, to: n, by: batchSize).map { $0..<min($0 + batchSize, n) }
    }

    /// The products at positions from `first` on.
    private static func write(_ session: PostgresSession, _ columns: ProductColumns, from first: Int64) throws {
        for r in batches(columns.skus.count) { try session.execute(columns.insert(r, from: first)) }
    }

    /// `{"colour":"red","size":"M"}`, keys sorted: a hand-written encoder because this runs for
    /// every product of an import (a JSONEncoder per row costs more than the row's insert).
    public func replaceCatalog(_ products: [Product]) throws(AssistError) {
        let columns = try run("replace catalog") { try ProductColumns(products) }
        try run("replace catalog") {
            try database.transaction("replace catalog") { session in
                try session.execute("LOCK TABLE catalog_product IN EXCLUSIVE MODE")
                try session.execute("DELETE FROM catalog_product")
                try Self.write(session, columns, from: 0)
            }
        }
    }

    public func upsert(_ products: [Product]) throws(AssistError) {
        guard !products.isEmpty else { return }
        let columns = try run("upsert") { try ProductColumns(products) }
        try run("upsert") {
            try database.transaction("upsert") { session in
                // Positions are read and taken under the lock: another node's upsert waits.
                try session.execute("LOCK TABLE catalog_product IN EXCLUSIVE MODE")
                let next = try session.query("SELECT COALESCE(MAX(position) + 1, 0) FROM catalog_product").first?.decode(Int64.self) ?? 0
                try Self.write(session, columns, from: next)
            }
        }
    }

    public func setStock(_ updates: [StockUpdate]) throws(AssistError) {
        // One row per SKU, its last stock (SQLite applies them in order: the last wins).
        var row: [String: Int] = [:]
        var skus: [String] = []
        var stocks: [Int64] = []
        for u in updates {
            guard StorableText.isStorable(u.sku) else { throw AssistError(.notFound, "no product with sku \(u.sku.debugDescription)") }
            if let r = row[u.sku] {
                stocks[r] = Int64(u.stock)
            } else {
                row[u.sku] = skus.count
                skus.append(u.sku)
                stocks.append(Int64(u.stock))
            }
        }
        guard !skus.isEmpty else { return }
        try run("set stock") {
            try database.transaction("set stock") { session in
                for r in Self.batches(skus.count) {
                    let updated = try session.query(
                        """
                        UPDATE catalog_product p SET stock = u.stock
                        FROM UNNEST(\(Array(skus[r]))::text[], \(Array(stocks[r]))::int8[]) AS u(sku, stock)
                        WHERE p.sku = u.sku RETURNING p.sku
                        """)
                    guard updated.count == r.count else {
                        // Thrown inside the transaction: it rolls back, nothing changed.
                        let found = Set(try updated.map { try $0.decode(String.self) })
                        let missing = skus[r].first { !found.contains($0) } ?? ""
                        throw AssistError(.notFound, "no product with sku \(missing)")
                    }
                }
            }
        }
    }

    public func products() throws(AssistError) -> [Product] {
        try run("read products") {
            let rows = try database.read("read products") { session in
                try session.query(
                    "SELECT sku, title, price_minor, currency, image, category, stock, attributes, videos FROM catalog_product ORDER BY position")
            }
            let decoder = JSONDecoder()
            var out: [Product] = []
            out.reserveCapacity(rows.count)
            for row in rows {
                let (sku, title, price, currency, image, category, stock, attributes, videos) = try row.decode(
                    (String, String, Int64, String, String?, String?, Int64, String?, String?).self)
                out.append(
                    Product(
                        sku: sku, title: title, priceMinor: price, currency: currency, image: image, category: category,
                        attributes: try attributes.map { try decoder.decode([String: String].self, from: Data($0.utf8)) } ?? [:],
                        stock: Int(stock), videos: try videos.map { try decoder.decode([ProductVideo].self, from: Data($0.utf8)) } ?? []))
            }
            return out
        }
    }

    // MARK: Events

    public func append(_ events: [ShopperEvent], retentionPerShopper: Int) throws(AssistError) {
        guard !events.isEmpty else { return }
        for e in events { try StorableText.check(e) }
        var added: [String: Int64] = [:]
        for e in events { added[e.shopper, default: 0] += 1 }
        // Sorted: every call locks its shoppers' count rows in the same order (no deadlock).
        let shoppers = added.keys.sorted()
        let counts = shoppers.map { added[$0] ?? 0 }
        let retention = max(1, retentionPerShopper)
        try run("append events") {
            try database.transaction("append events") { session in
                for r in Self.batches(events.count) {
                    let batch = events[r]
                    // Numbered in the call's order: the identity is taken row by row as sorted.
                    try session.execute(
                        """
                        INSERT INTO catalog_shopper_event (shopper, kind, sku, time_ms, order_id, quantity, price_minor, currency)
                        SELECT u.shopper, u.kind, u.sku, u.time_ms, CASE WHEN u.has_order THEN u.order_id END, u.quantity,
                            CASE WHEN u.has_price THEN u.price_minor END, CASE WHEN u.has_currency THEN u.currency END
                        FROM UNNEST(
                            \(batch.map(\.shopper))::text[], \(batch.map(\.kind.rawValue))::text[], \(batch.map(\.sku))::text[],
                            \(batch.map(\.timeMs))::int8[], \(batch.map { $0.orderId ?? "" })::text[], \(batch.map { $0.orderId != nil })::bool[],
                            \(batch.map { Int64($0.quantity) })::int8[], \(batch.map { $0.priceMinor ?? 0 })::int8[],
                            \(batch.map { $0.priceMinor != nil })::bool[], \(batch.map { $0.currency ?? "" })::text[],
                            \(batch.map { $0.currency != nil })::bool[]
                        ) WITH ORDINALITY
                            AS u(shopper, kind, sku, time_ms, order_id, has_order, quantity, price_minor, has_price, currency, has_currency, n)
                        ORDER BY u.n
                        """)
                }
                // Retention, in chunks (SQLite's rule): only a shopper a quarter over the limit is
                // trimmed, back to the limit; readers apply the limit exactly.
                let totals = try session.query(
                    """
                    INSERT INTO catalog_shopper_stat (shopper, events) SELECT * FROM UNNEST(\(shoppers)::text[], \(counts)::int8[])
                    ON CONFLICT (shopper) DO UPDATE SET events = catalog_shopper_stat.events + excluded.events RETURNING shopper, events
                    """)
                var over: [String] = []
                for row in totals {
                    let (shopper, total) = try row.decode((String, Int64).self)
                    if total > retention + max(1, retention / 4) { over.append(shopper) }
                }
                guard !over.isEmpty else { return }
                try session.execute(
                    """
                    DELETE FROM catalog_shopper_event WHERE seq IN (
                        SELECT seq FROM (
                            SELECT seq, row_number() OVER (PARTITION BY shopper ORDER BY time_ms DESC, seq DESC) AS newest
                            FROM catalog_shopper_event WHERE shopper = ANY(\(over)::text[])
                        ) AS ranked WHERE newest > \(retention))
                    """)
                try session.execute("UPDATE catalog_shopper_stat SET events = \(retention) WHERE shopper = ANY(\(over)::text[])")
            }
        }
    }

    private static let eventColumns = "shopper, kind, sku, time_ms, order_id, quantity, price_minor, currency"

    /// Rows to events; a kind this version does not know is skipped (as SQLite's).
    private static func events(_ rows: [PostgresRow]) throws -> [ShopperEvent] {
        var out: [ShopperEvent] = []
        out.reserveCapacity(rows.count)
        for row in rows {
            let (shopper, kind, sku, timeMs, orderId, quantity, priceMinor, currency) = try row.decode(
                (String, String, String, Int64, String?, Int64, Int64?, String?).self)
            guard let k = ShopperEvent.Kind(rawValue: kind) else { continue }
            out.append(
                ShopperEvent(
                    shopper: shopper, kind: k, sku: sku, timeMs: timeMs, orderId: orderId, quantity: Int(quantity), priceMinor: priceMinor,
                    currency: currency))
        }
        return out
    }

    /// Every event kept (a shopper may have up to a quarter more than the retention until the next
    /// trim; ``Assist/ShopperEventLog/init(restoring:retentionPerShopper:coPurchases:)`` keeps the newest).
    public func events() throws(AssistError) -> [ShopperEvent] {
        try run("read events") {
            try Self.events(
                try database.read("read events") { session in
                    try session.query("SELECT \(unescaped: Self.eventColumns) FROM catalog_shopper_event ORDER BY time_ms, seq")
                })
        }
    }

    public func events(of shopper: String) throws(AssistError) -> [ShopperEvent] {
        guard StorableText.isStorable(shopper) else { return [] }
        return try run("read events") {
            try Self.events(
                try database.read("read events") { session in
                    try session.query(
                        "SELECT \(unescaped: Self.eventColumns) FROM catalog_shopper_event WHERE shopper = \(shopper) ORDER BY time_ms, seq")
                })
        }
    }
}
