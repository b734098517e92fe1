/// ISO 4217 currency codes and their minor units: how many decimals a price has, so that `49.90`
/// in a CSV becomes 4,990 cents and 4,990 cents prints as `49.90`.
public enum Currency {
    /// Currencies whose minor unit is not a hundredth (ISO 4217 list, "minor unit" column).
    /// Every other code has 2 decimals.
    static let exponents: [String: Int] = [
        "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0, "UGX": 0,
        "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
        "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
        "CLF": 4, "UYW": 4,
    ]

    /// Three uppercase ASCII letters. (Whether the code is assigned is the shop's business: a new
    /// currency should not need a release.)
    public static func isValidCode(_ code: String) -> Bool {
        let u = code.utf8
        return u.count == 3 && u.allSatisfy { $0 >= 0x41 && $0 <= 0x5A }
    }

    /// The number of decimals of the currency's minor unit: 2 unless listed otherwise (JPY 0, KWD 3).
    public static func minorUnitDigits(_ code: String) -> Int { exponents[code] ?? 2 }

    /// `amountMinor` as a decimal with the currency's digits and its code after a space:
    /// `4990, "EUR"` → `"49.90 EUR"`, `1500, "JPY"` → `"1500 JPY"`, `-250, "USD"` → `"-2.50 USD"`.
    ///
    /// Why the code and not a symbol: `$` is ambiguous (USD, CAD, AUD, MXN…) and a symbol's place
    /// depends on the locale; the agent's UI may localise from the minor units and the code.
    public static func format(_ amountMinor: Int64, _ code: String) -> String {
        let digits = minorUnitDigits(code)
        let negative = amountMinor < 0
        let magnitude = amountMinor.magnitude
        guard digits > 0 else { return "\(negative ? "-" : "")\(magnitude) \(code)" }
        var scale: UInt64 = 1
        for _ in 0..<digits { scale *= 10 }
        let fraction = String(magnitude % scale)
        let padded = String(repeating: "0", count: digits - fraction.count) + fraction
        return "\(negative ? "-" : "")\(magnitude / scale).\(padded) \(code)"
    }

    /// Parses a decimal price (`49.90`, `49.9`, `49`, `0.5`) into minor units of `code`.
    /// No sign, no thousands separators, no exponent, at most the currency's number of decimals.
    /// - Returns: nil if the text is not such a number or exceeds ``Product/maximumPriceMinor``.
    public static func parseMinor(_ text: some StringProtocol, _ code: String) -> Int64? {
        let digits = minorUnitDigits(code)
        var whole: Int64 = 0
        var fraction: Int64 = 0
        var fractionDigits = 0
        var seenPoint = false
        var seenDigit = false
        for byte in text.utf8 {
            switch byte {
            case 0x30...0x39:
                let d = Int64(byte - 0x30)
                seenDigit = true
                if seenPoint {
                    fractionDigits += 1
                    guard fractionDigits <= digits else { return nil }
                    fraction = fraction * 10 + d
                } else {
                    guard whole <= Product.maximumPriceMinor else { return nil }
                    whole = whole * 10 + d
                }
            case 0x2E where !seenPoint && digits > 0: seenPoint = true
            default: return nil
            }
        }
        guard seenDigit else { return nil }
        var scale: Int64 = 1
        for _ in 0..<digits { scale *= 10 }
        for _ in fractionDigits..<digits { fraction *= 10 }
        let (product, overflow) = whole.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        let total = product + fraction
        return total <= Product.maximumPriceMinor ? total : nil
    }
}
