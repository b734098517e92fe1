import Chat
import Foundation
import ShowroomCore

/// One `/ws` connection's protocol logic, transport aside: it takes text frames and the time, and
/// sends (encoded) through its ``Outbox``; when it answers with a ``Closing``, the caller sends
/// `closing` and closes. Owned by the connection's reader task.
public final class SignalingSession {
    /// Why, and because of which message, the connection must end.
    public struct Closing: Sendable, Equatable {
        public var error: SignalingError
        public var ref: String?
        public init(_ error: SignalingError, ref: String? = nil) {
            self.error = error
            self.ref = ref
        }
    }

    private let hub: RoomHub
    private let media: (any MediaNegotiator)?
    private let authenticate: @Sendable (String) async throws(SignalingError) -> Grant
    private let outbox: Outbox
    private let limits: SignalingLimits
    private var bucket: TokenBucket
    private var violations = 0
    private var badMessages = 0
    public private(set) var participant: Participant?
    public private(set) var grant: Grant?
    public private(set) var room: String?
    /// Media sessions this connection opened: it may stop or steer only these, and they end with it.
    private var mediaSessions: [String: Bool] = [:]  // session → publishing
    /// The peer's address, when the connection holds a pending slot of ``Admission`` (given back
    /// at an accepted `hello`); nil once given back, or for a session that holds none.
    private var pendingFrom: String?

    /// - Parameter pendingFrom: the peer's address, when the caller took a pending slot for the
    ///   connection with ``Admission/openConnection(from:)``; the session gives it back at an
    ///   accepted `hello` (the caller, if the connection ends before: see ``holdsPendingSlot``).
    public init(
        hub: RoomHub, media: (any MediaNegotiator)?,
        authenticate: @escaping @Sendable (String) async throws(SignalingError) -> Grant, outbox: Outbox,
        pendingFrom: String? = nil
    ) {
        self.pendingFrom = pendingFrom
        self.hub = hub
        self.media = media
        self.authenticate = authenticate
        self.outbox = outbox
        self.limits = hub.limits
        bucket = TokenBucket(rate: limits.messagesPerSecond, burst: limits.messageBurst)
    }

    /// Whether the connection still holds the pending slot it was given (no `hello` accepted yet):
    /// the caller gives it back with ``Admission/closePending(from:)`` when the connection ends.
    public var holdsPendingSlot: Bool { pendingFrom != nil }

    /// When the connection's token expires (nil before `hello`).
    public var expires: Date? { grant?.expires }

    private func send(_ m: ServerMessage) { outbox.deliver(m.json()) }

    private func refuse(_ e: SignalingError, ref: String?) { send(.error(code: e.code.rawValue, reason: e.detail, ref: ref, node: e.node)) }

    /// Handles one text frame at `now`; a returned ``Closing`` ends the connection.
    public func handle(_ text: String, now: ContinuousClock.Instant = .now) async -> Closing? {
        // Parsed before the rate check, so that every error — rate_limited too — carries the ref.
        let (ref, parsed) = ClientMessage.decode(text)
        if !bucket.take(now: now) {
            violations += 1
            refuse(SignalingError(.rateLimited, "more than \(Int(limits.messagesPerSecond)) messages a second"), ref: ref)
            return violations > limits.maximumViolations ? Closing(SignalingError(.policy, "too many messages, too fast"), ref: ref) : nil
        }
        let message: ClientMessage
        switch parsed {
        case .success(let m): message = m
        case .failure(let error):
            badMessages += 1
            refuse(error, ref: ref)
            return badMessages > limits.maximumBadMessages ? Closing(SignalingError(.policy, "too many malformed messages"), ref: ref) : nil
        }
        guard let participant, let grant else { return await hello(message, ref: ref) }
        do {
            try await handle(message, ref: ref, as: participant, grant: grant, now: now)
        } catch {
            refuse(error, ref: ref)
            if error.code == .rateLimited {
                violations += 1
                if violations > limits.maximumViolations { return Closing(SignalingError(.policy, "too many messages, too fast"), ref: ref) }
            }
        }
        return nil
    }

