/// How the shop ranks a shopper. VIP shoppers skip the bot (``BotTriage`` hands them off at once)
/// and the queue may serve them first.
public enum ShopperTier: String, Sendable, Hashable, Codable, CaseIterable {
    case standard
    case vip
}
