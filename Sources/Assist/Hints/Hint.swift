/// One hint shown beside the composer (``HintEngine/evaluate(_:)``).
public struct Hint: Codable, Sendable, Hashable {
    public var ruleID: String
    public var kind: HintRuleKind
    public var severity: HintSeverity
    /// The rule's message.
    public var message: String
    /// The rule's suggestion (better wording, "escalate to a supervisor").
    public var suggestion: String?
    /// What fired it, as the rule wrote it: the phrase found, the shopper's trigger term, the
    /// first frustration term, the SKU of the product out of stock; `nil` for waiting.
    public var matched: String?
    /// Waiting too long: how long the shopper has waited, in whole seconds. Frustration: the hits.
    public var value: Int?

    public init(
        ruleID: String, kind: HintRuleKind, severity: HintSeverity, message: String, suggestion: String? = nil, matched: String? = nil,
        value: Int? = nil
    ) {
        self.ruleID = ruleID
        self.kind = kind
        self.severity = severity
        self.message = message
        self.suggestion = suggestion
        self.matched = matched
        self.value = value
    }
}
