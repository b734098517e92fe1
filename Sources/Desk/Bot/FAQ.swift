import Foundation

/// A shop's FAQ: the file an admin uploads (or the admin API's body) that the bot answers from.
/// The format is documented in docs/desk.md, "Bot":
///
/// ```json
/// { "version": 1,
///   "entries": [ { "id": "returns-en", "question": "…", "answer": "…",
///                  "keywords": ["return"], "department": "sales", "locale": "en" } ] }
/// ```
///
/// Read one with ``init(json:departments:)``, which checks every rule and says which one an
/// entry broke; build the search over it with ``FAQIndex``.
public struct FAQ: Codable, Hashable, Sendable {
    /// The only format version so far.
    public static let currentVersion = 1
    /// A file larger than this is refused before it is parsed.
    public static let maximumFileSize = 16 * 1024 * 1024
    /// More entries than this are refused (search time grows with the entries; see ``FAQIndex``).
    public static let maximumEntries = 20_000

    public var version: Int
    public var entries: [FAQEntry]

    public init(entries: [FAQEntry]) {
        self.version = Self.currentVersion
        self.entries = entries
    }

    /// Reads and validates an FAQ file.
    /// - Parameters:
    ///   - json: the file's bytes (UTF-8 JSON).
    ///   - departments: the shop's departments; an entry naming another is refused. `nil` skips
    ///     that check (for a file read before the shop's departments are known).
    /// - Throws: ``DeskError`` `invalid_faq` (not JSON, a missing or mistyped field, a broken rule —
    ///   the detail names the entry and the rule) or `unknown_department`.
    public init(json: Data, departments: Set<String>? = nil) throws(DeskError) {
        guard json.count <= Self.maximumFileSize else {
            throw DeskError(.invalidFAQ, "the file is larger than \(Self.maximumFileSize) bytes")
        }
        do {
            self = try JSONDecoder().decode(FAQ.self, from: json)
        } catch let error as DecodingError {
            throw DeskError(.invalidFAQ, Self.explain(error))
        } catch {
            throw DeskError(.invalidFAQ, "not an FAQ file: \(error)")
        }
        try validate(departments: departments)
    }

    /// Checks the version, the number of entries, that ids are unique, and every entry
    /// (``FAQEntry/validate(departments:)``).
    public func validate(departments: Set<String>? = nil) throws(DeskError) {
        guard version == Self.currentVersion else {
            throw DeskError(.invalidFAQ, "version \(version) is not supported (expected \(Self.currentVersion))")
        }
        guard entries.count <= Self.maximumEntries else {
            throw DeskError(.invalidFAQ, "more than \(Self.maximumEntries) entries")
        }
        var seen = Set<String>()
        for entry in entries {
            try entry.validate(departments: departments)
            guard seen.insert(entry.id).inserted else {
                throw DeskError(.invalidFAQ, "entry \"\(entry.id)\": the id is used twice")
            }
        }
    }

    /// The file's JSON (pretty-printed, keys sorted) for an admin to download.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    private static func explain(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "the file" : String(p.drop { $0 == "." })
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context)): \"\(key.stringValue)\" is missing"
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(type)"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(type), found null"
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
