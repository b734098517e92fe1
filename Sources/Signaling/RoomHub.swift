import Chat
import Foundation
import Synchronization

/// The rooms of one node and what they share: the chat store and the threads its calls run on,
/// the quotas (``Admission``, ``IdentityRateLimiter``), the counters. Each room is a ``ChatRoom``
/// actor of its own, created when its first member joins and forgotten when its last leaves;
/// nothing here waits for a room, so a slow room stalls no other.
public final class RoomHub: Sendable {
    /// One connection joining a room: who it is and where its messages go.
    public struct Member: Sendable {
        public var participant: Participant
        public var outbox: Outbox

        public init(participant: Participant, outbox: Outbox) {
            self.participant = participant
            self.outbox = outbox
        }
    }

    public let store: any ChatStore
    public let limits: SignalingLimits
    public let admission: Admission
    public let sendRate: IdentityRateLimiter
    public let outboxTotals = OutboxTotals()
    let threads: StoreThreads
    let counters = HubCounters()
    /// Room name → its actor and how many sessions hold it (joined, or joining).
    private let rooms = Mutex<[String: (room: ChatRoom, holders: Int)]>([:])
    /// Told of every stored message of every room (``observe(_:)``).
    private let observer = Mutex<(@Sendable (StoredMessage) -> Void)?>(nil)

    public init(store: any ChatStore, limits: SignalingLimits = SignalingLimits()) {
        self.store = store
        self.limits = limits
        admission = Admission(
            connectionsPerServer: limits.connectionsPerServer, connectionsPerIdentity: limits.connectionsPerIdentity,
            pendingPerServer: limits.pendingConnectionsPerServer, pendingPerAddress: limits.pendingConnectionsPerAddress)
        sendRate = IdentityRateLimiter(
            rate: limits.sendsPerSecondPerIdentity, burst: limits.sendBurstPerIdentity, capacity: limits.trackedIdentities)
        threads = StoreThreads(count: limits.storeThreads)
    }

    /// A new outbox for a connection, with this hub's budget and totals.
    public func makeOutbox() -> Outbox { Outbox(budget: limits.outboundBudget, totals: outboxTotals) }

    private func hold(_ name: String) -> ChatRoom {
        rooms.withLock { r in
            if let entry = r[name] {
                r[name]?.holders += 1
                return entry.room
            }
            let observer = self.observer.withLock { $0 }
            let room = ChatRoom(name: name, store: store, threads: threads, limits: limits, counters: counters, observer: observer)
            r[name] = (room, 1)
            return room
        }
    }

    private func release(_ name: String) {
        rooms.withLock { r in
            guard let entry = r[name] else { return }
            if entry.holders <= 1 { r[name] = nil } else { r[name]?.holders -= 1 }
        }
    }

    private func room(_ name: String) throws(SignalingError) -> ChatRoom {
        guard let room = rooms.withLock({ $0[name]?.room }) else { throw SignalingError(.notJoined, "join a room first") }
        return room
    }

    /// Adds `member` to `room` (see ``ChatRoom``); after this succeeds the caller holds the room
    /// until ``leave(room:id:)``.
    public func join(room: String, member: Member, after: Int64?, ref: String? = nil) async throws(SignalingError) {
        let r = hold(room)
        do {
            try await r.join(member.participant, outbox: member.outbox, after: after, ref: ref)
        } catch {
            release(room)
            throw error
        }
    }

    /// Removes a member; returns the media sessions it was publishing.
    @discardableResult
    public func leave(room: String, id: String) async -> [String] {
        guard let r = try? self.room(room) else { return [] }
        let published = await r.leave(id)
        release(room)
        return published
    }

    public func send(room: String, from p: Participant, clientID: String, content: ChatContent, ref: String?) async throws(SignalingError)
        -> ServerMessage
    {
        try await self.room(room).send(from: p, clientID: clientID, content: content, ref: ref)
    }

    /// A message the server writes into `room` (the desk's bot, a system line): stored with the
    /// room's next seq and sent to whoever is in it, members or not. `clientID` makes a retry
    /// idempotent, as for members.
    @discardableResult
    public func post(room: String, sender: String, role: String, clientID: String, content: ChatContent) async throws(SignalingError)
        -> StoredMessage
    {
        let r = hold(room)
        defer { release(room) }
        return try await r.post(sender: sender, role: role, clientID: clientID, content: content)
    }

    /// Calls `handler` with every message any room stores from now on (after its broadcast; not
    /// for duplicates), e.g. for the desk to read the shopper's questions and for agent assist to
    /// follow the conversation. Each call adds a handler (the desk's, assist's), in order. Set
    /// before rooms are in use: rooms already open keep the handlers they were made with.
    public func observe(_ handler: @escaping @Sendable (StoredMessage) -> Void) {
        observer.withLock { previous in
            guard let first = previous else {
                previous = handler
                return
            }
            previous = { m in
                first(m)
                handler(m)
            }
        }
    }

