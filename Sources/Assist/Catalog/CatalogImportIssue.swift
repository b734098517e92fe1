/// A product row of an import that was not imported (or was replaced by a later row with the same
/// SKU), and why. The rest of the file is imported regardless.
public struct CatalogImportIssue: Codable, Hashable, Sendable {
    /// CSV: the 1-based line the row starts on (the header is line 1; a quoted field may span
    /// lines, so this is not the row's index).
    public var line: Int?
    /// JSON: the 1-based position of the product in the array.
    public var item: Int?
    /// The row's SKU when it could be read.
    public var sku: String?
    public var reason: String

    public init(line: Int? = nil, item: Int? = nil, sku: String? = nil, reason: String) {
        self.line = line
        self.item = item
        self.sku = sku
        self.reason = reason
    }

    /// `line 7: …` or `item 3: …`, for an admin's error list.
    public var description: String {
        let place = line.map { "line \($0)" } ?? item.map { "item \($0)" } ?? "file"
        return "\(place)\(sku.map { " (sku \($0))" } ?? ""): \(reason)"
    }
}
