import Chat
import Foundation
import Signaling
import Synchronization
import Testing

/// The I/O-free parts of `/ws`, driven directly: the byte-bounded outgoing queue, rates with an
/// injected clock, the quota tables, a room's turn.
@Suite struct OutboxQueueTests {
    @Test func theBudgetIsInBytesAndTheMessageBeingWrittenCounts() {
        var q = OutboxQueue(budget: 100)
        #expect(q.offer(String(repeating: "a", count: 60)) == .queued)
        #expect(q.offer(String(repeating: "b", count: 41)) == .overBudget)  // 101 > 100: not queued
        #expect(q.bytes == 60)
        #expect(q.offer(String(repeating: "c", count: 40)) == .queued)
        #expect(q.bytes == 100 && q.peak == 100)
        #expect(q.next()?.first == "a")
        #expect(q.bytes == 100)  // "a" is being written: it still counts
        #expect(q.next()?.first == "c")
        #expect(q.bytes == 40)  // "a" written
        #expect(q.next() == nil && q.bytes == 0 && q.phase == .open)
        // Four-byte characters count four.
        #expect(q.offer(String(repeating: "😀", count: 25)) == .queued)
        #expect(q.offer("x") == .overBudget)
    }

    @Test func closeSendsWhatIsQueuedThenTheLastThenEnds() {
        var q = OutboxQueue(budget: 10)
        #expect(q.offer("12345") == .queued)
        q.close(last: "closing-message")  // past the budget: the last one is always taken
        #expect(q.offer("late") == .closed)
        #expect(q.next() == "12345")
        #expect(q.next() == "closing-message")
        #expect(q.next() == nil && q.phase == .ended && q.bytes == 0)
    }

    @Test func abandonDropsWhatIsQueuedButNotWhatIsBeingWritten() {
        var q = OutboxQueue(budget: 1_000)
        for i in 0..<5 { _ = q.offer("message \(i)") }
        #expect(q.next() == "message 0")
        q.abandon(last: "bye")
        #expect(q.bytes == "message 0".utf8.count + 3)
        #expect(q.next() == "bye")
        #expect(q.next() == nil && q.phase == .ended && q.bytes == 0)
        var quiet = OutboxQueue(budget: 10)
        quiet.abandon(last: nil)
        #expect(quiet.phase == .ended)
    }

    @Test func aLongQueueStaysInOrderThroughCompaction() {
        var q = OutboxQueue(budget: 1 << 20)
        var out: [String] = []
        for i in 0..<1_000 {
            _ = q.offer("\(i)")
            if i % 3 == 0, let t = q.next() { out.append(t) }
        }
        while let t = q.next() { out.append(t) }
        #expect(out == (0..<1_000).map { "\($0)" })
    }
}

/// Pages are bounded by `storedSize`, so it must not be less than the frame a message makes.
extension OutboxQueueTests {
    @Test func aBatchTakesWhatFitsAtLeastOneAndCountsUntilTheNext() {
        var q = OutboxQueue(budget: 1_000)
        for t in ["aaaa", "bbbb", "cccc", String(repeating: "d", count: 20)] { _ = q.offer(t) }
        #expect(q.nextBatch(maximumBytes: 100, maximumCount: 1) == ["aaaa"])  // at most one message
        #expect(q.bytes == 32)  // the batch being written still counts
        #expect(q.nextBatch(maximumBytes: 10, maximumCount: 8) == ["bbbb", "cccc"])  // "d…" would make 28 bytes
        #expect(q.bytes == 28)
        #expect(q.nextBatch(maximumBytes: 10, maximumCount: 8) == [String(repeating: "d", count: 20)])  // alone, larger than a batch
        q.close(last: "bye")
        #expect(q.nextBatch(maximumBytes: 10, maximumCount: 8) == ["bye"] && q.phase == .closing)
        #expect(q.nextBatch(maximumBytes: 10, maximumCount: 8) == [] && q.phase == .ended && q.bytes == 0)
    }
}

@Suite struct StoredSizeTests {
    static let contents: [String: ChatContent] = [
        "plain": .text("plain"), "control": .text(String(repeating: "\u{1}", count: 5_000)),
        "escapes": .text(String(repeating: "\"\\\n\t", count: 3_000)), "emoji": .text(String(repeating: "😀", count: 4_000)),
        "combining": .text("a" + String(repeating: "\u{301}", count: 8_000)),
        "image": .image(url: "https://shop.example/a/b/c.jpg", width: 16_384, height: 16_384, alt: "\"quoted\""),
        "video": .video(
            url: "https://shop.example/" + String(repeating: "v", count: 2_000), poster: "https://shop.example/" + String(repeating: "\"", count: 2_000),
            duration: 119.999_999_999, width: 16_384, height: 16_384),
        "product": .product(
            sku: "SKU-1", title: String(repeating: "T", count: 512), price: "123456789.99", currency: "EUR", imageURL: "https://a.example/i",
            link: "https://a.example/p"),
        "coupon": .coupon(code: "C", discount: "5.00 EUR", expires: CouponExpiry(text: "2026-12-31T23:59:59.123456789+02:00")),
    ]

