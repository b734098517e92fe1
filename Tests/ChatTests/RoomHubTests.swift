import Chat
import Foundation
import Signaling
import Synchronization
import Testing

/// A store whose writes in one room hang until released, as a slow disk or a long transaction
/// would: the rest delegates to a real SQLite store.
final class StallingStore: ForwardingChatStore {
    let inner: SQLiteChatStore
    let stalledRoom: String
    let entered = Atomic(false)
    let release = DispatchSemaphore(value: 0)
    /// When set, reading messages after a seq (a resume page) fails.
    let failPages = Atomic(false)

    init(inner: SQLiteChatStore, stalling room: String) {
        self.inner = inner
        stalledRoom = room
    }

    func append(room: String, clientID: String, sender: String, senderRole: String, content: ChatContent, at: Date) throws(ChatError) -> (
        message: StoredMessage, duplicate: Bool
    ) {
        if room == stalledRoom {
            entered.store(true, ordering: .relaxed)
            _ = release.wait(timeout: .now() + 10)
        }
        return try inner.append(room: room, clientID: clientID, sender: sender, senderRole: senderRole, content: content, at: at)
    }
    func messages(room: String, after: Int64, limit: Int, maxBytes: Int) throws(ChatError) -> [StoredMessage] {
        if failPages.load(ordering: .relaxed) { throw ChatError(.storage, "disk I/O error") }
        return try inner.messages(room: room, after: after, limit: limit, maxBytes: maxBytes)
    }
}

/// Polls `condition` every 5 ms until it holds or `seconds` pass.
func eventually(seconds: Double, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}

@Suite struct RoomHubTests {
    /// Issue item 2: a store that hangs for room A must not delay chat in room B. Before the fix
    /// the one hub actor ran every room's SQLite call on itself, so B waited for A's disk.
    @Test func aStalledStoreInOneRoomDoesNotDelayAnother() async throws {
        let (sqlite, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = StallingStore(inner: sqlite, stalling: "room-a")
        let hub = RoomHub(store: store)
        let ann = Participant(id: "a1", identity: "ann", role: "agent"), bob = Participant(id: "b1", identity: "bob", role: "agent")
        try await hub.join(room: "room-a", member: RoomHub.Member(participant: ann, outbox: hub.makeOutbox()), after: nil)
        try await hub.join(room: "room-b", member: RoomHub.Member(participant: bob, outbox: hub.makeOutbox()), after: nil)
        let stalled = Task { try await hub.send(room: "room-a", from: ann, clientID: "a", content: .text("stuck"), ref: nil) }
        #expect(await eventually(seconds: 5) { store.entered.load(ordering: .relaxed) })
        // Room A's store stays stalled until room B's send has returned: were B behind A, it
        // would never return (the race below gives up after 60 s). No timing bound, so a busy
        // machine cannot fail it.
        let answer = try await withThrowingTaskGroup(of: ServerMessage?.self) { group in
            group.addTask { try await hub.send(room: "room-b", from: bob, clientID: "b", content: .text("fine"), ref: nil) }
            group.addTask {
                try await Task.sleep(for: .seconds(60))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        store.release.signal()
        _ = try await stalled.value
        let sent = try #require(answer, "room B's send waited for room A's stalled store")
        if case .ack(_, let seq, _, _) = sent { #expect(seq == 1) } else { Issue.record("not an ack: \(sent)") }
    }

    /// A resume whose first page cannot be read fails the join as a whole: `storage`, and no
    /// member left in the room without its backlog (the others see it come and go).
    @Test func aJoinWhoseBacklogCannotBeReadLeavesNoMemberBehind() async throws {
        let (sqlite, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = StallingStore(inner: sqlite, stalling: "none")
        let hub = RoomHub(store: store)
        let ann = Participant(id: "a1", identity: "ann", role: "agent")
        let annOutbox = hub.makeOutbox()
        try await hub.join(room: "r", member: RoomHub.Member(participant: ann, outbox: annOutbox), after: nil)
        for i in 1...3 { _ = try await hub.send(room: "r", from: ann, clientID: "m\(i)", content: .text("\(i)"), ref: nil) }
        store.failPages.store(true, ordering: .relaxed)
        let sam = Participant(id: "s1", identity: "sam", role: "shopper")
        await #expect(throws: SignalingError(.storage, "")) {
            try await hub.join(room: "r", member: RoomHub.Member(participant: sam, outbox: hub.makeOutbox()), after: 0)
        }
        #expect(await hub.memberCount(room: "r") == 1)
        var events: [String] = []
        while let t = annOutbox.tryNext() {
            if t.contains(#""type":"presence""#) { events.append(t.contains(#""event":"joined""#) ? "joined" : "left") }
        }
        #expect(events == ["joined", "left"])
        #expect(hub.snapshot().members == 1)
    }

    /// The desk writes into rooms (the bot's replies, system lines) without being a member, and
    /// reads every stored message through one observer; members get posts like any message, in
    /// seq order, and a retried post is stored once.
    @Test func theServerPostsIntoRoomsAndObservesEveryStoredMessage() async throws {
        let (sqlite, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hub = RoomHub(store: sqlite)
        let seen = Mutex<[String]>([])
        hub.observe { m in seen.withLock { $0.append("\(m.room)#\(m.seq) \(m.senderRole)") } }
        // Into a room nobody is in yet: stored.
        let first = try await hub.post(room: "c1", sender: "bot", role: "bot", clientID: "greet", content: .text("Hi! How can I help?"))
        #expect(first.seq == 1)
        let ann = Participant(id: "a1", identity: "ann", role: "shopper")
        let outbox = hub.makeOutbox()
        try await hub.join(room: "c1", member: RoomHub.Member(participant: ann, outbox: outbox), after: 0)
        _ = try await hub.send(room: "c1", from: ann, clientID: "q", content: .text("Does it come in blue?"), ref: nil)
        _ = try await hub.post(room: "c1", sender: "bot", role: "bot", clientID: "a", content: .text("It does."))
        let again = try await hub.post(room: "c1", sender: "bot", role: "bot", clientID: "a", content: .text("It does."))
        #expect(again.seq == 3, "a retried post is the stored one")
        #expect(seen.withLock { $0 } == ["c1#1 bot", "c1#2 shopper", "c1#3 bot"])
        // The member got the first post as its backlog, then the rest live, in order.
        var seqs: [Int64] = []
        while let text = outbox.tryNext() {
            guard let o = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], o["type"] as? String == "message" else { continue }
            seqs.append((o["seq"] as? NSNumber)?.int64Value ?? -1)
        }
        #expect(seqs == [1, 2, 3])
    }
}
