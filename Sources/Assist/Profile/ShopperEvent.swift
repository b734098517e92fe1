import Foundation

/// What a shopper did with a product, as the shop reports it through the events API: viewed it,
/// added it to or removed it from the cart, bought it.
///
/// JSON (docs/assist.md, "Shopper events and profile"):
/// ```json
/// {"shopper": "c-1042", "kind": "purchased", "sku": "SOFA-3", "time": 1764662400000,
///  "orderId": "o-77", "quantity": 1, "priceMinor": 89900, "currency": "EUR"}
/// ```
/// `time` is epoch milliseconds (a number) or an ISO 8601 string; it is encoded back as
/// milliseconds. `kind` is `viewed`, `added_to_cart`, `removed_from_cart` or `purchased`.
public struct ShopperEvent: Codable, Hashable, Sendable {
    public enum Kind: String, Codable, Hashable, Sendable, CaseIterable {
        case viewed
        case addedToCart = "added_to_cart"
        case removedFromCart = "removed_from_cart"
        case purchased
    }

    public static let maximumShopperBytes = 128
    public static let maximumOrderIdBytes = 128
    public static let quantityRange = 1...10_000
    /// Times before 2000-01-01 or after 2100-01-01 are refused (a seconds-for-milliseconds mix-up
    /// lands in 1970).
    public static let timeRangeMs: ClosedRange<Int64> = 946_684_800_000...4_102_444_800_000

    /// The shop's identity for the shopper (a customer id or a cookie id), 1–128 bytes.
    public var shopper: String
    public var kind: Kind
    public var sku: String
    /// When it happened, epoch milliseconds.
    public var timeMs: Int64
    /// Groups purchases into orders (and co-purchases, see ``CoPurchaseIndex``).
    public var orderId: String?
    /// Units (cart and purchase events); 1 when absent.
    public var quantity: Int
    /// A purchase's unit price in minor units; filled from the catalog when absent
    /// (``ShopperEventLog/record(_:catalog:)``).
    public var priceMinor: Int64?
    /// The price's currency (ISO 4217); filled from the catalog with the price.
    public var currency: String?

    public init(
        shopper: String, kind: Kind, sku: String, timeMs: Int64, orderId: String? = nil, quantity: Int = 1, priceMinor: Int64? = nil,
        currency: String? = nil
    ) {
        self.shopper = shopper
        self.kind = kind
        self.sku = sku
        self.timeMs = timeMs
        self.orderId = orderId
        self.quantity = quantity
        self.priceMinor = priceMinor
        self.currency = currency
    }

    public init(shopper: String, kind: Kind, sku: String, at date: Date, orderId: String? = nil, quantity: Int = 1, priceMinor: Int64? = nil, currency: String? = nil) {
        self.init(
            shopper: shopper, kind: kind, sku: sku, timeMs: Self.milliseconds(date), orderId: orderId, quantity: quantity, priceMinor: priceMinor,
            currency: currency)
    }

    /// The event's time as a date.
    public var date: Date { Date(timeIntervalSince1970: Double(timeMs) / 1000) }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    enum CodingKeys: String, CodingKey {
        case shopper, kind, sku, time, orderId, quantity, priceMinor, currency
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        shopper = try c.decode(String.self, forKey: .shopper)
        kind = try c.decode(Kind.self, forKey: .kind)
        sku = try c.decode(String.self, forKey: .sku)
        if let ms = try? c.decode(Int64.self, forKey: .time) {
            timeMs = ms
        } else {
            let text = try c.decode(String.self, forKey: .time)
            guard let date = Self.parseISO8601(text) else {
                throw DecodingError.dataCorruptedError(forKey: .time, in: c, debugDescription: "epoch milliseconds or an ISO 8601 time")
            }
            timeMs = Self.milliseconds(date)
        }
        orderId = try c.decodeIfPresent(String.self, forKey: .orderId)
        quantity = try c.decodeIfPresent(Int.self, forKey: .quantity) ?? 1
        priceMinor = try c.decodeIfPresent(Int64.self, forKey: .priceMinor)
        currency = try c.decodeIfPresent(String.self, forKey: .currency)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(shopper, forKey: .shopper)
        try c.encode(kind, forKey: .kind)
        try c.encode(sku, forKey: .sku)
        try c.encode(timeMs, forKey: .time)
        try c.encodeIfPresent(orderId, forKey: .orderId)
        try c.encode(quantity, forKey: .quantity)
        try c.encodeIfPresent(priceMinor, forKey: .priceMinor)
        try c.encodeIfPresent(currency, forKey: .currency)
    }

    private static func parseISO8601(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let d = plain.date(from: text) { return d }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }

    /// Checks the fields' bounds (not whether the SKU exists: ``ShopperEventLog`` does).
    /// - Throws: ``AssistError`` `invalid_argument` naming the field.
    public func validate() throws(AssistError) {
        let n = shopper.utf8.count
        guard n >= 1, n <= Self.maximumShopperBytes, !Product.isBlank(shopper) else {
            throw AssistError(.invalidArgument, "shopper: 1–\(Self.maximumShopperBytes) bytes")
        }
        guard Product.isValidSKU(sku) else { throw AssistError(.invalidArgument, "sku \"\(sku.prefix(80))\": not a valid SKU") }
        guard Self.timeRangeMs.contains(timeMs) else {
            throw AssistError(.invalidArgument, "time \(timeMs): epoch milliseconds between 2000 and 2100")
        }
        if let orderId {
            guard !orderId.isEmpty, orderId.utf8.count <= Self.maximumOrderIdBytes else {
                throw AssistError(.invalidArgument, "orderId: 1–\(Self.maximumOrderIdBytes) bytes")
            }
        }
        guard Self.quantityRange.contains(quantity) else {
            throw AssistError(.invalidArgument, "quantity \(quantity): \(Self.quantityRange.lowerBound)–\(Self.quantityRange.upperBound)")
        }
        if let priceMinor, !(0...Product.maximumPriceMinor).contains(priceMinor) {
            throw AssistError(.invalidArgument, "priceMinor: 0…\(Product.maximumPriceMinor)")
        }
        if let currency, !Currency.isValidCode(currency) { throw AssistError(.invalidArgument, "currency: three uppercase letters") }
    }
}
