import Assist
import Foundation
import Testing

/// The `/` picker's ranking, the library's rules and the JSON import that changes nothing on error.
@Suite struct ScriptSearchTests {
    static let scripts = [
        Script(id: "1", shortCode: "hello", title: "Hello", body: "Hi there", tags: ["retention"]),
        Script(id: "2", shortCode: "size", title: "Size guide", body: "You can return it within 30 days"),
        Script(id: "3", shortCode: "pol", title: "Policy: nonreturnable items", body: "…"),
        Script(id: "4", shortCode: "free", title: "Free returns", body: "…"),
        Script(id: "5", shortCode: "return-label", title: "Label", body: "…"),
        Script(id: "6", shortCode: "ret", title: "Returns", body: "…"),
        Script(id: "7", shortCode: "other", title: "Other", body: "nothing"),
    ]

    func library() throws -> ScriptLibrary { try ScriptLibrary(Self.scripts) }

    @Test func shortCodeFirstThenTitleThenBodyThenTags() throws {
        let found = try library().search("ret")
        #expect(found.map(\.script.shortCode) == ["ret", "return-label", "free", "pol", "size", "hello"])
        #expect(found.map(\.rank) == [.exactShortCode, .shortCodePrefix, .titleWordPrefix, .titleContains, .bodyContains, .tag])
    }

    @Test func tiesAreBrokenByShortCode() throws {
        let lib = try ScriptLibrary([
            Script(id: "b", shortCode: "zeta", title: "Returns B", body: "…"),
            Script(id: "a", shortCode: "alpha", title: "Returns A", body: "…"),
        ])
        #expect(lib.search("returns").map(\.script.shortCode) == ["alpha", "zeta"])
    }

    @Test func caseDiacriticsAndTheSlashAreIgnored() throws {
        let lib = try ScriptLibrary([Script(id: "g", shortCode: "groesse", title: "Größe wählen", body: "…")])
        #expect(lib.search("GRÖSSE").first?.rank == .titleWordPrefix)
        #expect(lib.search("wahl").first?.rank == .titleWordPrefix)
        #expect(lib.search("/groe").first?.rank == .shortCodePrefix)
    }

    @Test func anEmptyQueryListsByShortCodeAndTheLimitHolds() throws {
        let all = try library().search("")
        #expect(all.map(\.script.shortCode) == ["free", "hello", "other", "pol", "ret", "return-label", "size"])
        #expect(all.allSatisfy { $0.rank == .listed })
        #expect(try library().search("", limit: 2).count == 2)
        #expect(try library().search("zzz").isEmpty)
    }

    @Test func departmentScope() throws {
        let lib = try ScriptLibrary([
            Script(id: "a", shortCode: "all", title: "For all", body: "…"),
            Script(id: "s", shortCode: "sales", title: "Sales only", body: "…", department: "sales"),
            Script(id: "v", shortCode: "service", title: "Service only", body: "…", department: "service"),
        ])
        #expect(lib.search("", department: "sales").map(\.script.id) == ["a", "s"])
        #expect(lib.search("", department: "service").map(\.script.id) == ["a", "v"])
        #expect(lib.search("", department: nil).count == 3)
    }

