import Foundation
import PostgresStores
@testable import ShowroomServer
import ShowroomTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The desk across nodes (issue 15, must-have 3; docs/cluster.md, "The desk on several nodes"):
/// three nodes on one PostgreSQL, the desk running on one of them. The shopper's widget talks to a
/// second node, the agent's workspace to a third: both are forwarded to the desk's node, which
/// reads the consultation's room through the store — so the bot answers a shopper on another
/// node, the queue offers the consultation to an agent on a third, and the agent's first reply
/// there is recorded. Then the desk's node stops: the next node in line has the desk at once,
/// built from the store, with the consultation still assigned to the agent.
@Suite(.serialized) struct ClusterDeskTests {
    static func url(_ node: SignalingServer) -> String { "http://127.0.0.1:\(node.port)" }

    /// RFC 9110 §7.6.1: what a request's `Connection` header names is the connection's own and
    /// is not forwarded, beside the fixed hop-by-hop fields; everything else is.
    @Test func headersTheConnectionHeaderNamesAreNotForwarded() {
        let dropped = DeskLeadership.perConnection(["close, X-Foo", " x-bar ,"])
        for name in ["x-foo", "x-bar", "close", "connection", "keep-alive", "transfer-encoding", "upgrade"] {
            #expect(dropped.contains(name), "\(name)")
        }
        #expect(!dropped.contains("authorization") && !dropped.contains("content-type") && !dropped.contains("x-baz"))
    }

    @Test func anAgentOnOneNodeServesAShopperOnAnotherAndTheDeskOutlivesItsNode() async throws {
        let database = try await PostgresTestCluster.shared().freshDatabase()
        let nodes = [
            try await ClusterPlacementTests.node(database), try await ClusterPlacementTests.node(database),
            try await ClusterPlacementTests.node(database),
        ]
        let registry = try ClusterPlacementTests.registry(database)
        #expect(await SignalingServer.eventually(seconds: 15) { ((try? registry.deskNode()) ?? nil) != nil }, "a node takes the desk")
        let first = try #require(try registry.deskNode())
        let deskNode = try #require(nodes.first { Self.url($0) == first })
        let others = nodes.filter { Self.url($0) != first }
        let (shopperNode, agentNode) = (others[0], others[1])
        let shopperDesk = DeskClient(port: shopperNode.port)
        let agentDesk = DeskClient(port: agentNode.port)

        // The agent's node forwards the admin's call and the workspace stream to the desk's node.
        #expect(
            await SignalingServer.eventually(seconds: 10) {
                (try? await agentDesk.request("GET", "/api/admin/agents", token: try await DeskFlowTests.admin()))?.status == 200
            }, "the desk answers through another node")
        try await DeskFlowTests.addAgent(agentDesk, "anna", name: "Anna", departments: ["sales"])
        let annaToken = try await wsToken("desk", .agent, identity: "anna")
        let workspace = try DeskEventStream(port: agentNode.port, token: annaToken)
        #expect(await workspace.statusLine().contains("200"))
        _ = try await workspace.next("hello")

        // The shopper on another node: the consultation opened there, the room joined there.
        let shopperToken = try await wsToken("shop-1", .shopper, identity: "sam")
        let opened = try await shopperDesk.request(
            "POST", "/api/consultations", token: shopperToken, body: ["department": "sales", "name": "Sam", "context": ["sku": "SOFA-1", "locale": "en"]])
        #expect(opened.status == 201, "\(opened.text)")
        let id = try #require(opened.json["id"] as? String)
        let shopper = SignalingClient(port: shopperNode.port)
        try await shopper.enter(token: shopperToken, room: "shop-1")

        // The bot, on the desk's node, hears a question stored on the shopper's node and answers it.
        shopper.send(["type": "send", "id": "q1", "kind": "text", "text": "How long does delivery take?"])
        #expect(await DeskFlowTests.waitFor(shopper, seconds: 10) { $0.contains { $0.role == "bot" && $0.text.contains("working days") } })
        shopper.send(["type": "send", "id": "q2", "kind": "text", "text": "I'd like to talk to a person please"])
        #expect(await DeskFlowTests.waitFor(shopper) { $0.contains { $0.role == "system" && $0.text.contains("number 1 in the queue") } })

