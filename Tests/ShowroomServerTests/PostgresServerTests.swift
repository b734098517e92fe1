import Foundation
import ShowroomServer
import ShowroomTestSupport
import Testing

/// Servers whose stores are on PostgreSQL (`--database`), against a real cluster the tests start:
/// two nodes on one database share one chat (seqs, idempotency, resume across nodes), and a
/// database outage gives `storage` errors — never an acknowledgement for a message not stored —
/// and is recovered from without a restart.
@Suite(.serialized) struct PostgresServerTests {
    func text(_ id: String, _ body: String) -> [String: Any] { ["type": "send", "id": id, "kind": "text", "text": body] }

    /// Node A stores two messages; a shopper on node B resumes from 0 and gets both, and its own
    /// send takes seq 3 (not 1); a retry of A's first send on B is a duplicate with A's seq; a
    /// client on A resuming from 2 gets B's message.
    @Test func twoNodesOnOneDatabaseShareOneChat() async throws {
        let url = try await PostgresTestCluster.shared().freshDatabase()
        let a = try await SignalingServer.start(configure: { $0.databaseURL = url })
        let b = try await SignalingServer.start(configure: { $0.databaseURL = url })
        let agent = SignalingClient(port: a.port)
        try await agent.enter(token: try await wsToken("launch", .agent, identity: "ann"), room: "launch")
        agent.send(text("m1", "Welcome to the launch"))
        #expect(try await agent.next("ack")["seq"] as? Int64 == 1)
        agent.send(text("m2", "Ask me anything"))
        #expect(try await agent.next("ack")["seq"] as? Int64 == 2)

        let shopper = SignalingClient(port: b.port)
        let joined = try await shopper.enter(token: try await wsToken("launch", .shopper, identity: "sam"), room: "launch", lastSeq: 0)
        #expect(joined["lastSeq"] as? Int64 == 2)
        let backlog = [try await shopper.next("message"), try await shopper.next("message")]
        #expect(backlog.map { $0["seq"] as? Int64 } == [1, 2])
        #expect(backlog.map { $0["text"] as? String } == ["Welcome to the launch", "Ask me anything"])
        shopper.send(text("s1", "Does it come in blue?"))
        #expect(try await shopper.next("ack")["seq"] as? Int64 == 3)

        // Ann's connection moves to node B and retries m1: the stored one, not a new message.
        let moved = SignalingClient(port: b.port)
        try await moved.enter(token: try await wsToken("launch", .agent, identity: "ann"), room: "launch", lastSeq: 3)
        moved.send(text("m1", "Welcome to the launch"))
        let retry = try await moved.next("ack")
        #expect(retry["seq"] as? Int64 == 1 && retry["duplicate"] as? Bool == true)

        let late = SignalingClient(port: a.port)
        try await late.enter(token: try await wsToken("launch", .shopper, identity: "lea"), room: "launch", lastSeq: 2)
        let missed = try await late.next("message")
        #expect(missed["seq"] as? Int64 == 3 && missed["text"] as? String == "Does it come in blue?")
        for c in [agent, shopper, moved, late] { await c.close() }
        _ = await a.stop()
        _ = await b.stop()
    }

