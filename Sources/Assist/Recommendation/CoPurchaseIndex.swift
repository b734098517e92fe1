/// How often two products were bought together, for "bought together" recommendations.
///
/// Together means in the same order: purchase events of one shopper with the same `orderId`; a
/// purchase without an order id joins the shopper's other id-less purchases within
/// ``orderWindowMs`` (one hour) of it. An order's purchases are expected within that window
/// (24 hours for orders with an id); the search for order-mates looks no further back, which
/// bounds the work per event. A pair counts once per order, however many units.
///
/// Bounded memory: each SKU keeps at most ``partnersPerSKU`` (50) partners, by the Space-Saving
/// rule (Metwally, Agrawal, El Abbadi 2005): while a SKU has fewer partners the counts are exact;
/// when a new partner arrives at a full list it replaces the partner with the smallest count `m`
/// and starts at `m + 1`, so a count may be over by at most the smallest count of that list —
/// the frequent partners, which are the ones recommended, are kept and nearly exact.
///
/// Maintained incrementally by ``ShopperEventLog``; a restart rebuilds it from the retained events.
public struct CoPurchaseIndex: Sendable {
    public static let defaultPartnersPerSKU = 50
    /// Id-less purchases this close together are one order.
    public static let orderWindowMs: Int64 = 3_600_000
    /// Purchases with the same order id are looked for this far back.
    public static let orderIdWindowMs: Int64 = 86_400_000

    /// One partner of a SKU and the number of orders they shared.
    public struct Partner: Hashable, Sendable {
        public var sku: String
        public var count: Int

        public init(sku: String, count: Int) {
            self.sku = sku
            self.count = count
        }
    }

    public let partnersPerSKU: Int
    private var partners: [String: [Partner]] = [:]
    /// Orders counted (those with at least two distinct SKUs contribute pairs).
    public private(set) var pairCount = 0

    public init(partnersPerSKU: Int = Self.defaultPartnersPerSKU) {
        self.partnersPerSKU = max(1, partnersPerSKU)
    }

    /// The SKU's partners, most often bought together first (ties by SKU), at most `limit`.
    public func partners(of sku: String, limit: Int = .max) -> [Partner] {
        guard let list = partners[sku] else { return [] }
        return Array(list.sorted { $0.count != $1.count ? $0.count > $1.count : $0.sku < $1.sku }.prefix(limit))
    }

    /// How many orders held both (as kept; see the bound above).
    public func count(_ a: String, _ b: String) -> Int {
        partners[a]?.first { $0.sku == b }?.count ?? 0
    }

    /// Counts one whole order: each pair of its distinct SKUs once.
    public mutating func add(order skus: [String]) {
        var distinct: [String] = []
        for sku in skus where !distinct.contains(sku) { distinct.append(sku) }
        for i in distinct.indices {
            for j in distinct.indices where j > i { increment(distinct[i], distinct[j]) }
        }
    }

    /// Counts a purchase against the shopper's earlier purchases (oldest first) of the same order.
    mutating func record(_ purchase: ShopperEvent, history: [ShopperEvent]) {
        var mates: [String] = []
        let window = purchase.orderId == nil ? Self.orderWindowMs : Self.orderIdWindowMs
        for earlier in history.reversed() {
            if purchase.timeMs - earlier.timeMs > window { break }
            guard earlier.kind == .purchased, earlier.orderId == purchase.orderId, abs(earlier.timeMs - purchase.timeMs) <= window else { continue }
            // The SKU is already in this order: its pairs were counted.
            if earlier.sku == purchase.sku { return }
            if !mates.contains(earlier.sku) { mates.append(earlier.sku) }
        }
        for mate in mates { increment(purchase.sku, mate) }
    }

    private mutating func increment(_ a: String, _ b: String) {
        guard a != b else { return }
        pairCount += 1
        bump(a, b)
        bump(b, a)
    }

    private mutating func bump(_ sku: String, _ partner: String) {
        let k = partnersPerSKU
        Self.bump(&partners[sku, default: []], partner, capacity: k)
    }

    private static func bump(_ list: inout [Partner], _ partner: String, capacity: Int) {
        if let i = list.firstIndex(where: { $0.sku == partner }) {
            list[i].count += 1
        } else if list.count < capacity {
            list.append(Partner(sku: partner, count: 1))
        } else if let m = list.indices.min(by: { list[$0].count != list[$1].count ? list[$0].count < list[$1].count : list[$0].sku > list[$1].sku }) {
            list[m] = Partner(sku: partner, count: list[m].count + 1)
        }
    }
}
