import Foundation
import ShowroomServer
import Testing

/// A consultation from the widget's first message to its rating, through the real server: the
/// bot answers, hands off on request, the shopper is told their place, the free agent gets the
/// offer on their workspace stream, accepts, chats in the room with the token the desk gave, and
/// resolves. Then the same with a restart in the middle, and what hostile callers get.
@Suite struct DeskFlowTests {
    static func admin() async throws -> String { try await wsToken("desk", .admin, identity: "owner") }

    static func addAgent(_ desk: DeskClient, _ id: String, name: String, departments: [String], capacity: Int = 2) async throws {
        let reply = try await desk.request(
            "PUT", "/api/admin/agents/\(id)", token: try await admin(),
            body: ["id": id, "name": name, "departments": departments, "skills": [], "capacity": capacity, "supervisor": false])
        #expect(reply.status == 200, "adding \(id): \(reply.text)")
    }

    /// Messages of the room `client` received, as (role, text) for text and system lines.
    static func lines(_ client: SignalingClient) -> [(role: String, text: String)] {
        client.all("message").compactMap { m in
            guard let role = m["role"] as? String, let text = m["text"] as? String else { return nil }
            return (role, text)
        }
    }

    static func waitFor(_ client: SignalingClient, seconds: Double = 10, _ condition: ([(role: String, text: String)]) -> Bool) async -> Bool {
        await SignalingServer.eventually(seconds: seconds) { condition(lines(client)) }
    }

    @Test func botAnswersHandsOffAndAnAgentTakesItToTheEnd() async throws {
        let server = try await SignalingServer.start()
        let desk = DeskClient(port: server.port)
        try await Self.addAgent(desk, "anna", name: "Anna", departments: ["sales"])
        let workspace = try DeskEventStream(port: server.port, token: try await wsToken("desk", .agent, identity: "anna"))
        let status = await workspace.statusLine()
        #expect(status.contains("200"), "\(status)")
        let hello = try await workspace.next("hello")
        #expect((hello["held"] as? [Any])?.isEmpty == true)

        // The shopper opens a consultation from a product page, then chats in its room.
        let shopperToken = try await wsToken("shop-1", .shopper, identity: "sam")
        let opened = try await desk.request(
            "POST", "/api/consultations", token: shopperToken,
            body: ["department": "sales", "name": "Sam", "context": ["sku": "SOFA-1", "pageURL": "https://shop.example/sofa", "locale": "en"]])
        #expect(opened.status == 201, "\(opened.text)")
        let id = try #require(opened.json["id"] as? String)
        #expect(opened.json["status"] as? String == "bot")
        let shopper = SignalingClient(port: server.port)
        try await shopper.enter(token: shopperToken, room: "shop-1")

        // An FAQ question: the bot's answer, timed from the send to its arrival.
        let asked = ContinuousClock.now
        shopper.send(["type": "send", "id": "q1", "kind": "text", "text": "How long does delivery take?"])
        // The shop's promise is an answer within 10 s; the p99 < 1 s target is measured where the
        // machine is quiet (`showroom-load desk`, docs/benchmarks.md "Desk"), not here, among the
        // suites that share the CI machine's two cores (it took 1.1 s there once).
        #expect(await Self.waitFor(shopper, seconds: 10) { $0.contains { $0.role == "bot" && $0.text.contains("working days") } })
        let botReply = ContinuousClock.now - asked
        print("desk: bot's first reply after \(botReply)")
        #expect(botReply < .seconds(10), "the bot took \(botReply) (the shop's promise: 10 s)")

        // Asking for a person: queued, told the place, offered to Anna.
        shopper.send(["type": "send", "id": "q2", "kind": "text", "text": "I'd like to talk to a person please"])
        #expect(await Self.waitFor(shopper) { $0.contains { $0.role == "system" && $0.text.contains("number 1 in the queue") } })
        let offer = try await workspace.next("offer")
        let offered = try #require(offer["consultation"] as? [String: Any])
        #expect(offered["id"] as? String == id)
        #expect((offered["context"] as? [String: Any])?["sku"] as? String == "SOFA-1")

        // Another agent cannot take Anna's offer; Anna accepts and gets the room's token.
        try await Self.addAgent(desk, "ben", name: "Ben", departments: ["support"])
        let stolen = try await desk.request("POST", "/api/desk/consultations/\(id)/accept", token: try await wsToken("desk", .agent, identity: "ben"))
        #expect(stolen.status == 409, "\(stolen.text)")
        let annaToken = try await wsToken("desk", .agent, identity: "anna")
        let accepted = try await desk.request("POST", "/api/desk/consultations/\(id)/accept", token: annaToken)
        #expect(accepted.status == 200, "\(accepted.text)")
        #expect(accepted.json["status"] as? String == "active" && accepted.json["assignee"] as? String == "anna")
        let assigned = try await workspace.next("assigned")
        let roomToken = try #require(assigned["roomToken"] as? String)
        #expect(await Self.waitFor(shopper) { $0.contains { $0.role == "system" && $0.text.contains("Anna has joined") } })

        // Anna answers in the room: the first agent reply is recorded.
        let agent = SignalingClient(port: server.port)
        try await agent.enter(token: roomToken, room: "shop-1")
        agent.send(["type": "send", "id": "a1", "kind": "text", "text": "Hi Sam, the SOFA-1 ships in a week."])
        #expect(await Self.waitFor(shopper) { $0.contains { $0.role == "agent" && $0.text.contains("SOFA-1") } })
        #expect(
            await SignalingServer.eventually(seconds: 5) {
                (try? await desk.request("GET", "/api/consultations/\(id)", token: shopperToken))?.json["firstAgentReply"] != nil
            })

