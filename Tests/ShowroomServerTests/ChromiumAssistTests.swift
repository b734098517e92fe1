import Foundation
import Testing

/// Agent assist through its pages, in headless Chromium in a namespace holding only `lo`, against
/// the real `showroom serve --demo` (peers/chromium_assist.py): the agent ben uses `/` to put a
/// script with its variables filled into the composer and sends it, is held back by a blocking
/// hint, sends a recommended product as a card; the shopper demo-sam clicks it and the click is
/// attributed to ben and the consultation.
@Suite(.serialized) struct ChromiumAssistTests {
    @Test func anAgentUsesScriptsHintsAndRecommendationsAndTheClickCounts() async throws {
        let python = repositoryRoot.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "run tools/dev setup: it creates .venv")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/lib/chromium/chromium"), "run tools/dev setup: it installs chromium")
        try #require(FileManager.default.isExecutableFile(atPath: ShowroomCommandTests.executable), "build first: swift build")
        let text = try await inLoopbackNamespace(
            [python, repositoryRoot.appendingPathComponent("Tests/ShowroomServerTests/peers/chromium_assist.py").path,
             "--showroom", ShowroomCommandTests.executable],
            timeout: 240)
        let line = try #require(text.split(separator: "\n").last, "no output from the browser driver")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(result["failed"] is NSNull, "\(result["failed"] ?? "no result"): \(line)")

        let profile = result["profile"] as? String ?? ""
        #expect(profile.contains("Lifetime value") && profile.contains("Oslo"), "the profile: \(profile)")
        let recommendations = (result["recommendations"] as? [[String: Any]] ?? []).compactMap { $0["sku"] as? String }
        #expect(!recommendations.isEmpty && !recommendations.contains("SOFA-3"), "out of stock recommended: \(recommendations)")
        #expect((result["picker"] as? [String])?.first == "hi")
        let filled = result["filled"] as? String ?? ""
        #expect(filled.hasPrefix("Hi Sam, I'm Ben from") && !filled.contains("{{"), "the filled script: \(filled)")
        #expect((result["flags_after_fill"] as? [Any])?.isEmpty == true, "flags: \(result["flags_after_fill"] ?? "?")")
        #expect((result["hints"] as? [[String: Any]])?.first?["rule"] as? String == "no-cheap", "\(result["hints"] ?? "no hint")")
        #expect((result["blocked_reached_shopper"] as? [Any])?.isEmpty == true, "a blocked reply was sent")
        #expect((result["card_link"] as? String ?? "").contains("showroom_ref="), "the card is not tracked: \(result["card_link"] ?? "")")
        #expect(result["click_status"] as? Int == 200, "the click report: \(result["click_status"] ?? "none")")
        let ben = result["report_ben"] as? [String: Any] ?? [:]
        #expect(ben["clicks"] as? Int == 1 && ben["productCardsSent"] as? Int == 1, "the report for ben: \(ben)")
        #expect((result["report_consultation"] as? [String: Any])?["clicks"] as? Int == 1, "\(result["report_consultation"] ?? "no row")")
        // The only error line: ben's page saying why the blocked reply was not sent.
        for (page, error) in result["errors"] as? [String: String] ?? ["?": "no errors collected"] {
            #expect(error.isEmpty || (page == "ben" && error.hasSuffix("a hint blocks this reply: change the wording first")), "\(page) shows an error: \(error)")
        }
        #expect((result["errors"] as? [String: String])?["ben"]?.contains("a hint blocks") == true, "the agent was not told why")
        print("assist in Chromium (\(result["seconds"] ?? "?") s): steps \(result["steps"] ?? [])")
    }
}