    /// The first message: `hello` with a valid token, an identity within its quota.
    @inline(never)
    private func hello(_ message: ClientMessage, ref: String?) async -> Closing? {
        guard case .hello(let version, let token) = message else {
            return Closing(SignalingError(.unauthorized, "say hello with a token first"), ref: ref)
        }
        guard version == protocolVersion else {
            return Closing(SignalingError(.unsupportedVersion, "this server speaks version \(protocolVersion)"), ref: ref)
        }
        let g: Grant
        do {
            g = try await authenticate(token)
        } catch {
            return Closing(error, ref: ref)
        }
        guard g.identity.utf8.count <= limits.maximumIdentityBytes else {
            return Closing(SignalingError(.unauthorized, "the token's identity is longer than \(limits.maximumIdentityBytes) bytes"), ref: ref)
        }
        switch hub.admission.admit(identity: g.identity, pendingFrom: pendingFrom) {
        case nil: pendingFrom = nil
        case .serverFull?:
            hub.refused(quota: "connections_per_server")
            return Closing(
                SignalingError(.atCapacity, "this server holds \(limits.connectionsPerServer) connections, the most it takes; retry shortly"),
                ref: ref)
        case .identityFull?, .pendingFull?:
            hub.refused(quota: "connections_per_identity")
            return Closing(
                SignalingError(
                    .overQuota, "\(g.identity) has \(limits.connectionsPerIdentity) connections open, the most one identity may; close one"),
                ref: ref)
        }
        grant = g
        let p = Participant(id: Self.newID(), identity: g.identity, role: g.role)
        participant = p
        send(.welcome(participant: p, expires: g.expires, iceServers: g.iceServers, ref: ref))
        return nil
    }

    private func joinedRoom() throws(SignalingError) -> String {
        guard let room else { throw SignalingError(.notJoined, "join a room first") }
        return room
    }

    /// One message after `hello`. Each request with a suspension point has a function of its own,
    /// kept out of line (`@inline(never)`, here and on `hello`): an async function's frame holds
    /// what every one of its suspension points needs, and a task keeps the memory of its deepest
    /// frames for as long as it lives — with every case inline this switch's frame was 7 KB of
    /// every idle connection's memory (heaptrack, 2026-12-02; docs/benchmarks.md).
    @inline(never)
    private func handle(_ message: ClientMessage, ref: String?, as p: Participant, grant: Grant, now: ContinuousClock.Instant) async throws(SignalingError) {
        switch message {
        case .hello: throw SignalingError(.badMessage, "already said hello")
        case .refresh(let token): try await refresh(token, ref: ref, grant: grant)
        case .join(let name, let lastSeq): try await join(name, after: lastSeq, ref: ref, as: p, grant: grant)
        case .leave: await leaveRoom()
        case .send(let id, let content): try await sendMessage(id: id, content: content, ref: ref, as: p, grant: grant, now: now)
        case .typing(let on): await hub.typing(room: try joinedRoom(), from: p, on: on)
        case .read(let seq): try await hub.read(room: try joinedRoom(), from: p, seq: seq)
        case .history(let before, let limit): send(try await hub.history(room: try joinedRoom(), before: before, limit: limit, ref: ref))
        case .publish(let sdp): try await publish(sdp, ref: ref, as: p, grant: grant)
        case .subscribe(let sdp, let quality, let adaptive, let source):
            try await subscribe(sdp, quality: quality, adaptive: adaptive, source: source, ref: ref, as: p, grant: grant)
        case .setQuality(let session, let quality): try await setQuality(session: session, quality: quality, ref: ref)
        case .stop(let session): try await stop(session: session, ref: ref)
        case .mute(let kind, let muted): await hub.mute(room: try joinedRoom(), from: p, kind: kind, muted: muted)
        case .ping: send(.pong(ref: ref))
        }
    }

    @inline(never)
    private func refresh(_ token: String, ref: String?, grant: Grant) async throws(SignalingError) {
        let fresh = try await authenticate(token)
        guard fresh.identity == grant.identity, fresh.room == grant.room, fresh.role == grant.role else {
            throw SignalingError(.forbidden, "a refreshed token must name the same identity, room and role")
        }
        self.grant = fresh
        send(.refreshed(expires: fresh.expires, iceServers: fresh.iceServers, ref: ref))
    }

    @inline(never)
    private func join(_ name: String, after lastSeq: Int64?, ref: String?, as p: Participant, grant: Grant) async throws(SignalingError) {
        guard room == nil else { throw SignalingError(.alreadyJoined, "already in room \(room ?? "")") }
        guard RoomName.isValid(name) else { throw SignalingError(.badMessage, RoomName.rule) }
        // Bytes, not Swift's canonical equivalence: the store keys rooms by bytes.
        guard name.utf8.elementsEqual(grant.room.utf8) else { throw SignalingError(.forbidden, "the token is for room \(grant.room)") }
        try await hub.join(room: name, member: RoomHub.Member(participant: p, outbox: outbox), after: lastSeq, ref: ref)
        room = name
    }

