/// Something in a script body the agent should fix before the reply is sent: the workspace marks
/// it in the composer (``ScriptTemplate/render(_:)``).
public struct TemplateFlag: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, Hashable, CaseIterable {
        /// `{{name}}` with a name not in ``ScriptVariable`` (a typo, or a variable the server does not fill).
        case unknownVariable
        /// A documented variable the consultation has no value for (no order named yet).
        case missingValue
        /// A documented variable whose value is empty or only spaces.
        case emptyValue
        /// `{{` … `}}` around something that is not a variable name (`{{ }}`, `{{shopper name}}`),
        /// or a `{{` that another `{{` follows before its `}}` (nested braces).
        case malformed
        /// A `{{` without a `}}` after it.
        case unterminated
        /// More than ``ScriptTemplate/maximumPlaceholders`` placeholders: the rest are left as written.
        case tooManyPlaceholders
    }

    public var kind: Kind
    /// The variable's name, for the variable kinds.
    public var name: String?
    /// Where the flagged text starts in the body, in UTF-16 code units (what a browser's string
    /// indexes count).
    public var offset: Int
    /// The flagged text as written (`{{order.id}}`, or the `{{` of an unterminated one).
    public var text: String

    public init(kind: Kind, name: String? = nil, offset: Int, text: String) {
        self.kind = kind
        self.name = name
        self.offset = offset
        self.text = text
    }
}