    @Test(arguments: ["plain", "control", "escapes", "emoji", "combining", "image", "video", "product", "coupon"])
    func storedSizeIsAtLeastTheWireSize(kind: String) throws {
        let content = try #require(Self.contents[kind])
        let m = StoredMessage(
            room: "r", seq: 9_007_199_254_740_991, clientID: String(repeating: "\"", count: 64), sender: String(repeating: "i", count: 128),
            senderRole: "shopper", content: content, sentAt: Date())
        let wire = ServerMessage.message(m).json().utf8.count
        #expect(m.storedSize >= wire, "\(m.storedSize) < \(wire)")
        #expect(m.storedSize <= wire + 512)
    }
}

@Suite struct OutboxTests {
    @Test func theWriterGetsEverythingInOrderThenTheEnd() {
        let outbox = Outbox(budget: 1_000)
        #expect(outbox.deliver("one"))
        #expect(outbox.deliver("two"))
        outbox.close(last: "closing")
        #expect(outbox.takeBatch(maximumBytes: 1_000) == (["one", "two", "closing"], false))
        #expect(outbox.takeBatch(maximumBytes: 1_000) == ([], true))
        #expect(!outbox.deliver("after"))
    }

    @Test func goingOverTheBudgetFailsTheConnectionOnceAndCountsIt() {
        let totals = OutboxTotals()
        let outbox = Outbox(budget: 10, totals: totals)
        let failures = Mutex<[SignalingError.Code]>([])
        outbox.onFailure { e in failures.withLock { $0.append(e.code) } }
        #expect(outbox.deliver("12345678"))
        #expect(totals.bytes.load(ordering: .relaxed) == 8)
        #expect(!outbox.deliver("123"))
        #expect(!outbox.deliver("456"))
        #expect(failures.withLock { $0 } == [.slowConsumer])
        #expect(totals.overflows.load(ordering: .relaxed) == 1 && totals.peak.load(ordering: .relaxed) == 8)
        outbox.abandon(last: nil)
        #expect(totals.bytes.load(ordering: .relaxed) == 0)
    }

    /// The batch writer is woken once per idle period however many messages arrive, takes them
    /// all at once, and is woken again only after it found the queue empty; the end wakes it too.
    @Test func aBatchWriterIsWokenOncePerIdlePeriod() {
        let outbox = Outbox(budget: 1_000)
        let wakes = Atomic(0)
        outbox.deliver("early")
        outbox.onWake { wakes.add(1, ordering: .relaxed) }
        #expect(wakes.load(ordering: .relaxed) == 1, "something was queued already")
        for i in 0..<5 { outbox.deliver("m\(i)") }
        #expect(wakes.load(ordering: .relaxed) == 1, "awake: no more wake-ups")
        #expect(outbox.takeBatch(maximumBytes: 1_000) == (["early", "m0", "m1", "m2", "m3", "m4"], false))
        outbox.deliver("while writing")
        #expect(wakes.load(ordering: .relaxed) == 1, "still awake until it finds the queue empty")
        #expect(outbox.takeBatch(maximumBytes: 1_000) == (["while writing"], false))
        #expect(outbox.takeBatch(maximumBytes: 1_000) == ([], false))
        #expect(outbox.bytes == 0)
        outbox.deliver("later")
        #expect(wakes.load(ordering: .relaxed) == 2)
        #expect(outbox.takeBatch(maximumBytes: 1_000) == (["later"], false))
        #expect(outbox.takeBatch(maximumBytes: 1_000) == ([], false))
        outbox.close(last: "closing")
        #expect(wakes.load(ordering: .relaxed) == 3, "the end wakes an idle writer")
        #expect(outbox.takeBatch(maximumBytes: 1_000) == (["closing"], false))
        #expect(outbox.takeBatch(maximumBytes: 1_000) == ([], true))
    }

