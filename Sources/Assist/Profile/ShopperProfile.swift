import Foundation

/// What the agent's workspace shows about a shopper, derived from their events (pure: the same
/// events, catalog and time give the same profile). The server adds the past consultations.
///
/// - ``recentViews``: distinct products viewed, newest first (at most ``Rules/recentViewLimit``).
/// - ``cart``: per SKU, units added minus removed minus purchased since, never below zero; in the
///   order they were last added, newest first.
/// - ``orders``: purchases grouped by order id (id-less purchases within an hour are one order),
///   newest first, with totals per currency.
/// - ``lifetimeValue``: the sum of every purchase's quantity × unit price, per currency.
/// - ``tags``: see ``Rules``.
///
/// The events are the retained ones (``ShopperEventLog/retentionPerShopper``): a shopper with
/// more history shows their newest 500 events' worth.
public struct ShopperProfile: Codable, Hashable, Sendable {
    /// The thresholds of the derived tags.
    ///
    /// | tag | when |
    /// |---|---|
    /// | `new customer` | no purchase |
    /// | `repeat buyer` | at least ``repeatBuyerOrders`` (2) orders |
    /// | `high value` | lifetime value in some currency ≥ ``highValueMinor`` (50,000 minor units: 500.00) |
    /// | `cart waiting` | the cart is not empty and nothing was added for ``cartWaitingAfterMs`` (1 hour) |
    /// | `lapsed` | has orders, the last older than ``lapsedAfterMs`` (180 days) |
    /// | `likes <category>` | the category with the most weight (view 1, add to cart 3, purchase 5), if ≥ ``topCategoryMinimumWeight`` (5) |
    public struct Rules: Hashable, Sendable {
        public var recentViewLimit = 20
        public var orderLimit = 50
        public var repeatBuyerOrders = 2
        public var highValueMinor: Int64 = 50_000
        public var cartWaitingAfterMs: Int64 = 3_600_000
        public var lapsedAfterMs: Int64 = 180 * 86_400_000
        public var topCategoryMinimumWeight: Double = 5

        public init() {}
        public static let `default` = Rules()
    }

    /// A product viewed, with the last time and how often.
    public struct View: Codable, Hashable, Sendable {
        public var sku: String
        public var title: String?
        public var lastViewedMs: Int64
        public var count: Int
    }

    /// A product in the cart.
    public struct CartLine: Codable, Hashable, Sendable {
        public var sku: String
        public var title: String?
        public var quantity: Int
        public var lastAddedMs: Int64
    }

    public var shopper: String
    public var recentViews: [View]
    public var cart: [CartLine]
    public var orders: [ShopperOrder]
    public var lifetimeValue: [String: Int64]
    public var tags: [String]
    /// The category with most weight (see ``Rules``), if any.
    public var topCategory: String?
    public var firstSeenMs: Int64?
    public var lastSeenMs: Int64?

