/// A product's new stock, by SKU (``Catalog/setStock(_:)``).
public struct StockUpdate: Codable, Hashable, Sendable {
    public var sku: String
    public var stock: Int

    public init(sku: String, stock: Int) {
        self.sku = sku
        self.stock = stock
    }
}
