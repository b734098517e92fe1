import Foundation
import Testing

/// Issue 15, must-have 3: a consultation call whose two sides opened their pages on different
/// nodes of a cluster (`peers/chromium_cluster_call.py`: two nodes of the real binary and a
/// PostgreSQL of their own, two Chromium instances, all in a lo-only namespace). They chat across
/// the nodes; when they start their cameras, the page on the node that does not hold the room's
/// media is told `elsewhere`, reconnects to the room's node, and both decode the other's video —
/// with the chat continuing there, every message once and in order.
@Suite(.serialized) struct ClusterBrowserTests {
    @Test func aCallWhoseSidesOpenedOnTwoNodesMeetsOnTheRoomsNode() async throws {
        let python = repositoryRoot.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "run tools/dev setup: it creates .venv")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/lib/chromium/chromium"), "run tools/dev setup: it installs chromium")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/15/bin/initdb"), "run tools/dev setup: it installs postgresql")
        let text = try await inLoopbackNamespace(
            [python, repositoryRoot.appendingPathComponent("Tests/ShowroomServerTests/peers/chromium_cluster_call.py").path,
             "--showroom", ShowroomCommandTests.executable],
            timeout: 240)
        let line = try #require(text.split(separator: "\n").last, "no output from the browser driver")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(text.suffix(2_000))")
        #expect(result["registered"] as? Bool == true && result["online"] as? Bool == true, "\(line)")
        #expect(result["agent_got_question"] as? Bool == true && result["shopper_got_reply"] as? Bool == true, "chat across the nodes: \(line)")
        let home = try #require(result["home"] as? String, "the room was not placed: \(line)")
        let (a, b) = (result["a"] as? String ?? "", result["b"] as? String ?? "")
        #expect(home == a || home == b, "\(home)")
        let shopper = result["shopper_stats"] as? [String: Any] ?? [:], agent = result["agent_stats"] as? [String: Any] ?? [:]
        // The page that opened on the other node moved to the room's; the other stayed.
        let (moved, stayed) = home == a ? (shopper, agent) : (agent, shopper)
        #expect(moved["node"] as? String == home, "the page on the other node moved: \(moved)")
        #expect(stayed["node"] == nil, "the page on the room's node stayed: \(stayed)")
        for (side, stats) in [("shopper", shopper), ("agent", agent)] {
            #expect(stats["framesDecoded"] as? Int ?? 0 >= 30, "\(side) decoded: \(line)")
            #expect(result["\(side)_error"] as? String == "", "\(side): \(line)")
            let shown = result["\(side)_messages"] as? [[Any]] ?? []
            #expect(shown.map { $0.first as? Int ?? -1 } == [1, 2, 3], "\(side)'s chat, once each and in order: \(line)")
        }
        // A WHIP offer from the other node's page, redirected across origins: the browser sent no
        // Authorization header to the room's node, and the redirect's ticket let it in (400 or 409
        // for the page's not-an-offer; 401 without the ticket).
        let crossOrigin = result["cross_origin_whip"] as? [String: Any] ?? [:]
        #expect(crossOrigin["redirected"] as? Bool == true && [400, 409].contains(crossOrigin["status"] as? Int ?? 0), "\(crossOrigin)")
        #expect((crossOrigin["url"] as? String ?? "").hasPrefix(home + "/whip/"), "\(crossOrigin)")
        print("a call across two nodes in two Chromium instances: \(line)")
    }

    /// Issue 15, must-have 3, through the pages: the desk's end-to-end browser run
    /// (`ChromiumDeskTests`, its every check) on two nodes of the real binary and a PostgreSQL of
    /// their own — the agents' workspaces and the supervisor on node A, which runs the desk, the
    /// three shoppers' widgets on node B. B forwards every desk call and the workspace streams'
    /// notices never leave A, but the shoppers' questions are stored on B and the bot, the queue
    /// and the offers on A hear them through the store.
    @Test func theDeskThroughItsPagesWithShoppersOnAnotherNode() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/15/bin/initdb"), "run tools/dev setup: it installs postgresql")
        let (result, line) = try await ChromiumDeskTests.drive(["--cluster"])
        #expect(result["desk_node"] as? String == "http://127.0.0.1:18082" && result["shop_node"] as? String == "http://127.0.0.1:18083", "\(line.prefix(500))")
        ChromiumDeskTests.check(result, line: line)
    }
}
