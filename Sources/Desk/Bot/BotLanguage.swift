/// The languages the bot speaks and knows the stop words of. A consultation's or an FAQ entry's
/// locale is a BCP 47 tag ("de-AT"); only its language subtag ("de") is compared.
public enum BotLanguage: String, Sendable, Hashable, CaseIterable, Codable {
    case english = "en"
    case german = "de"

    /// The language of `locale`, or `nil` for a locale the bot has no word lists for (or none).
    public init?(locale: String?) {
        guard let subtag = Self.languageSubtag(locale), let language = BotLanguage(rawValue: subtag) else { return nil }
        self = language
    }

    /// The language the bot replies in for a shopper with `locale`: German for `de…`, English
    /// otherwise.
    public static func replyLanguage(for locale: String?) -> BotLanguage { BotLanguage(locale: locale) ?? .english }

    /// "de-AT" → "de", "EN_us" → "en"; `nil` for `nil` or an empty tag.
    public static func languageSubtag(_ locale: String?) -> String? {
        guard let locale else { return nil }
        let subtag = locale.prefix { $0 != "-" && $0 != "_" }.lowercased()
        return subtag.isEmpty ? nil : subtag
    }

    /// A language tag of the form the FAQ accepts: 2–3 letters, then `-` or `_` separated
    /// subtags of 1–8 letters or digits ("en", "de-AT", "zh-Hant-TW"); at most 35 characters.
    public static func isWellFormedLocale(_ locale: String) -> Bool {
        guard locale.count <= 35 else { return false }
        let parts = locale.split(separator: "-", omittingEmptySubsequences: false).flatMap {
            $0.split(separator: "_", omittingEmptySubsequences: false)
        }
        guard let first = parts.first, (2...3).contains(first.count),
            first.unicodeScalars.allSatisfy({ $0.isASCII && $0.properties.isAlphabetic })
        else { return false }
        return parts.dropFirst().allSatisfy { part in
            (1...8).contains(part.count)
                && part.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }
        }
    }
}
