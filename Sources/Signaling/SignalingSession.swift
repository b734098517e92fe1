import Chat
import Foundation

/// What a signaling connection may do, from its verified token.
public struct Grant: Sendable, Equatable {
    public var identity: String
    public var role: String
    /// The one room the token is for.
    public var room: String
    public var canPublish: Bool

    public init(identity: String, role: String, room: String, canPublish: Bool) {
        self.identity = identity
        self.role = role
        self.room = room
        self.canPublish = canPublish
    }
}

/// The media side of signaling: the relay, behind a protocol so that this layer does not know it.
public protocol MediaNegotiator: Sendable {
    /// Answers a publisher's offer.
    func publish(room: String, offer: String) async throws(SignalingError) -> (session: String, answer: String)
    /// Answers a subscriber's offer (the subscriber offers, as in WHEP) for publisher `source`.
    func subscribe(room: String, offer: String, quality: String, adaptive: Bool, source: String?) async throws(SignalingError) -> (
        session: String, answer: String
    )
    func setQuality(session: String, quality: String) async -> Bool
    func stop(session: String, room: String) async -> Bool
}

/// Counts a connection's messages against a rate: `rate` per second, bursts of `burst`.
struct TokenBucket {
    let rate: Double
    let burst: Double
    private var tokens: Double
    private var last: ContinuousClock.Instant?

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
        tokens = burst
    }

    mutating func take(now: ContinuousClock.Instant) -> Bool {
        if let last {
            let elapsed = Double((now - last).components.attoseconds) / 1e18 + Double((now - last).components.seconds)
            tokens = min(burst, tokens + elapsed * rate)
        }
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}

/// One `/ws` connection's protocol logic, transport aside: it takes text frames and the time and
/// sends (encoded) through `deliver`; when it answers with an error, the caller sends `closing` and closes.
/// Owned by the connection's reader task.
public final class SignalingSession {
    public struct Limits: Sendable {
        /// Messages per second, and the burst allowed above it.
        public var rate = 20.0
        public var burst = 40.0
        /// Rate-limited messages, and malformed ones, tolerated before the connection is closed.
        public var maximumViolations = 20
        public var maximumBadMessages = 10
        public init() {}
    }

    private let hub: RoomHub
    private let media: (any MediaNegotiator)?
    private let authenticate: @Sendable (String) async throws(SignalingError) -> Grant
    private let deliver: @Sendable (String) -> Bool
    private let limits: Limits
    private var bucket: TokenBucket
    private var violations = 0
    private var badMessages = 0
    public private(set) var participant: Participant?
    private var grant: Grant?
    public private(set) var room: String?
    /// Media sessions this connection opened: it may stop or steer only these, and they end with it.
    private var mediaSessions: [String: Bool] = [:]  // session → publishing

    public init(
        hub: RoomHub, media: (any MediaNegotiator)?, limits: Limits = Limits(),
        authenticate: @escaping @Sendable (String) async throws(SignalingError) -> Grant,
        deliver: @escaping @Sendable (String) -> Bool
    ) {
        self.hub = hub
        self.media = media
        self.authenticate = authenticate
        self.deliver = deliver
        self.limits = limits
        bucket = TokenBucket(rate: limits.rate, burst: limits.burst)
    }

    private func send(_ m: ServerMessage) { _ = deliver(m.json()) }

    private func refuse(_ e: SignalingError, ref: String?) { send(.error(code: e.code.rawValue, reason: e.detail, ref: ref)) }

    /// Handles one text frame; a returned error ends the connection (with that code).
    public func handle(_ text: String, now: ContinuousClock.Instant = .now) async -> SignalingError? {
        if !bucket.take(now: now) {
            violations += 1
            refuse(SignalingError(.rateLimited, "more than \(Int(limits.rate)) messages a second"), ref: nil)
            return violations > limits.maximumViolations ? SignalingError(.policy, "too many messages, too fast") : nil
        }
        let message: ClientMessage, ref: String?
        do {
            (message, ref) = try ClientMessage.parse(text)
        } catch {
            badMessages += 1
            refuse(error, ref: nil)
            return badMessages > limits.maximumBadMessages ? SignalingError(.policy, "too many malformed messages") : nil
        }
        guard let participant, let grant else {
            guard case .hello(let version, let token) = message else { return SignalingError(.unauthorized, "say hello with a token first") }
            guard version == protocolVersion else { return SignalingError(.unsupportedVersion, "this server speaks version \(protocolVersion)") }
            do {
                let g = try await authenticate(token)
                grant = g
                let p = Participant(id: Self.newID(), identity: g.identity, role: g.role)
                self.participant = p
                send(.welcome(participant: p))
                return nil
            } catch {
                return error
            }
        }
        do {
            try await handle(message, ref: ref, as: participant, grant: grant)
        } catch {
            refuse(error, ref: ref)
        }
        return nil
    }

