import Assist
import Dispatch
import Foundation
import PostgresStores
import Synchronization
import Testing

/// ``CatalogStore``'s promises, kept by SQLite and by PostgreSQL alike: products (with attributes
/// and clips) and events back as written after a reopen, the catalog order, a refused stock update
/// changing nothing, events in time order with ties in arrival order, per-shopper retention — also
/// with two stores ("nodes") appending at once — and a large import.
@Suite struct CatalogStoreConformanceTests {
    static let sofa = Product(
        sku: "SOFA-3", title: "Sofa, three seats", priceMinor: 89_900, currency: "EUR", image: "https://shop.example/sofa.jpg", category: "Sofas",
        attributes: ["colour": "grey"], stock: 4,
        videos: [ProductVideo(url: "https://cdn.example/sofa.mp4", poster: "https://cdn.example/sofa.jpg", durationSeconds: 20, width: 720, height: 1280)])

    static func product(_ sku: String, stock: Int = 5) -> Product {
        Product(sku: sku, title: "Product \(sku)", priceMinor: 5_000, currency: "EUR", category: "Shoes", attributes: ["size": "42", "colour": "black"], stock: stock)
    }

    static let t0: Int64 = 1_800_000_000_000

    static func viewed(_ shopper: String, _ sku: String, _ timeMs: Int64) -> ShopperEvent {
        ShopperEvent(shopper: shopper, kind: .viewed, sku: sku, timeMs: timeMs)
    }

    @Test(arguments: Backend.allCases) func catalogAndEventsSurviveAReopen(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let products = [
            Self.sofa,
            Product(sku: "Q\"1", title: "Quote \"and\" \\ back\nslash\t\u{1}", priceMinor: 0, currency: "JPY", attributes: ["é": "ü", "a": "b"], stock: 0),
            Self.product("C"),
            // Empty text where the fields are optional or free: kept as empty, not as absent.
            Product(sku: "E", title: "'; DROP TABLE product; --", priceMinor: 1, currency: "EUR", image: "", category: "", stock: 2),
        ]
        let t0 = Self.t0
        let events = [
            ShopperEvent(shopper: "s1", kind: .viewed, sku: "SOFA-3", timeMs: t0),
            ShopperEvent(shopper: "s1", kind: .purchased, sku: "C", timeMs: t0 + 1, orderId: "o1", quantity: 2, priceMinor: 5_000, currency: "EUR"),
            ShopperEvent(shopper: "s2", kind: .addedToCart, sku: "C", timeMs: t0 + 2, quantity: 3),
            ShopperEvent(shopper: "s2", kind: .removedFromCart, sku: "C", timeMs: t0 + 3, orderId: "", priceMinor: 0, currency: ""),
        ]
        do {
            let store = try site.catalogStore()
            try store.replaceCatalog([Self.product("OLD")])
            try store.replaceCatalog(products)
            try store.append(events, retentionPerShopper: 500)
            try store.setStock([StockUpdate(sku: "C", stock: 1)])
            #expect(throws: AssistError(.notFound, "")) { try store.setStock([StockUpdate(sku: "C", stock: 7), StockUpdate(sku: "NOPE", stock: 1)]) }
            try store.upsert([Self.product("D")])
        }
        // A new store on the same place: a restart, or another node.
        let store = try site.catalogStore()
        var expected = products
        expected[2].stock = 1
        expected.append(Self.product("D"))
        #expect(try store.products() == expected)
        #expect(try store.events() == events)
        #expect(try store.events(of: "s2") == Array(events[2...]))
        #expect(try store.events(of: "nobody").isEmpty)
        // What the server does at start.
        var catalog = try Catalog(products: try store.products().filter { (try? $0.validate()) != nil })
        let log = ShopperEventLog(restoring: try store.events())
        catalog.recordActivity(try store.events())
        let profile = ShopperProfile(shopper: "s1", events: log.events(of: "s1"), catalog: catalog, now: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(profile.lifetimeValue == ["EUR": 10_000])
    }

    /// Upserts replace fields by SKU and keep the product's place; new SKUs go last, in the call's
    /// order. A SKU twice in one call keeps its first place and takes its last fields.
    @Test(arguments: Backend.allCases) func upsertKeepsPlacesAndTheLastFieldsOfARepeatedSKU(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.catalogStore()
        try store.upsert([])
        #expect(try store.products().isEmpty)
        try store.upsert(["B", "A", "C"].map { Self.product($0) })
        var a = Self.product("A")
        a.title = "A, renamed"
        a.attributes = [:]
        a.videos = Self.sofa.videos
        var z2 = Self.product("Z")
        z2.priceMinor = 7
        try store.upsert([Self.product("Z"), a, Self.product("Y"), z2])
        #expect(try site.catalogStore().products() == [Self.product("B"), a, Self.product("C"), z2, Self.product("Y")])

        try store.replaceCatalog([Self.product("X"), Self.product("W"), Self.product("X", stock: 9)])
        #expect(try store.products() == [Self.product("X", stock: 9), Self.product("W")])
        try store.upsert([Self.product("V")])
        #expect(try store.products().map(\.sku) == ["X", "W", "V"])
        try store.replaceCatalog([])
        #expect(try store.products().isEmpty)
    }

    /// Two nodes upserting new products at the same moment: each call's products stay together
    /// and in its order, each node's calls in their order, and nothing is lost.
    @Test(arguments: Backend.allCases) func upsertsAtOnceKeepEachCallTogether(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let stores = [try site.catalogStore(), try site.catalogStore()]
        let calls = (0..<2).map { node in (0..<10).map { call in (0..<20).map { Self.product("N\(node)-C\(call)-P\($0)") } } }
        for r in AssistStoreConformanceTests.atOnce({ node in for call in calls[node] { try stores[node].upsert(call) } }) { try r.get() }
        let skus = try stores[0].products().map(\.sku)
        #expect(skus.count == 400)
        // Cut the catalog into runs of one call each: 20 runs of 20 in the calls' order.
        var runs: [[String]] = []
        for sku in skus {
            let call = sku.split(separator: "-P").first.map(String.init)
            if let last = runs.last?.last, last.split(separator: "-P").first.map(String.init) == call {
                runs[runs.count - 1].append(sku)
            } else {
                runs.append([sku])
            }
        }
        #expect(runs.count == 20, "\(runs.map { $0.first ?? "" })")
        for node in 0..<2 {
            let inOrder = runs.filter { $0.first?.hasPrefix("N\(node)-") == true } == calls[node].map { $0.map(\.sku) }
            #expect(inOrder, "node \(node)'s calls split or out of order")
        }
    }

    /// A stock update names stored SKUs only: one unknown SKU and none of the call's updates is
    /// applied. A SKU twice takes its last stock.
    @Test(arguments: Backend.allCases) func aRefusedStockUpdateChangesNothing(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.catalogStore()
        try store.replaceCatalog(["A", "B"].map { Self.product($0) })
        try store.setStock([])
        try store.setStock([StockUpdate(sku: "A", stock: 1), StockUpdate(sku: "B", stock: 2), StockUpdate(sku: "A", stock: 3)])
        #expect(try store.products().map(\.stock) == [3, 2])
        #expect(throws: AssistError(.notFound, "")) {
            try store.setStock([StockUpdate(sku: "B", stock: 0), StockUpdate(sku: "a", stock: 1), StockUpdate(sku: "A", stock: 0)])
        }
        #expect(try site.catalogStore().products().map(\.stock) == [3, 2])
    }

