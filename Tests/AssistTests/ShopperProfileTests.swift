import Assist
import Foundation
import Testing

/// The workspace's shopper profile from events: recent views, cart arithmetic, orders with
/// totals, lifetime value per currency, and the documented tags.
@Suite struct ShopperProfileTests {
    static let t0: Int64 = 1_800_000_000_000
    static let hour: Int64 = 3_600_000
    static let catalog: Catalog = {
        (try? Catalog(products: [
            Product(sku: "SHOE", title: "Shoe", priceMinor: 8_000, currency: "EUR", category: "Shoes", stock: 3),
            Product(sku: "SOCK", title: "Sock", priceMinor: 500, currency: "EUR", category: "Socks", stock: 3),
            Product(sku: "HAT", title: "Hat", priceMinor: 2_000, currency: "USD", category: "Hats", stock: 3),
            Product(sku: "BAG", title: "Bag", priceMinor: 30_000, currency: "EUR", category: "Bags", stock: 3),
        ])) ?? Catalog()
    }()

    static func e(_ kind: ShopperEvent.Kind, _ sku: String, _ hours: Int64, order: String? = nil, quantity: Int = 1, price: Int64? = nil) -> ShopperEvent {
        ShopperEvent(shopper: "sam", kind: kind, sku: sku, timeMs: t0 + hours * hour, orderId: order, quantity: quantity, priceMinor: price)
    }

    @Test func cartIsAddsMinusRemovesMinusPurchases() {
        let events = [
            Self.e(.addedToCart, "SHOE", 0, quantity: 2),
            Self.e(.addedToCart, "SOCK", 1, quantity: 3),
            Self.e(.removedFromCart, "SOCK", 2, quantity: 1),
            Self.e(.purchased, "SHOE", 3, order: "o1", quantity: 1),
            Self.e(.removedFromCart, "HAT", 4, quantity: 5),  // never added: stays at zero
            Self.e(.addedToCart, "BAG", 5),
            Self.e(.purchased, "BAG", 6, order: "o2"),
        ]
        let profile = ShopperProfile(shopper: "sam", events: events, catalog: Self.catalog, now: Date(timeIntervalSince1970: Double(Self.t0 + 6 * Self.hour) / 1000))
        #expect(profile.cart.map(\.sku) == ["SOCK", "SHOE"])
        #expect(profile.cart.map(\.quantity) == [2, 1])
        #expect(profile.cart.first?.title == "Sock")
    }

    @Test func ordersGroupByIdWithTotalsAndLifetimeValuePerCurrency() {
        let events = [
            Self.e(.purchased, "SHOE", 0, order: "o1", quantity: 2),
            Self.e(.purchased, "SOCK", 0, order: "o1", quantity: 4, price: 450),
            Self.e(.purchased, "HAT", 30, order: "o2"),
            // Two id-less purchases within the hour are one order; a third later is another.
            Self.e(.purchased, "SOCK", 50),
            Self.e(.purchased, "SOCK", 50),
            Self.e(.purchased, "BAG", 60),
        ]
        let profile = ShopperProfile(shopper: "sam", events: events, catalog: Self.catalog, now: Date(timeIntervalSince1970: Double(Self.t0 + 61 * Self.hour) / 1000))
        #expect(profile.orders.count == 4)
        #expect(profile.orders.map(\.id) == [nil, nil, "o2", "o1"])
        let o1 = profile.orders[3]
        #expect(o1.lines.map(\.sku) == ["SHOE", "SOCK"])
        #expect(o1.totals == ["EUR": 2 * 8_000 + 4 * 450])
        #expect(o1.formattedTotals == ["178.00 EUR"])
        #expect(profile.orders[1].totals == ["EUR": 1_000])
        #expect(profile.lifetimeValue == ["EUR": 17_800 + 1_000 + 30_000, "USD": 2_000])
        #expect(profile.formattedLifetimeValue == ["488.00 EUR", "20.00 USD"])
        #expect(profile.tags.contains("repeat buyer"))
        #expect(!profile.tags.contains("high value"))  // 488 EUR < 500
        #expect(!profile.tags.contains("new customer"))
    }

    @Test func recentViewsAreDistinctNewestFirst() {
        let events = [Self.e(.viewed, "SHOE", 0), Self.e(.viewed, "SOCK", 1), Self.e(.viewed, "SHOE", 2), Self.e(.viewed, "HAT", 2)]
        let profile = ShopperProfile(shopper: "sam", events: events.reversed(), catalog: Self.catalog, now: Date(timeIntervalSince1970: Double(Self.t0) / 1000))
        #expect(profile.recentViews.map(\.sku) == ["HAT", "SHOE", "SOCK"])
        #expect(profile.recentViews[1].count == 2)
        #expect(profile.firstSeenMs == Self.t0)
        #expect(profile.lastSeenMs == Self.t0 + 2 * Self.hour)
    }

    @Test func tagsFollowTheDocumentedRules() {
        let now = Date(timeIntervalSince1970: Double(Self.t0 + 200 * 24 * Self.hour) / 1000)
        let newcomer = ShopperProfile(
            shopper: "sam", events: [Self.e(.viewed, "SHOE", 0), Self.e(.viewed, "SHOE", 1), Self.e(.addedToCart, "SHOE", 2)], catalog: Self.catalog, now: now)
        #expect(newcomer.tags == ["new customer", "cart waiting", "likes Shoes"])
        #expect(newcomer.topCategory == "Shoes")
        let bigSpender = ShopperProfile(shopper: "sam", events: [Self.e(.purchased, "BAG", 0, quantity: 2)], catalog: Self.catalog, now: now)
        #expect(bigSpender.tags == ["high value", "lapsed", "likes Bags"])
        let empty = ShopperProfile(shopper: "nobody", events: [], catalog: Self.catalog, now: now)
        #expect(empty.tags == ["new customer"])
        #expect(empty.orders.isEmpty && empty.cart.isEmpty && empty.lifetimeValue.isEmpty)
    }

    /// Prices and quantities at their documented maxima (10¹⁵ minor units × 10,000): two such
    /// purchases summed past `Int64.max` and trapped when an agent opened the profile (hardening
    /// review). Sums saturate.
    @Test func lifetimeValueAtTheBoundsSaturatesInsteadOfTrapping() throws {
        let events = [
            Self.e(.purchased, "SHOE", 0, order: "big-1", quantity: 9_000, price: Product.maximumPriceMinor),
            Self.e(.purchased, "SHOE", 1, order: "big-1", quantity: 9_000, price: Product.maximumPriceMinor),
            Self.e(.purchased, "BAG", 2, order: "big-2", quantity: 10_000, price: Product.maximumPriceMinor),
        ]
        for e in events { try e.validate() }  // all within the documented bounds
        let p = ShopperProfile(shopper: "sam", events: events, catalog: Self.catalog, now: Date(timeIntervalSince1970: 1_800_010_000))
        #expect(p.lifetimeValue["EUR"] == Int64.max)
        #expect(p.orders.first { $0.id == "big-1" }?.totals["EUR"] == Int64.max)
    }
}
