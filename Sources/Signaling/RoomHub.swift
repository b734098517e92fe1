import Chat
import Foundation

/// The rooms of one node: who is in each, and the one place where a room's chat is appended and
/// fanned out. Being an actor is what makes the delivery guarantees hold: an append and its
/// broadcast happen in one step, so every member sees a room's messages in `seq` order; and a
/// joining member gets its backlog (everything after the `lastSeq` it names) queued before it is
/// added to the room, so nothing falls between the backlog and the live messages.
public actor RoomHub {
    /// One connection in a room. `deliver` queues an encoded message (one JSON text, encoded once
    /// per broadcast, not once per member) and answers false when its queue is full (a consumer
    /// too slow for the room): the hub then drops it from the room.
    public struct Member: Sendable {
        public var participant: Participant
        public var deliver: @Sendable (String) -> Bool

        public init(participant: Participant, deliver: @escaping @Sendable (String) -> Bool) {
            self.participant = participant
            self.deliver = deliver
        }
    }

    private let store: any ChatStore
    private var rooms: [String: [String: Member]] = [:]
    private var counters = HubSnapshot()
    /// Room → media session → the participant publishing it.
    private var publishers: [String: [String: String]] = [:]
    /// Backlog reads go in pages of this many messages.
    static let page = 500

    public init(store: any ChatStore) { self.store = store }

    /// Adds `member` to `room`: it gets `joined` (everyone present, the room's last seq, read
    /// receipts, publishers), then — when it names `after` — every message after that seq, in
    /// order; the others get its `presence`.
    public func join(room: String, member: Member, after: Int64?) throws(SignalingError) {
        let id = member.participant.id
        let present = rooms[room, default: [:]]
        do {
            let last = try store.lastSeq(room: room)
            let receipts = try store.readReceipts(room: room)
            let joined = ServerMessage.joined(
                room: room, participants: present.values.map(\.participant) + [member.participant], lastSeq: last,
                readReceipts: receipts, publishers: publishers[room] ?? [:])
            _ = member.deliver(joined.json())
            if var cursor = after {
                while cursor < last {
                    let page = try store.messages(room: room, after: cursor, limit: Self.page)
                    guard let end = page.last?.seq else { break }
                    for m in page where !member.deliver(ServerMessage.message(m).json()) {
                        throw SignalingError(.slowConsumer, "backlog larger than the queue")
                    }
                    counters.resumed += page.count
                    cursor = end
                }
            }
        } catch let e as ChatError {
            throw SignalingError(.storage, e.description)
        } catch let e as SignalingError {
            throw e
        } catch {
            throw SignalingError(.storage, "\(error)")
        }
        rooms[room, default: [:]][id] = member
        counters.joins += 1
        broadcast(room, .presence(event: "joined", participant: member.participant), except: id)
    }

    /// Removes a member; the others get its `presence`, and `track` ends for what it published.
    /// Returns the media sessions it was publishing.
    @discardableResult
    public func leave(room: String, id: String) -> [String] {
        guard let member = rooms[room]?.removeValue(forKey: id) else { return [] }
        if rooms[room]?.isEmpty == true { rooms[room] = nil }
        let published = (publishers[room] ?? [:]).filter { $0.value == id }.map(\.key)
        for session in published { unpublished(room: room, session: session) }
        broadcast(room, .presence(event: "left", participant: member.participant), except: nil)
        return published
    }

    /// Stores a chat message and, unless it repeats one already stored, sends it to everyone in
    /// the room (the sender too). The returned acknowledgement is only built after the store
    /// committed it.
    public func send(room: String, from p: Participant, clientID: String, content: ChatContent, ref: String?) throws(SignalingError) -> ServerMessage {
        guard rooms[room]?[p.id] != nil else { throw SignalingError(.notJoined, "join a room first") }
        let stored: (message: StoredMessage, duplicate: Bool)
        do {
            stored = try store.append(room: room, clientID: clientID, sender: p.identity, senderRole: p.role, content: content, at: Date())
        } catch {
            throw SignalingError(.storage, error.description)
        }
        if stored.duplicate { counters.duplicates += 1 } else {
            counters.stored += 1
            broadcast(room, .message(stored.message), except: nil)
        }
        return .ack(id: clientID, seq: stored.message.seq, duplicate: stored.duplicate, ref: ref)
    }

    public func typing(room: String, from p: Participant, on: Bool) {
        guard rooms[room]?[p.id] != nil else { return }
        broadcast(room, .typing(from: p.identity, on: on), except: p.id)
    }

    public func mute(room: String, from p: Participant, kind: String, muted: Bool) {
        guard rooms[room]?[p.id] != nil else { return }
        broadcast(room, .mute(participant: p.id, kind: kind, muted: muted), except: p.id)
    }

    public func read(room: String, from p: Participant, seq: Int64) throws(SignalingError) {
        guard rooms[room]?[p.id] != nil else { throw SignalingError(.notJoined, "join a room first") }
        do {
            let stored = try store.markRead(room: room, participant: p.identity, seq: seq)
            broadcast(room, .read(from: p.identity, seq: stored), except: nil)
        } catch {
            throw SignalingError(.storage, error.description)
        }
    }

    public func history(room: String, before: Int64?, limit: Int, ref: String?) throws(SignalingError) -> ServerMessage {
        do throws(ChatError) {
            var upTo = before ?? 0
            if before == nil { upTo = try store.lastSeq(room: room) + 1 }
            let before = upTo
            let page = try store.messages(room: room, before: before, limit: limit)
            return .history(messages: page, hasMore: (page.first?.seq ?? 1) > 1, ref: ref)
        } catch {
            throw SignalingError(.storage, error.description)
        }
    }

    public func published(room: String, session: String, by p: Participant) {
        publishers[room, default: [:]][session] = p.id
        broadcast(room, .track(event: "published", participant: p.id, session: session), except: nil)
    }

    public func unpublished(room: String, session: String) {
        guard publishers[room]?.removeValue(forKey: session) != nil else { return }
        if publishers[room]?.isEmpty == true { publishers[room] = nil }
        broadcast(room, .track(event: "unpublished", participant: "", session: session), except: nil)
    }

    public func memberCount(room: String) -> Int { rooms[room]?.count ?? 0 }

    /// Totals since start and what is live now, for metrics.
    public func snapshot() -> HubSnapshot {
        var s = counters
        s.rooms = rooms.count
        s.members = rooms.values.reduce(0) { $0 + $1.count }
        return s
    }

    /// A media session published in the room by someone other than `participant`.
    public func publication(room: String, notBy participant: String) -> String? {
        (publishers[room] ?? [:]).sorted { $0.key < $1.key }.first { $0.value != participant }?.key
    }

    /// Sends to every member of the room; a member whose queue is full is dropped from it (it
    /// reconnects and resumes from its last seq — nothing is lost, since everything is stored).
    private func broadcast(_ room: String, _ message: ServerMessage, except: String?) {
        guard let members = rooms[room] else { return }
        let text = message.json()
        for (id, m) in members where id != except {
            if m.deliver(text) {
                counters.delivered += 1
            } else {
                rooms[room]?[id] = nil
                counters.slowConsumers += 1
            }
        }
    }
}

/// The hub's figures for `/metrics`.
public struct HubSnapshot: Sendable, Equatable {
    public var rooms = 0
    public var members = 0
    /// Chat messages stored, retried sends answered from the store, messages queued to members
    /// (every kind), backlog messages sent on resume, joins, members dropped as too slow.
    public var stored = 0
    public var duplicates = 0
    public var delivered = 0
    public var resumed = 0
    public var joins = 0
    public var slowConsumers = 0
    public init() {}
}
