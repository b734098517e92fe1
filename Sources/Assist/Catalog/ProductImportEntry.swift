import Foundation

/// One element of a JSON catalog, decoded on its own so that a bad product is reported with its
/// position while the others are imported (a failure inside `init(from:)` is caught here and
/// does not abort the array).
struct ProductImportEntry: Decodable {
    var result: Result<Product, AssistError>
    var sku: String?

    enum Keys: String, CodingKey {
        case sku, title, price, priceMinor, currency, image, category, attributes, stock, videos
    }

    init(from decoder: any Decoder) throws {
        let c: KeyedDecodingContainer<Keys>
        do {
            c = try decoder.container(keyedBy: Keys.self)
        } catch {
            result = .failure(AssistError(.invalidArgument, "not a JSON object"))
            return
        }
        sku = try? c.decodeIfPresent(String.self, forKey: .sku)
        do {
            let currency = try c.decode(String.self, forKey: .currency)
            let priceMinor: Int64
            if let minor = try c.decodeIfPresent(Int64.self, forKey: .priceMinor) {
                priceMinor = minor
            } else if let text = try? c.decodeIfPresent(String.self, forKey: .price) {
                guard let minor = Currency.parseMinor(text, currency) else {
                    throw AssistError(.invalidArgument, "price \"\(text.prefix(40))\": a decimal with at most \(Currency.minorUnitDigits(currency)) decimals")
                }
                priceMinor = minor
            } else if let number = try c.decodeIfPresent(Double.self, forKey: .price) {
                priceMinor = try Self.minor(number, currency)
            } else {
                throw AssistError(.invalidArgument, "a price is required: \"priceMinor\" (integer) or \"price\" (decimal)")
            }
            let product = Product(
                sku: try c.decode(String.self, forKey: .sku),
                title: try c.decode(String.self, forKey: .title),
                priceMinor: priceMinor,
                currency: currency,
                image: try c.decodeIfPresent(String.self, forKey: .image),
                category: try c.decodeIfPresent(String.self, forKey: .category),
                attributes: try c.decodeIfPresent([String: String].self, forKey: .attributes) ?? [:],
                stock: try c.decode(Int.self, forKey: .stock),
                videos: try c.decodeIfPresent([ProductVideo].self, forKey: .videos) ?? [])
            result = .success(product)
        } catch let e as AssistError {
            result = .failure(e)
        } catch {
            result = .failure(AssistError(.invalidArgument, CatalogImport.explain(error)))
        }
    }

    /// A JSON number price to minor units: exact to the currency's decimals (49.9 → 4990), else refused.
    static func minor(_ price: Double, _ currency: String) throws(AssistError) -> Int64 {
        var scale = 1.0
        for _ in 0..<Currency.minorUnitDigits(currency) { scale *= 10 }
        let scaled = price * scale
        let rounded = scaled.rounded()
        guard price.isFinite, price >= 0, rounded <= Double(Product.maximumPriceMinor), abs(scaled - rounded) < 1e-6 * max(1, rounded) else {
            throw AssistError(.invalidArgument, "price \(price): a non-negative decimal with at most \(Currency.minorUnitDigits(currency)) decimals")
        }
        return Int64(rounded)
    }
}

/// `{"products": [...]}`.
struct ProductImportEnvelope: Decodable {
    var products: [ProductImportEntry]
}
