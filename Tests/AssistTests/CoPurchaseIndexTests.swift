import Assist
import Testing

/// Bought-together counts: per order (by id, or id-less within the hour), once per order, bounded
/// per SKU.
@Suite struct CoPurchaseIndexTests {
    static let t0: Int64 = 1_800_000_000_000
    static let catalog: Catalog = {
        (try? Catalog(products: (0..<80).map { CatalogTests.product("P\($0)") })) ?? Catalog()
    }()

    static func buy(_ shopper: String, _ sku: String, _ minutes: Int64, order: String? = nil, quantity: Int = 1) -> ShopperEvent {
        ShopperEvent(shopper: shopper, kind: .purchased, sku: sku, timeMs: t0 + minutes * 60_000, orderId: order, quantity: quantity)
    }

    @Test func pairsCountOncePerOrder() throws {
        var log = ShopperEventLog()
        try log.record(
            [
                Self.buy("a", "P1", 0, order: "a1"), Self.buy("a", "P2", 0, order: "a1"), Self.buy("a", "P2", 1, order: "a1", quantity: 3),
                Self.buy("a", "P3", 1, order: "a1"),
                Self.buy("b", "P1", 0, order: "b1"), Self.buy("b", "P2", 5, order: "b1"),
                // Same shopper, another order: P1 and P4 are not together.
                Self.buy("b", "P4", 10, order: "b2"),
                // Id-less: within the hour together, later not.
                Self.buy("c", "P1", 0), Self.buy("c", "P2", 30), Self.buy("c", "P5", 200),
            ], catalog: Self.catalog)
        let index = log.coPurchases
        #expect(index.count("P1", "P2") == 3)
        #expect(index.count("P2", "P1") == 3)
        #expect(index.count("P1", "P3") == 1)
        #expect(index.count("P1", "P4") == 0)
        #expect(index.count("P2", "P5") == 0)
        #expect(index.partners(of: "P1").map(\.sku) == ["P2", "P3"])
        #expect(index.partners(of: "P2").map(\.count) == [3, 1])
    }

    @Test func eachSKUKeepsABoundedListOfPartnersWithTheFrequentOnes() {
        var index = CoPurchaseIndex(partnersPerSKU: 5)
        for _ in 0..<20 { index.add(order: ["HUB", "FAV"]) }
        for i in 0..<50 { index.add(order: ["HUB", "P\(i)"]) }
        let partners = index.partners(of: "HUB")
        #expect(partners.count == 5)
        #expect(partners.first == CoPurchaseIndex.Partner(sku: "FAV", count: 20))
        // Order in which SKUs were listed, duplicates: each distinct pair once.
        var small = CoPurchaseIndex()
        small.add(order: ["X", "Y", "X", "Z"])
        #expect(small.count("X", "Y") == 1 && small.count("Y", "Z") == 1 && small.count("X", "Z") == 1)
    }
}
