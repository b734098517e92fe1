import Foundation

/// A catalog written in the import formats (``CatalogImport``), for an admin to download and edit:
/// what is exported imports back to the same products.
public enum CatalogExport {
    /// CSV with the columns `sku,title,price,currency,image,category,stock`, then `attr:<name>`
    /// for every attribute name in the catalog (sorted), then the first clip's `video` columns if any
    /// product has one. Fields are quoted when they hold a comma, a quote or a line break.
    public static func csv(_ products: [Product]) -> Data {
        let attributeNames = Set(products.flatMap { $0.attributes.keys }).sorted()
        let hasVideo = products.contains { !$0.videos.isEmpty }
        var out = "sku,title,price,currency,image,category,stock"
        for name in attributeNames { out += "," + quote("attr:" + name) }
        if hasVideo { out += ",video,video_poster,video_duration,video_width,video_height" }
        out += "\r\n"
        out.reserveCapacity(products.count * 120)
        for p in products {
            var fields = [
                p.sku, p.title, decimal(p.priceMinor, p.currency), p.currency, p.image ?? "", p.category ?? "", String(p.stock),
            ]
            for name in attributeNames { fields.append(p.attributes[name] ?? "") }
            if hasVideo {
                let v = p.videos.first
                fields += [
                    v?.url ?? "", v?.poster ?? "", v.map { String($0.durationSeconds) } ?? "", v?.width.map(String.init) ?? "",
                    v?.height.map(String.init) ?? "",
                ]
            }
            var first = true
            for field in fields {
                if !first { out += "," }
                first = false
                out += quote(field)
            }
            out += "\r\n"
        }
        return Data(out.utf8)
    }

    /// JSON `{"products": [...]}` in ``Product``'s canonical form (keys sorted).
    public static func json(_ products: [Product]) throws(AssistError) -> Data {
        struct Envelope: Encodable { var products: [Product] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return try encoder.encode(Envelope(products: products)) } catch { throw AssistError(.invalidArgument, "encoding the catalog: \(error)") }
    }

    /// `4990, EUR` → `49.90` (the CSV's price column).
    static func decimal(_ minor: Int64, _ currency: String) -> String {
        let formatted = Currency.format(minor, currency)
        return String(formatted.dropLast(currency.count + 1))
    }

    static func quote(_ field: String) -> String {
        guard field.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
