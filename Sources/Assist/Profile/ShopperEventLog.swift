/// The shoppers' recent events in memory, by shopper, with the co-purchase counts derived from
/// them: what the profile and the recommender read.
///
/// Bounds (docs/assist.md, "Shopper events and profile"):
/// - a batch holds at most ``maximumBatch`` (10,000) events, else `too_large`;
/// - each shopper keeps their newest ``retentionPerShopper`` (500) events; older ones are dropped
///   (the store drops them too). Counts derived before the drop (co-purchases, popularity) stay.
///
/// A value the server's actor holds; ``record(_:catalog:)`` is all-or-nothing.
public struct ShopperEventLog: Sendable {
    public static let maximumBatch = 10_000
    public static let retentionPerShopper = 500

    /// Per shopper, oldest first.
    private var byShopper: [String: [ShopperEvent]] = [:]
    /// Products bought together (updated by every purchase recorded).
    public private(set) var coPurchases: CoPurchaseIndex
    public private(set) var eventCount = 0
    public let retention: Int

    public init(retentionPerShopper: Int = Self.retentionPerShopper, coPurchases: CoPurchaseIndex = CoPurchaseIndex()) {
        retention = max(1, retentionPerShopper)
        self.coPurchases = coPurchases
    }

    /// A log rebuilt from stored events (at start), without checking them against a catalog: a
    /// product removed since keeps its history.
    public init(restoring events: [ShopperEvent], retentionPerShopper: Int = Self.retentionPerShopper, coPurchases: CoPurchaseIndex = CoPurchaseIndex()) {
        self.init(retentionPerShopper: retentionPerShopper, coPurchases: coPurchases)
        append(events)
    }

    /// The number of shoppers with events.
    public var shopperCount: Int { byShopper.count }

    /// Every shopper with events, sorted.
    public var shoppers: [String] { byShopper.keys.sorted() }

    /// A shopper's retained events, oldest first.
    public func events(of shopper: String) -> [ShopperEvent] {
        guard let list = byShopper[shopper] else { return [] }
        return list.count <= retention ? list : Array(list.suffix(retention))
    }

    /// Checks a batch and records it: each event's fields (``ShopperEvent/validate()``), that its
    /// SKU is in the catalog, and fills a purchase's missing price and currency from the catalog.
    /// - Returns: the events as recorded (prices filled), in the batch's order.
    /// - Throws: ``AssistError`` `too_large` (over ``maximumBatch``), `invalid_argument` or
    ///   `not_found` (an unknown SKU) naming the event's 1-based position; nothing is recorded then.
    @discardableResult
    public mutating func record(_ batch: [ShopperEvent], catalog: Catalog) throws(AssistError) -> [ShopperEvent] {
        let checked = try Self.check(batch, catalog: catalog)
        append(checked)
        return checked
    }

    /// The validation ``record(_:catalog:)`` does, without recording (for a caller that stores
    /// first and records after the store succeeded).
    public static func check(_ batch: [ShopperEvent], catalog: Catalog) throws(AssistError) -> [ShopperEvent] {
        guard batch.count <= maximumBatch else {
            throw AssistError(.tooLarge, "\(batch.count) events in one batch; the limit is \(maximumBatch)")
        }
        var checked = batch
        for i in checked.indices {
            do { try checked[i].validate() } catch { throw AssistError(.invalidArgument, "event \(i + 1): \(error.detail)") }
            guard let product = catalog.product(sku: checked[i].sku) else {
                throw AssistError(.notFound, "event \(i + 1): no product with sku \(checked[i].sku)")
            }
            if checked[i].kind == .purchased, checked[i].priceMinor == nil {
                checked[i].priceMinor = product.priceMinor
                checked[i].currency = product.currency
            } else if checked[i].priceMinor != nil, checked[i].currency == nil {
                checked[i].currency = product.currency
            }
        }
        return checked
    }

    /// Records events already checked (or restored), applying retention and counting co-purchases.
    public mutating func append(_ events: [ShopperEvent]) {
        for event in events {
            if event.kind == .purchased { coPurchases.record(event, history: byShopper[event.shopper] ?? []) }
            let before = min(byShopper[event.shopper]?.count ?? 0, retention)
            Self.insert(event, into: &byShopper[event.shopper, default: []], retention: retention)
            if before < retention { eventCount += 1 }
        }
    }

    /// Inserts in time order (nearly always an append) and trims in chunks: the array may hold up
    /// to a quarter more than `retention` so that trimming (a move of the whole array) happens
    /// once per `retention / 4` events, not on every one; readers see the newest `retention`.
    private static func insert(_ event: ShopperEvent, into list: inout [ShopperEvent], retention: Int) {
        if let last = list.last, last.timeMs > event.timeMs {
            var at = list.count
            while at > 0, list[at - 1].timeMs > event.timeMs { at -= 1 }
            list.insert(event, at: at)
        } else {
            list.append(event)
        }
        if list.count > retention + max(1, retention / 4) { list.removeFirst(list.count - retention) }
    }
}