    @Test func shortCodesAndIDsAreUnique() throws {
        var lib = try library()
        #expect(throws: AssistError(.conflict, "")) { try lib.upsert(Script(id: "new", shortCode: "ret", title: "x", body: "y")) }
        #expect(throws: AssistError(.conflict, "")) {
            _ = try ScriptLibrary([Script(id: "a", shortCode: "x", title: "x", body: "x"), Script(id: "a", shortCode: "y", title: "y", body: "y")])
        }
        // Editing a script keeps its short code.
        try lib.upsert(Script(id: "6", shortCode: "ret", title: "Returns (new)", body: "…"))
        #expect(lib.script(shortCode: "ret")?.title == "Returns (new)")
        try lib.remove(id: "6")
        #expect(lib.script(shortCode: "ret") == nil)
        #expect(throws: AssistError(.notFound, "")) { try lib.remove(id: "6") }
    }

    @Test func exportThenImportRoundTrips() throws {
        let flow = GuidedFlow(department: "sales", title: "Sales", steps: [FlowStep(id: "greet", title: "Greet", scripts: ["hello"])])
        let data = ScriptFile(scripts: Self.scripts, flows: [flow]).json()
        let file = try ScriptFile(json: data)
        let result = try ScriptImport.apply(file, library: ScriptLibrary(), flows: [], replacing: true)
        #expect(result.library == (try library()))
        #expect(result.flows == [flow])
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"version\" : 1"))
    }

    @Test func anImportWithAnyIssueChangesNothingAndSaysWhere() throws {
        let before = try library()
        let file = ScriptFile(scripts: [
            Script(id: "n1", shortCode: "fine", title: "Fine", body: "ok"),
            Script(id: "n2", shortCode: "Bad Code", title: "Bad", body: "x"),
            Script(id: "n3", shortCode: "ret", title: "Clash", body: "x"),
            Script(id: "n1", shortCode: "again", title: "Again", body: "x"),
        ])
        let issues = ScriptImport.issues(file, library: before, flows: [], replacing: false)
        #expect(issues.map(\.index) == [1, 2, 3])
        #expect(issues[1].reason.contains("ret"))
        var lib = before
        #expect(throws: AssistError(.invalidImport, "")) {
            lib = try ScriptImport.apply(file, library: before, flows: [], replacing: false).library
        }
        #expect(lib == before)
        #expect(lib.script(shortCode: "fine") == nil)
    }

    @Test func mergingAndReplacing() throws {
        let file = ScriptFile(scripts: [Script(id: "6", shortCode: "ret", title: "Returns v2", body: "…"), Script(id: "8", shortCode: "new", title: "New", body: "…")])
        let merged = try ScriptImport.apply(file, library: library(), flows: [], replacing: false)
        #expect(merged.library.count == 8)
        #expect(merged.library.script(id: "6")?.title == "Returns v2")
        let replaced = try ScriptImport.apply(file, library: library(), flows: [], replacing: true)
        #expect(replaced.library.scripts.map(\.id) == ["8", "6"])
    }

    @Test func flowsMustNameExistingScripts() throws {
        let flow = GuidedFlow(department: "sales", title: "Sales", steps: [FlowStep(id: "greet", title: "Greet", scripts: ["nope"])])
        let issues = ScriptImport.issues(ScriptFile(flows: [flow]), library: try library(), flows: [], replacing: false)
        #expect(issues.count == 1)
        #expect(issues.first?.section == .flows)
        // Replacing the scripts may not strand a kept flow's script.
        let kept = GuidedFlow(department: "sales", title: "Sales", steps: [FlowStep(id: "greet", title: "Greet", scripts: ["hello"])])
        let strand = ScriptImport.issues(
            ScriptFile(scripts: [Script(id: "x", shortCode: "x", title: "x", body: "x")]), library: try library(), flows: [kept], replacing: true)
        #expect(strand.count == 1)
    }

    @Test func unreadableFilesAreRefused() {
        #expect(throws: AssistError(.invalidImport, "")) { try ScriptFile(json: Data("not json".utf8)) }
        #expect(throws: AssistError(.invalidImport, "")) { try ScriptFile(json: Data(#"{"version": 2, "scripts": []}"#.utf8)) }
        #expect(throws: AssistError(.invalidImport, "")) { try ScriptFile(json: Data(#"{"version": 1, "scripts": [{"id": "a"}]}"#.utf8)) }
        #expect(throws: AssistError(.tooLarge, "")) { try ScriptFile(json: Data(count: ScriptFile.maximumFileSize + 1)) }
    }

    @Test func attachmentsRoundTripThroughJSON() throws {
        let s = Script(
            id: "c", shortCode: "coupon", title: "Coupon", body: "Here is {{coupon.code}}", tags: ["offer"],
            attachment: .coupon(code: "WELCOME10", description: "10 % off"))
        let file = try ScriptFile(json: ScriptFile(scripts: [s, Script(id: "p", shortCode: "card", title: "Card", body: "b", attachment: .productCard(sku: "SOFA-3"))]).json())
        #expect(file.scripts?.first == s)
        #expect(file.scripts?.last?.attachment == .productCard(sku: "SOFA-3"))
        // Optional fields may be left out.
        let minimal = try ScriptFile(json: Data(#"{"version":1,"scripts":[{"id":"m","shortCode":"m","title":"M","body":"B"}]}"#.utf8))
        #expect(minimal.scripts?.first?.attachment == ScriptAttachment.none)
        #expect(minimal.scripts?.first?.tags == [])
    }

    @Test func aFullLibrarySearchesInMilliseconds() throws {
        let body = String(repeating: "Thank you for your question about delivery and returns. ", count: 6)
        let lib = try ScriptLibrary(
            (0..<ScriptLibrary.maximumScripts).map { Script(id: "s\($0)", shortCode: "code\($0)", title: "Title number \($0)", body: body, tags: ["t\($0)"]) })
        var worst = Duration.zero
        for query in ["code4999", "number 12", "zzzz", "delivery"] {
            let start = ContinuousClock.now
            _ = lib.search(query, limit: 20)
            worst = max(worst, ContinuousClock.now - start)
        }
        // A scan of 5,000 folded scripts of 340 characters: a few milliseconds in release; the
        // debug bound only guards the complexity.
        #expect(worst < .milliseconds(500))
        #expect(lib.search("code4999").first?.rank == .exactShortCode)
        #expect(lib.search("number 12", limit: 500).count == 111)
    }
}
