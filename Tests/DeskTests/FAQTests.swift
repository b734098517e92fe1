import Desk
import Foundation
import Testing

@Suite struct FAQTests {
    private func json(_ entries: String, version: Int = 1) -> Data { Data(#"{"version": \#(version), "entries": [\#(entries)]}"#.utf8) }

    @Test func theSampleFAQLoadsFromTheModulesResources() throws {
        let faq = try FAQ.sample()
        #expect(faq.entries.count >= 20)
        #expect(Set(faq.entries.compactMap(\.department)) == ["sales", "support"])
        #expect(Set(faq.entries.compactMap(\.locale)) == ["en", "de"])
        // Every topic in both languages.
        let topics = faq.entries.map { $0.id.replacing(/-(en|de)$/, with: "") }
        for topic in Set(topics) { #expect(topics.filter { $0 == topic }.count == 2, "\(topic)") }
    }

    @Test func readsTheDocumentedFormatWithOptionalFieldsLeftOut() throws {
        let faq = try FAQ(json: json(#"{"id": "a", "question": "Q?", "answer": "A."}"#))
        #expect(faq.entries == [FAQEntry(id: "a", question: "Q?", answer: "A.")])
        let full = try FAQ(
            json: json(#"{"id": "b", "question": "Q?", "answer": "A.", "keywords": ["k"], "department": "sales", "locale": "de-AT"}"#),
            departments: ["sales"])
        #expect(full.entries[0] == FAQEntry(id: "b", question: "Q?", answer: "A.", keywords: ["k"], department: "sales", locale: "de-AT"))
        // And writes it back.
        #expect(try FAQ(json: full.json()) == full)
    }

    @Test(arguments: [
        ("not json", "{"),
        ("no entries", #"{"version": 1}"#),
        ("missing answer", #"{"version": 1, "entries": [{"id": "a", "question": "Q"}]}"#),
        ("keywords not a list", #"{"version": 1, "entries": [{"id": "a", "question": "Q", "answer": "A", "keywords": "k"}]}"#),
        ("version 2", #"{"version": 2, "entries": []}"#),
        ("empty id", #"{"version": 1, "entries": [{"id": "", "question": "Q", "answer": "A"}]}"#),
        ("id with a space", #"{"version": 1, "entries": [{"id": "a b", "question": "Q", "answer": "A"}]}"#),
        ("blank question", #"{"version": 1, "entries": [{"id": "a", "question": "  ", "answer": "A"}]}"#),
        ("blank answer", #"{"version": 1, "entries": [{"id": "a", "question": "Q", "answer": ""}]}"#),
        ("empty keyword", #"{"version": 1, "entries": [{"id": "a", "question": "Q", "answer": "A", "keywords": [""]}]}"#),
        ("bad locale", #"{"version": 1, "entries": [{"id": "a", "question": "Q", "answer": "A", "locale": "english!"}]}"#),
        ("duplicate id", #"{"version": 1, "entries": [{"id": "a", "question": "Q", "answer": "A"}, {"id": "a", "question": "Q2", "answer": "A2"}]}"#),
    ])
    func refusesWhatBreaksARuleWithInvalidFAQ(_ name: String, _ text: String) {
        #expect(throws: DeskError(.invalidFAQ, "")) { try FAQ(json: Data(text.utf8)) }
    }

    @Test func theErrorSaysWhichEntryAndWhichRule() {
        do {
            _ = try FAQ(json: json(#"{"id": "ok", "question": "Q", "answer": "A"}, {"id": "x", "question": "Q"}"#))
            Issue.record("accepted")
        } catch {
            #expect(error.code == .invalidFAQ)
            #expect(error.detail.contains("entries[1]") && error.detail.contains("answer"), "\(error.detail)")
        }
        do {
            _ = try FAQ(json: json(#"{"id": "long", "question": "Q", "answer": "\#(String(repeating: "a", count: 4_001))"}"#))
            Issue.record("accepted")
        } catch {
            #expect(error.detail.contains("long") && error.detail.contains("4000"), "\(error.detail)")
        }
    }

    @Test func aDepartmentTheShopDoesNotHaveIsUnknownDepartment() throws {
        let data = json(#"{"id": "a", "question": "Q", "answer": "A", "department": "billing"}"#)
        #expect(throws: DeskError(.unknownDepartment, "")) { try FAQ(json: data, departments: ["sales", "support"]) }
        // Not checked when the departments are not given.
        #expect(try FAQ(json: data).entries.count == 1)
    }

    @Test func limitsTheFileAndTheEntries() {
        let big = Data(repeating: 0x20, count: FAQ.maximumFileSize + 1)
        #expect(throws: DeskError(.invalidFAQ, "")) { try FAQ(json: big) }
        let many = FAQ(entries: (0...FAQ.maximumEntries).map { FAQEntry(id: "e\($0)", question: "Q", answer: "A") })
        #expect(throws: DeskError(.invalidFAQ, "")) { try many.validate() }
        let keywords = FAQEntry(id: "k", question: "Q", answer: "A", keywords: Array(repeating: "k", count: 33))
        #expect(throws: DeskError(.invalidFAQ, "")) { try keywords.validate() }
    }

    @Test func deskErrorsCompareByCodeAndPrintWithTheDomain() {
        #expect(DeskError(.conflict, "one") == DeskError(.conflict, "two"))
        #expect(DeskError(.conflict, "one") != DeskError(.notFound, "one"))
        #expect(DeskError(.invalidFAQ, "entry x: answer is empty").description == "desk invalid_faq: entry x: answer is empty")
        #expect(DeskError.Code.allCases.map(\.rawValue) == [
            "invalid_faq", "unknown_department", "invalid_argument", "not_found", "conflict", "not_allowed", "storage", "unavailable",
        ])
    }
}