    private func joinedRoom() throws(SignalingError) -> String {
        guard let room else { throw SignalingError(.notJoined, "join a room first") }
        return room
    }

    private func handle(_ message: ClientMessage, ref: String?, as p: Participant, grant: Grant) async throws(SignalingError) {
        switch message {
        case .hello: throw SignalingError(.badMessage, "already said hello")
        case .join(let name, let lastSeq):
            guard room == nil else { throw SignalingError(.alreadyJoined, "already in room \(room ?? "")") }
            guard name == grant.room else { throw SignalingError(.forbidden, "the token is for room \(grant.room)") }
            try await hub.join(room: name, member: RoomHub.Member(participant: p, deliver: deliver), after: lastSeq)
            room = name
        case .leave:
            await leaveRoom()
        case .send(let id, let content):
            let room = try joinedRoom()
            do { try content.validate() } catch {
                throw SignalingError(error.code == .tooLong ? .tooLarge : .invalidContent, error.detail)
            }
            send(try await hub.send(room: room, from: p, clientID: id, content: content, ref: ref))
        case .typing(let on):
            await hub.typing(room: try joinedRoom(), from: p, on: on)
        case .read(let seq):
            try await hub.read(room: try joinedRoom(), from: p, seq: seq)
        case .history(let before, let limit):
            send(try await hub.history(room: try joinedRoom(), before: before, limit: limit, ref: ref))
        case .publish(let sdp):
            let room = try joinedRoom()
            guard grant.canPublish else { throw SignalingError(.forbidden, "a \(grant.role) cannot publish") }
            guard let media else { throw SignalingError(.media, "no media relay on this server") }
            let (session, answer) = try await media.publish(room: room, offer: sdp)
            mediaSessions[session] = true
            send(.answer(session: session, sdp: answer, ref: ref))
            await hub.published(room: room, session: session, by: p)
        case .subscribe(let sdp, let quality, let adaptive, let source):
            let room = try joinedRoom()
            guard let media else { throw SignalingError(.media, "no media relay on this server") }
            // By default, someone else's publication (in a call, the other side's).
            let chosen: String?
            if let source { chosen = source } else { chosen = await hub.publication(room: room, notBy: p.id) }
            guard let chosen else { throw SignalingError(.notFound, "nobody else publishes in room \(room) yet") }
            let (session, answer) = try await media.subscribe(room: room, offer: sdp, quality: quality, adaptive: adaptive, source: chosen)
            mediaSessions[session] = false
            send(.answer(session: session, sdp: answer, ref: ref))
        case .setQuality(let session, let quality):
            guard mediaSessions[session] == false, let media, await media.setQuality(session: session, quality: quality) else {
                throw SignalingError(.notFound, "no subscription \(session) on this connection")
            }
            send(.pong(ref: ref))
        case .stop(let session):
            let room = try joinedRoom()
            guard let publishing = mediaSessions.removeValue(forKey: session) else {
                throw SignalingError(.notFound, "no media session \(session) on this connection")
            }
            _ = await media?.stop(session: session, room: room)
            if publishing { await hub.unpublished(room: room, session: session) }
            send(.pong(ref: ref))
        case .mute(let kind, let muted):
            await hub.mute(room: try joinedRoom(), from: p, kind: kind, muted: muted)
        case .ping:
            send(.pong(ref: ref))
        }
    }

    private func leaveRoom() async {
        guard let room, let participant else { return }
        for (session, _) in mediaSessions { _ = await media?.stop(session: session, room: room) }
        mediaSessions = [:]
        await hub.leave(room: room, id: participant.id)
        self.room = nil
    }

    /// The connection ended, however: leave the room and end its media.
    public func end() async { await leaveRoom() }

    static func newID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<12).map { _ in alphabet.randomElement()! })
    }
}
