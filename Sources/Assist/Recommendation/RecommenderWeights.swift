/// The weights and bounds of ``Recommender``'s score. Each signal is in [0, 1] before its weight,
/// so a weight is the most that signal can add; the defaults order the signals as the issue asks:
/// discussed now > in the cart > viewed recently > bought together > similar > popular.
public struct RecommenderWeights: Hashable, Sendable, Codable {
    /// The consultation's product, or a SKU mentioned in the chat.
    public var discussed = 10.0
    /// In the shopper's cart (decays with the time since it was added).
    public var inCart = 6.0
    /// Viewed (decays with the time since the last view).
    public var viewed = 4.0
    /// Bought together with what they discussed, have in the cart, bought or viewed.
    public var boughtTogether = 3.0
    /// Same category and shared attributes with those.
    public var similar = 2.0
    /// Popular in the shop (log-scaled to the most popular candidate): the cold-start signal.
    public var popularity = 1.0
    /// Views and cart adds lose half their weight every this many hours.
    public var recentHalfLifeHours = 72.0
    /// Purchases, as seeds for "bought together" and "similar", lose half every this many hours.
    public var purchaseHalfLifeHours = 24.0 * 60

    // Candidate bounds: what keeps a call's work independent of the catalog's size.
    /// Seeds (products the shopper interacted with) used for neighbourhoods.
    public var maximumSeeds = 30
    /// Partners per seed from the co-purchase index.
    public var partnersPerSeed = 30
    /// Categories whose neighbourhood is searched.
    public var maximumCategories = 3
    /// Products taken from each category (by shared attributes, then popularity).
    public var perCategory = 150
    /// Products of a category scanned at most (a category larger than this is sampled in catalog order).
    public var categoryScanLimit = 20_000
    /// Globally popular products added as candidates (the cold-start fallback).
    public var popularCandidates = 50
    /// Candidates scored at most.
    public var maximumCandidates = 2_000

    public init() {}
    public static let `default` = RecommenderWeights()
}
