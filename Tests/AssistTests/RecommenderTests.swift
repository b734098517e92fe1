import Assist
import Foundation
import Testing

/// The ranking function on small hand-made histories: cold start, stock and purchase filters,
/// each signal moving the product it should, deterministic ties.
@Suite struct RecommenderTests {
    static let t0: Int64 = 1_800_000_000_000
    static let hour: Int64 = 3_600_000
    static let now = Date(timeIntervalSince1970: Double(t0) / 1000)

    /// Shoes S0…S9 (S0 is the most popular but out of stock; even ones size 42, odd 43), bags
    /// B0…B4, hats H0…H2. Popularity: S0 > S1 > … > S9; bags and hats less.
    static func shop() throws -> (Catalog, ShopperEventLog) {
        var products: [Product] = []
        for i in 0..<10 {
            products.append(
                Product(sku: "S\(i)", title: "Shoe \(i)", priceMinor: 9_000, currency: "EUR", category: "Shoes", attributes: ["size": i % 2 == 0 ? "42" : "43"], stock: i == 0 ? 0 : 5))
        }
        for i in 0..<5 { products.append(Product(sku: "B\(i)", title: "Bag \(i)", priceMinor: 20_000, currency: "EUR", category: "Bags", stock: 2)) }
        for i in 0..<3 { products.append(Product(sku: "H\(i)", title: "Hat \(i)", priceMinor: 3_000, currency: "EUR", category: "Hats", stock: 2)) }
        var catalog = try Catalog(products: products)
        var log = ShopperEventLog()
        var events: [ShopperEvent] = []
        // Popularity: views by the crowd, S0 most, decreasing.
        for i in 0..<10 {
            for v in 0..<(20 - 2 * i) { events.append(ShopperEvent(shopper: "crowd-\(v)", kind: .viewed, sku: "S\(i)", timeMs: t0 - 100 * hour)) }
        }
        for i in 0..<5 { events.append(ShopperEvent(shopper: "crowd-b", kind: .viewed, sku: "B\(i)", timeMs: t0 - 100 * hour)) }
        // H2 is bought together with S7 by four shoppers.
        for s in 0..<4 {
            events.append(ShopperEvent(shopper: "pair-\(s)", kind: .purchased, sku: "S7", timeMs: t0 - 50 * hour, orderId: "o\(s)"))
            events.append(ShopperEvent(shopper: "pair-\(s)", kind: .purchased, sku: "H2", timeMs: t0 - 50 * hour, orderId: "o\(s)"))
        }
        let recorded = try log.record(events, catalog: catalog)
        catalog.recordActivity(recorded)
        return (catalog, log)
    }

    static func recommender() throws -> Recommender {
        let (catalog, log) = try shop()
        return Recommender(catalog: catalog, coPurchases: log.coPurchases)
    }

    static func view(_ sku: String, hoursAgo: Int64) -> ShopperEvent {
        ShopperEvent(shopper: "sam", kind: .viewed, sku: sku, timeMs: t0 - hoursAgo * hour)
    }

    @Test func coldStartGivesPopularInStockProductsOfTheContextCategory() throws {
        let r = try Self.recommender()
        let list = r.recommend(for: RecommendationContext(category: "Shoes", now: Self.now), limit: 5)
        #expect(list.map(\.sku) == ["S7", "S1", "S2", "S3", "S4"])  // S7 is also bought (popular); S0 is out of stock
        #expect(list.allSatisfy { $0.product.inStock })
        #expect(list[1].reasons.contains("same category (Shoes) as what is being discussed"))
        #expect(list[1].reasons.contains("popular in the shop"))
        // No history and no category: the shop's popular products.
        let global = r.recommend(for: RecommendationContext(now: Self.now), limit: 3)
        #expect(global.map(\.sku) == ["S7", "H2", "S1"])
        // An empty catalog recommends nothing.
        #expect(Recommender(catalog: Catalog(), coPurchases: CoPurchaseIndex()).recommend(for: RecommendationContext(now: Self.now)).isEmpty)
    }

    @Test func outOfStockProductsAreNeverRecommendedWhateverTheSignals() throws {
        let r = try Self.recommender()
        let context = RecommendationContext(events: [Self.view("S0", hoursAgo: 1)], productSKU: "S0", mentionedSKUs: ["S0"], category: "Shoes", now: Self.now)
        let list = r.recommend(for: context, limit: 20)
        #expect(!list.isEmpty)
        #expect(!list.map(\.sku).contains("S0"))
        #expect(list.allSatisfy { $0.product.stock > 0 })
    }

