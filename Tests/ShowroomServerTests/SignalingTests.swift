import Foundation
import HummingbirdTesting
import NIOCore
import Relay
import ShowroomServer
import Testing

/// `/ws` with a real WebSocket client against a live server: authentication, presence, chat with
/// acknowledgements, deduplication, resume and history, limits, room isolation, and media
/// negotiation.
@Suite struct SignalingTests {
    func text(_ id: String, _ body: String) -> [String: Any] { ["type": "send", "id": id, "kind": "text", "text": body] }

    @Test func helloWithAValidTokenComesFirst() async throws {
        try await withLiveServer { client, _ in
            let port = try #require(client.port)
            let early = SignalingClient(port: port)
            early.send(["type": "join", "room": "r1"])
            let closing = try await early.next("closing")
            #expect(closing["code"] as? String == "unauthorized")
            #expect(await early.waitClosed())

            let forged = SignalingClient(port: port)
            forged.send(["type": "hello", "v": 1, "token": "not-a-token"])
            #expect(try await forged.next("closing")["code"] as? String == "unauthorized")

            let future = SignalingClient(port: port)
            future.send(["type": "hello", "v": 2, "token": try await token("r1", .shopper)])
            #expect(try await future.next("closing")["code"] as? String == "unsupported_version")

            // A valid token for another room cannot join this one.
            let other = SignalingClient(port: port)
            other.send(["type": "hello", "v": 1, "token": try await token("r2", .shopper)])
            let welcome = try await other.next("welcome")
            #expect((welcome["participant"] as? [String: any Sendable])?["role"] as? String == "shopper")
            other.send(["type": "join", "room": "r1", "ref": "j"])
            let refused = try await other.next("error")
            #expect(refused["code"] as? String == "forbidden" && refused["ref"] as? String == "j")
            await other.close()
        }
    }

