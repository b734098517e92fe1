extension Product {
    /// The price for display, `"49.90 EUR"`: the amount with the currency's decimals, a space and
    /// the ISO code (see ``Currency/format(_:_:)`` for why not `€49.90`).
    public var formattedPrice: String { Currency.format(priceMinor, currency) }
}
