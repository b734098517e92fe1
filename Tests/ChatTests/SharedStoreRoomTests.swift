import Chat
import Foundation
import Signaling
import Synchronization
import Testing

/// A store "other nodes" write too, over one SQLite file: the test appends as another node would
/// (straight to the file, no room told) and feeds the signals by hand, so each interleaving of the
/// cluster's chat is played out in order, without a database or a clock.
final class HandFedSharedStore: SharedChatStore, ForwardingChatStore {
    let inner: SQLiteChatStore
    private let feed = Mutex<AsyncStream<ChatStoreSignal>.Continuation?>(nil)
    /// Runs once, just before the next read of messages after a seq (a resume's page): what
    /// another node does between a join's look at the room and its page.
    let beforeNextPage = Mutex<(@Sendable () -> Void)?>(nil)

    init(inner: SQLiteChatStore) { self.inner = inner }

    func signals() -> AsyncStream<ChatStoreSignal> {
        let (stream, sink) = AsyncStream.makeStream(of: ChatStoreSignal.self)
        feed.withLock { $0 = sink }
        return stream
    }

    /// Tells the node what "the database" would.
    func tell(_ signal: ChatStoreSignal) { _ = feed.withLock { $0?.yield(signal) } }

    /// Another node's send: stored, and nobody on this node told.
    func appendElsewhere(_ room: String, _ id: String) throws {
        _ = try inner.append(room: room, clientID: id, sender: "remote", senderRole: "agent", content: .text(id), at: Date())
    }

    func messages(room: String, after: Int64, limit: Int, maxBytes: Int) throws(ChatError) -> [StoredMessage] {
        beforeNextPage.withLock { hook in
            defer { hook = nil }
            return hook
        }?()
        return try inner.messages(room: room, after: after, limit: limit, maxBytes: maxBytes)
    }
}

/// Seqs of the `message`s queued in `outbox`, in order.
func messageSeqs(_ outbox: Outbox) -> [Int64] {
    var seqs: [Int64] = []
    while let text = outbox.tryNext() {
        guard let o = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], o["type"] as? String == "message" else { continue }
        seqs.append((o["seq"] as? NSNumber)?.int64Value ?? -1)
    }
    return seqs
}

/// `ChatRoom` on a store other nodes share: every member gets every seq once, in order, however
/// signals, joins and sends interleave.
@Suite struct SharedStoreRoomTests {
    struct Node {
        let store: HandFedSharedStore
        let hub: RoomHub
        let follow: Task<Void, Never>
        let dir: String

        init() throws {
            let (sqlite, dir) = try temporaryStore()
            self.dir = dir
            store = HandFedSharedStore(inner: sqlite)
            let hub = RoomHub(store: store)
            self.hub = hub
            follow = Task { await hub.followSharedStore() }
        }

        func join(_ id: String, after: Int64?) async throws -> Outbox {
            let outbox = hub.makeOutbox()
            try await hub.join(room: "r", member: RoomHub.Member(participant: Participant(id: id, identity: id, role: "shopper"), outbox: outbox), after: after)
            return outbox
        }

        func end() {
            follow.cancel()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// The review's interleaving: the room has delivered 1; a second member resumes from 0, and
    /// between the join's look at the room and its page another node stores 2–4; the signal comes
    /// after the member is live. Before the fix the page held 1–4 and the signal's delivery sent
    /// 2–4 again: the resumed member got 1, 2, 3, 4, 2, 3, 4.
    @Test func aResumeDuringAnotherNodesSendsGetsEachSeqOnce() async throws {
        let node = try Node()
        defer { node.end() }
        let live = try await node.join("m1", after: nil)
        _ = try await node.hub.send(room: "r", from: Participant(id: "m1", identity: "m1", role: "shopper"), clientID: "own", content: .text("own"), ref: nil)
        let store = node.store
        store.beforeNextPage.withLock { $0 = { for i in 2...4 { try? store.appendElsewhere("r", "x\(i)") } } }
        let resumed = try await node.join("m2", after: 0)
        #expect(messageSeqs(resumed) == [1], "the page holds what the room had delivered, no more")
        node.store.tell(.appended(room: "r", seq: 4))
        #expect(await eventually(seconds: 5) { live.bytes > 0 && resumed.bytes > 0 })
        #expect(messageSeqs(live) == [1, 2, 3, 4])
        #expect(messageSeqs(resumed) == [2, 3, 4])
    }

    /// An own send whose seq is not the next (another node stored meanwhile, not yet told) brings
    /// the gap first; the late signal then adds nothing.
    @Test func anOwnSendAfterAnotherNodesDeliversTheGapFirst() async throws {
        let node = try Node()
        defer { node.end() }
        let member = try await node.join("m1", after: nil)
        try node.store.appendElsewhere("r", "x1")
        try node.store.appendElsewhere("r", "x2")
        let ack = try await node.hub.send(room: "r", from: Participant(id: "m1", identity: "m1", role: "shopper"), clientID: "own", content: .text("own"), ref: nil)
        if case .ack(_, let seq, _, _) = ack { #expect(seq == 3) } else { Issue.record("\(ack)") }
        #expect(messageSeqs(member) == [1, 2, 3])
        node.store.tell(.appended(room: "r", seq: 2))
        node.store.tell(.appended(room: "r", seq: 3))
        try node.store.appendElsewhere("r", "x4")
        node.store.tell(.appended(room: "r", seq: 4))
        #expect(await eventually(seconds: 5) { member.bytes > 0 })
        #expect(messageSeqs(member) == [4])
    }

    /// A signal ahead of the store (a forged or early notification) makes the room skip nothing:
    /// its next messages, own or not, still arrive in order.
    @Test func aSignalAheadOfTheStoreSkipsNothing() async throws {
        let node = try Node()
        defer { node.end() }
        let member = try await node.join("m1", after: nil)
        node.store.tell(.appended(room: "r", seq: 1_000))
        node.store.tell(.resumed)
        try node.store.appendElsewhere("r", "x1")
        node.store.tell(.appended(room: "r", seq: 1))
        #expect(await eventually(seconds: 5) { member.bytes > 0 })
        _ = try await node.hub.send(room: "r", from: Participant(id: "m1", identity: "m1", role: "shopper"), clientID: "own", content: .text("own"), ref: nil)
        #expect(await eventually(seconds: 5) { messageSeqs(member) == [1, 2] })
    }
}