    @inline(never)
    private func sendMessage(
        id: String, content: ChatContent, ref: String?, as p: Participant, grant: Grant, now: ContinuousClock.Instant
    ) async throws(SignalingError) {
        let room = try joinedRoom()
        do { try content.validate() } catch {
            throw SignalingError(error.code == .tooLong ? .tooLarge : .invalidContent, error.detail)
        }
        // Product cards, coupons and clips are the shop's: a shopper or viewer sending one could
        // put a look-alike card (or a clip the agent's page fetches) in front of the agent.
        if Self.sellersOnly.contains(content.kind), !Self.sellers.contains(grant.role) {
            throw SignalingError(.forbidden, "a \(grant.role) cannot send \(content.kind) messages: cards, coupons and clips come from the shop")
        }
        guard hub.maySend(p.identity, now: now) else {
            throw SignalingError(
                .rateLimited, "\(p.identity) sends more than \(Int(limits.sendsPerSecondPerIdentity)) messages a second over its connections")
        }
        send(try await hub.send(room: room, from: p, clientID: id, content: content, ref: ref))
    }

    @inline(never)
    private func publish(_ sdp: String, ref: String?, as p: Participant, grant: Grant) async throws(SignalingError) {
        let room = try joinedRoom()
        guard grant.canPublish else { throw SignalingError(.forbidden, "a \(grant.role) cannot publish") }
        guard let media else { throw SignalingError(.media, "no media relay on this server") }
        try checkMediaQuota()
        if let node = try await media.home(of: room) { throw SignalingError.elsewhere(room: room, node: node) }
        let (session, answer) = try await media.publish(room: room, identity: grant.identity, offer: sdp)
        mediaSessions[session] = true
        send(.answer(session: session, sdp: answer, ref: ref))
        await hub.published(room: room, session: session, by: p)
    }

    @inline(never)
    private func subscribe(
        _ sdp: String, quality: String, adaptive: Bool, source: String?, ref: String?, as p: Participant, grant: Grant
    ) async throws(SignalingError) {
        let room = try joinedRoom()
        guard let media else { throw SignalingError(.media, "no media relay on this server") }
        try checkMediaQuota()
        if let node = try await media.home(of: room) { throw SignalingError.elsewhere(room: room, node: node) }
        // By default, someone else's publication (in a call, the other side's).
        let chosen: String?
        if let source { chosen = source } else { chosen = await hub.publication(room: room, notBy: p.id) }
        guard let chosen else { throw SignalingError(.notFound, "nobody else publishes in room \(room) yet") }
        let (session, answer) = try await media.subscribe(
            room: room, identity: grant.identity, offer: sdp, quality: quality, adaptive: adaptive, source: chosen)
        mediaSessions[session] = false
        send(.answer(session: session, sdp: answer, ref: ref))
    }

    @inline(never)
    private func setQuality(session: String, quality: String, ref: String?) async throws(SignalingError) {
        guard mediaSessions[session] == false, let media else {
            throw SignalingError(.notFound, "no subscription \(session) on this connection")
        }
        try await media.setQuality(session: session, room: try joinedRoom(), quality: quality)
        send(.pong(ref: ref))
    }

    @inline(never)
    private func stop(session: String, ref: String?) async throws(SignalingError) {
        let room = try joinedRoom()
        guard let publishing = mediaSessions.removeValue(forKey: session) else {
            throw SignalingError(.notFound, "no media session \(session) on this connection")
        }
        _ = await media?.stop(session: session, room: room)
        if publishing { await hub.unpublished(room: room, session: session) }
        send(.pong(ref: ref))
    }

    private func checkMediaQuota() throws(SignalingError) {
        guard mediaSessions.count < limits.mediaSessionsPerConnection else {
            hub.refused(quota: "media_sessions_per_connection")
            throw SignalingError(
                .overQuota, "this connection holds \(limits.mediaSessionsPerConnection) media sessions, the most it may; stop one first")
        }
    }

    private func leaveRoom() async {
        guard let room, let participant else { return }
        for (session, _) in mediaSessions { _ = await media?.stop(session: session, room: room) }
        mediaSessions = [:]
        await hub.leave(room: room, id: participant.id)
        self.room = nil
    }

    /// The connection ended, however: leave the room, end its media, give back its identity's slot.
    public func end() async {
        await leaveRoom()
        if let grant {
            hub.admission.release(identity: grant.identity)
            self.grant = nil
        }
        participant = nil
    }

    /// Kinds only sellers send, and the roles that are sellers.
    static let sellersOnly: Set<String> = ["product", "coupon", "video"]
    static let sellers: Set<String> = ["agent", "publisher"]

    static func newID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<12).map { _ in alphabet.randomElement()! })
    }
}