    /// Events come back by time, and events of one time in the order they were appended — within a
    /// call and across calls, for every shopper together and for each one.
    @Test(arguments: Backend.allCases) func eventsAreInTimeOrderTiesInArrivalOrder(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.catalogStore()
        let t0 = Self.t0
        try store.append([], retentionPerShopper: 10)
        try store.append([Self.viewed("s1", "A", t0 + 5), Self.viewed("s2", "B", t0 + 3), Self.viewed("s1", "C", t0 + 3)], retentionPerShopper: 10)
        try store.append([Self.viewed("s1", "D", t0 + 3), Self.viewed("s3", "E", t0 + 5), Self.viewed("s1", "F", t0 + 1)], retentionPerShopper: 10)
        #expect(try site.catalogStore().events().map(\.sku) == ["F", "B", "C", "D", "A", "E"])
        #expect(try store.events(of: "s1").map(\.sku) == ["F", "C", "D", "A"])
    }

    @Test(arguments: Backend.allCases) func retentionDropsAShoppersOldestEvents(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.catalogStore()
        let t0 = Self.t0
        for batch in 0..<5 {
            try store.append((0..<10).map { Self.viewed("s", "A", t0 + Int64(batch * 10 + $0)) } + [Self.viewed("other", "A", t0)], retentionPerShopper: 8)
        }
        let kept = try store.events(of: "s")
        // Trimmed in chunks: never more than a quarter over, always the newest.
        #expect(kept.count >= 8 && kept.count <= 10)
        #expect(kept.last?.timeMs == t0 + 49)
        #expect(ShopperEventLog(restoring: kept, retentionPerShopper: 8).events(of: "s").map(\.timeMs) == (42..<50).map { t0 + Int64($0) })
        #expect(try store.events(of: "other").count == 5, "another shopper under the limit keeps all")
    }

