/// Applies a ``ScriptFile`` to the library and the flows, all or nothing: every entry is checked
/// first, and on any issue nothing changes and every issue is reported (``issues(_:library:flows:replacing:)``,
/// or the detail of the `invalid_import` error ``apply(_:library:flows:replacing:)`` throws).
///
/// - `replacing: true`: a section present in the file replaces that section (a file with only
///   `flows` leaves the scripts alone); `false`: entries are added or replace the one with the
///   same id (script) or department (flow).
/// - Checks: each script's and flow's rules (``Script/validate()``, ``GuidedFlow/validate(shortCodes:)``
///   against the library as it would be after the import), ids, short codes and flow departments
///   unique in the file and against what is kept, and ``ScriptLibrary/maximumScripts``.
public enum ScriptImport {
    /// What an import leads to.
    public struct Result: Sendable, Hashable {
        public var library: ScriptLibrary
        /// By department.
        public var flows: [GuidedFlow]
    }

    /// At most this many issues are reported (a broken file of 5,000 entries says enough in 100).
    public static let maximumIssues = 100
    /// At most this many flows.
    public static let maximumFlows = 500

    /// Every issue the import of `file` would have; empty when it can be applied.
    public static func issues(
        _ file: ScriptFile, library: ScriptLibrary, flows: [GuidedFlow], replacing: Bool
    ) -> [ScriptImportIssue] {
        switch plan(file, library: library, flows: flows, replacing: replacing) {
        case .failure(let issues): return issues.list
        case .success: return []
        }
    }

    /// The library and flows after importing `file`; throws `invalid_import` (listing the issues)
    /// and changes nothing when there is any issue.
    public static func apply(
        _ file: ScriptFile, library: ScriptLibrary, flows: [GuidedFlow], replacing: Bool
    ) throws(AssistError) -> Result {
        switch plan(file, library: library, flows: flows, replacing: replacing) {
        case .failure(let issues):
            throw AssistError(.invalidImport, "\(issues.list.count) issue(s): " + issues.list.map(\.description).joined(separator: "; "))
        case .success(let result): return result
        }
    }

    private struct Issues: Error { var list: [ScriptImportIssue] }

    private static func plan(
        _ file: ScriptFile, library: ScriptLibrary, flows: [GuidedFlow], replacing: Bool
    ) -> Swift.Result<Result, Issues> {
        var issues: [ScriptImportIssue] = []
        func add(_ section: ScriptImportIssue.Section, _ index: Int, _ id: String?, _ reason: String) {
            if issues.count < maximumIssues { issues.append(ScriptImportIssue(section: section, index: index, id: id, reason: reason)) }
        }

        // Scripts: the resulting set.
        var scripts = library.scripts
        if let incoming = file.scripts {
            let incomingIDs = Set(incoming.map(\.id))
            var kept = replacing ? [] : scripts.filter { !incomingIDs.contains($0.id) }
            var codes = Dictionary(kept.map { ($0.shortCode, $0.id) }, uniquingKeysWith: { a, _ in a })
            var ids = Set<String>()
            for (i, s) in incoming.enumerated() {
                do throws(AssistError) {
                    try s.validate()
                } catch {
                    add(.scripts, i, s.id, error.detail)
                    continue
                }
                guard ids.insert(s.id).inserted else {
                    add(.scripts, i, s.id, "id \(s.id) appears twice in the file")
                    continue
                }
                if let other = codes[s.shortCode] {
                    add(.scripts, i, s.id, "short code \(s.shortCode) is used by script \(other)")
                    continue
                }
                codes[s.shortCode] = s.id
                kept.append(s)
            }
            if kept.count > ScriptLibrary.maximumScripts {
                add(.scripts, incoming.count - 1, nil, "more than \(ScriptLibrary.maximumScripts) scripts in all")
            }
            scripts = kept
        }
        let shortCodes = Set(scripts.map(\.shortCode))

        // Flows: checked against the scripts as they will be.
        var result = Dictionary(flows.map { ($0.department, $0) }, uniquingKeysWith: { _, b in b })
        if let incoming = file.flows {
            if replacing { result = [:] }
            var departments = Set<String>()
            for (i, f) in incoming.enumerated() {
                do throws(AssistError) {
                    try f.validate(shortCodes: shortCodes)
                } catch {
                    add(.flows, i, f.department, error.detail)
                    continue
                }
                guard departments.insert(f.department).inserted else {
                    add(.flows, i, f.department, "department \(f.department) has two flows in the file")
                    continue
                }
                result[f.department] = f
            }
            if result.count > maximumFlows { add(.flows, incoming.count - 1, nil, "more than \(maximumFlows) flows in all") }
        } else if file.scripts != nil {
            // Kept flows must not lose a script the import removed.
            for f in result.values.sorted(by: { $0.department < $1.department }) {
                do throws(AssistError) {
                    try f.validate(shortCodes: shortCodes)
                } catch {
                    add(.flows, -1, f.department, "the kept flow would break: \(error.detail)")
                }
            }
        }

        guard issues.isEmpty else { return .failure(Issues(list: issues)) }
        do {
            let lib = try ScriptLibrary(scripts)
            return .success(Result(library: lib, flows: result.values.sorted { $0.department < $1.department }))
        } catch {
            return .failure(Issues(list: [ScriptImportIssue(section: .scripts, index: -1, id: nil, reason: error.detail)]))
        }
    }
}

extension ScriptImport.Result {
    /// The library and flows as one file (the export).
    public var file: ScriptFile { ScriptFile(scripts: library.scripts, flows: flows) }
}
