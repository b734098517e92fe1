/// One recommended product with its score and why, for the agent to judge before sending it.
public struct Recommendation: Hashable, Sendable {
    /// The signals of ``Recommender``'s scoring, each already multiplied by its weight.
    public struct Signals: Hashable, Sendable, Codable {
        public var discussed = 0.0
        public var inCart = 0.0
        public var viewed = 0.0
        public var boughtTogether = 0.0
        public var similar = 0.0
        public var popularity = 0.0

        public init() {}

        public var total: Double { discussed + inCart + viewed + boughtTogether + similar + popularity }
    }

    public var product: Product
    /// The sum of ``signals`` (higher is better).
    public var score: Double
    public var signals: Signals
    /// Human-readable reasons, strongest first: "mentioned in chat", "bought together with SKU-12 in
    /// 14 orders", "same category (Shoes) as what they viewed".
    public var reasons: [String]

    public var sku: String { product.sku }
}
