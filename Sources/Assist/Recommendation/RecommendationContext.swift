import Foundation

/// What the recommender knows about an open consultation: the shopper's events, the product the
/// consultation started from, the SKUs mentioned in the chat (``Catalog/mentions(in:)``), a
/// category for a shopper with no history, what not to show, and the clock.
public struct RecommendationContext: Sendable {
    /// The shopper's retained events (``ShopperEventLog/events(of:)``); empty for a new shopper.
    public var events: [ShopperEvent]
    /// The consultation's product context (the page the shopper asked from).
    public var productSKU: String?
    /// SKUs mentioned in the chat, in order of mention (at most 20 are used).
    public var mentionedSKUs: [String]
    /// A category to start from when nothing else is known (the page's category).
    public var category: String?
    /// SKUs never to recommend (already sent, dismissed by the agent).
    public var exclude: Set<String>
    /// The clock, for time decay of views.
    public var now: Date

    public init(
        events: [ShopperEvent] = [], productSKU: String? = nil, mentionedSKUs: [String] = [], category: String? = nil, exclude: Set<String> = [],
        now: Date
    ) {
        self.events = events
        self.productSKU = productSKU
        self.mentionedSKUs = mentionedSKUs
        self.category = category
        self.exclude = exclude
        self.now = now
    }
}
