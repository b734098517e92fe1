import Foundation
import ShowroomServer
import Signaling
import Testing

/// Quotas on `/ws` (issue items 2, 3 and 4): a token holder gets a bounded share of the server —
/// connections per identity and per server, members per room, media sessions per connection,
/// chat sends per identity across all its connections — and no longer than its token lives.
@Suite struct SignalingQuotaTests {
    func text(_ id: String, _ body: String) -> [String: Any] { ["type": "send", "id": id, "kind": "text", "text": body] }

    /// Two connections of one identity share one send rate: each stays under the per-connection
    /// burst (40), together they are over the identity's (40), and the excess is refused. (The
    /// identity's rate is set to 0.5/s here so that a slow machine refilling the bucket during the
    /// test cannot hide the limit; the burst is the default.)
    @Test func oneIdentitysSendRateIsSharedAcrossItsConnections() async throws {
        let server = try await SignalingServer.start(configure: { $0.signaling.sendsPerSecondPerIdentity = 0.5 })
        let token = try await wsToken("twins", .shopper, identity: "twin")
        let a = SignalingClient(port: server.port), b = SignalingClient(port: server.port)
        try await a.enter(token: token, room: "twins")
        try await b.enter(token: token, room: "twins")
        for i in 0..<30 {
            a.send(text("a\(i)", "from a \(i)"))
            b.send(text("b\(i)", "from b \(i)"))
        }
        var acks = 0, limited = 0
        for c in [a, b] {
            for _ in 0..<30 {
                let answer = try await c.next("ack", orError: true)
                if answer["type"] as? String == "ack" { acks += 1 } else if answer["code"] as? String == "rate_limited" { limited += 1 }
            }
        }
        #expect(acks + limited == 60)
        #expect(limited >= 10, "\(acks) acknowledged, \(limited) refused")
        // Another identity in the same room is not affected.
        let other = SignalingClient(port: server.port)
        try await other.enter(token: try await wsToken("twins", .agent, identity: "agent-ann"), room: "twins")
        other.send(text("o", "not limited"))
        #expect(try await other.next("ack", orError: true)["type"] as? String == "ack")
        for c in [a, b, other] { await c.close() }
        _ = await server.stop()
    }

    /// The 17th connection of one identity is refused with `over_quota` and closed; the others
    /// keep working; once one leaves, a new one is taken.
    @Test func connectionsPerIdentityAreCapped() async throws {
        // Idle connections end after 30 s; on a loaded CI machine opening sixteen once took
        // longer, the first was closed for idleness and the 17th got its place.
        let server = try await SignalingServer.start(configure: { $0.signaling.idleTimeout = .seconds(600) })
        let token = try await wsToken("tabs", .shopper, identity: "many-tabs")
        var open: [SignalingClient] = []
        for _ in 0..<16 {
            let c = SignalingClient(port: server.port)
            try await c.enter(token: token, room: "tabs")
            open.append(c)
        }
        let extra = SignalingClient(port: server.port)
        extra.send(["type": "hello", "v": 1, "token": token, "ref": "h"])
        let closing = try await extra.next("closing")
        #expect(closing["code"] as? String == "over_quota" && (closing["reason"] as? String ?? "").contains("16"))
        #expect(await extra.waitClosed())
        open[0].send(["type": "ping", "ref": "still"])
        #expect(try await open[0].next("pong")["ref"] as? String == "still")
        await open[0].close()
        let again = try #require(await Self.welcomed(port: server.port, token: { token }), "the freed place was never taken")
        for c in open.dropFirst() + [again] { await c.close() }
        _ = await server.stop()
    }

    /// A connection may open at most 4 media sessions; the 5th is refused with `over_quota`.
    @Test func mediaSessionsPerConnectionAreCapped() async throws {
        let server = try await SignalingServer.start(relay: true)
        let c = SignalingClient(port: server.port)
        try await c.enter(token: try await wsToken("media-q", .agent, identity: "publisher-q"), room: "media-q")
        let offer = try fixtureOffer("aiortc-publisher-offer.sdp")
        for i in 0..<4 {
            c.send(["type": "publish", "sdp": offer, "ref": "p\(i)"])
            let answer = try await c.next("answer", orError: true)
            try #require(answer["type"] as? String == "answer", "\(answer)")
        }
        c.send(["type": "publish", "sdp": offer, "ref": "p4"])
        let refused = try await c.next("answer", orError: true)
        #expect(refused["code"] as? String == "over_quota" && refused["ref"] as? String == "p4")
        await c.close()
        _ = await server.stop()
    }

