import Foundation

/// What the hint engine looks at, for one keystroke or one incoming message.
public struct HintContext: Sendable, Hashable {
    /// The agent's draft; `nil` when evaluating for an incoming shopper message. Read up to
    /// ``HintEngine/maximumDraftLength`` characters.
    public var draft: String?
    /// The conversation, oldest first; only the last ``HintEngine/maximumMessages`` are read,
    /// each up to ``HintEngine/maximumMessageLength`` characters.
    public var messages: [HintMessage]
    public var now: Date
    /// Products named in the conversation, with stock; the first ``HintEngine/maximumMentionedProducts``.
    public var mentionedProducts: [MentionedProduct]
    /// The consultation's department (rules scoped to another are skipped).
    public var department: String?

    public init(
        draft: String? = nil, messages: [HintMessage] = [], now: Date, mentionedProducts: [MentionedProduct] = [],
        department: String? = nil
    ) {
        self.draft = draft
        self.messages = messages
        self.now = now
        self.mentionedProducts = mentionedProducts
        self.department = department
    }
}
