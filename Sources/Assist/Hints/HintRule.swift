/// One hint rule, as the admin API takes it: rules are data, compiled into a ``HintEngine``.
///
/// ```json
/// { "id": "no-cheap", "kind": "phrase", "severity": "warn", "terms": ["cheap", "no idea"],
///   "message": "Sounds careless to a shopper.", "suggestion": "Say \"good value\" or \"let me check\"." }
/// { "id": "size-needs-height", "kind": "missingInformation", "terms": ["size", "fit"],
///   "required": ["height", "weight", "tall"], "message": "Ask for height and weight before recommending a size." }
/// { "id": "wait-2m", "kind": "waitingTooLong", "thresholdSeconds": 120, "message": "The shopper is waiting." }
/// { "id": "angry", "kind": "frustration", "terms": ["ridiculous", "still waiting", "useless"], "minimumHits": 2,
///   "message": "The shopper sounds frustrated.", "suggestion": "Escalate to a supervisor." }
/// { "id": "oos", "kind": "outOfStock", "message": "Out of stock: offer an alternative." }
/// ```
///
/// Terms are matched as whole words, case-insensitively and with diacritics folded
/// (``HintEngine``); a term of several words matches those words in a row.
public struct HintRule: Codable, Sendable, Hashable, Identifiable {
    /// `[A-Za-z0-9._-]{1,64}`, unique among the rules; hints and counters name it.
    public var id: String
    public var kind: HintRuleKind
    /// A disabled rule is kept but never fires.
    public var enabled: Bool
    /// Only consultations of this department; `nil` for all.
    public var department: String?
    /// `block` is for ``HintRuleKind/phrase`` rules only; default `warn`.
    public var severity: HintSeverity
    /// Phrase: the phrases; missing information: the shopper's trigger terms; frustration: the
    /// terms counted in the shopper's messages. Up to ``HintEngine/maximumTermsPerRule``.
    public var terms: [String]
    /// Missing information: the agent has asked when any of these appears in an agent message or
    /// the draft.
    public var required: [String]
    /// Waiting too long: seconds, 1 to 86,400.
    public var thresholdSeconds: Int?
    /// Frustration: hits (every occurrence of a term in a shopper message counts) needed to fire,
    /// 1 to 50; default 2.
    public var minimumHits: Int?
    /// What the agent reads: 1 to ``maximumMessageLength`` characters.
    public var message: String
    /// Better wording or the next thing to do; at most ``maximumSuggestionLength`` characters.
    public var suggestion: String?

    public static let maximumMessageLength = 300
    public static let maximumSuggestionLength = 500
    public static let defaultMinimumHits = 2

    public init(
        id: String, kind: HintRuleKind, enabled: Bool = true, department: String? = nil, severity: HintSeverity = .warn,
        terms: [String] = [], required: [String] = [], thresholdSeconds: Int? = nil, minimumHits: Int? = nil, message: String,
        suggestion: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.enabled = enabled
        self.department = department
        self.severity = severity
        self.terms = terms
        self.required = required
        self.thresholdSeconds = thresholdSeconds
        self.minimumHits = minimumHits
        self.message = message
        self.suggestion = suggestion
    }

    private enum CodingKeys: String, CodingKey {
        case id, kind, enabled, department, severity, terms, required, thresholdSeconds, minimumHits, message, suggestion
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        kind = try c.decode(HintRuleKind.self, forKey: .kind)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        department = try c.decodeIfPresent(String.self, forKey: .department)
        severity = try c.decodeIfPresent(HintSeverity.self, forKey: .severity) ?? .warn
        terms = try c.decodeIfPresent([String].self, forKey: .terms) ?? []
        required = try c.decodeIfPresent([String].self, forKey: .required) ?? []
        thresholdSeconds = try c.decodeIfPresent(Int.self, forKey: .thresholdSeconds)
        minimumHits = try c.decodeIfPresent(Int.self, forKey: .minimumHits)
        message = try c.decode(String.self, forKey: .message)
        suggestion = try c.decodeIfPresent(String.self, forKey: .suggestion)
    }

    /// Checks the bounds and what the kind needs; `invalid_argument` or `too_large` naming the rule.
    public func validate() throws(AssistError) {
        guard Script.isValidID(id) else { throw AssistError(.invalidArgument, "rule id must be 1 to 64 letters, digits, '.', '_' or '-'") }
        guard !message.isEmpty, message.count <= Self.maximumMessageLength else {
            throw AssistError(.invalidArgument, "rule \(id): message must have 1 to \(Self.maximumMessageLength) characters")
        }
        if let suggestion, suggestion.count > Self.maximumSuggestionLength {
            throw AssistError(.invalidArgument, "rule \(id): suggestion is longer than \(Self.maximumSuggestionLength) characters")
        }
        if let department, department.isEmpty || department.count > Script.maximumDepartmentLength {
            throw AssistError(.invalidArgument, "rule \(id): department must have 1 to 64 characters or be null")
        }
        guard terms.count <= HintEngine.maximumTermsPerRule, required.count <= HintEngine.maximumTermsPerRule else {
            throw AssistError(.tooLarge, "rule \(id): more than \(HintEngine.maximumTermsPerRule) terms")
        }
        for term in terms + required {
            let words = TextFolding.words(term).count
            guard term.count <= HintEngine.maximumTermLength, words >= 1, words <= HintEngine.maximumWordsPerTerm else {
                throw AssistError(
                    .invalidArgument,
                    "rule \(id): term \"\(term.prefix(40))\" must have 1 to \(HintEngine.maximumWordsPerTerm) words and at most \(HintEngine.maximumTermLength) characters")
            }
        }
        if severity == .block, kind != .phrase {
            throw AssistError(.invalidArgument, "rule \(id): only phrase rules may block")
        }
        switch kind {
        case .phrase, .frustration:
            guard !terms.isEmpty else { throw AssistError(.invalidArgument, "rule \(id): a \(kind.rawValue) rule needs terms") }
            if kind == .frustration, let n = minimumHits, !(1...50).contains(n) {
                throw AssistError(.invalidArgument, "rule \(id): minimumHits must be 1 to 50")
            }
        case .missingInformation:
            guard !terms.isEmpty, !required.isEmpty else {
                throw AssistError(.invalidArgument, "rule \(id): a missingInformation rule needs terms and required")
            }
        case .waitingTooLong:
            guard let t = thresholdSeconds, (1...86_400).contains(t) else {
                throw AssistError(.invalidArgument, "rule \(id): thresholdSeconds must be 1 to 86,400")
            }
        case .outOfStock: break
        }
    }
}
