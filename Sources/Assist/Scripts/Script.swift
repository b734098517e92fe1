/// One canned reply of the script library: what the agent picks with `/` in the workspace.
///
/// JSON (optional fields may be left out):
/// ```json
/// { "id": "greet-1", "shortCode": "hi", "title": "Greeting",
///   "body": "Hello {{shopper.name}}, I am {{agent.name}}. How can I help?",
///   "department": "sales", "tags": ["greeting"], "attachment": {"type": "none"} }
/// ```
public struct Script: Codable, Sendable, Hashable, Identifiable {
    /// Stable identity (kept when the short code or text is edited): letters, digits, `.`, `_`,
    /// `-`, 1 to ``maximumIDLength`` characters.
    public var id: String
    /// What the agent types after `/`: `[a-z0-9_-]{1,32}`, unique in the library.
    public var shortCode: String
    /// 1 to ``maximumTitleLength`` characters.
    public var title: String
    /// The reply with its `{{namespace.name}}` placeholders (``ScriptTemplate``): 1 to
    /// ``maximumBodyLength`` characters, at most ``ScriptTemplate/maximumPlaceholders`` placeholders.
    public var body: String
    /// The department whose agents see it; `nil` for every department.
    public var department: String?
    /// Free words for search and grouping; at most ``maximumTags`` of 1 to ``maximumTagLength`` characters.
    public var tags: [String]
    /// A product card or a coupon sent with the text.
    public var attachment: ScriptAttachment

    public static let maximumIDLength = 64
    public static let maximumShortCodeLength = 32
    public static let maximumTitleLength = 120
    public static let maximumBodyLength = 4_000
    public static let maximumTags = 16
    public static let maximumTagLength = 32
    public static let maximumDepartmentLength = 64

    public init(
        id: String, shortCode: String, title: String, body: String, department: String? = nil, tags: [String] = [],
        attachment: ScriptAttachment = .none
    ) {
        self.id = id
        self.shortCode = shortCode
        self.title = title
        self.body = body
        self.department = department
        self.tags = tags
        self.attachment = attachment
    }

    private enum CodingKeys: String, CodingKey { case id, shortCode, title, body, department, tags, attachment }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        shortCode = try c.decode(String.self, forKey: .shortCode)
        title = try c.decode(String.self, forKey: .title)
        body = try c.decode(String.self, forKey: .body)
        department = try c.decodeIfPresent(String.self, forKey: .department)
        tags = try c.decodeIfPresent([String].self, forKey: .tags) ?? []
        attachment = try c.decodeIfPresent(ScriptAttachment.self, forKey: .attachment) ?? .none
    }

    /// Whether `code` is a valid short code: `[a-z0-9_-]{1,32}`.
    public static func isValidShortCode(_ code: String) -> Bool {
        !code.isEmpty && code.utf8.count <= maximumShortCodeLength
            && code.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F || $0 == 0x2D }
    }

    static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= maximumIDLength
            && id.utf8.allSatisfy {
                (0x61...0x7A).contains($0) || (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F || $0 == 0x2D
                    || $0 == 0x2E
            }
    }

    /// Checks every documented bound; `invalid_argument` naming the field, `too_large` for a
    /// body with more than ``ScriptTemplate/maximumPlaceholders`` placeholders.
    public func validate() throws(AssistError) {
        guard Self.isValidID(id) else {
            throw AssistError(.invalidArgument, "id must be 1 to \(Self.maximumIDLength) letters, digits, '.', '_' or '-'")
        }
        guard Self.isValidShortCode(shortCode) else {
            throw AssistError(.invalidArgument, "shortCode \"\(shortCode.prefix(40))\" must match [a-z0-9_-]{1,32}")
        }
        guard !title.isEmpty, title.count <= Self.maximumTitleLength else {
            throw AssistError(.invalidArgument, "title must have 1 to \(Self.maximumTitleLength) characters")
        }
        guard !body.isEmpty, body.count <= Self.maximumBodyLength else {
            throw AssistError(.invalidArgument, "body must have 1 to \(Self.maximumBodyLength) characters")
        }
        if let department, department.isEmpty || department.count > Self.maximumDepartmentLength {
            throw AssistError(.invalidArgument, "department must have 1 to \(Self.maximumDepartmentLength) characters or be null")
        }
        guard tags.count <= Self.maximumTags else { throw AssistError(.invalidArgument, "more than \(Self.maximumTags) tags") }
        for tag in tags where tag.isEmpty || tag.count > Self.maximumTagLength {
            throw AssistError(.invalidArgument, "a tag must have 1 to \(Self.maximumTagLength) characters")
        }
        try attachment.validate()
        guard ScriptTemplate(body).placeholderCount <= ScriptTemplate.maximumPlaceholders else {
            throw AssistError(.tooLarge, "body has more than \(ScriptTemplate.maximumPlaceholders) placeholders")
        }
    }
}
