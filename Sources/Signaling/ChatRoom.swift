import Chat
import Foundation
import Synchronization

/// One room of one node: its members, its publications and its chat. Rooms are independent —
/// each its own actor, its store calls on ``StoreThreads`` — so a slow room never holds up
/// another.
///
/// The delivery guarantees, per room:
/// - **Seq order**: operations that touch the store pass the room's ``RoomGate`` one at a time,
///   and a send broadcasts its message before the next one may append, so every member sees the
///   room's messages in `seq` order.
/// - **Resume without a gap and within the budget**: a member joining with `lastSeq` behind is
///   *catching up*: its backlog is read from the store in pages of at most
///   ``SignalingLimits/pageBytes`` bytes, the next page once the client has taken the previous one
///   (its ``Outbox`` below a page); live chat messages are not queued for it meanwhile (they are
///   stored and come with the backlog). The page that reaches the room's last seq switches it to
///   live — inside the gate, so no send can fall between.
/// - **Other nodes' messages, in order** (a store several nodes share, ``SharedChatStore``): the
///   room delivers seqs strictly in order. A signal that the store holds more (``signal(upTo:)``)
///   reads what this room has not delivered from the store, in its turn; an append whose seq is
///   not the next one delivers the gap before it; a join into a room with members delivers what
///   came meanwhile first.
actor ChatRoom {
    struct Member {
        var participant: Participant
        var outbox: Outbox
        /// While catching up: the last seq sent to it; nil once live.
        var cursor: Int64?
    }

    let name: String
    private let store: any ChatStore
    private let threads: StoreThreads
    private let limits: SignalingLimits
    private let counters: HubCounters
    /// Told of every message the room stores (not of duplicates), after its broadcast.
    private let observer: (@Sendable (StoredMessage) -> Void)?
    private let gate: RoomGate
    private var members: [String: Member] = [:]
    /// Media session → the participant publishing it.
    private var publishers: [String: String] = [:]
    /// The highest seq delivered to the room's live members: read from the store at a join into
    /// an empty room, moved by each append and by each delivery of what other nodes stored.
    private var lastSeq: Int64 = 0
    /// Other nodes' appends told and not yet delivered: the highest seq told (`Int64.max`: read
    /// what the store holds), and whether a delivery task is on its way (one at a time).
    private nonisolated let told = Mutex<(target: Int64?, delivering: Bool)>((nil, false))
    /// Backlog pages read at most this many messages (and ``SignalingLimits/pageBytes``).
    static let pageMessages = 500

    init(
        name: String, store: any ChatStore, threads: StoreThreads, limits: SignalingLimits, counters: HubCounters,
        observer: (@Sendable (StoredMessage) -> Void)? = nil
    ) {
        self.name = name
        self.observer = observer
        self.store = store
        self.threads = threads
        self.limits = limits
        self.counters = counters
        gate = RoomGate(maximumWaiting: limits.pendingStoreOperationsPerRoom)
    }

    /// Runs `body` in the room's turn (see ``RoomGate``).
    private func inTurn<T>(_ body: () async throws(SignalingError) -> T) async throws(SignalingError) -> T {
        switch await gate.enter() {
        case .entered: break
        case .full:
            counters.add(counters.roomBusy)
            throw SignalingError(
                .storage, "\(limits.pendingStoreOperationsPerRoom) operations of room \(name) are waiting for the chat store; retry shortly")
        case .cancelled:
            throw SignalingError(.storage, "the connection is closing")
        }
        defer { gate.leave() }
        return try await body()
    }

    /// A store call on the store's threads, its failure as `storage`.
    private func stored<T: Sendable>(_ body: @escaping @Sendable () throws(ChatError) -> T) async throws(SignalingError) -> T {
        do {
            return try await threads.run(body)
        } catch {
            throw SignalingError(.storage, error.description)
        }
    }

    var isEmpty: Bool { members.isEmpty }

    /// Adds a member: it gets `joined`, then — when it names `after` — every message after that
    /// seq (paged, see above), then live ones; the others get its `presence`.
    func join(_ participant: Participant, outbox: Outbox, after: Int64?, ref: String?) async throws(SignalingError) {
        try await inTurn { () async throws(SignalingError) in
            guard members.count < limits.membersPerRoom else {
                counters.refused("members_per_room")
                throw SignalingError(.atCapacity, "room \(name) has \(limits.membersPerRoom) members, the most it takes; retry later")
            }
            let (store, name, receiptLimit) = (self.store, self.name, limits.readReceiptsInJoined)
            let (last, first, receipts) = try await stored { () throws(ChatError) in
                (try store.lastSeq(room: name), try store.firstSeq(room: name), try store.readReceipts(room: name, limit: receiptLimit))
            }
            if members.isEmpty {
                lastSeq = last
            } else if last > lastSeq {
                try await deliverStored(upTo: last)  // other nodes' messages the members have not had yet
            }
            let joined = ServerMessage.joined(
                room: name, participants: members.values.map(\.participant) + [participant], firstSeq: first, lastSeq: last,
                readReceipts: receipts, publishers: publishers, ref: ref)
            guard outbox.deliver(joined.json()) else { throw SignalingError(.slowConsumer, "the connection cannot take more") }
            let behind = after.map { $0 < last } ?? false
            members[participant.id] = Member(participant: participant, outbox: outbox, cursor: behind ? after : nil)
            counters.add(counters.joins)
            counters.add(counters.members)
            broadcast(.presence(event: "joined", participant: participant), except: participant.id)
            if behind {
                do throws(SignalingError) {
                    try await sendPage(to: participant.id)
                } catch {
                    drop(participant.id)  // the join fails as a whole: no member left behind without its backlog
                    throw error
                }
            }
        }
    }

    /// Sends the next backlog page to a member catching up (in the room's turn); switches it to
    /// live when the page reaches the room's last seq, else asks to be called again once its
    /// outbox has room.
    private func sendPage(to id: String) async throws(SignalingError) {
        guard let cursor = members[id]?.cursor else { return }
        let (store, name, pageBytes) = (self.store, self.name, limits.pageBytes)
        let page = try await stored { () throws(ChatError) in
            try store.messages(room: name, after: cursor, limit: Self.pageMessages, maxBytes: pageBytes)
        }
        guard let member = members[id] else { return }  // it left meanwhile
        // Only up to what the live members have had: messages other nodes stored beyond it reach
        // everyone (this member too, once live) through ``deliverStored(upTo:)``, in order, once.
        let backlog = page.prefix { $0.seq <= lastSeq }
        for m in backlog where !member.outbox.deliver(ServerMessage.message(m).json()) {
            drop(id)
            return
        }
        counters.add(counters.resumed, backlog.count)
        counters.add(counters.delivered, backlog.count)
        let reached = backlog.count < page.count ? lastSeq : (page.last?.seq ?? lastSeq)
        if reached >= lastSeq {
            members[id]?.cursor = nil
        } else {
            members[id]?.cursor = reached
            member.outbox.whenBelow(pageBytes) { Task { await self.continueBacklog(id) } }
        }
    }

    private func continueBacklog(_ id: String) async {
        do {
            try await inTurn { () async throws(SignalingError) in try await sendPage(to: id) }
        } catch {
            // It cannot catch up (the store failed, or the room is saturated): end its connection
            // rather than leave it without live messages; it reconnects and resumes.
            if let member = members[id] {
                drop(id)
                member.outbox.fail(error)
            }
        }
    }

    /// Removes a member (it left, or its connection ended); the others get its `presence`, and
    /// `track` `unpublished` for what it published. Returns those sessions.
    @discardableResult
    func leave(_ id: String) -> [String] { drop(id) }

    @discardableResult
    private func drop(_ id: String) -> [String] {
        guard let member = members.removeValue(forKey: id) else { return [] }
        counters.add(counters.members, -1)
        let published = publishers.filter { $0.value == id }.map(\.key).sorted()
        for session in published { unpublished(session: session) }
        broadcast(.presence(event: "left", participant: member.participant), except: nil)
        return published
    }

    /// Stores a message (or recognizes a retry) and sends it to every member, the sender too; the
    /// acknowledgement is built only after the store committed it.
    func send(from p: Participant, clientID: String, content: ChatContent, ref: String?) async throws(SignalingError) -> ServerMessage {
        guard members[p.id] != nil else { throw SignalingError(.notJoined, "join a room first") }
        let (message, duplicate) = try await append(sender: p.identity, role: p.role, clientID: clientID, content: content)
        return .ack(id: clientID, seq: message.seq, duplicate: duplicate, ref: ref)
    }

    /// A message the server writes into the room (the desk's bot, a system line): stored and
    /// broadcast like a member's, with the same guarantees, whoever is in the room.
    func post(sender: String, role: String, clientID: String, content: ChatContent) async throws(SignalingError) -> StoredMessage {
        try await append(sender: sender, role: role, clientID: clientID, content: content).message
    }

    private func append(sender: String, role: String, clientID: String, content: ChatContent) async throws(SignalingError) -> (
        message: StoredMessage, duplicate: Bool
    ) {
        try await inTurn { () async throws(SignalingError) -> (message: StoredMessage, duplicate: Bool) in
            let (store, name) = (self.store, self.name)
            let result = try await stored { () throws(ChatError) in
                try store.append(room: name, clientID: clientID, sender: sender, senderRole: role, content: content, at: Date())
            }
            if result.duplicate {
                counters.add(counters.duplicates)
            } else {
                counters.add(counters.stored)
                let seq = result.message.seq
                if seq == lastSeq + 1 || members.isEmpty {
                    lastSeq = max(lastSeq, seq)
                    broadcast(.message(result.message), except: nil)
                } else if seq > lastSeq {
                    // Other nodes stored messages since: those first, then this one, from the store.
                    do throws(SignalingError) { try await deliverStored(upTo: seq) } catch { signal(upTo: seq) }
                }
                observer?(result.message)
            }
            return result
        }
    }

    /// Delivers to the live members, in order, what the store holds after ``lastSeq`` up to
    /// `target` (`Int64.max`: all it holds): messages other nodes stored. In the room's turn. A
    /// room without members delivers nothing (a join reads the room afresh).
    private func deliverStored(upTo target: Int64) async throws(SignalingError) {
        guard target > lastSeq, !members.isEmpty else { return }
        let (store, name, pageBytes) = (self.store, self.name, limits.pageBytes)
        while lastSeq < target {
            let after = lastSeq
            let page = try await stored { () throws(ChatError) in
                try store.messages(room: name, after: after, limit: Self.pageMessages, maxBytes: pageBytes)
            }
            for m in page where m.seq <= target {
                lastSeq = m.seq
                broadcast(.message(m), except: nil)
            }
            if page.isEmpty || page.last.map({ $0.seq >= target }) == true { break }
        }
        // Never past what was read: a signal ahead of the store (or a forged one) must not make
        // the room skip its next messages — an append beyond lastSeq + 1 reads the gap again.
    }

    /// Another node stored messages up to `seq` (`Int64.max`: maybe, read the store): they reach
    /// the members in order, after whatever is in the room's turn now. Never waits; repeated
    /// signals while a delivery is on its way merge into it.
    nonisolated func signal(upTo seq: Int64) {
        let start = told.withLock { t -> Bool in
            t.target = max(t.target ?? 0, seq)
            if t.delivering { return false }
            t.delivering = true
            return true
        }
        if start { Task { await self.deliverTold() } }
    }

    private func deliverTold() async {
        while true {
            let target: Int64? = told.withLock { t in
                let target = t.target
                t.target = nil
                if target == nil { t.delivering = false }
                return target
            }
            guard let target else { return }
            do {
                try await inTurn { () async throws(SignalingError) in try await deliverStored(upTo: target) }
            } catch {
                // The store failed or the room is saturated: again shortly, while it has members
                // (a room without them reads afresh at its next join).
                guard !members.isEmpty else { continue }
                told.withLock { t in t.target = max(t.target ?? 0, target) }
                try? await Task.sleep(for: Self.retryTold)
            }
        }
    }

    /// How soon a delivery of other nodes' messages that failed is tried again.
    static let retryTold = Duration.milliseconds(250)

    /// Records a read receipt (never past the room's last message) and tells the room.
    func read(from p: Participant, seq: Int64) async throws(SignalingError) {
        guard members[p.id] != nil else { throw SignalingError(.notJoined, "join a room first") }
        try await inTurn { () async throws(SignalingError) in
            let (store, name, seq) = (self.store, self.name, min(seq, lastSeq))
            let value = try await stored { () throws(ChatError) in try store.markRead(room: name, participant: p.identity, seq: seq) }
            broadcast(.read(from: p.identity, seq: value), except: nil)
        }
    }

    /// The newest messages below `before` (all: nil), at most `limit` and ``SignalingLimits/pageBytes``;
    /// `hasMore` when older ones are stored.
    func history(before: Int64?, limit: Int, ref: String?) async throws(SignalingError) -> ServerMessage {
        try await inTurn { () async throws(SignalingError) -> ServerMessage in
            let (store, name, pageBytes) = (self.store, self.name, limits.pageBytes)
            let (page, first) = try await stored { () throws(ChatError) in
                (try store.messages(room: name, before: before ?? .max, limit: limit, maxBytes: pageBytes), try store.firstSeq(room: name))
            }
            return .history(messages: page, hasMore: page.first.map { $0.seq > first } ?? false, ref: ref)
        }
    }

    func typing(from p: Participant, on: Bool) {
        guard members[p.id] != nil else { return }
        broadcast(.typing(from: p.identity, on: on), except: p.id)
    }

    func mute(from p: Participant, kind: String, muted: Bool) {
        guard members[p.id] != nil else { return }
        broadcast(.mute(participant: p.id, kind: kind, muted: muted), except: p.id)
    }

    func published(session: String, by p: Participant) {
        guard members[p.id] != nil else { return }
        publishers[session] = p.id
        broadcast(.track(event: "published", participant: p.id, session: session), except: nil)
    }

    func unpublished(session: String) {
        guard publishers.removeValue(forKey: session) != nil else { return }
        broadcast(.track(event: "unpublished", participant: "", session: session), except: nil)
    }

    /// A media session published here by someone other than `participant`.
    func publication(notBy participant: String) -> String? {
        publishers.sorted { $0.key < $1.key }.first { $0.value != participant }?.key
    }

    var memberCount: Int { members.count }

    /// Operations waiting for the room's turn.
    var waitingForStore: Int { gate.waiting }

    /// Sends to every member (encoded once). A chat message skips members still catching up (it
    /// reaches them with their backlog). A member whose outbox refuses is dropped from the room
    /// (its connection is closing: it reconnects and resumes; nothing stored is lost).
    private func broadcast(_ message: ServerMessage, except: String?) {
        let text = message.json()
        let isChat = if case .message = message { true } else { false }
        var dropped: [String] = []
        for (id, m) in members where id != except {
            if isChat && m.cursor != nil { continue }
            if m.outbox.deliver(text) {
                counters.add(counters.delivered)
            } else {
                dropped.append(id)
                counters.add(counters.slowConsumers)
            }
        }
        for id in dropped { drop(id) }
    }
}
