/// One thing wrong in an imported ``ScriptFile``: which entry and why.
public struct ScriptImportIssue: Codable, Sendable, Hashable, CustomStringConvertible {
    public enum Section: String, Codable, Sendable, Hashable { case scripts, flows }

    public var section: Section
    /// The entry's position in its section, from 0.
    public var index: Int
    /// The entry's id (a script's id, a flow's department) when it had one.
    public var id: String?
    public var reason: String

    public init(section: Section, index: Int, id: String?, reason: String) {
        self.section = section
        self.index = index
        self.id = id
        self.reason = reason
    }

    public var description: String { "\(section.rawValue)[\(index)]\(id.map { " (\($0))" } ?? ""): \(reason)" }
}