        // Resolved by Anna, rated by Sam; the record holds every milestone.
        #expect(try await desk.request("POST", "/api/desk/consultations/\(id)/resolve", token: annaToken).status == 200)
        _ = try await workspace.next("ended")
        #expect(try await desk.request("POST", "/api/consultations/\(id)/rating", token: shopperToken, body: ["score": 5]).status == 204)
        let record = try await desk.request("GET", "/api/consultations/\(id)", token: shopperToken).json
        #expect(record["status"] as? String == "resolved" && record["rating"] as? Int == 5)
        for milestone in ["created", "firstBotReply", "queued", "firstAgentReply", "resolved"] {
            #expect(record[milestone] != nil, "no \(milestone) in \(record)")
        }
        // The report and /metrics show it; the forecast answers (no history yet: a default plan).
        let admin = try await Self.admin()
        let report = try await desk.request("GET", "/api/reports/desk", token: admin)
        #expect(report.status == 200, "\(report.text)")
        let overall = try #require(report.json["overall"] as? [String: Any])
        #expect(overall["created"] as? Int == 1 && overall["resolved"] as? Int == 1 && overall["csatMean"] as? Double == 5)
        #expect((overall["firstResponse"] as? [String: Any])?["count"] as? Int == 1)
        #expect(try await desk.request("GET", "/api/reports/desk", token: annaToken).status == 403, "anna is no supervisor")
        #expect(try await desk.request("GET", "/api/reports/desk?from=yesterday", token: admin).status == 400)
        let forecast = try await desk.request("GET", "/api/reports/forecast?department=sales&days=2&tz=Europe/Berlin", token: admin)
        #expect(forecast.status == 200, "\(forecast.text)")
        #expect((forecast.json["slots"] as? [Any])?.count == 96)
        let metrics = await server.metrics()
        #expect(metrics.contains(#"showroom_desk_transitions_total{to="resolved"} 1"#), "\(metrics.split(separator: "\n").filter { $0.contains("desk") })")
        #expect(metrics.contains(#"showroom_desk_bot_replies_total 1"#))
        #expect(metrics.contains(#"showroom_desk_first_response_seconds{department="sales",quantile="0.5"}"#))
        workspace.close()
        await shopper.close()
        await agent.close()
        _ = await server.stop()
    }

    /// A VIP (the shop's token says so) meets a person at once: the first message hands off, and
    /// the VIP goes ahead of a shopper who waited longer.
    @Test func aVIPIsHandedToAPersonAtOnceAndAheadInTheQueue() async throws {
        let server = try await SignalingServer.start()
        let desk = DeskClient(port: server.port)
        let sam = try await wsToken("std-1", .shopper, identity: "sam")
        let first = try #require(try await desk.request("POST", "/api/consultations", token: sam, body: ["department": "sales"]).json["id"] as? String)
        let standard = SignalingClient(port: server.port)
        try await standard.enter(token: sam, room: "std-1")
        standard.send(["type": "send", "id": "p", "kind": "text", "text": "talk to a person"])
        #expect(await Self.waitFor(standard) { $0.contains { $0.text.contains("number 1 in the queue") } })

        let vipToken = try await TokenAuthority(secret: testSecret).mint(identity: "vera", room: "vip-9", role: .shopper, ttl: 600, tier: "vip")
        let opened = try await desk.request("POST", "/api/consultations", token: vipToken, body: ["department": "sales"])
        #expect(opened.json["priority"] as? Int == DeskService.vipPriority)
        let vip = SignalingClient(port: server.port)
        try await vip.enter(token: vipToken, room: "vip-9")
        vip.send(["type": "send", "id": "h", "kind": "text", "text": "How long does delivery take?"])
        #expect(await Self.waitFor(vip) { $0.contains { $0.text.contains("number 1 in the queue") } })
        #expect(!Self.lines(vip).contains { $0.role == "bot" }, "the bot answered a VIP instead of handing over")
        #expect(try await desk.request("GET", "/api/consultations/\(first)", token: sam).json["position"] as? Int == 2)
        await #expect(throws: (any Error).self) {
            _ = try await TokenAuthority(secret: testSecret).mint(identity: "x", room: "r", role: .shopper, ttl: 60, tier: "gold")
        }
        await standard.close()
        await vip.close()
        _ = await server.stop()
    }

    /// A shopper who closes the chat while queued abandons it: the agent's offer is withdrawn.
    @Test func aShopperClosingWhileOfferedAbandonsIt() async throws {
        let server = try await SignalingServer.start()
        let desk = DeskClient(port: server.port)
        try await Self.addAgent(desk, "anna", name: "Anna", departments: ["sales"])
        let workspace = try DeskEventStream(port: server.port, token: try await wsToken("desk", .agent, identity: "anna"))
        _ = try await workspace.next("hello")
        let sam = try await wsToken("shop-5", .shopper, identity: "sam")
        let id = try #require(try await desk.request("POST", "/api/consultations", token: sam, body: ["department": "sales"]).json["id"] as? String)
        let shopper = SignalingClient(port: server.port)
        try await shopper.enter(token: sam, room: "shop-5")
        shopper.send(["type": "send", "id": "p", "kind": "text", "text": "can I speak to someone"])
        _ = try await workspace.next("offer")
        let closed = try await desk.request("POST", "/api/consultations/\(id)/close", token: sam)
        #expect(closed.status == 200 && closed.json["status"] as? String == "abandoned", "\(closed.text)")
        _ = try await workspace.next("offer_withdrawn")
        #expect(try await desk.request("POST", "/api/desk/consultations/\(id)/accept", token: try await wsToken("desk", .agent, identity: "anna")).status == 404)
        workspace.close()
        await shopper.close()
        _ = await server.stop()
    }

    /// A restart between the hand-off and the agent: the consultation is still queued at its
    /// place, and the agent who comes online afterwards is offered it.
    @Test func aRestartLosesNoQueuedConsultation() async throws {
        let dataDirectory = ShowroomServerTests.temporaryDirectory()
        let first = try await SignalingServer.start(configure: { $0.dataDirectory = dataDirectory })
        var desk = DeskClient(port: first.port)
        try await Self.addAgent(desk, "cara", name: "Cara", departments: ["support"])
        var ids: [String] = []
        for i in 0..<2 {
            let token = try await wsToken("room-\(i)", .shopper, identity: "shopper-\(i)")
            let opened = try await desk.request("POST", "/api/consultations", token: token, body: ["department": "support", "name": "S\(i)"])
            ids.append(try #require(opened.json["id"] as? String))
            let shopper = SignalingClient(port: first.port)
            try await shopper.enter(token: token, room: "room-\(i)")
            shopper.send(["type": "send", "id": "p", "kind": "text", "text": "talk to a human"])
            #expect(await Self.waitFor(shopper) { $0.contains { $0.text.contains("number \(i + 1) in the queue") } })
            await shopper.close()
        }
        #expect(await first.stop(keepingData: true) != nil)

        let second = try await SignalingServer.start(configure: { $0.dataDirectory = dataDirectory })
        desk = DeskClient(port: second.port)
        let token = try await wsToken("room-1", .shopper, identity: "shopper-1")
        let again = try await desk.request("GET", "/api/consultations/\(ids[1])", token: token).json
        #expect(again["status"] as? String == "queued" && again["position"] as? Int == 2, "\(again)")
        let workspace = try DeskEventStream(port: second.port, token: try await wsToken("desk", .agent, identity: "cara"))
        let offer = try await workspace.next("offer")
        #expect((offer["consultation"] as? [String: Any])?["id"] as? String == ids[0], "the first in line is offered first")
        workspace.close()
        _ = await second.stop()
    }

    /// Every caller is a possible attacker: each gets a 4xx with a reason, and nobody reads or
    /// moves a consultation that is not theirs.
    @Test func hostileCallersGetCodedRefusals() async throws {
        let server = try await SignalingServer.start()
        let desk = DeskClient(port: server.port)
        let sam = try await wsToken("shop-9", .shopper, identity: "sam")
        let opened = try await desk.request("POST", "/api/consultations", token: sam, body: ["department": "sales"])
        let id = try #require(opened.json["id"] as? String)

        // Without a token, with a viewer's, with another shopper's.
        #expect(try await desk.request("POST", "/api/consultations", token: nil, body: [:]).status == 401)
        let viewer = try await wsToken("shop-9", .viewer, identity: "eve")
        #expect(try await desk.request("POST", "/api/consultations", token: viewer, body: [:]).status == 403)
        let mallory = try await wsToken("shop-10", .shopper, identity: "mallory")
        #expect(try await desk.request("GET", "/api/consultations/\(id)", token: mallory).status == 404)
        #expect(try await desk.request("POST", "/api/consultations/\(id)/leave-message", token: mallory).status == 404)
        // A second consultation in the same room by another identity.
        let intruder = try await wsToken("shop-9", .shopper, identity: "mallory")
        #expect(try await desk.request("POST", "/api/consultations", token: intruder, body: [:]).status == 403)
        // A shopper's token on the agents' and admins' API.
        #expect(try await desk.request("POST", "/api/desk/consultations/\(id)/pick", token: sam).status == 403)
        #expect(try await desk.request("PUT", "/api/admin/departments/x", token: sam, body: ["name": "X"]).status == 403)
        // An agent token for a shop room is not a workspace token.
        let roomAgent = try await wsToken("shop-9", .agent, identity: "anna")
        #expect(try await desk.request("POST", "/api/desk/consultations/\(id)/pick", token: roomAgent).status == 403)
        // An agent the admin never added; a pick by an agent of another department.
        let stranger = try await wsToken("desk", .agent, identity: "stranger")
        #expect(try await desk.request("POST", "/api/desk/consultations/\(id)/pick", token: stranger).status == 404)
        // Bad bodies: unknown department, oversized fields, malformed JSON, too large, bad rating.
        let other = try await wsToken("shop-11", .shopper, identity: "olga")
        let unknown = try await desk.request("POST", "/api/consultations", token: other, body: ["department": "nope"])
        #expect(unknown.status == 422 && unknown.text.contains("unknown_department"), "\(unknown.text)")
        let long = try await desk.request("POST", "/api/consultations", token: other, body: ["name": String(repeating: "n", count: 65)])
        #expect(long.status == 400 && long.text.contains("name"), "\(long.text)")
        #expect(try await desk.request("POST", "/api/consultations", token: other, raw: Data("{".utf8)).status == 400)
        #expect(try await desk.request("POST", "/api/consultations", token: other, raw: Data(count: 100_000)).status == 413)
        #expect(try await desk.request("POST", "/api/consultations/\(id)/rating", token: sam, body: ["score": 9]).status == 400)
        // The admin API: capacity 0, an unknown department, a missing field — each refused, nothing changed.
        let admin = try await Self.admin()
        let zero = try await desk.request(
            "PUT", "/api/admin/agents/zed", token: admin, body: ["name": "Zed", "departments": ["sales"], "skills": [], "capacity": 0, "supervisor": false])
        #expect(zero.status == 400 && zero.text.contains("capacity"), "\(zero.text)")
        let nowhere = try await desk.request(
            "PUT", "/api/admin/agents/zed", token: admin, body: ["name": "Zed", "departments": ["nowhere"], "skills": [], "capacity": 1, "supervisor": false])
        #expect(nowhere.status == 422, "\(nowhere.text)")
        let missing = try await desk.request("PUT", "/api/admin/agents/zed", token: admin, body: ["name": "Zed"])
        #expect(missing.status == 400 && missing.text.contains("missing"), "\(missing.text)")
        #expect(try await desk.request("GET", "/api/admin/agents", token: admin).array.isEmpty)
        // Moving a consultation that is not yours.
        try await Self.addAgent(desk, "anna", name: "Anna", departments: ["sales"])
        let anna = try await wsToken("desk", .agent, identity: "anna")
        #expect(try await desk.request("POST", "/api/desk/consultations/\(id)/resolve", token: anna).status == 404)
        #expect(try await desk.request("POST", "/api/desk/consultations/\(id)/launch", token: anna).status == 404)
        _ = await server.stop()
    }
}
