/// What a hint rule watches (docs/assist.md, "Hints").
public enum HintRuleKind: String, Codable, Sendable, Hashable, CaseIterable {
    /// Banned or risky phrases in the agent's draft: block sending, or warn, with better wording.
    case phrase
    /// The shopper wrote a trigger term ("size") and the agent has not used any of the required
    /// terms ("height", "weight") in the conversation or the draft.
    case missingInformation
    /// The shopper's oldest unanswered message is older than the threshold.
    case waitingTooLong
    /// The shopper's messages hit frustration terms at least N times: suggest a supervisor.
    case frustration
    /// A product mentioned in the conversation has no stock.
    case outOfStock
}