    /// Two stores appending for the same shoppers at once: nothing lost under a big limit, and
    /// under a small one each shopper keeps at most a quarter over it, the newest always among them.
    @Test(arguments: Backend.allCases) func twoStoresAppendingAtOnceKeepRetention(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let stores = [try site.catalogStore(), try site.catalogStore()]
        let t0 = Self.t0
        // Node i writes times ≡ i (mod 2), batch by batch, for shoppers "a" and "b".
        @Sendable func batch(_ node: Int, _ n: Int) -> [ShopperEvent] {
            (0..<10).flatMap { k in
                ["b", "a"].map { Self.viewed($0, "A", t0 + Int64(((n * 10 + k) * 2) + node)) }
            }
        }
        let results = AssistStoreConformanceTests.atOnce { node in
            for n in 0..<20 { try stores[node].append(batch(node, n), retentionPerShopper: 50) }
        }
        for r in results { try r.get() }
        for shopper in ["a", "b"] {
            let kept = try stores[0].events(of: shopper)
            #expect(kept.count >= 50 && kept.count <= 62, "\(shopper): \(kept.count)")
            #expect(kept.map(\.timeMs) == kept.map(\.timeMs).sorted())
            let newest = (0..<400).map { t0 + Int64($0) }.suffix(50)
            #expect(ShopperEventLog(restoring: kept, retentionPerShopper: 50).events(of: shopper).map(\.timeMs) == Array(newest))
        }

        let big = try site.catalogStore()
        for r in AssistStoreConformanceTests.atOnce({ node in try stores[node].append(batch(node, 100), retentionPerShopper: 10_000) }) {
            try r.get()
        }
        #expect(try big.events(of: "a").suffix(20).map(\.timeMs) == (2000..<2020).map { t0 + Int64($0) })
    }

    /// A large import — over two of PostgreSQL's statements of bound rows, the last one partial —
    /// is written and read back whole and in order, and replaced again by a small one. (The
    /// documented cap, 100,000 products, takes seconds in a debug build: not worth a test's time.)
    @Test(arguments: Backend.allCases) func aLargeImportRoundTrips(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.catalogStore()
        let count = PostgresCatalogStore.batchSize * 2 + 1
        let products = (0..<count).map { i in
            Product(
                sku: "SKU-\(count - i)", title: "Product \(i) \u{e9}", priceMinor: Int64(i), currency: "EUR", image: i % 3 == 0 ? nil : "https://s.example/\(i).jpg",
                category: i % 2 == 0 ? "Even" : nil, attributes: i % 5 == 0 ? [:] : ["size": "\(i % 7)"], stock: i % 11)
        }
        try store.replaceCatalog(products)
        let back = try site.catalogStore().products()
        #expect(back.count == products.count)
        #expect(back == products)
        try store.replaceCatalog(Array(products.suffix(3)))
        #expect(try store.products() == Array(products.suffix(3)))
    }

    /// Hostile text: a NUL in a product's or an event's text is refused (`invalid_argument`, nothing
    /// written) by every store (`StorableText`), and a SKU or shopper with a NUL never matches the
    /// one it starts with.
    @Test(arguments: Backend.allCases) func aNULIsRefused(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.catalogStore()
        let t0 = Self.t0
        try store.replaceCatalog([Self.product("A")])
        try store.append([Self.viewed("s1", "A", t0)], retentionPerShopper: 10)

        #expect(throws: AssistError(.notFound, "")) { try store.setStock([StockUpdate(sku: "A\u{0}x", stock: 0)]) }
        #expect(try store.products() == [Self.product("A")], "no stock changed")
        #expect(try store.events(of: "s1\u{0}x").isEmpty)
        #expect(try store.events(of: "s1") == [Self.viewed("s1", "A", t0)])

        var titled = Self.product("B")
        titled.title = "B\u{0}hidden"
        #expect(throws: AssistError(.invalidArgument, "")) { try store.upsert([Self.product("C"), titled]) }
        #expect(try store.products() == [Self.product("A")], "refused: nothing written")
        #expect(throws: AssistError(.invalidArgument, "")) { try store.replaceCatalog([titled]) }
        #expect(try store.products() == [Self.product("A")], "refused: the catalog as it was")

        let event = Self.viewed("s1\u{0}x", "A", t0 + 1)
        #expect(throws: AssistError(.invalidArgument, "")) {
            try store.append([Self.viewed("s2", "A", t0 + 1), event], retentionPerShopper: 10)
        }
        #expect(try store.events() == [Self.viewed("s1", "A", t0)], "refused: nothing written")
    }
}