    @Test func whenBelowFiresOnceTheWriterHasTakenEnough() {
        let outbox = Outbox(budget: 1_000)
        for _ in 0..<4 { outbox.deliver(String(repeating: "x", count: 100)) }
        let fired = Atomic(0)
        outbox.whenBelow(150) { fired.add(1, ordering: .relaxed) }
        #expect(fired.load(ordering: .relaxed) == 0)
        _ = outbox.tryNext()  // 400 queued (one being written)
        _ = outbox.tryNext()  // 300
        _ = outbox.tryNext()  // 200
        #expect(fired.load(ordering: .relaxed) == 0)
        _ = outbox.tryNext()  // 100 < 150
        #expect(fired.load(ordering: .relaxed) == 1)
        outbox.whenBelow(150) { fired.add(1, ordering: .relaxed) }  // already below: at once
        #expect(fired.load(ordering: .relaxed) == 2)
    }
}

@Suite struct RateAndQuotaTests {
    let t0 = ContinuousClock.now

    @Test func aTokenBucketRefillsWithTheInjectedClock() {
        var b = TokenBucket(rate: 2, burst: 3)
        #expect((0..<4).map { _ in b.take(now: t0) } == [true, true, true, false])
        let at400 = b.take(now: t0 + .milliseconds(400))  // 0.8 of a token
        let at500 = b.take(now: t0 + .milliseconds(500))
        #expect(!at400 && at500)
        #expect(!b.isFull(at: t0 + .seconds(1)) && b.isFull(at: t0 + .seconds(2)))
        // A clock that goes back gives nothing.
        let back = b.take(now: t0)
        #expect(!back)
    }

    @Test func oneIdentitysRateIsSharedAndTheTableIsBounded() {
        let limiter = IdentityRateLimiter(rate: 1, burst: 2, capacity: 3)
        #expect(limiter.take("sam", now: t0) && limiter.take("sam", now: t0))
        #expect(!limiter.take("sam", now: t0))  // the third send, whichever connection it comes from
        #expect(limiter.take("ann", now: t0))
        // A flood of identities never grows the table past its capacity…
        for i in 0..<100 { _ = limiter.take("id-\(i)", now: t0 + .milliseconds(i)) }
        #expect(limiter.count <= 3)
        // …and an identity that is over its rate is forgotten only after the idle ones.
        let busy = IdentityRateLimiter(rate: 1, burst: 1, capacity: 2)
        #expect(busy.take("busy", now: t0))
        #expect(busy.take("idle", now: t0))
        #expect(busy.take("new", now: t0 + .seconds(5)))  // both refilled: evicted as idle
        #expect(busy.count == 1)
    }

    @Test func admissionCountsServerAndIdentitySlots() {
        let a = Admission(connectionsPerServer: 3, connectionsPerIdentity: 2)
        #expect(a.admit(identity: "sam") == nil && a.admit(identity: "sam") == nil)
        #expect(a.admit(identity: "sam") == .identityFull)
        #expect(a.admit(identity: "ann") == nil)
        #expect(a.admit(identity: "bob") == .serverFull)
        #expect(a.openConnection() == .serverFull, "a full server takes no new connection")
        a.release(identity: "sam")
        #expect(a.admit(identity: "sam") == nil)
        a.release(identity: "sam")
        a.release(identity: "sam")
        a.release(identity: "ann")
        #expect(a.counts.identities == 0 && a.counts.connections == 0)
    }

    /// Connections before `hello` have their own pool, with a share per (non-loopback) address;
    /// an accepted `hello` gives the pending slot back.
    @Test func pendingConnectionsHaveTheirOwnPool() {
        let a = Admission(connectionsPerServer: 2, connectionsPerIdentity: 2, pendingPerServer: 5, pendingPerAddress: 2)
        #expect(a.openConnection(from: "203.0.113.7") == nil && a.openConnection(from: "203.0.113.7") == nil)
        #expect(a.openConnection(from: "203.0.113.7") == .pendingFull, "one address holds its share")
        #expect(a.openConnection(from: "198.51.100.1") == nil)
        #expect(a.openConnection(from: "127.0.0.1") == nil && a.openConnection(from: "127.0.0.1") == nil)
        #expect(a.openConnection(from: "127.0.0.1") == .pendingFull, "the server's pool is full")
        #expect(a.counts.pending == 5 && a.counts.connections == 0)
        #expect(a.admit(identity: "sam", pendingFrom: "203.0.113.7") == nil)
        #expect(a.counts.pending == 4 && a.counts.connections == 1)
        #expect(a.openConnection(from: "203.0.113.7") == nil, "the address's share was given back")
        a.closePending(from: "198.51.100.1")
        #expect(a.counts.pending == 4)
    }
}

/// A media relay that records what it is asked.
final class RecordingMedia: MediaNegotiator {
    let calls = Mutex<[String]>([])
    let refuseQuality: SignalingError?

