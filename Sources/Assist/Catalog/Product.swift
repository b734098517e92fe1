import Foundation

/// One product of a shop's catalog, as the shop pushes it (JSON or CSV, see ``CatalogImport``) and
/// as the agent's workspace shows it.
///
/// Prices are integers in the currency's minor unit (`priceMinor: 4990` with `currency: "EUR"`
/// is €49.90) so that sums of orders are exact. Every field has a bound, checked by
/// ``validate()``; a catalog only ever holds valid products.
///
/// | field | rule |
/// |---|---|
/// | `sku` | 1–64 bytes of printable ASCII, no spaces (it is matched as a token in chat text) |
/// | `title` | 1–200 characters |
/// | `priceMinor` | ≥ 0, ≤ 10¹⁵ |
/// | `currency` | ISO 4217: three uppercase letters |
/// | `image` | optional, an absolute `http`/`https` URL of at most 2,048 bytes |
/// | `category` | optional, 1–100 characters |
/// | `attributes` | at most 32 pairs; names 1–64, values 1–200 characters |
/// | `stock` | ≥ 0 (0 is out of stock: never recommended) |
/// | `videos` | at most 4 ``ProductVideo``s |
public struct Product: Codable, Hashable, Sendable {
    public static let maximumSKUBytes = 64
    public static let maximumTitleLength = 200
    public static let maximumCategoryLength = 100
    public static let maximumAttributes = 32
    public static let maximumAttributeNameLength = 64
    public static let maximumAttributeValueLength = 200
    public static let maximumVideos = 4
    public static let maximumURLBytes = 2048
    /// 10¹⁵ minor units: far above any real price, far below `Int64.max`, so a total of many
    /// order lines cannot overflow.
    public static let maximumPriceMinor: Int64 = 1_000_000_000_000_000

    /// The shop's stock-keeping unit, unique in a catalog.
    public var sku: String
    public var title: String
    /// The price in the currency's minor unit (cents for EUR, yen for JPY, fils for KWD).
    public var priceMinor: Int64
    /// ISO 4217 code, e.g. `EUR`.
    public var currency: String
    /// The product's picture (absolute http(s) URL).
    public var image: String?
    public var category: String?
    /// Facets such as `size` and `colour`; similar products share them.
    public var attributes: [String: String]
    /// Units in stock; 0 is out of stock.
    public var stock: Int
    /// Short clips an agent can send in the chat.
    public var videos: [ProductVideo]

    public init(
        sku: String, title: String, priceMinor: Int64, currency: String, image: String? = nil, category: String? = nil,
        attributes: [String: String] = [:], stock: Int, videos: [ProductVideo] = []
    ) {
        self.sku = sku
        self.title = title
        self.priceMinor = priceMinor
        self.currency = currency
        self.image = image
        self.category = category
        self.attributes = attributes
        self.stock = stock
        self.videos = videos
    }

    /// Whether the product can be recommended (stock above zero).
    public var inStock: Bool { stock > 0 }

    enum CodingKeys: String, CodingKey {
        case sku, title, priceMinor, currency, image, category, attributes, stock, videos
    }

    /// Decodes the canonical form (`priceMinor` in minor units); `attributes` and `videos` may be
    /// absent. Does not validate: call ``validate()`` (``CatalogImport`` does).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sku = try c.decode(String.self, forKey: .sku)
        title = try c.decode(String.self, forKey: .title)
        priceMinor = try c.decode(Int64.self, forKey: .priceMinor)
        currency = try c.decode(String.self, forKey: .currency)
        image = try c.decodeIfPresent(String.self, forKey: .image)
        category = try c.decodeIfPresent(String.self, forKey: .category)
        attributes = try c.decodeIfPresent([String: String].self, forKey: .attributes) ?? [:]
        stock = try c.decode(Int.self, forKey: .stock)
        videos = try c.decodeIfPresent([ProductVideo].self, forKey: .videos) ?? []
    }

    /// Checks every field against its bound (see the table above).
    /// - Throws: ``AssistError`` `invalid_argument`, the detail naming the SKU and the field.
    public func validate() throws(AssistError) {
        guard Self.isValidSKU(sku) else {
            throw AssistError(.invalidArgument, "sku \"\(sku.prefix(80))\": 1–\(Self.maximumSKUBytes) bytes of printable ASCII without spaces")
        }
        func fail(_ field: String, _ rule: String) -> AssistError { AssistError(.invalidArgument, "sku \(sku): \(field): \(rule)") }
        let titleLength = title.count
        guard titleLength >= 1, titleLength <= Self.maximumTitleLength, !Self.isBlank(title) else {
            throw fail("title", "1–\(Self.maximumTitleLength) characters, not blank")
        }
        guard priceMinor >= 0, priceMinor <= Self.maximumPriceMinor else {
            throw fail("priceMinor", "0…\(Self.maximumPriceMinor)")
        }
        guard Currency.isValidCode(currency) else { throw fail("currency", "an ISO 4217 code of three uppercase letters") }
        if let image, !Self.isHTTPURL(image) { throw fail("image", "an absolute http(s) URL of at most \(Self.maximumURLBytes) bytes") }
        if let category {
            let n = category.count
            guard n >= 1, n <= Self.maximumCategoryLength else { throw fail("category", "1–\(Self.maximumCategoryLength) characters") }
        }
        guard attributes.count <= Self.maximumAttributes else { throw fail("attributes", "at most \(Self.maximumAttributes) pairs") }
        for (name, value) in attributes {
            guard !name.isEmpty, name.count <= Self.maximumAttributeNameLength, !name.contains("=") else {
                throw fail("attributes", "a name is 1–\(Self.maximumAttributeNameLength) characters without \"=\"")
            }
            guard !value.isEmpty, value.count <= Self.maximumAttributeValueLength else {
                throw fail("attribute \(name)", "a value is 1–\(Self.maximumAttributeValueLength) characters")
            }
        }
        guard stock >= 0 else { throw fail("stock", "≥ 0") }
        guard videos.count <= Self.maximumVideos else { throw fail("videos", "at most \(Self.maximumVideos)") }
        for (i, video) in videos.enumerated() {
            do { try video.validate() } catch { throw fail("videos[\(i)]", error.detail) }
        }
    }

    /// 1–64 bytes, each printable ASCII other than a space (0x21…0x7E).
    public static func isValidSKU(_ sku: String) -> Bool {
        let utf8 = sku.utf8
        guard !utf8.isEmpty, utf8.count <= maximumSKUBytes else { return false }
        return utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
    }

    /// An absolute `http://` or `https://` URL with a host, at most ``maximumURLBytes``.
    static func isHTTPURL(_ text: String) -> Bool {
        guard text.utf8.count <= maximumURLBytes, !text.contains(where: \.isWhitespace),
            let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else { return false }
        return true
    }

    static func isBlank(_ text: String) -> Bool { text.allSatisfy(\.isWhitespace) }
}
