import Desk
import Foundation
import Testing

@Suite struct FAQIndexTests {
    /// Three entries whose words the tokenizer leaves alone (no stop words, no suffix to strip):
    ///
    /// | entry | question ×2 | keywords ×3 | answer ×1 | weighted frequencies | length |
    /// |---|---|---|---|---|---|
    /// | A | oak desk | — | desk lamp | oak 2, desk 3, lamp 1 | 6 |
    /// | B | red lamp | desk | lamp | red 2, lamp 3, desk 3 | 8 |
    /// | C | sofa | — | red sofa | sofa 3, red 1 | 4 |
    ///
    /// N = 3, average length 6, k1 = 1.2, b = 0.75. "desk", "lamp" and "red" are each in 2
    /// entries: idf = ln(1 + (3 − 2 + 0.5) / (2 + 0.5)) = ln 1.6 = 0.470004.
    let corpus = FAQIndex(entries: [
        FAQEntry(id: "A", question: "oak desk", answer: "desk lamp"),
        FAQEntry(id: "B", question: "red lamp", answer: "lamp", keywords: ["desk"]),
        FAQEntry(id: "C", question: "sofa", answer: "red sofa"),
    ])
    let idf = log(1.6)

    @Test func scoresOneTermByHand() {
        let matches = corpus.search("desk", locale: nil, department: nil)
        // A: f = 3, |d| = 6: 3 · 2.2 / (3 + 1.2 · (0.25 + 0.75 · 6/6)) = 6.6 / 4.2 = 1.571429
        // B: f = 3, |d| = 8: 6.6 / (3 + 1.2 · (0.25 + 0.75 · 8/6)) = 6.6 / 4.5 = 1.466667
        #expect(matches.map(\.entry.id) == ["A", "B"])
        #expect(abs(matches[0].score - idf * 6.6 / 4.2) < 1e-9)
        #expect(abs(matches[0].score - 0.738578) < 1e-6)
        #expect(abs(matches[1].score - 0.689339) < 1e-6)
        #expect(matches.allSatisfy { $0.coverage == 1 })
    }

    @Test func scoresTwoTermsByHandAndRanksThem() {
        let matches = corpus.search("red lamp", locale: nil, department: nil)
        // B: red f = 2: 4.4 / (2 + 1.5) = 1.257143; lamp f = 3: 6.6 / 4.5 = 1.466667 → 1.280201
        // C: red f = 1, |d| = 4: 2.2 / (1 + 1.2 · (0.25 + 0.5)) = 2.2 / 1.9 = 1.157895 → 0.544215
        // A: lamp f = 1, |d| = 6: 2.2 / 2.2 = 1 → 0.470004
        #expect(matches.map(\.entry.id) == ["B", "C", "A"])
        #expect(abs(matches[0].score - idf * (4.4 / 3.5 + 6.6 / 4.5)) < 1e-9)
        #expect(abs(matches[0].score - 1.280201) < 1e-6)
        #expect(abs(matches[1].score - 0.544215) < 1e-6)
        #expect(abs(matches[2].score - 0.470004) < 1e-6)
        // B has both terms, C and A one of two equally rare ones.
        #expect(matches.map(\.coverage) == [1, 0.5, 0.5])
    }

    @Test func aTermOfFourLettersAlsoMatchesLongerTermsAtHalfWeight() {
        let index = FAQIndex(entries: [
            FAQEntry(id: "shade", question: "lampshade", answer: "glass"),
            FAQEntry(id: "other", question: "sofa", answer: "oak"),
        ])
        // lampshade: f = 2, |d| = 3, avg 3; n = 1 of N = 2: idf = ln(1 + 1.5/1.5) = ln 2.
        let full = log(2.0) * 2 * 2.2 / (2 + 1.2)
        let exact = index.search("lampshade", locale: nil, department: nil)
        #expect(abs(exact[0].score - full) < 1e-9)
        let prefix = index.search("lamp", locale: nil, department: nil)
        #expect(prefix.map(\.entry.id) == ["shade"])
        #expect(abs(prefix[0].score - full / 2) < 1e-9)
        // Three letters are too few to match a prefix.
        #expect(index.search("lam", locale: nil, department: nil).isEmpty)
    }

    @Test func germanCompoundsMatchTheirHeadAndInflectionsTheirStem() {
        let index = FAQIndex(entries: [
            FAQEntry(id: "care", question: "Fleck entfernen", answer: "Mit Wasser.", locale: "de"),
            FAQEntry(id: "delivery", question: "Wir liefern", answer: "In zwei Wochen.", locale: "de"),
        ])
        #expect(index.search("Rotweinfleck", locale: "de", department: nil).first?.entry.id == "care")
        #expect(index.search("liefert ihr", locale: "de", department: nil).first?.entry.id == "delivery")
    }

