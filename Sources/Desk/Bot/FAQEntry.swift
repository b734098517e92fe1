/// One question the shop's FAQ answers, as an admin writes it in the FAQ file (``FAQ``) or sends
/// it to the admin API. The bot searches ``question``, ``keywords`` and ``answer`` (in that order
/// of weight, see ``FAQIndex``) and replies with ``answer``.
///
/// JSON, with the optional fields left out or `null`:
/// ```json
/// { "id": "returns-en", "question": "How do I return an item?",
///   "answer": "You have 30 days …", "keywords": ["return", "refund"],
///   "department": "sales", "locale": "en" }
/// ```
public struct FAQEntry: Codable, Hashable, Sendable, Identifiable {
    /// Unique in its FAQ; letters, digits, `.`, `_`, `-`, at most ``maximumIDLength`` characters.
    /// Stored with a consultation's bot replies, so keep it stable when editing the text.
    public var id: String
    /// The question as a shopper would ask it.
    public var question: String
    /// The bot's reply, sent as it is.
    public var answer: String
    /// Words and short phrases shoppers use for this question that the question itself may lack
    /// ("refund", "money back"); weighted highest.
    public var keywords: [String]
    /// The department this entry belongs to; `nil` for one that serves every department.
    public var department: String?
    /// The language of the entry as a BCP 47 tag ("en", "de", "de-AT"); `nil` for any language.
    /// Only the language subtag is compared (see ``BotLanguage``).
    public var locale: String?

    public init(
        id: String, question: String, answer: String, keywords: [String] = [], department: String? = nil,
        locale: String? = nil
    ) {
        self.id = id
        self.question = question
        self.answer = answer
        self.keywords = keywords
        self.department = department
        self.locale = locale
    }

    private enum CodingKeys: String, CodingKey { case id, question, answer, keywords, department, locale }

    /// `keywords` may be left out (an empty list).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        question = try c.decode(String.self, forKey: .question)
        answer = try c.decode(String.self, forKey: .answer)
        keywords = try c.decodeIfPresent([String].self, forKey: .keywords) ?? []
        department = try c.decodeIfPresent(String.self, forKey: .department)
        locale = try c.decodeIfPresent(String.self, forKey: .locale)
    }

    // MARK: Limits

    public static let maximumIDLength = 64
    public static let maximumQuestionLength = 500
    public static let maximumAnswerLength = 4_000
    public static let maximumKeywords = 32
    public static let maximumKeywordLength = 64

    /// Checks the entry against the rules of the format (docs/desk.md, "Bot").
    /// - Parameter departments: the shop's departments; `nil` skips that check.
    /// - Throws: ``DeskError`` `invalid_faq` naming the entry and the rule, or `unknown_department`.
    public func validate(departments: Set<String>? = nil) throws(DeskError) {
        func fail(_ rule: String) -> DeskError { DeskError(.invalidFAQ, "entry \"\(id.prefix(80))\": \(rule)") }
        guard !id.isEmpty, id.count <= Self.maximumIDLength,
            id.unicodeScalars.allSatisfy({ $0.isASCII && (Self.idCharacters.contains($0)) })
        else { throw fail("id is 1–\(Self.maximumIDLength) characters of A–Z a–z 0–9 . _ -") }
        guard Self.hasText(question) else { throw fail("question is empty") }
        guard question.count <= Self.maximumQuestionLength else {
            throw fail("question is longer than \(Self.maximumQuestionLength) characters")
        }
        guard Self.hasText(answer) else { throw fail("answer is empty") }
        guard answer.count <= Self.maximumAnswerLength else {
            throw fail("answer is longer than \(Self.maximumAnswerLength) characters")
        }
        guard keywords.count <= Self.maximumKeywords else { throw fail("more than \(Self.maximumKeywords) keywords") }
        for k in keywords {
            guard Self.hasText(k), k.count <= Self.maximumKeywordLength else {
                throw fail("a keyword is empty or longer than \(Self.maximumKeywordLength) characters")
            }
        }
        if let department {
            guard Self.hasText(department), department.count <= Self.maximumIDLength else {
                throw fail("department is empty or longer than \(Self.maximumIDLength) characters")
            }
            if let departments, !departments.contains(department) {
                throw DeskError(.unknownDepartment, "entry \"\(id)\": no department \"\(department.prefix(80))\"")
            }
        }
        if let locale {
            guard BotLanguage.isWellFormedLocale(locale) else {
                throw fail("locale \"\(locale.prefix(40))\" is not a language tag like en, de or de-AT")
            }
        }
    }

    private static let idCharacters: Set<Unicode.Scalar> = Set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-".unicodeScalars)

    private static func hasText(_ s: String) -> Bool { s.contains { !$0.isWhitespace } }
}
