extension ScriptAttachment {
    /// What a tracking token is minted for when a reply with this attachment is sent: the product
    /// card's SKU or the coupon's code; `nil` for a reply without an attachment.
    public var trackedItem: TrackedItem? {
        switch self {
        case .none: nil
        case .productCard(let sku): .productCard(sku: sku)
        case .coupon(let code, _): .coupon(code: code)
        }
    }
}