    @Test func keywordsAndQuestionOutweighTheAnswer() {
        // Equal weighted lengths (6), so only the field "refund" is in decides.
        let index = FAQIndex(entries: [
            FAQEntry(id: "answer", question: "oak desk", answer: "refund lamp"),
            FAQEntry(id: "keyword", question: "oak", answer: "lamp", keywords: ["refund"]),
            FAQEntry(id: "question", question: "refund oak", answer: "lamp desk"),
        ])
        #expect(index.search("refund", locale: nil, department: nil).map(\.entry.id) == ["keyword", "question", "answer"])
    }

    @Test func filtersByLanguageAndDepartmentKeepingEntriesForAll() {
        let index = FAQIndex(entries: [
            FAQEntry(id: "en-sales", question: "sofa", answer: "x", department: "sales", locale: "en"),
            FAQEntry(id: "de-sales", question: "sofa", answer: "x", department: "sales", locale: "de"),
            FAQEntry(id: "en-support", question: "sofa", answer: "x", department: "support", locale: "en-GB"),
            FAQEntry(id: "any", question: "sofa", answer: "x"),
        ])
        func ids(_ locale: String?, _ department: String?) -> Set<String> {
            Set(index.search("sofa", locale: locale, department: department, limit: 10).map(\.entry.id))
        }
        #expect(ids("en-US", "sales") == ["en-sales", "any"])
        #expect(ids("de", "sales") == ["de-sales", "any"])
        #expect(ids("en", "support") == ["en-support", "any"])
        #expect(ids("en", nil) == ["en-sales", "en-support", "any"])
        #expect(ids(nil, nil) == ["en-sales", "de-sales", "en-support", "any"])
        #expect(ids("fr", "billing") == ["any"])
        // The filter does not change scores: idf is over the whole FAQ.
        let all = index.search("sofa", locale: nil, department: nil, limit: 10)
        #expect(Set(all.map(\.score)).count == 1)
    }

    @Test func onlyTheFirst32DistinctTermsOfAMessageCount() {
        let index = FAQIndex(entries: [FAQEntry(id: "zebra", question: "zebra", answer: "stripes")])
        let filler = (0..<40).map { "filler\($0)x" }
        let thirtySecond = (filler.prefix(31) + ["zebra"]).joined(separator: " ")
        let thirtyThird = (filler.prefix(32) + ["zebra"]).joined(separator: " ")
        #expect(index.search(thirtySecond, locale: "en", department: nil).map(\.entry.id) == ["zebra"])
        #expect(index.search(thirtyThird, locale: "en", department: nil).isEmpty)
        // Repeating a word does not use up terms.
        let repeated = (Array(repeating: "filler1x", count: 100) + ["zebra"]).joined(separator: " ")
        #expect(index.search(repeated, locale: "en", department: nil).map(\.entry.id) == ["zebra"])
    }

    @Test func aCommonPrefixExpandsToTheShortestEightTerms() {
        // 12 terms starting with "sofa" ("sofaab", "sofaabab", …): "sofa" matches the shortest 8.
        let entries = (0..<12).map { FAQEntry(id: "e\($0)", question: "sofa" + String(repeating: "ab", count: $0 + 1), answer: "x") }
        let index = FAQIndex(entries: entries)
        #expect(index.search("sofa", locale: nil, department: nil, limit: 20).map(\.entry.id) == (0..<8).map { "e\($0)" })
    }

    @Test func tiesKeepTheFAQsOrderAndLimitCuts() {
        let index = FAQIndex(entries: (0..<10).map { FAQEntry(id: "e\($0)", question: "sofa", answer: "x") })
        #expect(index.search("sofa", locale: nil, department: nil, limit: 3).map(\.entry.id) == ["e0", "e1", "e2"])
        #expect(index.search("sofa", locale: nil, department: nil, limit: 0).isEmpty)
        #expect(index.search("the and", locale: "en", department: nil).isEmpty)
        #expect(FAQIndex(entries: []).search("sofa", locale: nil, department: nil).isEmpty)
    }

    @Test func coverageFallsWithWordsTheFAQDoesNotHave() throws {
        let index = FAQIndex(entries: try FAQ.sample().entries)
        let focused = try #require(index.search("return policy", locale: "en", department: nil).first)
        let rambling = try #require(
            index.search("my cousin's parrot ate the return label, any ideas?", locale: "en", department: nil).first)
        #expect(focused.coverage > 0.9)
        #expect(rambling.coverage < 0.5)
    }
}