    @Test func whatIsDiscussedComesFirst() throws {
        let r = try Self.recommender()
        let mentioned = r.recommend(for: RecommendationContext(events: [Self.view("S5", hoursAgo: 1)], mentionedSKUs: ["B3"], now: Self.now), limit: 3)
        #expect(mentioned.first?.sku == "B3")
        #expect(mentioned.first?.reasons.first == "mentioned in chat")
        let asked = r.recommend(for: RecommendationContext(productSKU: "H0", now: Self.now), limit: 3)
        #expect(asked.first?.sku == "H0")
        #expect(asked.first?.reasons.first == "the product they asked about")
    }

    @Test func cartOutranksViewsAndRecentViewsOutrankOldOnes() throws {
        let r = try Self.recommender()
        let events = [
            Self.view("S9", hoursAgo: 200), Self.view("S8", hoursAgo: 2), Self.view("B4", hoursAgo: 3),
            ShopperEvent(shopper: "sam", kind: .addedToCart, sku: "B4", timeMs: Self.t0 - 3 * Self.hour + 1),
        ]
        let list = r.recommend(for: RecommendationContext(events: events, now: Self.now), limit: 10).map(\.sku)
        let position = { (sku: String) in list.firstIndex(of: sku) ?? 99 }
        #expect(position("B4") == 0)
        #expect(position("S8") == 1)
        #expect(position("S8") < position("S9"))
        // Viewing a product lifts it above more popular ones of its category.
        #expect(position("S9") < position("S1") || position("S8") < position("S1"))
    }

    @Test func boughtTogetherLiftsThePartnerOfWhatTheyViewed() throws {
        let r = try Self.recommender()
        let without = r.recommend(for: RecommendationContext(events: [Self.view("S5", hoursAgo: 1)], now: Self.now), limit: 10)
        let with = r.recommend(for: RecommendationContext(events: [Self.view("S7", hoursAgo: 1)], now: Self.now), limit: 10)
        let h2 = with.first { $0.sku == "H2" }
        #expect(h2 != nil)
        #expect(h2?.reasons.contains("bought together with S7 in 4 orders") == true)
        #expect((h2?.signals.boughtTogether ?? 0) > 0)
        #expect((with.firstIndex { $0.sku == "H2" } ?? 99) < (without.firstIndex { $0.sku == "H2" } ?? 99))
        // Above the other hats, which nobody bought with S7.
        #expect(!with.prefix(5).contains { $0.sku == "H0" || $0.sku == "H1" })
    }

    @Test func sharedAttributesLiftSimilarProducts() throws {
        let r = try Self.recommender()
        // They looked at size-43 shoes: among shoes they did not view, size 43 comes before size 42
        // of nearly the same popularity.
        let events = [Self.view("S1", hoursAgo: 1), Self.view("S3", hoursAgo: 1)]
        let list = r.recommend(for: RecommendationContext(events: events, now: Self.now), limit: 10).map(\.sku)
        let position = { (sku: String) in list.firstIndex(of: sku) ?? 99 }
        #expect(position("S5") < position("S4"))
        #expect(position("S9") < position("S8"))
        let s5 = r.recommend(for: RecommendationContext(events: events, now: Self.now), limit: 10).first { $0.sku == "S5" }
        #expect(s5?.reasons.contains("same size 43 as they prefer") == true)
        #expect(s5?.reasons.contains("same category (Shoes) as what they viewed") == true)
    }

    @Test func purchasedAndExcludedProductsAreLeftOut() throws {
        let r = try Self.recommender()
        let events = [Self.view("S2", hoursAgo: 1), ShopperEvent(shopper: "sam", kind: .purchased, sku: "S3", timeMs: Self.t0 - Self.hour)]
        let list = r.recommend(for: RecommendationContext(events: events, exclude: ["S2"], now: Self.now), limit: 50).map(\.sku)
        #expect(!list.contains("S3"))
        #expect(!list.contains("S2"))
        #expect(list.contains("S4"))
    }

    @Test func rankingIsDeterministicWithTiesBySKU() throws {
        let r = try Self.recommender()
        let context = RecommendationContext(events: [Self.view("S4", hoursAgo: 5)], mentionedSKUs: ["B1"], now: Self.now)
        let first = r.recommend(for: context, limit: 20)
        for _ in 0..<5 { #expect(r.recommend(for: context, limit: 20) == first) }
        // Bags other than B1 have equal popularity and signals: ordered by SKU.
        let bags = first.filter { $0.sku.hasPrefix("B") && $0.sku != "B1" }
        #expect(bags.map(\.sku) == bags.map(\.sku).sorted())
        for (a, b) in zip(first, first.dropFirst()) { #expect(a.score >= b.score) }
        #expect(r.recommend(for: context, limit: 0).isEmpty)
        #expect(r.recommend(for: context, limit: 10_000).count <= Recommender.maximumLimit)
    }
}
