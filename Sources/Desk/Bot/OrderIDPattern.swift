/// How the bot finds an order id in a shopper's message: a regular expression (Swift `Regex`
/// syntax) whose first capture group that matched is the id (the whole match if it has no groups).
///
/// The default, ``standard``, finds `#12345`, `order 12345`, `order no. 12345`, `order number:
/// 12345`, `Bestellung 12345`, `Bestellnummer 12345`, `Auftrag Nr. 12345` — 4 to 12 digits, in any
/// letter case. A shop whose ids look different ("SR-2026-0042") configures its own.
///
/// After the bot asked for an order number, a message that is only an id (`12345`, `#12345`, or
/// whatever the pattern matches as the whole message) is taken too (``BotTriage``).
///
/// The pattern comes from the shop's admin, not from a shopper; it runs on at most the first
/// 4,000 characters of a message.
public struct OrderIDPattern: Sendable, Hashable {
    /// The pattern's source.
    public let source: String

    /// Order ids of 4–12 digits after "#", "order (no./number/id)", "Bestellung (Nr.)",
    /// "Bestellnummer" and the like. A literal, checked by `IntentRecognizerTests.theBuiltInConstantsAreValid`.
    public static let standard = OrderIDPattern(
        checked: #"(?i)(?:#\s?|\b(?:order|bestellung|auftrag)(?:\s*(?:no\.?|nr\.?|number|nummer|id))?\s*[:#]?\s*|\b(?:bestellnummer|auftragsnummer|order-?id)\s*[:#]?\s*)(\d{4,12})\b"#
    )

    private init(checked source: String) { self.source = source }

    /// - Throws: ``DeskError`` `invalid_argument` when `source` is not a regular expression.
    public init(_ source: String) throws(DeskError) {
        guard source.count <= 500 else { throw DeskError(.invalidArgument, "the order id pattern is longer than 500 characters") }
        do {
            _ = try Regex(source)
        } catch {
            throw DeskError(.invalidArgument, "the order id pattern is not a regular expression: \(error)")
        }
        self.source = source
    }

    /// The first order id in `text`, if any.
    public func firstID(in text: String) -> String? {
        // `Regex` is not `Sendable`, so it is compiled where it is used (microseconds).
        guard let regex = try? Regex(source), let match = String(text.prefix(4_000)).firstMatch(of: regex) else { return nil }
        return Self.id(of: match)
    }

    /// The id if the whole of `text` (trimmed, without a leading `#`) is one: digits only (4–12) or
    /// a whole match of the pattern.
    public func wholeID(in text: String) -> String? {
        var t = Substring(text.prefix(200)).drop { $0.isWhitespace }
        while t.last?.isWhitespace == true { t = t.dropLast() }
        if t.first == "#" { t = t.dropFirst().drop { $0.isWhitespace } }
        if (4...12).contains(t.count), t.allSatisfy({ $0.isASCII && $0.isNumber }) { return String(t) }
        guard let regex = try? Regex(source), let match = try? regex.wholeMatch(in: String(text.prefix(200)).trimmingWhitespace)
        else { return nil }
        return Self.id(of: match)
    }

    private static func id(of match: Regex<AnyRegexOutput>.Match) -> String? {
        let output = match.output
        for i in 1..<max(1, output.count) {
            if let captured = output[i].substring { return String(captured) }
        }
        return String(output[0].substring ?? "")
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
