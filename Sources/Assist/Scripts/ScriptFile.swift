import Foundation

/// The import/export file of the script library and the guided flows (admin API, docs/assist.md):
///
/// ```json
/// { "version": 1,
///   "scripts": [ { "id": "greet-1", "shortCode": "hi", "title": "Greeting", "body": "Hello {{shopper.name}}!" } ],
///   "flows": [ { "department": "sales", "title": "Sales", "steps": [ { "id": "greet", "title": "Greet", "scripts": ["hi"] } ] } ] }
/// ```
///
/// Either section may be left out: a file with only `scripts` imports (or exports) the scripts
/// alone, one with only `flows` the flows alone. Read with ``init(json:)``, apply with
/// ``ScriptImport``.
public struct ScriptFile: Codable, Sendable, Hashable {
    public static let currentVersion = 1
    /// A larger file is refused (`too_large`) before it is parsed.
    public static let maximumFileSize = 8 * 1024 * 1024

    public var version: Int
    public var scripts: [Script]?
    public var flows: [GuidedFlow]?

    public init(scripts: [Script]? = nil, flows: [GuidedFlow]? = nil) {
        self.version = Self.currentVersion
        self.scripts = scripts
        self.flows = flows
    }

    /// Reads a file: `too_large` past ``maximumFileSize``, `invalid_import` for anything that is
    /// not a version-1 file of the documented shape (the detail says where). The rules of each
    /// script and flow are checked by ``ScriptImport``, which reports them all.
    public init(json: Data) throws(AssistError) {
        guard json.count <= Self.maximumFileSize else {
            throw AssistError(.tooLarge, "the file is larger than \(Self.maximumFileSize) bytes")
        }
        do {
            self = try JSONDecoder().decode(ScriptFile.self, from: json)
        } catch let DecodingError.keyNotFound(key, context) {
            throw AssistError(.invalidImport, "missing \(Self.path(context.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw AssistError(.invalidImport, "wrong type at \(Self.path(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw AssistError(.invalidImport, "null at \(Self.path(context.codingPath))")
        } catch let DecodingError.dataCorrupted(context) {
            throw AssistError(.invalidImport, "\(Self.path(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw AssistError(.invalidImport, "not a script file: \(error)")
        }
        guard version == Self.currentVersion else {
            throw AssistError(.invalidImport, "version \(version) is not supported (expected \(Self.currentVersion))")
        }
    }

    /// The file as JSON: keys sorted and indented, so an export diffs well in version control.
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // Strings, arrays and enums only: encoding cannot fail.
        return (try? encoder.encode(self)) ?? Data()
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
    }
}
