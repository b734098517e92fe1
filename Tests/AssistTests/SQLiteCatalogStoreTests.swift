import Assist
import Foundation
import Testing

/// The SQLite catalog store on a real file, reopened: products (with attributes and clips) and
/// events come back as written; a refused stock update changes nothing; retention holds.
@Suite struct SQLiteCatalogStoreTests {
    static func path() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(UInt64.random(in: 0...UInt64.max)).sqlite").path
    }

    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    @Test func catalogAndEventsSurviveAReopen() throws {
        let path = Self.path()
        defer { Self.remove(path) }
        let products = [
            ProductTests.valid,
            Product(sku: "Q\"1", title: "Quote \"and\" \\ back\nslash\t\u{1}", priceMinor: 0, currency: "JPY", attributes: ["é": "ü", "a": "b"], stock: 0),
            CatalogTests.product("C"),
        ]
        let t0: Int64 = 1_800_000_000_000
        let events = [
            ShopperEvent(shopper: "s1", kind: .viewed, sku: "SOFA-3", timeMs: t0),
            ShopperEvent(shopper: "s1", kind: .purchased, sku: "C", timeMs: t0 + 1, orderId: "o1", quantity: 2, priceMinor: 5_000, currency: "EUR"),
            ShopperEvent(shopper: "s2", kind: .addedToCart, sku: "C", timeMs: t0 + 2, quantity: 3),
        ]
        do {
            let store = try SQLiteCatalogStore(path: path)
            try store.replaceCatalog([CatalogTests.product("OLD")])
            try store.replaceCatalog(products)
            try store.append(events, retentionPerShopper: 500)
            try store.setStock([StockUpdate(sku: "C", stock: 1)])
            #expect(throws: AssistError(.notFound, "")) { try store.setStock([StockUpdate(sku: "C", stock: 7), StockUpdate(sku: "NOPE", stock: 1)]) }
            try store.upsert([CatalogTests.product("D")])
        }
        let store = try SQLiteCatalogStore(path: path)
        var expected = products
        expected[2].stock = 1
        expected.append(CatalogTests.product("D"))
        #expect(try store.products() == expected)
        #expect(try store.events() == events)
        #expect(try store.events(of: "s2") == [events[2]])
        // What the server does at start.
        var catalog = try Catalog(products: try store.products())
        let log = ShopperEventLog(restoring: try store.events())
        catalog.recordActivity(try store.events())
        let profile = ShopperProfile(shopper: "s1", events: log.events(of: "s1"), catalog: catalog, now: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(profile.lifetimeValue == ["EUR": 10_000])
    }

    @Test func retentionDropsAShoppersOldestEvents() throws {
        let path = Self.path()
        defer { Self.remove(path) }
        let store = try SQLiteCatalogStore(path: path)
        let t0: Int64 = 1_800_000_000_000
        for batch in 0..<5 {
            try store.append(
                (0..<10).map { ShopperEvent(shopper: "s", kind: .viewed, sku: "A", timeMs: t0 + Int64(batch * 10 + $0)) }, retentionPerShopper: 8)
        }
        let kept = try store.events(of: "s")
        // Trimmed in chunks: never more than a quarter over, always the newest.
        #expect(kept.count >= 8 && kept.count <= 10)
        #expect(kept.last?.timeMs == t0 + 49)
        #expect(ShopperEventLog(restoring: kept, retentionPerShopper: 8).events(of: "s").map(\.timeMs) == (42..<50).map { t0 + Int64($0) })
    }
}
