import Foundation

/// A catalog file read into products: the valid ones, plus each row that was not imported with its
/// line (CSV) or position (JSON) and the reason. Reading is pure: nothing changes until the caller
/// hands ``products`` to ``Catalog/replace(with:)`` and its store.
///
/// Formats (docs/assist.md, "Catalog"):
/// - **JSON**: an array of products, or `{"products": [...]}`. A product is ``Product``'s
///   canonical form, where the price may be given as `priceMinor` (integer minor units) or as
///   `price` (a decimal number or string, `49.90`).
/// - **CSV** (RFC 4180, UTF-8, header row first): columns `sku`, `title`, `price` (decimal, `49.90`),
///   `currency`, `stock` are required; `image`, `category`, `attr:<name>` (one per attribute; an
///   empty cell means the product lacks it), and a clip as `video`, `video_poster`,
///   `video_duration`, `video_width`, `video_height` are optional. Header names are
///   case-insensitive; unknown columns are ignored and listed in ``ignoredColumns``. Cells are
///   trimmed of surrounding spaces.
///
/// Caps: a body over ``maximumBodyBytes`` (64 MiB) or more than ``maximumProducts`` (200,000)
/// product rows throws `too_large`. A SKU twice in one file: the **last row wins**; the earlier
/// row is reported as an issue.
public struct CatalogImport: Sendable {
    /// The largest catalog body read (64 MiB: 200,000 products of ~300 bytes with room to spare).
    public static let maximumBodyBytes = 64 * 1024 * 1024
    /// The most product rows in one catalog (the recommendation benchmark runs at half of this).
    public static let maximumProducts = 200_000

    /// The caps an import is read under; ``default`` is the documented one (tests use smaller).
    public struct Limits: Hashable, Sendable {
        public var maximumBodyBytes: Int
        public var maximumProducts: Int

        public init(maximumBodyBytes: Int = CatalogImport.maximumBodyBytes, maximumProducts: Int = CatalogImport.maximumProducts) {
            self.maximumBodyBytes = maximumBodyBytes
            self.maximumProducts = maximumProducts
        }

        public static let `default` = Limits()
    }

    public enum Format: String, Sendable, Codable {
        case json, csv
    }

    /// The valid products, one per SKU, in the order their SKU first appears.
    public var products: [Product]
    /// Rows not imported, in file order.
    public var issues: [CatalogImportIssue]
    /// CSV header columns that are not part of the format (ignored).
    public var ignoredColumns: [String]

    /// Reads a body in the given format.
    /// - Throws: ``AssistError`` `too_large` (over a cap), `invalid_import` (no usable header, not
    ///   JSON, not an array of products).
    public init(_ body: Data, format: Format, limits: Limits = .default) throws(AssistError) {
        switch format {
        case .json: try self.init(json: body, limits: limits)
        case .csv: try self.init(csv: body, limits: limits)
        }
    }

    /// Reads a CSV catalog (see the type's documentation for the columns).
    public init(csv body: Data, limits: Limits = .default) throws(AssistError) {
        guard body.count <= limits.maximumBodyBytes else {
            throw AssistError(.tooLarge, "the catalog is \(body.count) bytes; the limit is \(limits.maximumBodyBytes)")
        }
        var reader = CSVReader([UInt8](body))
        guard let headerRecord = reader.next() else { throw AssistError(.invalidImport, "the CSV is empty: a header row is required") }
        let header: [String]
        switch headerRecord.fields {
        case .success(let fields): header = fields
        case .failure(let e): throw AssistError(.invalidImport, "line \(headerRecord.line): the header row cannot be read: \(e.reason)")
        }
        let columns = try CSVColumns(header)
        var builder = Builder()
        var rows = 0
        while let record = reader.next() {
            rows += 1
            guard rows <= limits.maximumProducts else {
                throw AssistError(.tooLarge, "more than \(limits.maximumProducts) product rows")
            }
            switch record.fields {
            case .failure(let e):
                builder.issues.append(CatalogImportIssue(line: record.line, reason: e.reason))
            case .success(let fields):
                switch columns.product(fields) {
                case .success(let product): builder.add(product, line: record.line, item: nil)
                case .failure(let e): builder.issues.append(CatalogImportIssue(line: record.line, sku: e.sku, reason: e.reason))
                }
            }
        }
        products = builder.products
        issues = builder.issues
        ignoredColumns = columns.ignored
    }

