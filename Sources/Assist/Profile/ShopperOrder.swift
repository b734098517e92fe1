/// One order of a shopper, grouped from purchase events (``ShopperProfile``).
public struct ShopperOrder: Codable, Hashable, Sendable {
    /// One product of the order.
    public struct Line: Codable, Hashable, Sendable {
        public var sku: String
        public var title: String?
        public var quantity: Int
        public var unitPriceMinor: Int64
        public var currency: String
    }

    /// The shop's order id; nil for purchases reported without one (grouped by time, see
    /// ``CoPurchaseIndex/orderWindowMs``).
    public var id: String?
    /// The time of its first purchase event, epoch ms.
    public var timeMs: Int64
    public var lines: [Line]
    /// Sum of quantity × unit price per currency (one entry unless the lines mix currencies).
    public var totals: [String: Int64]

    /// The totals for display, sorted by currency: `["49.90 EUR"]`.
    public var formattedTotals: [String] { totals.sorted { $0.key < $1.key }.map { Currency.format($0.value, $0.key) } }
}