    init(refuseQuality: SignalingError? = nil) { self.refuseQuality = refuseQuality }

    func publish(room: String, identity: String, offer: String) async throws(SignalingError) -> (session: String, answer: String) {
        calls.withLock { $0.append("publish \(room) \(identity)") }
        return ("pub-\(identity)", "v=0")
    }
    func subscribe(room: String, identity: String, offer: String, quality: String, adaptive: Bool, source: String?) async throws(SignalingError)
        -> (session: String, answer: String)
    {
        calls.withLock { $0.append("subscribe \(room) \(identity) \(source ?? "-")") }
        return ("sub-\(identity)", "v=0")
    }
    func setQuality(session: String, room: String, quality: String) async throws(SignalingError) {
        calls.withLock { $0.append("setQuality \(session) \(quality)") }
        if let refuseQuality { throw refuseQuality }
    }
    func stop(session: String, room: String) async -> Bool {
        calls.withLock { $0.append("stop \(session)") }
        return true
    }
}

@Suite struct SignalingSessionTests {
    static func session(_ hub: RoomHub, media: (any MediaNegotiator)?, identity: String, expires: Date? = nil) -> (SignalingSession, Outbox) {
        let outbox = hub.makeOutbox()
        let session = SignalingSession(
            hub: hub, media: media,
            authenticate: { (token: String) async throws(SignalingError) -> Grant in
                guard token.hasPrefix("ok") else { throw SignalingError(.unauthorized, "bad token") }
                return Grant(identity: identity, role: token == "ok-viewer" ? "viewer" : "agent", room: "r", canPublish: true, expires: expires)
            }, outbox: outbox)
        return (session, outbox)
    }

    static func drain(_ outbox: Outbox) async -> [[String: Any]] {
        var out: [[String: Any]] = []
        while let t = outbox.tryNext() {
            if let o = (try? JSONSerialization.jsonObject(with: Data(t.utf8))) as? [String: Any] { out.append(o) }
        }
        return out
    }