    /// With a store other nodes write too (``SharedChatStore``): tells this node's open rooms of
    /// every append, so that their members get other nodes' messages — read from the store, in seq
    /// order (see ``ChatRoom``); after an interruption of the feed every open room reads what it
    /// missed. Runs until its task is cancelled; returns at once for a store of this node alone.
    /// Rooms not open on this node are not touched (a join reads the store).
    public func followSharedStore() async {
        guard let shared = store as? any SharedChatStore else { return }
        for await signal in shared.signals() {
            switch signal {
            case .appended(let room, let seq): rooms.withLock { $0[room]?.room }?.signal(upTo: seq)
            case .resumed: for room in rooms.withLock({ $0.values.map(\.room) }) { room.signal(upTo: .max) }
            }
        }
    }

    /// Up to `limit` stored messages of `room` after `seq`, in order, read on a store thread: for
    /// a reader outside the room's members (the desk's node in a cluster follows consultations
    /// whose members are on other nodes).
    public func stored(room: String, after seq: Int64, limit: Int) async throws(SignalingError) -> [StoredMessage] {
        let store = self.store
        do {
            return try await threads.run { () throws(ChatError) in try store.messages(room: room, after: seq, limit: limit) }
        } catch {
            throw SignalingError(.storage, error.description)
        }
    }

    /// Takes one chat send from `identity`'s shared rate; false (and counted) when it is over.
    public func maySend(_ identity: String, now: ContinuousClock.Instant) -> Bool {
        if sendRate.take(identity, now: now) { return true }
        counters.add(counters.identityRateLimited)
        return false
    }

    public func typing(room: String, from p: Participant, on: Bool) async {
        await (try? self.room(room))?.typing(from: p, on: on)
    }

    public func mute(room: String, from p: Participant, kind: String, muted: Bool) async {
        await (try? self.room(room))?.mute(from: p, kind: kind, muted: muted)
    }

    public func read(room: String, from p: Participant, seq: Int64) async throws(SignalingError) {
        try await self.room(room).read(from: p, seq: seq)
    }

    public func history(room: String, before: Int64?, limit: Int, ref: String?) async throws(SignalingError) -> ServerMessage {
        try await self.room(room).history(before: before, limit: limit, ref: ref)
    }

    public func published(room: String, session: String, by p: Participant) async {
        await (try? self.room(room))?.published(session: session, by: p)
    }

    public func unpublished(room: String, session: String) async {
        await (try? self.room(room))?.unpublished(session: session)
    }

    /// A media session published in the room by someone other than `participant`.
    public func publication(room: String, notBy participant: String) async -> String? {
        await (try? self.room(room))?.publication(notBy: participant)
    }

    public func memberCount(room: String) async -> Int { await (try? self.room(room))?.memberCount ?? 0 }

    /// Operations of `room` waiting for the store (at most ``SignalingLimits/pendingStoreOperationsPerRoom``).
    public func waitingForStore(room: String) async -> Int { await (try? self.room(room))?.waitingForStore ?? 0 }

    /// Records a request refused by a quota (for `/metrics`).
    public func refused(quota: String) { counters.refused(quota) }

    /// Deletes what `policy` says is too old (on a store thread); returns how many messages.
    public func prune(_ policy: RetentionPolicy, now: Date = Date()) async throws(SignalingError) -> Int {
        let store = self.store
        let n: Int
        do {
            n = try await threads.run { () throws(ChatError) in try policy.prune(store, now: now) }
        } catch {
            throw SignalingError(.storage, error.description)
        }
        counters.add(counters.pruned, n)
        return n
    }

    /// Totals since start and what is live now, for metrics.
    public func snapshot() -> HubSnapshot {
        var s = HubSnapshot()
        s.rooms = rooms.withLock { $0.count }
        s.members = counters.members.load(ordering: .relaxed)
        s.stored = counters.stored.load(ordering: .relaxed)
        s.duplicates = counters.duplicates.load(ordering: .relaxed)
        s.delivered = counters.delivered.load(ordering: .relaxed)
        s.resumed = counters.resumed.load(ordering: .relaxed)
        s.joins = counters.joins.load(ordering: .relaxed)
        s.slowConsumers = counters.slowConsumers.load(ordering: .relaxed)
        s.identityRateLimited = counters.identityRateLimited.load(ordering: .relaxed)
        s.roomBusy = counters.roomBusy.load(ordering: .relaxed)
        s.pruned = counters.pruned.load(ordering: .relaxed)
        s.quotaRefusals = counters.refusals.withLock { $0 }
        s.queuedBytes = outboxTotals.bytes.load(ordering: .relaxed)
        s.queuedBytesPeak = outboxTotals.peak.load(ordering: .relaxed)
        s.overBudget = outboxTotals.overflows.load(ordering: .relaxed)
        return s
    }
}