    /// A room with members on two nodes (a broadcast's viewers): an agent on each node sends 30
    /// messages at once; every member, on either node, gets all 60 live, in seq order 1…60, none
    /// twice — the other node's through the database's notifications and a read of the store.
    @Test func aRoomOnTwoNodesGetsEveryMessageOnEveryNodeInSeqOrder() async throws {
        let url = try await PostgresTestCluster.shared().freshDatabase()
        let a = try await SignalingServer.start(configure: { $0.databaseURL = url })
        let b = try await SignalingServer.start(configure: { $0.databaseURL = url })
        let ann = SignalingClient(port: a.port), ben = SignalingClient(port: b.port)
        let sam = SignalingClient(port: a.port), lea = SignalingClient(port: b.port)
        try await ann.enter(token: try await wsToken("demo", .agent, identity: "ann"), room: "demo")
        try await ben.enter(token: try await wsToken("demo", .agent, identity: "ben"), room: "demo")
        try await sam.enter(token: try await wsToken("demo", .shopper, identity: "sam"), room: "demo")
        try await lea.enter(token: try await wsToken("demo", .shopper, identity: "lea"), room: "demo")
        // Both nodes listen before the first send: a node's feed starts with `resumed`, after which
        // every append is told. (A message stored before would still come, by the join's read.)
        for i in 1...30 {
            ann.send(text("a\(i)", "from A \(i)"))
            ben.send(text("b\(i)", "from B \(i)"))
        }
        for (name, client) in [("ann", ann), ("ben", ben), ("sam", sam), ("lea", lea)] {
            var seqs: [Int64] = []
            var texts: Set<String> = []
            for _ in 1...60 {
                let m = try await client.next("message", seconds: 20)
                seqs.append(m["seq"] as? Int64 ?? -1)
                texts.insert(m["text"] as? String ?? "")
            }
            #expect(seqs == Array(1...60), "\(name) on node \(name == "ann" || name == "sam" ? "A" : "B"): \(seqs)")
            #expect(texts.count == 60)
        }
        // A last message after all of them: once it has arrived, anything doubled would have too.
        ann.send(text("end", "end"))
        for c in [ann, ben, sam, lea] {
            while try await c.next("message", seconds: 20)["text"] as? String != "end" {}
            #expect(c.all("message").count == 61, "no message twice")
            await c.close()
        }
        _ = await a.stop()
        _ = await b.stop()
    }

    /// PostgreSQL stopped for 10 s under a connected client: every send meanwhile gets a `storage`
    /// error and no ack; once it is back, the retried sends are stored (once each, in order) on the
    /// same server and connection, and a resume from 0 finds exactly what was acknowledged.
    @Test func aDatabaseOutageGivesStorageErrorsAndNoAckThenRecovers() async throws {
        let cluster = try await PostgresTestCluster.start()
        let url = try await cluster.freshDatabase()
        let node = try await SignalingServer.start(configure: { $0.databaseURL = url })
        let agent = SignalingClient(port: node.port)
        try await agent.enter(token: try await wsToken("outage", .agent, identity: "ann"), room: "outage")
        agent.send(text("before", "stored"))
        #expect(try await agent.next("ack")["seq"] as? Int64 == 1)

        try await cluster.stop()
        let outage = ContinuousClock.now
        var refused = 0
        while ContinuousClock.now - outage < .seconds(10) {
            refused += 1
            agent.send(text("during-\(refused)", "not stored yet"))
            let answer = try await agent.next("error", seconds: 20)
            #expect(answer["code"] as? String == "storage", "\(answer)")
            try await Task.sleep(for: .seconds(1))
        }
        #expect(agent.all("ack").count == 1, "no ack during the outage")
        try await cluster.startAgain()

        // The client retries what was refused, in order: each stored once, in that order.
        for i in 1...refused {
            agent.send(text("during-\(i)", "not stored yet"))
            let ack = try await agent.next("ack", seconds: 20)
            #expect(ack["id"] as? String == "during-\(i)" && ack["seq"] as? Int64 == Int64(1 + i) && ack["duplicate"] as? Bool == false)
        }
        let reader = SignalingClient(port: node.port)
        try await reader.enter(token: try await wsToken("outage", .shopper, identity: "sam"), room: "outage", lastSeq: 0)
        var seqs: [Int64] = []
        for _ in 0...refused { seqs.append(try #require(try await reader.next("message")["seq"] as? Int64)) }
        #expect(seqs == Array(1...Int64(1 + refused)))
        for c in [agent, reader] { await c.close() }
        _ = await node.stop()
        try? await cluster.stop()
    }

    /// A database URL that is not one, or a database that does not answer, stops the server from
    /// starting, with the reason (and never the password).
    @Test func aBadDatabaseURLIsRefusedAtStart() async throws {
        var config = ServerConfiguration()
        config.databaseURL = "mysql://root:hunter2@db/shop"
        #expect(throws: ServerError(.invalidConfiguration, "")) { try config.validate() }
        do {
            _ = try await SignalingServer.start(configure: { $0.databaseURL = "postgres://showroom:hunter2@127.0.0.1:1/nowhere?sslmode=disable" })
            Issue.record("a server started without its database")
        } catch {
            #expect("\(error)".contains("storage") && !"\(error)".contains("hunter2"), "\(error)")
        }
    }
}