    /// The token's identity reaches the relay (which counts sessions per identity), and a relay
    /// refusal of setQuality comes back with its own code and reason.
    @Test func mediaCallsCarryTheIdentityAndRelayRefusalsKeepTheirCode() async throws {
        let (store, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hub = RoomHub(store: store)
        let media = RecordingMedia(refuseQuality: SignalingError(.media, "8 renditions are running"))
        let (s, outbox) = Self.session(hub, media: media, identity: "ann")
        #expect(await s.handle(#"{"type":"hello","v":1,"token":"ok"}"#) == nil)
        #expect(await s.handle(#"{"type":"join","room":"r"}"#) == nil)
        #expect(await s.handle(#"{"type":"publish","sdp":"v=0"}"#) == nil)
        #expect(await s.handle(#"{"type":"subscribe","sdp":"v=0","source":"x"}"#) == nil)
        #expect(await s.handle(#"{"type":"setQuality","session":"sub-ann","quality":"low","ref":"q"}"#) == nil)
        #expect(await s.handle(#"{"type":"setQuality","session":"pub-ann","quality":"low","ref":"p"}"#) == nil)
        let got = await Self.drain(outbox)
        #expect(media.calls.withLock { $0 } == ["publish r ann", "subscribe r ann x", "setQuality sub-ann low"])
        let errors = got.filter { $0["type"] as? String == "error" }
        #expect(errors.map { $0["code"] as? String } == ["media", "not_found"])
        #expect(errors.map { $0["ref"] as? String } == ["q", "p"])
        await s.end()
        #expect(media.calls.withLock { $0 }.filter { $0.hasPrefix("stop") }.count == 2)
    }

    /// `refresh` moves the expiry with a token of the same identity, room and role; another
    /// token is refused and the old expiry stays.
    @Test func refreshMovesTheExpiryOnlyForTheSameGrant() async throws {
        let (store, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hub = RoomHub(store: store)
        let (s, outbox) = Self.session(hub, media: nil, identity: "sam")
        #expect(await s.handle(#"{"type":"hello","v":1,"token":"ok","ref":"h"}"#) == nil)
        #expect(await s.handle(#"{"type":"refresh","token":"ok","ref":"r1"}"#) == nil)
        #expect(await s.handle(#"{"type":"refresh","token":"ok-viewer","ref":"r2"}"#) == nil)  // another role
        #expect(await s.handle(#"{"type":"refresh","token":"forged","ref":"r3"}"#) == nil)  // stays open
        let got = await Self.drain(outbox)
        #expect(got.map { $0["type"] as? String } == ["welcome", "refreshed", "error", "error"])
        #expect(got.map { $0["ref"] as? String } == ["h", "r1", "r2", "r3"])
        #expect(got[2]["code"] as? String == "forbidden" && got[3]["code"] as? String == "unauthorized")
        await s.end()
    }

    /// A resume far behind is sent in pages as the connection drains; live messages sent
    /// meanwhile come after the backlog, in order, none twice, none missing.
    @Test func aResumeComesInPagesThenLiveMessagesInOrder() async throws {
        let (store, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hub = RoomHub(store: store)
        let ann = Participant(id: "a1", identity: "ann", role: "agent")
        try await hub.join(room: "r", member: RoomHub.Member(participant: ann, outbox: hub.makeOutbox()), after: nil)
        let big = String(repeating: "x", count: 10_000)
        for i in 1...50 { _ = try await hub.send(room: "r", from: ann, clientID: "m\(i)", content: .text(big), ref: nil) }
        let sam = Participant(id: "s1", identity: "sam", role: "shopper")
        let samOutbox = hub.makeOutbox()
        try await hub.join(room: "r", member: RoomHub.Member(participant: sam, outbox: samOutbox), after: 0)
        // Nothing read yet: `joined` and a page or two (the next goes while less than a page is
        // queued) — not the whole 500 KB.
        let queued = samOutbox.bytes
        #expect(queued <= 2 * hub.limits.pageBytes + 12_000, "\(queued) bytes queued")
        // Live messages while it catches up: not queued for it ahead of its backlog (the order
        // below shows it), and the queue stays within two pages.
        for i in 51...53 { _ = try await hub.send(room: "r", from: ann, clientID: "m\(i)", content: .text("live \(i)"), ref: nil) }
        #expect(samOutbox.bytes <= 2 * hub.limits.pageBytes + 12_000)
        var seqs: [Int64] = []
        var peak = 0
        let deadline = ContinuousClock.now + .seconds(10)
        while seqs.count < 53, ContinuousClock.now < deadline {
            peak = max(peak, samOutbox.bytes)
            guard let t = samOutbox.tryNext() else {
                try await Task.sleep(for: .milliseconds(1))  // the next page is on its way (a store read)
                continue
            }
            if let o = (try? JSONSerialization.jsonObject(with: Data(t.utf8))) as? [String: Any], o["type"] as? String == "message" {
                seqs.append(o["seq"] as? Int64 ?? -1)
            }
        }
        #expect(seqs == Array(1...53))
        #expect(peak <= 2 * hub.limits.pageBytes + 12_000, "peak \(peak)")
        // Live now: the next message is queued at once.
        _ = try await hub.send(room: "r", from: ann, clientID: "m54", content: .text("live"), ref: nil)
        let next = samOutbox.tryNext()
        #expect(next?.contains(#""seq":54"#) == true)
    }

    /// A full room refuses a join with `at_capacity`; a room's operations past the waiting bound
    /// are refused with `storage` rather than queued.
    @Test func roomsHaveQuotas() async throws {
        let (sqlite, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = StallingStore(inner: sqlite, stalling: "slow")
        var limits = SignalingLimits()
        limits.membersPerRoom = 2
        limits.pendingStoreOperationsPerRoom = 3
        let hub = RoomHub(store: store, limits: limits)
        for i in 0..<2 {
            try await hub.join(room: "r", member: RoomHub.Member(participant: Participant(id: "p\(i)", identity: "u\(i)", role: "shopper"), outbox: hub.makeOutbox()), after: nil)
        }
        await #expect(throws: SignalingError(.atCapacity, "")) {
            try await hub.join(room: "r", member: RoomHub.Member(participant: Participant(id: "p2", identity: "u2", role: "shopper"), outbox: hub.makeOutbox()), after: nil)
        }
        let p = Participant(id: "s", identity: "s", role: "agent")
        try await hub.join(room: "slow", member: RoomHub.Member(participant: p, outbox: hub.makeOutbox()), after: nil)
        // One send holds the room's turn (its store hangs), three wait, the fifth is refused.
        let sends = (0..<4).map { i in Task { try await hub.send(room: "slow", from: p, clientID: "c\(i)", content: .text("t"), ref: nil) } }
        #expect(await eventually(seconds: 5) { store.entered.load(ordering: .relaxed) })
        #expect(await eventually(seconds: 5) { await hub.waitingForStore(room: "slow") == 3 })
        await #expect(throws: SignalingError(.storage, "")) {
            try await hub.send(room: "slow", from: p, clientID: "c4", content: .text("t"), ref: nil)
        }
        #expect(hub.snapshot().roomBusy == 1)
        for _ in 0..<4 { store.release.signal() }
        for s in sends { _ = try await s.value }
    }
}
