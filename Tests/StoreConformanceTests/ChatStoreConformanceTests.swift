import Chat
import Dispatch
import Foundation
import Testing

/// ``ChatStore``'s promises, kept by SQLite and by PostgreSQL alike: per-room gapless seqs, sends
/// stored once, every kind of content back as sent after a reopen, pages bounded, retention that
/// never makes seqs restart, read receipts that never move back — and all of it with two stores
/// ("nodes") writing one room at once.
@Suite struct ChatStoreConformanceTests {
    @Test(arguments: Backend.allCases) func seqIsPerRoomAndGapless(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.chatStore()
        for i in 1...5 {
            let r = try store.append(room: "a", clientID: "m\(i)", sender: "ann", senderRole: "agent", content: .text("hi \(i)"), at: Date())
            #expect(r.message.seq == Int64(i) && !r.duplicate)
        }
        #expect(try store.append(room: "b", clientID: "m1", sender: "ann", senderRole: "agent", content: .text("x"), at: Date()).message.seq == 1)
        #expect(try store.lastSeq(room: "a") == 5)
        #expect(try store.lastSeq(room: "empty") == 0)
        #expect(try store.firstSeq(room: "empty") == 0)
    }

    /// A stored message this server cannot read (a `kind` a newer node wrote in a rolling upgrade,
    /// a damaged row) comes back in its place, with its seq, as a `system` line saying so: its
    /// room's pages still read (they failed with `storage`), and no seq is missing.
    @Test(arguments: Backend.allCases) func anUnreadableStoredMessageKeepsItsSeqAndDoesNotBlockThePage(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.chatStore()
        for i in 1...3 { _ = try store.append(room: "a", clientID: "m\(i)", sender: "ann", senderRole: "agent", content: .text("hi \(i)"), at: Date()) }
        try site.overwriteChatBody(room: "a", seq: 2, body: #"{"kind":"hologram","frames":12}"#)
        let page = try store.messages(room: "a", after: 0, limit: 10, maxBytes: 1 << 20)
        #expect(page.map(\.seq) == [1, 2, 3])
        #expect(page.map(\.content) == [.text("hi 1"), .system(ChatContent.unreadable), .text("hi 3")])
        #expect(try store.messages(room: "a", before: 4, limit: 10, maxBytes: 1 << 20).map(\.seq) == [1, 2, 3])
        try site.overwriteChatBody(room: "a", seq: 3, body: "not json")
        #expect(try site.chatStore().messages(room: "a", after: 2, limit: 10, maxBytes: 1 << 20).map(\.content) == [.system(ChatContent.unreadable)])
    }

    @Test(arguments: Backend.allCases) func aRetriedSendIsStoredOnceAndAnsweredWithTheOriginalSeq(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.chatStore()
        let first = try store.append(room: "a", clientID: "c-1", sender: "sam", senderRole: "shopper", content: .text("hello"), at: Date())
        _ = try store.append(room: "a", clientID: "c-2", sender: "sam", senderRole: "shopper", content: .text("again"), at: Date())
        let retry = try store.append(room: "a", clientID: "c-1", sender: "sam", senderRole: "shopper", content: .text("hello"), at: Date())
        #expect(retry.duplicate && retry.message.seq == first.message.seq && retry.message.content == .text("hello"))
        // The same client id from another sender is another message.
        #expect(!(try store.append(room: "a", clientID: "c-1", sender: "ann", senderRole: "agent", content: .text("hi"), at: Date()).duplicate))
        #expect(try store.lastSeq(room: "a") == 3, "a duplicate takes no seq")
        #expect(try store.append(room: "a", clientID: "c-3", sender: "sam", senderRole: "shopper", content: .text("next"), at: Date()).message.seq == 4)
    }

    @Test(arguments: Backend.allCases) func everyKindRoundTripsThroughAReopen(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.chatStore()
        let expiry = CouponExpiry(Date(timeIntervalSince1970: 1_798_761_599))
        let contents: [ChatContent] = [
            .text("Does it come in blue? \u{0} \u{1F600} \"quoted\" \\ back"),
            .image(url: "https://shop.example/a.jpg", width: 640, height: 480, alt: "the blue one"),
            .video(url: "https://shop.example/fit.mp4", poster: "https://shop.example/fit.jpg", duration: 14.5, width: 720, height: 1280),
            .video(url: "https://shop.example/colour.webm", poster: nil, duration: 9, width: 640, height: 360),
            .product(sku: "SOFA-3", title: "Three-seat sofa", price: "1299.00", currency: "EUR", imageURL: "https://shop.example/s.jpg", link: "https://shop.example/p/sofa-3"),
            .coupon(code: "BLUE10", discount: "10%", expires: expiry),
            .coupon(code: "DAY", discount: "5.00 EUR", expires: CouponExpiry(text: "2027-01-31")),
            .coupon(code: "HALF", discount: "10%", expires: CouponExpiry(text: "2026-12-31T23:59:59.500Z")),
            .coupon(code: "NANO", discount: "10%", expires: CouponExpiry(text: "2026-12-31T23:59:59.123456789+02:00")),
            .system("Ann joined"),
        ]
        let sentAt = Date(timeIntervalSince1970: 1_800_000_000.123456)
        for (i, c) in contents.enumerated() {
            _ = try store.append(room: "r", clientID: "\(i)", sender: "ann", senderRole: "agent", content: c, at: sentAt)
        }
        // A second store on the same place (a restart, another node) reads back the same.
        let back = try site.chatStore().messages(room: "r", after: 0, limit: 20)
        #expect(back.map(\.content) == contents)
        #expect(back.allSatisfy { $0.sentAt == sentAt && $0.sender == "ann" && $0.senderRole == "agent" })
        #expect(back.map(\.clientID) == contents.indices.map(String.init))
        // The expiries come back as sent, so they name the same instant, fractions included.
        let instants = back.compactMap { if case .coupon(_, _, let e) = $0.content { e.date } else { nil } }
        #expect(instants.map(\.timeIntervalSince1970) == [1_798_761_599, 1_801_353_600, 1_798_761_599.5, 1_798_754_399.123456789])
    }

    /// Pages hold at most `maxBytes` of messages (always one), both ways.
    @Test(arguments: Backend.allCases) func pagesAreBoundedByBytesAndCount(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.chatStore()
        let big = String(repeating: "x", count: 10_000)
        for i in 1...20 { _ = try store.append(room: "r", clientID: "\(i)", sender: "s", senderRole: "shopper", content: .text(big), at: Date()) }
        for i in 1...10 { _ = try store.append(room: "small", clientID: "\(i)", sender: "s", senderRole: "shopper", content: .text("\(i)"), at: Date()) }
        let forward = try store.messages(room: "r", after: 0, limit: 200, maxBytes: 35_000)
        #expect(forward.map(\.seq) == [1, 2, 3])
        #expect(try store.messages(room: "r", before: 21, limit: 200, maxBytes: 35_000).map(\.seq) == [18, 19, 20])
        #expect(try store.messages(room: "r", after: 5, limit: 200, maxBytes: 1).map(\.seq) == [6])
        #expect(forward.allSatisfy { $0.storedSize > 10_000 && $0.storedSize < 10_500 })
        #expect(try store.messages(room: "small", after: 7, limit: 100).map(\.seq) == [8, 9, 10])
        #expect(try store.messages(room: "small", after: 0, limit: 3).map(\.seq) == [1, 2, 3])
        #expect(try store.messages(room: "small", before: 8, limit: 4).map(\.seq) == [4, 5, 6, 7])
        #expect(try store.messages(room: "small", before: 3, limit: 10).map(\.seq) == [1, 2])
        #expect(try store.messages(room: "small", after: 10, limit: 10).isEmpty)
        #expect(try store.messages(room: "small", after: 0, limit: 0).isEmpty)
    }

    /// Retention by messages per room and by age; seqs never restart, even when every message of
    /// a room is gone, and paging sees what is left.
    @Test(arguments: Backend.allCases) func retentionPrunesOldMessagesAndSeqsGoOn(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.chatStore()
        let now = Date()
        for i in 1...20 { _ = try store.append(room: "busy", clientID: "\(i)", sender: "s", senderRole: "shopper", content: .text("\(i)"), at: now) }
        for i in 1...3 {
            _ = try store.append(room: "old", clientID: "\(i)", sender: "s", senderRole: "shopper", content: .text("\(i)"), at: now.addingTimeInterval(-10 * 86_400))
        }
        #expect(try RetentionPolicy().prune(store, now: now) == 0)
        #expect(try RetentionPolicy(days: 7, messagesPerRoom: 5).prune(store, now: now) == 3 + 15)
        #expect(try store.firstSeq(room: "busy") == 16 && store.lastSeq(room: "busy") == 20)
        #expect(try store.messages(room: "busy", after: 3, limit: 100).map(\.seq) == [16, 17, 18, 19, 20])
        #expect(try store.messages(room: "busy", before: 18, limit: 100).map(\.seq) == [16, 17])
        #expect(try store.firstSeq(room: "old") == 0 && store.lastSeq(room: "old") == 3)
        let reopened = try site.chatStore()
        #expect(try reopened.append(room: "old", clientID: "4", sender: "s", senderRole: "shopper", content: .text("4"), at: now).message.seq == 4)
        #expect(try reopened.append(room: "busy", clientID: "21", sender: "s", senderRole: "shopper", content: .text("21"), at: now).message.seq == 21)
    }

    @Test(arguments: Backend.allCases) func readReceiptsNeverMoveBackAndAreLimitedToTheMostAdvanced(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.chatStore()
        #expect(try store.markRead(room: "r", participant: "sam", seq: 5) == 5)
        #expect(try store.markRead(room: "r", participant: "sam", seq: 3) == 5)
        #expect(try store.markRead(room: "r", participant: "ann", seq: 2) == 2)
        #expect(try store.readReceipts(room: "r") == ["sam": 5, "ann": 2])
        for i in 1...10 { _ = try store.markRead(room: "q", participant: "p\(i)", seq: Int64(i)) }
        #expect(try store.readReceipts(room: "q", limit: 3) == ["p10": 10, "p9": 9, "p8": 8])
        #expect(try site.chatStore().readReceipts(room: "r") == ["sam": 5, "ann": 2])
    }

    /// Two nodes (two stores on one place) sending into one room at once, each send retried on the
    /// other node too: every message is stored once, the seqs are 1…N with no gap, and a send and
    /// its retry get the same seq wherever each was made.
    @Test(arguments: Backend.allCases) func twoNodesWritingOneRoomAtOnceLoseAndDoubleNothing(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let nodes = [try site.chatStore(), try site.chatStore()]
        let perWriter = 60
        let writers = 4
        let answers = Answers()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let group = DispatchGroup()
            for w in 0..<writers {
                DispatchQueue.global().async(group: group) {
                    for i in 0..<perWriter {
                        // Writer w sends on node w % 2, then retries the same send on the other node.
                        let id = "w\(w)-\(i)"
                        for node in [nodes[w % 2], nodes[(w + 1) % 2]] {
                            do {
                                let r = try node.append(room: "launch", clientID: id, sender: "viewer\(w)", senderRole: "shopper", content: .text(id), at: Date())
                                answers.add(id, r.message.seq, r.duplicate)
                            } catch {
                                answers.fail("\(id): \(error)")
                            }
                        }
                    }
                }
            }
            group.notify(queue: .global()) { done.resume() }
        }
        let (seqs, failures, duplicates) = answers.result()
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(seqs.count == writers * perWriter)
        #expect(seqs.values.allSatisfy { $0.count == 1 }, "a send and its retry got different seqs")
        #expect(duplicates == writers * perWriter, "every retry answered as a duplicate")
        let stored = try nodes[0].messages(room: "launch", after: 0, limit: 1_000)
        #expect(stored.map(\.seq) == Array(1...Int64(writers * perWriter)))
        #expect(Set(stored.map(\.clientID)).count == writers * perWriter)
        #expect(try nodes[1].lastSeq(room: "launch") == Int64(writers * perWriter))
        for m in stored { #expect(seqs[m.clientID] == [m.seq]) }
    }

    /// Hostile ids: a NUL character in a client id, sender, role, room or reader is refused as
    /// `invalid_content` (SQLite would cut the id at it, PostgreSQL cannot store it) — never
    /// stored as something else, never a `storage` error; the room goes on.
    @Test(arguments: Backend.allCases) func aNULInAnIdIsRefusedAsContent(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.chatStore()
        for (room, id, sender, role) in [("r", "a\u{0}b", "s", "shopper"), ("r", "c", "s\u{0}", "shopper"), ("r\u{0}", "d", "s", "shopper"), ("r", "e", "s", "\u{0}")] {
            #expect(throws: ChatError(.invalidContent, "")) {
                try store.append(room: room, clientID: id, sender: sender, senderRole: role, content: .text("x"), at: Date())
            }
        }
        #expect(throws: ChatError(.invalidContent, "")) { try store.markRead(room: "r", participant: "p\u{0}", seq: 1) }
        #expect(try store.lastSeq(room: "r") == 0)
        #expect(try store.append(room: "r", clientID: "a", sender: "s", senderRole: "shopper", content: .text("after"), at: Date()).message.seq == 1)
    }
}

/// What the concurrent writers were answered, gathered under a lock.
private final class Answers: @unchecked Sendable {
    private let lock = NSLock()
    private var seqs: [String: Set<Int64>] = [:]
    private var failures: [String] = []
    private var duplicates = 0

    func add(_ id: String, _ seq: Int64, _ duplicate: Bool) {
        lock.withLock {
            seqs[id, default: []].insert(seq)
            if duplicate { duplicates += 1 }
        }
    }

    func fail(_ what: String) { lock.withLock { failures.append(what) } }

    func result() -> ([String: Set<Int64>], [String], Int) { lock.withLock { (seqs, failures, duplicates) } }
}