    /// Derives a profile.
    /// - Parameters:
    ///   - events: the shopper's events (any order; sorted by time here).
    ///   - catalog: for titles, categories, and prices of purchases recorded without one.
    ///   - now: the clock (tags that depend on age).
    public init(shopper: String, events: [ShopperEvent], catalog: Catalog, now: Date, rules: Rules = .default) {
        let nowMs = ShopperEvent.milliseconds(now)
        let sorted = events.enumerated().sorted { $0.element.timeMs != $1.element.timeMs ? $0.element.timeMs < $1.element.timeMs : $0.offset < $1.offset }.map(\.element)
        self.shopper = shopper
        firstSeenMs = sorted.first?.timeMs
        lastSeenMs = sorted.last?.timeMs

        var views: [String: View] = [:]
        var cartQuantity: [String: Int] = [:]
        var cartAdded: [String: Int64] = [:]
        var orders: [ShopperOrder] = []
        var orderIndex: [String: Int] = [:]
        var lastIdless: Int?
        var ltv: [String: Int64] = [:]
        var categoryWeight: [String: Double] = [:]

        for e in sorted {
            let product = catalog.product(sku: e.sku)
            if let category = product?.category { categoryWeight[category, default: 0] += Catalog.popularityWeights[e.kind] ?? 0 }
            switch e.kind {
            case .viewed:
                var v = views[e.sku] ?? View(sku: e.sku, title: product?.title, lastViewedMs: e.timeMs, count: 0)
                v.count += 1
                v.lastViewedMs = e.timeMs
                views[e.sku] = v
            case .addedToCart:
                cartQuantity[e.sku, default: 0] += e.quantity
                cartAdded[e.sku] = e.timeMs
            case .removedFromCart:
                cartQuantity[e.sku] = max(0, (cartQuantity[e.sku] ?? 0) - e.quantity)
            case .purchased:
                cartQuantity[e.sku] = max(0, (cartQuantity[e.sku] ?? 0) - e.quantity)
                guard let unit = e.priceMinor ?? product?.priceMinor, let currency = e.currency ?? product?.currency else { continue }
                let line = ShopperOrder.Line(sku: e.sku, title: product?.title, quantity: e.quantity, unitPriceMinor: unit, currency: currency)
                let amount = unit.multipliedReportingOverflow(by: Int64(e.quantity))
                let value = amount.overflow ? Int64.max / 4 : amount.partialValue
                ltv[currency] = Self.saturatingSum(ltv[currency] ?? 0, value)
                let at: Int
                if let id = e.orderId {
                    if let i = orderIndex[id] {
                        at = i
                    } else {
                        at = orders.count
                        orderIndex[id] = at
                        orders.append(ShopperOrder(id: id, timeMs: e.timeMs, lines: [], totals: [:]))
                    }
                } else if let i = lastIdless, e.timeMs - orders[i].timeMs <= CoPurchaseIndex.orderWindowMs {
                    at = i
                } else {
                    at = orders.count
                    lastIdless = at
                    orders.append(ShopperOrder(id: nil, timeMs: e.timeMs, lines: [], totals: [:]))
                }
                orders[at].lines.append(line)
                orders[at].totals[currency] = Self.saturatingSum(orders[at].totals[currency] ?? 0, value)
            }
        }

        recentViews = Array(views.values.sorted { $0.lastViewedMs != $1.lastViewedMs ? $0.lastViewedMs > $1.lastViewedMs : $0.sku < $1.sku }.prefix(rules.recentViewLimit))
        cart = cartQuantity.compactMap { sku, q in
            q > 0 ? CartLine(sku: sku, title: catalog.product(sku: sku)?.title, quantity: q, lastAddedMs: cartAdded[sku] ?? 0) : nil
        }.sorted { $0.lastAddedMs != $1.lastAddedMs ? $0.lastAddedMs > $1.lastAddedMs : $0.sku < $1.sku }
        let orderCount = orders.count
        self.orders = Array(orders.sorted { $0.timeMs != $1.timeMs ? $0.timeMs > $1.timeMs : ($0.id ?? "") < ($1.id ?? "") }.prefix(rules.orderLimit))
        lifetimeValue = ltv
        let top = categoryWeight.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }
        topCategory = top.flatMap { $0.value >= rules.topCategoryMinimumWeight ? $0.key : nil }

        var tags: [String] = []
        if orderCount == 0 { tags.append("new customer") }
        if orderCount >= rules.repeatBuyerOrders { tags.append("repeat buyer") }
        if ltv.values.contains(where: { $0 >= rules.highValueMinor }) { tags.append("high value") }
        if let newestAdd = cart.first?.lastAddedMs, nowMs - newestAdd >= rules.cartWaitingAfterMs { tags.append("cart waiting") }
        if let last = self.orders.first?.timeMs, nowMs - last >= rules.lapsedAfterMs { tags.append("lapsed") }
        if let topCategory { tags.append("likes \(topCategory)") }
        self.tags = tags
    }

    /// The lifetime value for display, sorted by currency: `["1299.00 EUR", "20.00 USD"]`.
    public var formattedLifetimeValue: [String] { lifetimeValue.sorted { $0.key < $1.key }.map { Currency.format($0.value, $0.key) } }

    /// The number of orders (as grouped; at most ``Rules/orderLimit`` are listed in ``orders``).
    public var orderCount: Int { orders.count }

    /// Sums of prices from the wire saturate instead of trapping: each line is at most 10¹⁵ ×
    /// 10,000 minor units, and a shopper has up to 500 of them (hardening review: two such
    /// purchases summed past `Int64.max` and crashed the server when an agent opened the profile).
    static func saturatingSum(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? Int64.max : Int64.min) : sum
    }
}
