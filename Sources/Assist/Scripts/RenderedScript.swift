/// A script body with its variables filled: the text for the composer and what is still wrong
/// with it.
public struct RenderedScript: Codable, Sendable, Hashable {
    /// The text with every known, non-empty variable replaced by its value; a flagged placeholder
    /// stays as written (`{{order.id}}`) so the agent sees where to fill in.
    public var text: String
    /// In body order; empty when the reply can go as it is.
    public var flags: [TemplateFlag]

    public init(text: String, flags: [TemplateFlag]) {
        self.text = text
        self.flags = flags
    }

    /// True when nothing was flagged: the workspace may send without asking the agent to look.
    public var isReady: Bool { flags.isEmpty }
}
