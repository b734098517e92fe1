import Foundation
import ShowroomServer
import ShowroomTestSupport
import Testing

/// Retention (`--retention-days`, `--retention-messages`) and durability (`--durable`) as a server
/// runs them, on a real data directory.
@Suite struct ChatRetentionTests {
    /// 20 messages stored; the server restarted with at most 5 per room: the 15 oldest are gone, a
    /// client resuming from seq 3 gets what is left (16…20), `joined.firstSeq` says where the
    /// room's chat now begins, and the next message is 21.
    @Test func retentionKeepsTheNewestAndResumeGetsWhatIsLeft() async throws {
        let first = try await SignalingServer.start()
        let agent = SignalingClient(port: first.port)
        try await agent.enter(token: try await wsToken("kept", .agent, identity: "keeper"), room: "kept")
        for i in 1...20 {
            agent.send(["type": "send", "id": "m\(i)", "kind": "text", "text": "message \(i)"])
            _ = try await agent.next("ack")
        }
        await agent.close()
        _ = await first.stop(keepingData: true)

        let second = try await SignalingServer.start(configure: {
            $0.dataDirectory = first.dataDirectory
            $0.retentionMessagesPerRoom = 5
            $0.retentionDays = 30
        })
        #expect(await SignalingServer.eventually(seconds: 10) { await second.sample("showroom_chat_pruned_total") == 15 })
        let shopper = SignalingClient(port: second.port)
        let joined = try await shopper.enter(token: try await wsToken("kept", .shopper, identity: "returning"), room: "kept", lastSeq: 3)
        #expect(joined["firstSeq"] as? Int64 == 16 && joined["lastSeq"] as? Int64 == 20)
        var seqs: [Int64] = []
        for _ in 0..<5 { seqs.append(try await shopper.next("message")["seq"] as? Int64 ?? -1) }
        #expect(seqs == [16, 17, 18, 19, 20])
        shopper.send(["type": "history", "limit": 200])
        let page = try await shopper.next("history")
        #expect((page["messages"] as? [any Sendable])?.count == 5 && page["hasMore"] as? Bool == false)
        shopper.send(["type": "send", "id": "after", "kind": "text", "text": "still counting"])
        #expect(try await shopper.next("ack")["seq"] as? Int64 == 21)
        await shopper.close()
        _ = await second.stop()
    }

    /// The prune runs periodically, not only at start: messages sent while the server runs are
    /// pruned at the next round.
    @Test func retentionRunsPeriodically() async throws {
        let server = try await SignalingServer.start(configure: {
            $0.retentionMessagesPerRoom = 3
            $0.chatRetentionInterval = .milliseconds(200)
        })
        let c = SignalingClient(port: server.port)
        try await c.enter(token: try await wsToken("rolling", .agent, identity: "roller"), room: "rolling")
        for i in 1...10 {
            c.send(["type": "send", "id": "m\(i)", "kind": "text", "text": "message \(i)"])
            _ = try await c.next("ack")
        }
        #expect(await SignalingServer.eventually(seconds: 10) { await server.sample("showroom_chat_pruned_total") == 7 })
        c.send(["type": "history", "limit": 200])
        let seqs = (try await c.next("history")["messages"] as? [any Sendable] ?? []).compactMap { ($0 as? [String: any Sendable])?["seq"] as? Int64 }
        #expect(seqs == [8, 9, 10])
        await c.close()
        _ = await server.stop()
    }

    @Test func badRetentionSettingsAreRefused() {
        var config = ServerConfiguration()
        config.retentionDays = 0
        #expect(throws: ServerError(.invalidConfiguration, "")) { try config.validate() }
        config.retentionDays = nil
        config.retentionMessagesPerRoom = -1
        #expect(throws: ServerError(.invalidConfiguration, "")) { try config.validate() }
    }

    /// The real binary takes `--durable`, `--retention-days` and `--retention-messages`, says so in
    /// its help, and serves with them.
    @Test func theCommandTakesTheChatFlags() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ShowroomCommandTests.executable), "build first: swift build")
        let help = try Subprocess(ShowroomCommandTests.executable, ["serve", "--help"], output: .capture)
        await help.exit(within: .seconds(60))
        let text = help.output()
        #expect(text.contains("--durable") && text.contains("--retention-days") && text.contains("--retention-messages"))

        let port = try UDPSocket().port
        let dataDir = ShowroomServerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let serve = try Subprocess(
            ShowroomCommandTests.executable,
            [
                "serve", "--port", "\(port)", "--media-port", "0", "--data-dir", dataDir, "--durable", "--retention-days", "30",
                "--retention-messages", "1000",
            ],
            errors: .capture)
        var health: (Int, String)?
        for _ in 0..<100 where health == nil {  // up to ~10 s to bind
            health = await ShowroomCommandTests.get("http://127.0.0.1:\(port)/healthz")
            if health == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(health?.0 == 200)
        await serve.end(SIGTERM, grace: .seconds(10))
        let logged = serve.errors()
        #expect(logged.contains("durableChat=true") && logged.contains("retentionDays=30") && logged.contains("retentionMessages=1000"), "\(logged.prefix(2_000))")
    }
}
