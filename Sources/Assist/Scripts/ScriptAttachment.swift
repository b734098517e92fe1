/// What a canned reply sends along with its text: nothing, a product card (the card carries a
/// tracking token, see ``TrackingToken``) or a coupon.
///
/// JSON: `{"type": "none"}`, `{"type": "productCard", "sku": "SOFA-3"}` or
/// `{"type": "coupon", "code": "WELCOME10", "description": "10 % off your first order"}`.
public enum ScriptAttachment: Codable, Sendable, Hashable {
    case none
    /// The card of the product with this SKU (resolved from the catalog when sent).
    case productCard(sku: String)
    /// A coupon code with the sentence the shopper sees beside it.
    case coupon(code: String, description: String)

    /// The longest SKU or coupon code accepted.
    public static let maximumCodeLength = 64
    /// The longest coupon description accepted.
    public static let maximumDescriptionLength = 200

    private enum CodingKeys: String, CodingKey { case type, sku, code, description }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .type) {
        case "none": self = .none
        case "productCard": self = .productCard(sku: try c.decode(String.self, forKey: .sku))
        case "coupon":
            self = .coupon(code: try c.decode(String.self, forKey: .code), description: try c.decodeIfPresent(String.self, forKey: .description) ?? "")
        case let other:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: c, debugDescription: "attachment type \"\(other)\" is not none, productCard or coupon")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .none: try c.encode("none", forKey: .type)
        case .productCard(let sku):
            try c.encode("productCard", forKey: .type)
            try c.encode(sku, forKey: .sku)
        case .coupon(let code, let description):
            try c.encode("coupon", forKey: .type)
            try c.encode(code, forKey: .code)
            try c.encode(description, forKey: .description)
        }
    }

    /// `invalid_argument` for an empty or over-long SKU or code, or an over-long description.
    public func validate() throws(AssistError) {
        switch self {
        case .none: break
        case .productCard(let sku):
            guard !sku.isEmpty, sku.count <= Self.maximumCodeLength else {
                throw AssistError(.invalidArgument, "attachment.sku must have 1 to \(Self.maximumCodeLength) characters")
            }
        case .coupon(let code, let description):
            guard !code.isEmpty, code.count <= Self.maximumCodeLength else {
                throw AssistError(.invalidArgument, "attachment.code must have 1 to \(Self.maximumCodeLength) characters")
            }
            guard description.count <= Self.maximumDescriptionLength else {
                throw AssistError(.invalidArgument, "attachment.description is longer than \(Self.maximumDescriptionLength) characters")
            }
        }
    }
}
