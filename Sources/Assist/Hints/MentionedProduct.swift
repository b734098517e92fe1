/// A product named in the conversation (the server resolves SKUs, product cards and links against
/// the catalog) with its stock, for ``HintRuleKind/outOfStock`` rules.
public struct MentionedProduct: Codable, Sendable, Hashable {
    public var sku: String
    public var title: String
    /// Units available; 0 or less is out of stock. `nil` when the shop does not track stock for it.
    public var stock: Int?

    public init(sku: String, title: String, stock: Int?) {
        self.sku = sku
        self.title = title
        self.stock = stock
    }
}
