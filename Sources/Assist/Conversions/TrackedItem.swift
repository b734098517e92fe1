/// What a tracking token was minted for: a product card (by SKU) or a coupon (by code).
public enum TrackedItem: Codable, Sendable, Hashable {
    case productCard(sku: String)
    case coupon(code: String)

    /// The SKU or the code.
    public var code: String {
        switch self {
        case .productCard(let sku): sku
        case .coupon(let code): code
        }
    }

    /// The compact form inside a token and the store: `p:<sku>` or `c:<code>`.
    var compact: String {
        switch self {
        case .productCard(let sku): "p:" + sku
        case .coupon(let code): "c:" + code
        }
    }

    init?(compact: Substring) {
        let rest = compact.dropFirst(2)
        guard !rest.isEmpty else { return nil }
        if compact.hasPrefix("p:") {
            self = .productCard(sku: String(rest))
        } else if compact.hasPrefix("c:") {
            self = .coupon(code: String(rest))
        } else {
            return nil
        }
    }

    private enum CodingKeys: String, CodingKey { case type, sku, code }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .type) {
        case "productCard": self = .productCard(sku: try c.decode(String.self, forKey: .sku))
        case "coupon": self = .coupon(code: try c.decode(String.self, forKey: .code))
        case let other: throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "item type \(other)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .productCard(let sku):
            try c.encode("productCard", forKey: .type)
            try c.encode(sku, forKey: .sku)
        case .coupon(let code):
            try c.encode("coupon", forKey: .type)
            try c.encode(code, forKey: .code)
        }
    }
}