    /// A connection does not outlive its token: at expiry it is closed with `unauthorized`.
    @Test func aConnectionEndsWhenItsTokenExpires() async throws {
        let server = try await SignalingServer.start()
        // The token must still be valid when hello and join are done. On a machine busy with the
        // rest of the suite that has taken more than 8 s (CI, stop 20): a token that expired
        // before its welcome proves nothing either way, so the test tries again with a longer one.
        var attempt: (c: SignalingClient, ttl: Double, issued: ContinuousClock.Instant)?
        for ttl in [8.0, 20.0, 45.0] {
            let c = SignalingClient(port: server.port)
            let issued = ContinuousClock.now
            do {
                try await c.enter(token: try await wsToken("short", .shopper, identity: "brief", ttl: ttl), room: "short", seconds: ttl + 5)
                attempt = (c, ttl, issued)
                break
            } catch {
                await c.close()
                // Refused before the expiry: a real failure.
                if ContinuousClock.now - issued < .seconds(ttl - 1) { throw error }
            }
        }
        let (c, ttl, issued) = try #require(attempt, "hello and join never finished within a token's lifetime")
        // Keep it alive meanwhile (pings), so that only the expiry can end it.
        let closing = try await withThrowingTaskGroup(of: [String: any Sendable].self) { group in
            group.addTask { try await c.next("closing", seconds: ttl + 8) }
            group.addTask {
                while !Task.isCancelled {
                    c.send(["type": "ping"])
                    try await Task.sleep(for: .milliseconds(500))
                }
                return [:]
            }
            let first = try await group.next() ?? [:]
            group.cancelAll()
            return first
        }
        #expect(closing["code"] as? String == "unauthorized")
        // Closed at expiry (the sweeper checks once a second), not before and not long after.
        let lived = ContinuousClock.now - issued
        #expect(lived >= .seconds(ttl - 1) && lived < .seconds(ttl + 5), "closed after \(lived)")
        #expect(await c.waitClosed())
        _ = await server.stop()
    }

    /// Past the server's connection quota a new connection gets `closing` `at_capacity` (before
    /// any hello); a slot freed is taken again.
    @Test func connectionsPerServerAreCapped() async throws {
        let server = try await SignalingServer.start(configure: { $0.signaling.connectionsPerServer = 3 })
        var open: [SignalingClient] = []
        for i in 0..<3 {
            let c = SignalingClient(port: server.port)
            try await c.enter(token: try await wsToken("full", .shopper, identity: "s\(i)"), room: "full")
            open.append(c)
        }
        // A bare socket: the server answers before the client says anything, and the test client
        // library can miss frames that arrive together with the 101 response.
        let extra = try await RawWebSocketClient(port: server.port, receiveBuffer: 65_536)
        let frames = await extra.readUntil("closing", seconds: 10)
        #expect(frames.last?["type"] as? String == "closing" && frames.last?["code"] as? String == "at_capacity", "\(frames)")
        #expect(await extra.readUntilClosed(seconds: 10) != nil)
        #expect(await server.sample(#"showroom_ws_quota_refusals_total{quota="connections_per_server"}"#) == 1)
        await open[0].close()
        let again = try #require(
            await Self.welcomed(port: server.port, token: { (try? await wsToken("full", .shopper, identity: "s9")) ?? "" }),
            "the freed place was never taken")
        for c in open.dropFirst() + [again] { await c.close() }
        _ = await server.stop()
    }

    /// A full room refuses a `join` with `at_capacity`; the connection stays and can try later.
    @Test func membersPerRoomAreCapped() async throws {
        let server = try await SignalingServer.start(configure: { $0.signaling.membersPerRoom = 2 })
        let a = SignalingClient(port: server.port), b = SignalingClient(port: server.port), c = SignalingClient(port: server.port)
        try await a.enter(token: try await wsToken("small", .agent, identity: "agent-a"), room: "small")
        try await b.enter(token: try await wsToken("small", .shopper, identity: "shopper-b"), room: "small")
        c.send(["type": "hello", "v": 1, "token": try await wsToken("small", .shopper, identity: "shopper-c")])
        _ = try await c.next("welcome")
        c.send(["type": "join", "room": "small", "ref": "j"])
        let refused = try await c.next("error")
        #expect(refused["code"] as? String == "at_capacity" && refused["ref"] as? String == "j")
        await b.close()
        #expect(await SignalingServer.eventually(seconds: 5) {
            c.send(["type": "join", "room": "small"])
            return (try? await c.next("joined", seconds: 0.5)) != nil
        })
        for x in [a, c] { await x.close() }
        _ = await server.stop()
    }

    /// A rate-limited message's error carries its ref too.
    @Test func rateLimitedErrorsCarryTheRef() async throws {
        // A slow bucket (10 at once, one more a second): 40 pings pass it however long a busy
        // machine takes to read them, up to 28 s (with the default 20 a second, 120 pings read
        // over 19 s in CI were all answered).
        let server = try await SignalingServer.start(configure: {
            $0.signaling.messagesPerSecond = 1
            $0.signaling.messageBurst = 10
        })
        let c = SignalingClient(port: server.port)
        try await c.enter(token: try await wsToken("fast", .shopper, identity: "fast"), room: "fast")
        for i in 0..<40 { c.send(["type": "ping", "ref": "p\(i)"]) }
        let e = try await c.next("error")
        #expect(e["code"] as? String == "rate_limited" && (e["ref"] as? String ?? "").hasPrefix("p"))
        await c.close()
        _ = await server.stop()
    }
    /// A new connection that says hello and gets `welcome`, tried afresh until `seconds` pass: a
    /// place freed by a close is taken only once the server has seen that close, and a hello
    /// refused before then ends its connection (so each try needs a new one).
    private static func welcomed(port: Int, token: () async -> String, seconds: Double = 15) async -> SignalingClient? {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            let c = SignalingClient(port: port)
            c.send(["type": "hello", "v": 1, "token": await token()])
            if (try? await c.next("welcome", seconds: 3)) != nil { return c }
            await c.close()
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }
}
