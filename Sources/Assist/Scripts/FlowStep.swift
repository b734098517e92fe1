/// One step of a guided flow ("ask needs"): what the workspace shows beside the composer while the
/// consultation is at it.
public struct FlowStep: Codable, Sendable, Hashable, Identifiable {
    /// Unique in its flow: `[a-z0-9_-]{1,32}` (like a short code).
    public var id: String
    /// 1 to ``Script/maximumTitleLength`` characters ("Ask about needs").
    public var title: String
    /// What the agent should do at this step; at most ``maximumGuidanceLength`` characters.
    public var guidance: String
    /// Short codes of the scripts offered at this step, at most ``maximumScripts``.
    public var scripts: [String]

    public static let maximumGuidanceLength = 2_000
    public static let maximumScripts = 10

    public init(id: String, title: String, guidance: String = "", scripts: [String] = []) {
        self.id = id
        self.title = title
        self.guidance = guidance
        self.scripts = scripts
    }

    private enum CodingKeys: String, CodingKey { case id, title, guidance, scripts }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        title = try c.decode(String.self, forKey: .title)
        guidance = try c.decodeIfPresent(String.self, forKey: .guidance) ?? ""
        scripts = try c.decodeIfPresent([String].self, forKey: .scripts) ?? []
    }

    /// `invalid_argument` naming the broken bound.
    public func validate() throws(AssistError) {
        guard Script.isValidShortCode(id) else { throw AssistError(.invalidArgument, "step id \"\(id.prefix(40))\" must match [a-z0-9_-]{1,32}") }
        guard !title.isEmpty, title.count <= Script.maximumTitleLength else {
            throw AssistError(.invalidArgument, "step \(id): title must have 1 to \(Script.maximumTitleLength) characters")
        }
        guard guidance.count <= Self.maximumGuidanceLength else {
            throw AssistError(.invalidArgument, "step \(id): guidance is longer than \(Self.maximumGuidanceLength) characters")
        }
        guard scripts.count <= Self.maximumScripts else {
            throw AssistError(.invalidArgument, "step \(id): more than \(Self.maximumScripts) scripts")
        }
        for code in scripts where !Script.isValidShortCode(code) {
            throw AssistError(.invalidArgument, "step \(id): \"\(code.prefix(40))\" is not a short code")
        }
    }
}