    /// A connection that never says hello is closed with `timeout` (after 10 s).
    @Test func aSilentConnectionIsClosedWithTimeout() async throws {
        try await withLiveServer { client, _ in
            let silent = SignalingClient(port: try #require(client.port))
            let closing = try await silent.next("closing", seconds: 20)
            #expect(closing["code"] as? String == "timeout")
            #expect(await silent.waitClosed())
        }
    }

    @Test func chatIsAcknowledgedAfterStorageDeliveredToEveryoneInSeqOrderAndNeverDoubled() async throws {
        try await withLiveServer { client, _ in
            let port = try #require(client.port)
            let agent = SignalingClient(port: port), shopper = SignalingClient(port: port)
            try await agent.enter(token: try await token("shop", .agent), room: "shop")
            let joined = try await shopper.enter(token: try await token("shop", .shopper), room: "shop")
            #expect((joined["participants"] as? [any Sendable])?.count == 2)
            let presence = try await agent.next("presence")
            #expect(presence["event"] as? String == "joined")

            agent.send(text("m1", "Hello! How can I help?"))
            let ack = try await agent.next("ack")
            #expect(ack["id"] as? String == "m1" && ack["seq"] as? Int64 == 1 && ack["duplicate"] as? Bool == false)
            let got = try await shopper.next("message")
            #expect(got["seq"] as? Int64 == 1 && got["text"] as? String == "Hello! How can I help?" && got["role"] as? String == "agent")

            // The same client id again (a retry after a lost ack): the original seq, nothing new delivered.
            agent.send(text("m1", "Hello! How can I help?"))
            let again = try await agent.next("ack")
            #expect(again["seq"] as? Int64 == 1 && again["duplicate"] as? Bool == true)

            // A product card and a coupon from the agent.
            agent.send([
                "type": "send", "id": "m2", "kind": "product", "sku": "SOFA-3", "title": "Three-seat sofa", "price": "1299.00",
                "currency": "EUR", "link": "https://shop.example/p/sofa-3",
            ])
            agent.send(["type": "send", "id": "m3", "kind": "coupon", "code": "BLUE10", "discount": "10%", "expires": "2026-12-31T23:59:59Z"])
            let card = try await shopper.next("message"), coupon = try await shopper.next("message")
            #expect(card["seq"] as? Int64 == 2 && card["kind"] as? String == "product" && card["price"] as? String == "1299.00")
            #expect(coupon["seq"] as? Int64 == 3 && coupon["kind"] as? String == "coupon" && coupon["code"] as? String == "BLUE10")
            #expect(shopper.all("message").count == 3)

            // Typing and read receipts reach the other side.
            shopper.send(["type": "typing", "on": true])
            #expect(try await agent.next("typing")["on"] as? Bool == true)
            shopper.send(["type": "mute", "kind": "audio", "muted": true])
            let mute = try await agent.next("mute")
            #expect(mute["kind"] as? String == "audio" && mute["muted"] as? Bool == true)
            shopper.send(["type": "read", "seq": 3])
            let read = try await agent.next("read")
            #expect(read["seq"] as? Int64 == 3)
            // The chat's counters in /metrics.
            try await client.execute(uri: "/metrics", method: .get) { r in
                let text = String(buffer: r.body)
                #expect(WHIPTests.sample(text, "showroom_chat_messages_stored_total") == 3, "\(text.prefix(3_000))")
                #expect(WHIPTests.sample(text, "showroom_chat_duplicates_total") == 1)
                #expect(WHIPTests.sample(text, "showroom_ws_connections") == 2)
            }
            await agent.close()
            #expect(try await shopper.next("presence")["event"] as? String == "left")
            await shopper.close()
        }
    }

    @Test func aReconnectingClientGetsExactlyWhatItMissedInOrderThenLiveOnes() async throws {
        try await withLiveServer { client, _ in
            let port = try #require(client.port)
            let agent = SignalingClient(port: port)
            try await agent.enter(token: try await token("resume", .agent), room: "resume")
            var shopper = SignalingClient(port: port)
            let shopperToken = try await token("resume", .shopper)
            try await shopper.enter(token: shopperToken, room: "resume")
            agent.send(text("a1", "one"))
            #expect(try await agent.next("ack")["id"] as? String == "a1")
            #expect(try await shopper.next("message")["seq"] as? Int64 == 1)
            await shopper.close()
            // Each message acknowledged (stored) before the shopper comes back: the ack read is the one for
            // this very message (an unread ack for an earlier one let the rejoin race the fourth store).
            for i in 2...4 {
                agent.send(text("a\(i)", "n\(i)"))
                #expect(try await agent.next("ack")["id"] as? String == "a\(i)")
            }
            shopper = SignalingClient(port: port)
            let joined = try await shopper.enter(token: shopperToken, room: "resume", lastSeq: 1)
            #expect(joined["lastSeq"] as? Int64 == 4)
            agent.send(text("a5", "live"))
            var seqs: [Int64] = []
            for _ in 0..<4 { seqs.append(try await shopper.next("message")["seq"] as? Int64 ?? -1) }
            #expect(seqs == [2, 3, 4, 5])

            // History pages backwards.
            shopper.send(["type": "history", "before": 4, "limit": 2, "ref": "h"])
            let page = try await shopper.next("history")
            #expect((page["messages"] as? [any Sendable])?.compactMap { ($0 as? [String: any Sendable])?["seq"] as? Int64 } == [2, 3])
            #expect(page["hasMore"] as? Bool == true && page["ref"] as? String == "h")
            await shopper.close()
            await agent.close()
        }
    }

    @Test func badInputGetsACodeAndPersistentAbuseIsDisconnected() async throws {
        try await withLiveServer { client, _ in
            let port = try #require(client.port)
            let c = SignalingClient(port: port)
            c.send(["type": "hello", "v": 1, "token": try await token("limits", .shopper)])
            _ = try await c.next("welcome")
            c.send(text("x", "before joining"))
            #expect(try await c.next("error")["code"] as? String == "not_joined")
            c.send(["type": "join", "room": "limits"])
            _ = try await c.next("joined")
            c.send(text("long", String(repeating: "a", count: 5_000)))
            #expect(try await c.next("error")["code"] as? String == "too_large")
            c.send(["type": "send", "id": "p", "kind": "product", "sku": "A", "title": "T", "price": "12,90", "currency": "EUR", "link": "https://a.example"])
            let invalid = try await c.next("error")
            #expect(invalid["code"] as? String == "invalid_content" && (invalid["reason"] as? String ?? "").contains("price"))
            c.send(["type": "send", "id": "s", "kind": "system", "text": "I am the server"])
            #expect(try await c.next("error")["code"] as? String == "invalid_content")
            // A shopper's look-alike product card or clip: refused (only agents and publishers send them).
            c.send(["type": "send", "id": "fake", "kind": "product", "sku": "A", "title": "T", "price": "12.90", "currency": "EUR", "link": "https://phish.example"])
            #expect(try await c.next("error")["code"] as? String == "forbidden")
            c.send(["type": "send", "id": "clip", "kind": "video", "url": "https://tracker.example/c.mp4", "duration": 5, "width": 640, "height": 360])
            #expect(try await c.next("error")["code"] as? String == "forbidden")
            c.sendRaw("{not json")
            #expect(try await c.next("error")["code"] as? String == "bad_message")
            // A flood: beyond the burst, rate_limited; keep on, and the server closes with policy.
            for i in 0..<200 { c.send(["type": "ping", "ref": "\(i)"]) }
            #expect(try await c.next("error")["code"] as? String == "rate_limited")
            #expect(try await c.next("closing")["code"] as? String == "policy")
            #expect(await c.waitClosed())
            // The server is fine: another client works.
            let d = SignalingClient(port: port)
            try await d.enter(token: try await token("limits", .viewer), room: "limits")
            d.send(text("ok", "still here"))
            #expect(try await d.next("ack")["seq"] as? Int64 == 1)
            await d.close()
        }
    }

    @Test func oneRoomNeverSeesAnothersChatOrPresence() async throws {
        try await withLiveServer { client, _ in
            let port = try #require(client.port)
            let a = SignalingClient(port: port), b = SignalingClient(port: port), b2 = SignalingClient(port: port)
            try await a.enter(token: try await token("room-a", .shopper), room: "room-a")
            try await b.enter(token: try await token("room-b", .agent), room: "room-b")
            try await b2.enter(token: try await token("room-b", .shopper), room: "room-b")
            for i in 0..<20 { b.send(text("b\(i)", "secret \(i)")) }
            for _ in 0..<20 { _ = try await b2.next("message") }
            a.send(text("a0", "mine"))
            // a's own message arrives; nothing of room-b's ever does.
            #expect(try await a.next("message")["text"] as? String == "mine")
            #expect(a.all("message").count == 1 && a.all("presence").isEmpty)
            a.send(["type": "history", "limit": 100])
            #expect((try await a.next("history")["messages"] as? [any Sendable])?.count == 1)
            await a.close()
            await b.close()
            await b2.close()
        }
    }

    /// Media over /ws: a publisher's offer is answered; a subscriber asks for the `low` rendition
    /// (the same choice as WHEP's ?quality=) and the relay serves it that.
    @Test func publishAndSubscribeWithAQualityOverTheSocket() async throws {
        try await withLiveServer { client, relay in
            let port = try #require(client.port)
            let agent = SignalingClient(port: port), shopper = SignalingClient(port: port)
            try await agent.enter(token: try await token("call", .agent), room: "call")
            try await shopper.enter(token: try await token("call", .shopper), room: "call")
            agent.send(["type": "publish", "sdp": try fixtureOffer("aiortc-publisher-offer.sdp"), "ref": "pub"])
            let answer = try await agent.next("answer")
            #expect((answer["sdp"] as? String ?? "").contains("a=ice-lite") && answer["ref"] as? String == "pub")
            let session = try #require(answer["session"] as? String)
            let track = try await shopper.next("track")
            #expect(track["event"] as? String == "published" && track["session"] as? String == session)

            shopper.send(["type": "subscribe", "sdp": try fixtureOffer("aiortc-viewer-offer.sdp"), "quality": "low", "adaptive": false])
            let sub = try await shopper.next("answer")
            #expect((sub["sdp"] as? String ?? "").contains("a=sendonly"))
            let viewer = try #require(await relay.statistics().first { !$0.publishing })
            #expect(viewer.quality == .low && viewer.id == sub["session"] as? String)

            // A call: the shopper publishes too, and each side subscribes to the other by default.
            shopper.send(["type": "publish", "sdp": try fixtureOffer("aiortc-publisher-offer.sdp")])
            let shopperSession = try #require(try await shopper.next("answer")["session"] as? String)
            // The room learns of a publication only after its answer is sent: subscribing by default
            // once the agent has seen it announced, not as soon as the shopper has its answer.
            #expect(await SignalingServer.eventually(seconds: 10) { agent.all("track").contains { $0["session"] as? String == shopperSession } })
            agent.send(["type": "subscribe", "sdp": try fixtureOffer("aiortc-viewer-offer.sdp")])
            let agentView = try #require(try await agent.next("answer")["session"] as? String)
            let stats = await relay.statistics()
            #expect(stats.first { $0.id == agentView }?.watching == shopperSession)
            #expect(stats.first { $0.id == sub["session"] as? String }?.watching == session)

            // Another room's publication cannot be watched from here, even by its id.
            let outsider = SignalingClient(port: port)
            try await outsider.enter(token: try await token("elsewhere", .shopper), room: "elsewhere")
            outsider.send(["type": "subscribe", "sdp": try fixtureOffer("aiortc-viewer-offer.sdp"), "source": session])
            #expect(try await outsider.next("error")["code"] as? String == "not_found")
            await outsider.close()

            // A viewer token cannot publish; a stranger cannot stop someone else's session.
            let watcher = SignalingClient(port: port)
            try await watcher.enter(token: try await token("call", .viewer), room: "call")
            watcher.send(["type": "publish", "sdp": "v=0"])
            #expect(try await watcher.next("error")["code"] as? String == "forbidden")
            watcher.send(["type": "stop", "session": session])
            #expect(try await watcher.next("error")["code"] as? String == "not_found")

            // Leaving ends what the connection opened.
            await agent.close()
            var event = try await shopper.next("track")
            while event["event"] as? String == "published" { event = try await shopper.next("track") }
            #expect(event["event"] as? String == "unpublished" && event["session"] as? String == session)
            await shopper.close()
            await watcher.close()
            var remaining = await relay.sessionCount()
            for _ in 0..<500 where remaining > 0 {  // up to 10 s: the server ends them once it sees the closes
                try await Task.sleep(for: .milliseconds(20))
                remaining = await relay.sessionCount()
            }
            #expect(remaining == 0)
        }
    }

    /// Every answer and error carries the `ref` of the message that caused it — `welcome`,
    /// `joined` and `bad_message` included (an independent client found them without).
    @Test func everyAnswerAndErrorEchoesRef() async throws {
        let server = try await SignalingServer.start()
        let c = SignalingClient(port: server.port)
        c.send(["type": "hello", "v": 1, "token": try await wsToken("refs", .shopper, identity: "ref-sam"), "ref": "h1"])
        #expect(try await c.next("welcome")["ref"] as? String == "h1")
        c.send(["type": "join", "room": "refs", "ref": "j1"])
        #expect(try await c.next("joined")["ref"] as? String == "j1")
        for (bad, ref) in [
            (#"{"type":"warp","ref":"w1"}"#, "w1"), (#"{"type":"join","ref":"j2"}"#, "j2"), (#"{"ref":"n1"}"#, "n1"),
            (#"{"type":"send","id":"x","kind":"video","ref":"k1"}"#, "k1"), (#"{"type":"history","limit":1000,"ref":"l1"}"#, "l1"),
        ] {
            c.sendRaw(bad)
            let e = try await c.next("error")
            #expect(e["code"] as? String == "bad_message" && e["ref"] as? String == ref, "\(bad) → \(e)")
        }
        c.send(["type": "ping", "ref": "p1"])
        #expect(try await c.next("pong")["ref"] as? String == "p1")
        await c.close()
        _ = await server.stop()
    }

    /// A coupon's `expires`: a full timestamp, one with fractional seconds, or a date alone are all
    /// ISO 8601 and come back exactly as sent (the same instant); something else breaks a content
    /// rule (`invalid_content`), and a field of the wrong JSON type is `bad_message`.
    @Test func couponExpiryIsAnyISO8601DateOrTimeAndComesBackAsSent() async throws {
        let server = try await SignalingServer.start()
        let c = SignalingClient(port: server.port)
        try await c.enter(token: try await wsToken("coupons", .agent, identity: "coupon-ann"), room: "coupons")
        let accepted = ["2027-01-31", "2026-12-31T23:59:59.500Z", "2026-12-31T23:59:59Z", "2026-12-31T23:59:59.123456+02:00"]
        for (i, expires) in accepted.enumerated() {
            c.send(["type": "send", "id": "c\(i)", "kind": "coupon", "code": "BLUE10", "discount": "10%", "expires": expires])
            let answer = try await c.next("ack", orError: true)
            #expect(answer["type"] as? String == "ack", "\(expires): \(answer)")
            // The message (sent to everyone before the ack) carries the expiry as sent.
            #expect(c.all("message").last?["expires"] as? String == expires)
        }
        c.send(["type": "history", "limit": 10])
        let stored = (try await c.next("history")["messages"] as? [any Sendable] ?? []).compactMap { ($0 as? [String: any Sendable])?["expires"] as? String }
        #expect(stored == accepted)
        for expires in ["next tuesday", "2026-13-01", "2026-02-30", "2026-12-31T25:00:00Z", "2026-12-31T23:59:59"] {
            c.send(["type": "send", "id": "bad-\(expires)", "kind": "coupon", "code": "X", "discount": "10%", "expires": expires, "ref": expires])
            let e = try await c.next("error")
            #expect(e["code"] as? String == "invalid_content" && e["ref"] as? String == expires, "\(expires): \(e)")
        }
        c.send(["type": "send", "id": "typed", "kind": "coupon", "code": "X", "discount": "10%", "expires": 20270131])
        #expect(try await c.next("error")["code"] as? String == "bad_message")
        await c.close()
        _ = await server.stop()
    }

    /// When the relay cannot start the rendition `setQuality` asks for, the answer is `media` with
    /// the relay's reason (it used to be `not_found`).
    @Test func setQualityAtCapacityIsAMediaError() async throws {
        let server = try await SignalingServer.start(relay: true, relayConfiguration: { $0.limits.renditions = 0 })
        let agent = SignalingClient(port: server.port), shopper = SignalingClient(port: server.port)
        try await agent.enter(token: try await wsToken("cap", .agent, identity: "cap-agent"), room: "cap")
        try await shopper.enter(token: try await wsToken("cap", .shopper, identity: "cap-shopper"), room: "cap")
        agent.send(["type": "publish", "sdp": try fixtureOffer("aiortc-publisher-offer.sdp")])
        _ = try await agent.next("answer")
        // Subscribing by default finds the publication once the room has announced it (after the answer).
        #expect(try await shopper.next("track")["event"] as? String == "published")
        shopper.send(["type": "subscribe", "sdp": try fixtureOffer("aiortc-viewer-offer.sdp"), "adaptive": false])
        let session = try #require(try await shopper.next("answer")["session"] as? String)
        shopper.send(["type": "setQuality", "session": session, "quality": "low", "ref": "q"])
        let e = try await shopper.next("error")
        #expect(e["code"] as? String == "media" && e["ref"] as? String == "q", "\(e)")
        #expect((e["reason"] as? String ?? "").contains("renditions"))
        shopper.send(["type": "setQuality", "session": "not-mine", "quality": "low"])
        #expect(try await shopper.next("error")["code"] as? String == "not_found")
        await agent.close()
        await shopper.close()
        _ = await server.stop()
    }
}
