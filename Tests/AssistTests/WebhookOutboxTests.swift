import Assist
import Foundation
import Testing

/// Outgoing webhooks: the signature against independently computed HMACs, and the outbox's
/// retries, backoff, pause, resume and bounds driven by an injected clock.
@Suite struct WebhookOutboxTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let secret = "whsec_0123456789abcdef0123456789abcdef"
    let endpoint = WebhookEndpoint(id: "shop", url: "https://shop.example/hooks/showroom", secret: secret)

    func event(_ n: Int, _ kind: WebhookEventKind = .consultationCreated) throws -> WebhookEvent {
        try WebhookEvent(id: "e\(n)", kind: kind, at: t0, payload: Data(#"{"consultation":"c\#(n)"}"#.utf8))
    }

    func outbox(_ configure: (inout WebhookOutbox.Configuration) -> Void = { _ in }) throws -> WebhookOutbox {
        var c = WebhookOutbox.Configuration()
        configure(&c)
        var o = WebhookOutbox(configuration: c)
        try o.upsert(endpoint)
        return o
    }

    @Test func hmacMatchesRFC4231() {
        // RFC 4231 §4.3, test case 2.
        let mac = HMACSHA256.mac(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(mac.map(HMACSHA256.hex) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func theSignatureIsTheHMACOfTimestampDotBody() {
        let body = Array(#"{"event":"consultation.created","id":"e1"}"#.utf8)
        // Computed with Python's hmac module, independently of this code.
        let expected = "sha256=ce3ff3066f48a4ffa2a79006eac7372b8d1c2c49f4b328ff239c928656478846"
        #expect(WebhookSignature.sign(secret: Self.secret, timestamp: "1700000000", body: body) == expected)
        #expect(WebhookSignature.verify(signature: expected, secret: Self.secret, timestamp: "1700000000", body: body))
        #expect(!WebhookSignature.verify(signature: expected, secret: Self.secret, timestamp: "1700000001", body: body))
        #expect(!WebhookSignature.verify(signature: expected, secret: Self.secret + "x", timestamp: "1700000000", body: body))
        #expect(!WebhookSignature.verify(signature: expected, secret: Self.secret, timestamp: "1700000000", body: body + [0x20]))
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(WebhookSignature.verify(signature: expected, secret: Self.secret, timestamp: "1700000000", body: body, now: now + 300))
        #expect(!WebhookSignature.verify(signature: expected, secret: Self.secret, timestamp: "1700000000", body: body, now: now + 301))
        let headers = WebhookSignature.headers(secret: Self.secret, body: body, now: now + 0.9)
        #expect(headers.map(\.name) == ["X-Showroom-Timestamp", "X-Showroom-Signature"])
        #expect(headers.last?.value == expected)
    }

    @Test func theBodyIsTheEnvelopeAndTheSameOnEveryAttempt() throws {
        let e = try event(1)
        #expect(e.body == e.body)
        let json = try #require(try JSONSerialization.jsonObject(with: e.body) as? [String: Any])
        #expect(json["event"] as? String == "consultation.created")
        #expect(json["id"] as? String == "e1")
        #expect(json["at"] as? String == "2027-01-15T08:00:00Z")
        #expect((json["payload"] as? [String: Any])?["consultation"] as? String == "c1")
        #expect(throws: AssistError(.invalidArgument, "")) { try WebhookEvent(id: "x", kind: .messageCreated, at: t0, payload: Data("[1]".utf8)) }
        #expect(throws: AssistError(.tooLarge, "")) {
            try WebhookEvent(id: "x", kind: .messageCreated, at: t0, payload: Data(count: WebhookEvent.maximumPayloadSize + 1))
        }
    }

    @Test func failuresBackOffOnTheScheduleThenGiveUp() throws {
        var o = try outbox()
        let created = o.enqueue(try event(1), now: t0).deliveries
        #expect(created.map(\.id) == ["e1@shop"])
        var now = t0
        let expectedDelays: [TimeInterval] = [5, 30, 120, 600, 1_800]
        for (n, delay) in expectedDelays.enumerated() {
            let due = o.due(now: now)
            #expect(due.map(\.id) == ["e1@shop"])
            #expect(o.due(now: now).isEmpty)  // leased
            let c = o.complete("e1@shop", result: .status(503), now: now)
            #expect(c.outcome == .retry(at: now + delay))
            #expect(c.delivery?.attempts == n + 1)
            #expect(o.due(now: now + delay - 1).isEmpty)
            #expect(o.nextDue() == now + delay)
            now = now + delay
        }
        #expect(o.due(now: now).count == 1)
        #expect(o.complete("e1@shop", result: .transportError("connection refused"), now: now).outcome == .gaveUp)
        #expect(o.pending.isEmpty)
        #expect(o.gaveUp == 1)
        let log = o.log(of: "shop")
        #expect(log.map(\.outcome) == [.retrying, .retrying, .retrying, .retrying, .retrying, .gaveUp])
        #expect(log.map(\.attempt) == [1, 2, 3, 4, 5, 6])
        #expect(log.first?.status == 503)
        #expect(log.first?.error == "HTTP 503")
        #expect(log.last?.error == "connection refused")
        #expect(o.complete("e1@shop", result: .status(200), now: now).outcome == .unknownDelivery)
    }

    @Test func aLeaseThatIsNeverCompletedEnds() throws {
        var o = try outbox()
        o.enqueue(try event(1), now: t0)
        #expect(o.due(now: t0).count == 1)
        #expect(o.due(now: t0 + 59).isEmpty)
        #expect(o.due(now: t0 + 60).count == 1)
    }

    @Test func successIsLoggedAndRemoved() throws {
        var o = try outbox()
        o.enqueue(try event(1), now: t0)
        _ = o.due(now: t0)
        #expect(o.complete("e1@shop", result: .status(204), now: t0 + 1).outcome == .delivered)
        #expect(o.pending.isEmpty)
        #expect(o.delivered == 1)
        #expect(o.log(of: "shop").map(\.outcome) == [.delivered])
    }

    @Test func tenFailuresInARowPauseTheEndpointUntilResumed() throws {
        var o = try outbox()
        for n in 0..<10 { o.enqueue(try event(n), now: t0) }
        var paused: WebhookEndpoint?
        for d in o.due(now: t0) {
            let c = o.complete(d.id, result: .status(500), now: t0 + 1)
            if let p = c.pausedEndpoint { paused = p }
        }
        #expect(paused?.paused == true)
        #expect(paused?.pausedReason == "10 failed attempts in a row")
        #expect(o.pausedEndpoints.map(\.id) == ["shop"])
        #expect(o.pausedEndpoints.first?.secret == "")
        #expect(o.due(now: t0 + 10_000).isEmpty)
        #expect(o.nextDue() == nil)
        // Events still queue while paused.
        o.enqueue(try event(10), now: t0 + 2)
        #expect(o.pending.count == 11)
        #expect(o.log(of: "shop").last?.outcome == .paused)

        let resumed = try o.resume("shop", now: t0 + 100)
        #expect(!resumed.endpoint.paused)
        #expect(resumed.deliveries.count == 11)
        #expect(resumed.deliveries.allSatisfy { $0.attempts == 0 && $0.nextAttempt == t0 + 100 })
        #expect(o.consecutiveFailures(of: "shop") == 0)
        #expect(o.due(now: t0 + 100).count == 11)
        #expect(throws: AssistError(.notFound, "")) { try o.resume("nope", now: t0) }
    }

    @Test func aSuccessResetsTheFailureCount() throws {
        var o = try outbox()
        for n in 0..<19 { o.enqueue(try event(n), now: t0) }
        let due = o.due(now: t0)
        for (i, d) in due.enumerated() {
            _ = o.complete(d.id, result: i == 9 ? .status(200) : .status(500), now: t0)
        }
        #expect(o.consecutiveFailures(of: "shop") == 9)
        #expect(o.pausedEndpoints.isEmpty)
    }

    @Test func theLogKeepsTheLast200Entries() throws {
        var o = try outbox()
        for n in 0..<250 {
            o.enqueue(try event(n), now: t0)
            for d in o.due(now: t0) { _ = o.complete(d.id, result: .status(200), now: t0) }
        }
        let log = o.log(of: "shop")
        #expect(log.count == 200)
        #expect(log.first?.eventID == "e50")
        #expect(log.last?.eventID == "e249")
    }

    @Test func aFullOutboxDropsTheOldestAndCountsIt() throws {
        var o = try outbox { $0.maximumPending = 3 }
        var lost: [String] = []
        for n in 0..<5 { lost += o.enqueue(try event(n), now: t0 + Double(n)).dropped.map(\.id) }
        #expect(o.pending.map(\.id) == ["e2@shop", "e3@shop", "e4@shop"])
        #expect(lost == ["e0@shop", "e1@shop"])
        #expect(o.dropped == 2)
        #expect(o.log(of: "shop").map(\.outcome) == [.dropped, .dropped])
        // The same event is not queued twice.
        #expect(o.enqueue(try event(4), now: t0).deliveries.isEmpty)
    }

    @Test func filtersAndEndpoints() throws {
        var o = WebhookOutbox()
        try o.upsert(WebhookEndpoint(id: "a", url: "https://a.example/h", secret: Self.secret, events: [.conversionRecorded]))
        try o.upsert(WebhookEndpoint(id: "b", url: "http://b.example/h", secret: Self.secret))
        #expect(o.enqueue(try event(1, .messageCreated), now: t0).deliveries.map(\.endpoint) == ["b"])
        #expect(o.enqueue(try event(2, .conversionRecorded), now: t0).deliveries.map(\.endpoint) == ["a", "b"])
        #expect(try o.remove(endpoint: "b").count == 2)
        #expect(o.pending.map(\.id) == ["e2@a"])
        for bad in [
            WebhookEndpoint(id: "x", url: "ftp://x.example", secret: Self.secret),
            WebhookEndpoint(id: "x", url: "https://", secret: Self.secret),
            WebhookEndpoint(id: "x", url: "https://x.example", secret: "short"),
            WebhookEndpoint(id: "x y", url: "https://x.example", secret: Self.secret),
        ] {
            #expect(throws: AssistError(.invalidArgument, "")) { try o.upsert(bad) }
        }
    }

    @Test func aRestartKeepsPendingDeliveriesAndDropsLeases() throws {
        var o = try outbox()
        o.enqueue(try event(1), now: t0)
        _ = o.due(now: t0)
        let restored = WebhookOutbox(endpoints: [endpoint], pending: o.pending)
        var r = restored
        #expect(r.due(now: t0 + 1).map(\.id) == ["e1@shop"])
    }
}
