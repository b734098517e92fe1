import Foundation

/// A CSV catalog's header, mapped to product fields once, then applied to each row.
struct CSVColumns {
    struct RowError: Error {
        var sku: String?
        var reason: String
    }

    var sku = -1, title = -1, price = -1, currency = -1, stock = -1
    var image: Int?, category: Int?
    var video: Int?, videoPoster: Int?, videoDuration: Int?, videoWidth: Int?, videoHeight: Int?
    var attributes: [(name: String, column: Int)] = []
    var ignored: [String] = []
    let count: Int

    static let required = ["sku", "title", "price", "currency", "stock"]

    /// - Throws: `invalid_import` if a required column is missing or a column is named twice.
    init(_ header: [String]) throws(AssistError) {
        count = header.count
        var seen = Set<String>()
        for (i, raw) in header.enumerated() {
            let trimmed = CSVColumns.trim(raw)
            let name = trimmed.lowercased()
            guard seen.insert(name).inserted else { throw AssistError(.invalidImport, "line 1: column \"\(trimmed)\" appears twice") }
            switch name {
            case "sku": sku = i
            case "title": title = i
            case "price": price = i
            case "currency": currency = i
            case "stock": stock = i
            case "image": image = i
            case "category": category = i
            case "video": video = i
            case "video_poster": videoPoster = i
            case "video_duration": videoDuration = i
            case "video_width": videoWidth = i
            case "video_height": videoHeight = i
            default:
                if name.hasPrefix("attr:") {
                    // The attribute's name keeps its case as written after "attr:".
                    let attribute = String(trimmed.dropFirst(5))
                    guard !attribute.isEmpty else { throw AssistError(.invalidImport, "line 1: column \"attr:\" names no attribute") }
                    attributes.append((attribute, i))
                } else {
                    ignored.append(trimmed)
                }
            }
        }
        let missing = zip(Self.required, [sku, title, price, currency, stock]).filter { $0.1 < 0 }.map(\.0)
        guard missing.isEmpty else {
            throw AssistError(
                .invalidImport,
                "line 1: the header lacks \(missing.joined(separator: ", ")) (required: \(Self.required.joined(separator: ",")); is the first line a header?)")
        }
    }

    /// One row to a product (not yet validated: ``CatalogImport`` validates).
    func product(_ fields: [String]) -> Result<Product, RowError> {
        guard fields.count == count else {
            let sku = sku < fields.count ? Self.trim(fields[sku]) : nil
            return .failure(RowError(sku: sku, reason: "expected \(count) fields as in the header, found \(fields.count)"))
        }
        let sku = Self.trim(fields[sku])
        func cell(_ i: Int?) -> String? {
            guard let i else { return nil }
            let v = Self.trim(fields[i])
            return v.isEmpty ? nil : v
        }
        let currency = Self.trim(fields[currency])
        let priceText = Self.trim(fields[price])
        guard let priceMinor = Currency.parseMinor(priceText, currency) else {
            return .failure(RowError(sku: sku, reason: "price \"\(priceText.prefix(40))\": a decimal like 49.90 with at most \(Currency.minorUnitDigits(currency)) decimals for \(currency.prefix(8))"))
        }
        let stockText = Self.trim(fields[stock])
        guard let stock = Int(stockText), stock >= 0 else {
            return .failure(RowError(sku: sku, reason: "stock \"\(stockText.prefix(40))\": a whole number ≥ 0"))
        }
        var attributes: [String: String] = [:]
        for (name, column) in self.attributes {
            if let value = cell(column) { attributes[name] = value }
        }
        var videos: [ProductVideo] = []
        if let url = cell(video) {
            guard let duration = cell(videoDuration).flatMap({ Int($0) }) else {
                return .failure(RowError(sku: sku, reason: "video_duration: whole seconds, required with a video"))
            }
            let width = cell(videoWidth), height = cell(videoHeight)
            guard width.map({ Int($0) != nil }) ?? true, height.map({ Int($0) != nil }) ?? true else {
                return .failure(RowError(sku: sku, reason: "video_width/video_height: whole pixels"))
            }
            videos.append(
                ProductVideo(url: url, poster: cell(videoPoster), durationSeconds: duration, width: width.flatMap { Int($0) }, height: height.flatMap { Int($0) }))
        }
        return .success(
            Product(
                sku: sku, title: Self.trim(fields[title]), priceMinor: priceMinor, currency: currency, image: cell(image),
                category: cell(category), attributes: attributes, stock: stock, videos: videos))
    }

    private static let spaces = CharacterSet(charactersIn: " \t")

    /// Without surrounding spaces and tabs (cheap: most cells have none).
    static func trim(_ s: String) -> String {
        let u = s.utf8
        guard let f = u.first, let l = u.last, f == 0x20 || f == 0x09 || l == 0x20 || l == 0x09 else { return s }
        return s.trimmingCharacters(in: spaces)
    }
}
