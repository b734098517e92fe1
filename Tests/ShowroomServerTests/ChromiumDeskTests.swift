import Foundation
import Testing

/// The desk through its pages, in headless Chromium: two agents on /workspace (anna, capacity 3;
/// ben, capacity 2 — the demo's) and three shoppers on /shop in three rooms, each in a browser of
/// its own, all in a network namespace holding only `lo` with the real `showroom serve --demo`.
/// Every shopper gets a bot answer, then a queue position; every consultation goes to exactly one
/// agent, within capacity; replies reach their own room only; one consultation is resolved and
/// rated; the supervisor's overview shows the result. Everything is read from the pages' DOM
/// (peers/chromium_desk.py); each wait there has a deadline and a missing step fails the test.
@Suite(.serialized) struct ChromiumDeskTests {
    @Test func twoAgentsServeThreeShoppersThroughThePages() async throws {
        let (result, line) = try await Self.drive()
        Self.check(result, line: line)
    }

    /// Runs peers/chromium_desk.py (with `arguments`) in a lo-only namespace: its JSON result.
    static func drive(_ arguments: [String] = []) async throws -> (result: [String: Any], line: String) {
        let python = repositoryRoot.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "run tools/dev setup: it creates .venv")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/lib/chromium/chromium"), "run tools/dev setup: it installs chromium")
        try #require(FileManager.default.isExecutableFile(atPath: ShowroomCommandTests.executable), "build first: swift build")
        let text = try await inLoopbackNamespace(
            [python, repositoryRoot.appendingPathComponent("Tests/ShowroomServerTests/peers/chromium_desk.py").path,
             "--showroom", ShowroomCommandTests.executable] + arguments,
            timeout: 300)
        let line = try #require(text.split(separator: "\n").last, "no output from the browser driver")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(text.suffix(2_000))")
        return (result, String(line))
    }

    /// What every run of the desk's pages must show (one node, or a cluster).
    static func check(_ result: [String: Any], line: String) {
        #expect(result["failed"] is NSNull, "\(result["failed"] ?? "no result"): \(line)")

        let shoppers = result["shoppers"] as? [[String: Any]] ?? []
        #expect(shoppers.count == 3)
        let owners = result["owners"] as? [String: [String]] ?? [:]
        var ids = Set<String>()
        for (i, s) in shoppers.enumerated() {
            let id = s["consultation"] as? String ?? ""
            ids.insert(id)
            #expect((s["bot_answer"] as? String ?? "").contains("working days"), "shopper \(i): no FAQ answer from the bot")
            #expect((s["queue_line"] as? String ?? "").contains("in the queue"), "shopper \(i): no queue line in the chat")
            #expect((s["queue_status"] as? String ?? "").contains("in the queue"), "shopper \(i): no queue position above the chat")
            // Exactly one agent holds it, and that agent's tab shows this shopper's product.
            #expect(owners[id]?.count == 1, "shopper \(i)'s consultation \(id) is held by \(owners[id] ?? [])")
            // … and was offered to that agent (accepted from the inbox, not picked).
            let holder = s["agent"] as? String ?? ""
            let offered = (result["agents"] as? [String: [String: Any]])?[holder]?["offers_seen"] as? [String] ?? []
            #expect(offered.contains(id), "shopper \(i)'s consultation never showed in \(holder)'s inbox")
            #expect(s["agent_sees_product"] as? String == s["sku"] as? String, "shopper \(i): the agent's tab shows \(s["agent_sees_product"] ?? "nothing")")
            #expect((s["joined_line"] as? String ?? "").contains("has joined"), "shopper \(i) was not told an agent joined")
            // The tab is labelled with the shopper's name as sent — markup included, as text.
            #expect((s["agent_sees_label"] as? String ?? "").hasPrefix(s["name"] as? String ?? "?"), "shopper \(i)'s tab: \(s["agent_sees_label"] ?? "none")")
            // Nobody sees another room's chat, on either side.
            #expect((s["foreign"] as? [Any])?.isEmpty == true, "shopper \(i) saw another room's messages: \(s["foreign"] ?? "?")")
            #expect((s["foreign_in_agent_tab"] as? [Any])?.isEmpty == true, "the agent's tab for shopper \(i) shows another room's messages")
        }
        #expect(ids.count == 3 && !ids.contains(""), "three consultations, one per room: \(ids)")
        #expect((result["double_offers"] as? [Any])?.isEmpty == true, "offered to or held by two agents at once: \(result["double_offers"] ?? "?")")

        let agents = result["agents"] as? [String: [String: Any]] ?? [:]
        var switches = 0
        for (agent, capacity) in [("anna", 3), ("ben", 2)] {
            let a = agents[agent] ?? [:]
            let tabs = a["tabs"] as? [Any] ?? []
            #expect(tabs.count <= capacity, "\(agent) holds \(tabs.count) of capacity \(capacity)")
            for countdown in a["countdowns"] as? [String] ?? [] {
                #expect(countdown.range(of: #"^\d+ s left$"#, options: .regularExpression) != nil, "\(agent)'s offer showed '\(countdown)'")
            }
            if let s = a["switch"] as? [String: Any] {
                // The tab not shown counted the shopper's message; switching cleared it and kept the chat.
                switches += 1
                #expect(Int(s["unread_before"] as? String ?? "") ?? 0 >= 1, "\(agent): no unread count on the other tab: \(s)")
                #expect(s["badge_after"] as? [String] == [""], "\(agent): \(s)")
                #expect(s["messages_after"] as? Int == s["messages_before"] as? Int, "\(agent) lost chat switching tabs: \(s)")
            }
        }
        #expect(switches >= 1, "one agent holds two consultations (3 over capacities 3 and 2 with one offer each at a time)")

        #expect((result["resolved_tab"] as? [String])?.last == "resolved", "\(result["resolved_tab"] ?? "no resolved tab")")
        let rated = shoppers.first ?? [:]
        #expect((rated["rated"] as? String ?? "").contains("4 of 5"), "the rating was not taken: \(rated["rated"] ?? "nothing")")
        #expect(rated["final_status"] as? String == "resolved")

        let supervisor = result["supervisor"] as? [String: Any] ?? [:]
        let loads = (supervisor["agents"] as? [[String: Any]] ?? []).compactMap { ($0["load"] as? String)?.split(separator: "/").first.flatMap { Int($0) } }
        #expect(loads.reduce(0, +) == 2, "the overview's loads after one resolved: \(loads)")

        let injected = result["injected"] as? [String: Bool] ?? [:]
        #expect(injected.count == 5 && injected.values.allSatisfy { !$0 }, "a shopper's name ran as markup: \(injected)")
        for (page, error) in result["errors"] as? [String: String] ?? ["?": "no errors collected"] {
            #expect(error.isEmpty, "\(page) shows an error: \(error)")
        }
        print("desk in Chromium (\(result["seconds"] ?? "?") s): steps \(result["steps"] ?? [])")
    }
}