    /// How many values the arrays at `depth` hold (1: a top-level array; 2: the arrays inside a
    /// top-level object, e.g. `"products"`): commas at that depth plus one per non-empty array,
    /// outside strings. A linear scan of the bytes, no allocation.
    static func countElements(_ body: Data, depth target: Int) -> Int {
        var depth = 0, count = 0, inString = false, escaped = false, arrayOpen = false
        for b in body {
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""):
                inString = true
                if depth == target, arrayOpen { count += 1; arrayOpen = false }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                if depth == target, arrayOpen { count += 1; arrayOpen = false }
                depth += 1
                if depth == target, b == UInt8(ascii: "[") { arrayOpen = true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if depth == target { arrayOpen = false }
                depth -= 1
            case UInt8(ascii: ","):
                if depth == target { count += 1 }
            case 0x20, 0x0A, 0x0D, 0x09:
                break
            default:
                if depth == target, arrayOpen { count += 1; arrayOpen = false }
            }
        }
        return count
    }

    /// Reads a JSON catalog: an array of products or `{"products": [...]}`.
    public init(json body: Data, limits: Limits = .default) throws(AssistError) {
        guard body.count <= limits.maximumBodyBytes else {
            throw AssistError(.tooLarge, "the catalog is \(body.count) bytes; the limit is \(limits.maximumBodyBytes)")
        }
        let first = body.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        // Counted before decoding: `[0,0,…]` of 64 MiB is 32 million entries (gigabytes) by the
        // time a count after decoding could refuse it (hardening review).
        let elements = Self.countElements(body, depth: first == UInt8(ascii: "[") ? 1 : 2)
        guard elements <= limits.maximumProducts else {
            throw AssistError(.tooLarge, "more than \(limits.maximumProducts) products")
        }
        let entries: [ProductImportEntry]
        do {
            switch first {
            case UInt8(ascii: "["): entries = try JSONDecoder().decode([ProductImportEntry].self, from: body)
            case UInt8(ascii: "{"): entries = try JSONDecoder().decode(ProductImportEnvelope.self, from: body).products
            default: throw AssistError(.invalidImport, "not a JSON catalog: expected an array of products or {\"products\": [...]}")
            }
        } catch let e as AssistError {
            throw e
        } catch {
            throw AssistError(.invalidImport, "not a JSON catalog: \(Self.explain(error))")
        }
        guard entries.count <= limits.maximumProducts else {
            throw AssistError(.tooLarge, "\(entries.count) products; the limit is \(limits.maximumProducts)")
        }
        var builder = Builder()
        for (i, entry) in entries.enumerated() {
            switch entry.result {
            case .success(let product): builder.add(product, line: nil, item: i + 1)
            case .failure(let e): builder.issues.append(CatalogImportIssue(item: i + 1, sku: entry.sku, reason: e.detail))
            }
        }
        products = builder.products
        issues = builder.issues
        ignoredColumns = []
    }

    /// Collects valid products, the last row of a SKU winning.
    private struct Builder {
        var products: [Product] = []
        var issues: [CatalogImportIssue] = []
        var index: [String: (position: Int, line: Int?, item: Int?)] = [:]

        init() {
            products.reserveCapacity(1024)
            index.reserveCapacity(1024)
        }

        mutating func add(_ product: Product, line: Int?, item: Int?) {
            do {
                try product.validate()
            } catch {
                issues.append(CatalogImportIssue(line: line, item: item, sku: product.sku, reason: error.detail))
                return
            }
            if let earlier = index[product.sku] {
                let later = line.map { "line \($0)" } ?? item.map { "item \($0)" } ?? "a later row"
                issues.append(CatalogImportIssue(line: earlier.line, item: earlier.item, sku: product.sku, reason: "the sku appears again (\(later)), which replaces this row"))
                products[earlier.position] = product
                index[product.sku] = (earlier.position, line, item)
            } else {
                index[product.sku] = (products.count, line, item)
                products.append(product)
            }
        }
    }

    static func explain(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "the body" : String(p.drop { $0 == "." })
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context)): \"\(key.stringValue)\" is missing"
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(type)"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(type), found null"
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