        // The agent on the third node is offered it, accepts, and answers in the room from there.
        let offer = try await workspace.next("offer")
        #expect((offer["consultation"] as? [String: Any])?["id"] as? String == id)
        let accepted = try await agentDesk.request("POST", "/api/desk/consultations/\(id)/accept", token: annaToken)
        #expect(accepted.status == 200 && accepted.json["assignee"] as? String == "anna", "\(accepted.text)")
        let roomToken = try #require(try await workspace.next("assigned")["roomToken"] as? String)
        #expect(await DeskFlowTests.waitFor(shopper) { $0.contains { $0.role == "system" && $0.text.contains("Anna has joined") } })
        let agent = SignalingClient(port: agentNode.port)
        try await agent.enter(token: roomToken, room: "shop-1")
        agent.send(["type": "send", "id": "a1", "kind": "text", "text": "Hi Sam, the SOFA-1 ships in a week."])
        #expect(await DeskFlowTests.waitFor(shopper) { $0.contains { $0.role == "agent" && $0.text.contains("SOFA-1") } })
        // The desk heard the agent's reply, stored on the agent's node.
        #expect(
            await SignalingServer.eventually(seconds: 10) {
                (try? await shopperDesk.request("GET", "/api/consultations/\(id)", token: shopperToken))?.json["firstAgentReply"] != nil
            }, "the desk saw the first agent reply")

        // A request that says it was forwarded already is not forwarded again (no loop between
        // nodes, whatever a client writes in the header).
        var looped = URLRequest(url: URL(string: "\(Self.url(shopperNode))/api/admin/agents")!)
        looped.setValue("Bearer \(try await DeskFlowTests.admin())", forHTTPHeaderField: "Authorization")
        looped.setValue("http://127.0.0.1:1", forHTTPHeaderField: "Showroom-Forwarded")
        let (loopBody, loopResponse) = try await URLSession.shared.data(for: looped)
        #expect((loopResponse as? HTTPURLResponse)?.statusCode == 503)
        #expect(String(decoding: loopBody, as: UTF8.self).contains("unavailable"), "\(String(decoding: loopBody, as: UTF8.self))")

        // The desk's node stops: the next in line has the desk, built from the store.
        workspace.close()
        let stopped = ContinuousClock.now
        _ = await deskNode.stop()
        var second: String?
        #expect(
            await SignalingServer.eventually(seconds: 15) {
                second = (try? registry.deskNode()) ?? nil
                return second != nil && second != first
            }, "another node takes the desk")
        print("cluster desk: the desk moved from \(first) to \(second ?? "-") \(ContinuousClock.now - stopped) after the stop began")
        // Still assigned to Anna, as seen through the shopper's node.
        var record: [String: Any] = [:]
        #expect(
            await SignalingServer.eventually(seconds: 10) {
                record = (try? await shopperDesk.request("GET", "/api/consultations/\(id)", token: shopperToken))?.json ?? [:]
                return record["status"] != nil
            })
        #expect(record["status"] as? String == "active" && record["assignee"] as? String == "anna", "\(record)")
        // Anna's workspace, opened again on her node, holds it; she resolves it there.
        let again = try DeskEventStream(port: agentNode.port, token: annaToken)
        #expect(await again.statusLine().contains("200"))
        let hello = try await again.next("hello")
        let held = (hello["held"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(held == [id], "\(hello)")
        let resolved = try await agentDesk.request("POST", "/api/desk/consultations/\(id)/resolve", token: annaToken)
        #expect(resolved.status == 200, "\(resolved.text)")
        _ = try await again.next("ended")
        again.close()
        await shopper.close()
        await agent.close()

        // A node that forwards a workspace stream stops without waiting for the agent to close it.
        let forwarder = try #require(others.first { Self.url($0) != second })
        let open = try DeskEventStream(port: forwarder.port, token: annaToken)
        _ = try await open.next("hello")
        let took = await forwarder.stop(within: 10)
        #expect(took != nil, "the forwarding node stopped with a workspace stream open through it")
        open.close()
        for n in others where Self.url(n) != Self.url(forwarder) { _ = await n.stop() }
    }
}
