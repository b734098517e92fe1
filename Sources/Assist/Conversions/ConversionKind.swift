/// What the shop reports about a tracked item.
public enum ConversionKind: String, Codable, Sendable, Hashable, CaseIterable {
    case click
    case addToCart
    case order
}
