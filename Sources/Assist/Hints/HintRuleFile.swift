import Foundation

/// The import/export file of the hint rules: `{"version": 1, "rules": [ … ]}` (``HintRule`` for
/// one rule's shape). Importing compiles a ``HintEngine`` from the file's rules first, so a file
/// with any broken rule changes nothing.
public struct HintRuleFile: Codable, Sendable, Hashable {
    public static let currentVersion = 1
    public static let maximumFileSize = 8 * 1024 * 1024

    public var version: Int
    public var rules: [HintRule]

    public init(rules: [HintRule]) {
        self.version = Self.currentVersion
        self.rules = rules
    }

    /// Reads and checks a file: `too_large`, `invalid_import` (not JSON, wrong shape or version),
    /// or the first broken rule's error (``HintEngine/init(rules:)``).
    public init(json: Data) throws(AssistError) {
        guard json.count <= Self.maximumFileSize else { throw AssistError(.tooLarge, "the file is larger than \(Self.maximumFileSize) bytes") }
        do {
            self = try JSONDecoder().decode(HintRuleFile.self, from: json)
        } catch {
            throw AssistError(.invalidImport, "not a hint rule file: \(error)")
        }
        guard version == Self.currentVersion else {
            throw AssistError(.invalidImport, "version \(version) is not supported (expected \(Self.currentVersion))")
        }
        _ = try HintEngine(rules: rules)
    }

    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }
}
