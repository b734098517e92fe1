import Chat
import Foundation
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import Relay
import ServiceLifecycle
import Signaling
import Synchronization

/// The relay as signaling's media side.
struct RelayMedia: MediaNegotiator {
    let relay: RelayServer
    /// This node in a cluster: a room's media is served on its node only.
    var cluster: ClusterMembership? = nil

    /// In a cluster, the room's node when it is another one (the placement WHIP and WHEP follow
    /// too: ``WHIPRoutes/redirect(_:room:cluster:)``).
    func home(of room: String) async throws(SignalingError) -> String? {
        do { return try await cluster?.elsewhere(room) } catch {
            throw SignalingError(.storage, "where room \(room) lives is unknown now (\(error.description)); retry shortly")
        }
    }

    func publish(room: String, identity: String, offer: String) async throws(SignalingError) -> (session: String, answer: String) {
        // A call: both sides publish into the room.
        try await open(room: room, identity: identity, publishing: true, quality: .source, adaptive: false, source: nil, offer: offer)
    }

    func subscribe(room: String, identity: String, offer: String, quality: String, adaptive: Bool, source: String?) async throws(SignalingError)
        -> (session: String, answer: String)
    {
        try await open(
            room: room, identity: identity, publishing: false, quality: Quality(rawValue: quality) ?? .source, adaptive: adaptive,
            source: source, offer: offer)
    }

    private func open(
        room: String, identity: String, publishing: Bool, quality: Quality, adaptive: Bool, source: String?, offer: String
    ) async throws(SignalingError) -> (session: String, answer: String) {
        do {
            let r = try await relay.open(
                room: room, identity: identity, publishing: publishing, quality: quality, adaptive: adaptive, source: source, exclusive: false,
                offer: offer)
            return (r.id, r.answer)
        } catch {
            throw error.signalingError
        }
    }

    /// The relay's refusal, mapped by the one table (RelayError+Status.swift): `not_found` when there
    /// is no such viewer, `media` when the rendition cannot start (the reason says why).
    func setQuality(session: String, room: String, quality: String) async throws(SignalingError) {
        guard let q = Quality(rawValue: quality) else { throw SignalingError(.badMessage, "quality is source, medium or low") }
        do {
            try await relay.setQuality(id: session, room: room, quality: q)
        } catch {
            throw error.signalingError
        }
    }

    func stop(session: String, room: String) async -> Bool { await relay.close(room: room, id: session) }
}

/// One `/ws` connection: a reader task feeds text frames to a ``SignalingSession``; an
/// ``OutboxChannelWriter`` writes the connection's ``Outbox`` on the channel's event loop (bounded
/// in bytes: a client that cannot keep up is closed with `slow_consumer` and resumes from its last
/// seq); one ``Sweeper`` for all connections closes
/// those that never say hello (10 s), go quiet (30 s — clients ping every 10 s) or whose token
/// expired. The server's shutdown closes every connection with `shutting_down`.
///
/// However a connection is ended by the server, it gets ``SignalingLimits/drainDeadline`` to
/// write what is queued and `closing`; then its channel is closed from under it — the writer may
/// be waiting for a write held by TCP backpressure (a client that stopped reading), and closing
/// the channel is what fails that write — and its reader is cancelled (it may be waiting for a room
/// whose store is stalled).
enum SignalingConnection {
    static let maximumFrame = 1 << 16

    /// What the connection's tasks share.
    final class State: Sendable {
        let outbox: Outbox
        let limits: SignalingLimits
        let reason = Mutex<SignalingError?>(nil)
        let lastSeen = Mutex(ContinuousClock.now)
        let authenticated = Mutex(false)
        /// When the token expires (after `hello`; moved by `refresh`).
        let expires = Mutex<Date?>(nil)
        let opened = ContinuousClock.now
        /// Closes the socket at once (the channel's `close`).
        let hardClose: @Sendable () -> Void
        let reader = Mutex<Task<Void, Never>?>(nil)

        init(outbox: Outbox, limits: SignalingLimits, hardClose: @escaping @Sendable () -> Void) {
            self.outbox = outbox
            self.limits = limits
            self.hardClose = hardClose
        }

        /// Ends the connection if it is past a timeout or its token's expiry.
        func check(now: ContinuousClock.Instant, date: Date) {
            if !authenticated.withLock({ $0 }), now - opened > limits.helloTimeout {
                finish(SignalingError(.timeout, "no hello within \(limits.helloTimeout)"))
            } else if now - lastSeen.withLock({ $0 }) > limits.idleTimeout {
                finish(SignalingError(.timeout, "nothing received for \(limits.idleTimeout); send ping"))
            } else if let expires = expires.withLock({ $0 }), date >= expires {
                finish(SignalingError(.unauthorized, "the token expired; reconnect with a new one and resume (or refresh before expiry)"))
            }
        }

        /// Records why the connection ends (the first reason wins), queues `closing` last and arms
        /// the drain deadline. A `slow_consumer` drops what was queued (it is stored, or ephemeral).
        func finish(_ e: SignalingError, ref: String? = nil) {
            let first = reason.withLock { r -> Bool in
                guard r == nil else { return false }
                r = e
                return true
            }
            guard first else { return }
            let closing = ServerMessage.closing(code: e.code.rawValue, reason: e.detail, ref: ref).json()
            if e.code == .slowConsumer { outbox.abandon(last: closing) } else { outbox.close(last: closing) }
            let deadline = limits.drainDeadline
            Task { [self] in
                try? await Task.sleep(for: deadline)
                terminate()
            }
        }

        /// Closes the socket and stops the reader, whatever they are doing.
        func terminate() {
            hardClose()
            reader.withLock { $0 }?.cancel()
            outbox.abandon(last: nil)
        }

        var closeCode: WebSocketErrorCode {
            switch reason.withLock({ $0?.code }) {
            case nil: .normalClosure
            case .shuttingDown?, .timeout?, .slowConsumer?: .goingAway
            case .atCapacity?: .unknown(1013)  // Try Again Later
            default: .policyViolation
            }
        }
    }

    static func run(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel, hub: RoomHub,
        media: (any MediaNegotiator)?, auth: TokenAuthority, turn: TURNCredentials? = nil, metrics: ServerMetrics? = nil, address: String = "",
        logger: Logger
    ) async {
        metrics?.connectionOpened()
        let outbox = hub.makeOutbox()
        let state = State(outbox: outbox, limits: hub.limits, hardClose: { channel.close(mode: .all, promise: nil) })
        outbox.onFailure { state.finish($0) }
        let refusal = hub.admission.openConnection(from: address)
        let admitted = refusal == nil
        switch refusal {
        case nil: break
        case .pendingFull?:
            hub.refused(quota: "pending_connections")
            state.finish(SignalingError(.atCapacity, "too many connections wait for their hello; retry shortly"))
        case .serverFull?, .identityFull?:
            hub.refused(quota: "connections_per_server")
            state.finish(
                SignalingError(.atCapacity, "this server holds \(hub.limits.connectionsPerServer) connections, the most it takes; retry shortly"))
        }
        let key = Sweeper.shared.add(state)
        await withTaskGroup(of: Void.self) { group in
            // Writer: the outbox in order, in batches on the channel's loop; then the close frame
            // with the reason's code.
            let writer = OutboxChannelWriter(outbox: outbox, channel: channel)
            writer.start()
            group.addTask {
                await writer.finished()
                try? await outbound.close(state.closeCode, reason: state.reason.withLock { $0?.code.rawValue })
            }
            // Reader: frames in order through the session, then the session's end (leave the room,
            // end its media); its own task, so that a hard close can cancel it.
            let reader = Task {
                let session = SignalingSession(
                    hub: hub, media: media,
                    authenticate: { (token: String) async throws(SignalingError) -> Grant in
                        do throws(AuthError) {
                            let t = try await auth.verify(token)
                            state.authenticated.withLock { $0 = true }
                            return Grant(
                                identity: t.sub.value, role: t.role.rawValue, room: t.room, canPublish: t.role.canPublish, expires: t.exp.value,
                                iceServers: turn?.iceServers(for: t.sub.value, now: Date()) ?? [])
                        } catch {
                            throw SignalingError(.unauthorized, error.detail)
                        }
                    }, outbox: outbox, pendingFrom: admitted ? address : nil)
                if admitted {
                    do {
                        for try await frame in inbound.messages(maxSize: maximumFrame) {
                            state.lastSeen.withLock { $0 = .now }
                            if state.reason.withLock({ $0 != nil }) { continue }  // closing: drain until the peer closes
                            guard case .text(let text) = frame else {
                                state.finish(SignalingError(.badMessage, "only text frames carry the protocol"))
                                continue
                            }
                            // Each message is handled in a short task of its own: a task keeps the
                            // memory of its deepest frames while it lives, and this reader lives as
                            // long as the connection (2.4 KB of every idle connection, measured in
                            // docs/benchmarks.md; no CPU cost measurable at 16,000 deliveries/s).
                            let turn = SessionTurn(session)
                            let handling = Task { await turn.session.handle(text) }
                            let closing = await withTaskCancellationHandler { await handling.value } onCancel: { handling.cancel() }
                            let expires = session.expires
                            state.expires.withLock { $0 = expires }
                            if let closing { state.finish(closing.error, ref: closing.ref) }
                        }
                    } catch {
                        logger.debug("signaling connection ended", metadata: ["error": .string("\(error)")])
                    }
                }
                await session.end()
                if session.holdsPendingSlot { hub.admission.closePending(from: address) }
            }
            state.reader.withLock { $0 = reader }
            await withGracefulShutdownHandler {
                await withTaskCancellationHandler {
                    await reader.value
                } onCancel: {
                    reader.cancel()
                }
            } onGracefulShutdown: {
                state.finish(SignalingError(.shuttingDown, "the server is stopping; reconnect shortly"))
            }
            // The connection is over and out of its room. Ended by the server: the writer finishes
            // what is queued (`closing` last). Ended by the client (its Close, or the socket
            // dropped): nobody reads any more, and what is queued is stored or ephemeral — dropped.
            // Either way the socket goes within the drain deadline.
            if state.reason.withLock({ $0 == nil }) {
                outbox.abandon(last: nil)
                let deadline = hub.limits.drainDeadline
                Task {
                    try? await Task.sleep(for: deadline)
                    state.terminate()
                }
            } else {
                outbox.close(last: nil)
            }
        }
        Sweeper.shared.remove(key)
        metrics?.connectionClosed(code: state.reason.withLock { $0?.code.rawValue } ?? "client")
    }
}

/// The timeouts of every `/ws` connection, checked by one task once a second (a task per
/// connection would wake 10,000 times a second for 10,000 idle connections).
final class Sweeper: Sendable {
    static let shared = Sweeper()
    private let states = Mutex<(next: Int, all: [Int: SignalingConnection.State], task: Task<Void, Never>?)>((0, [:], nil))

    func add(_ state: SignalingConnection.State) -> Int {
        states.withLock { s in
            s.next += 1
            s.all[s.next] = state
            if s.task == nil {
                s.task = Task.detached { [self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        let now = ContinuousClock.now, date = Date()
                        for state in self.states.withLock({ Array($0.all.values) }) { state.check(now: now, date: date) }
                    }
                }
            }
            return s.next
        }
    }

    func remove(_ key: Int) { states.withLock { _ = $0.all.removeValue(forKey: key) } }
}

/// Deletes chat past the retention policy (`--retention-days`, `--retention-messages`) once at
/// start and then every `interval`, until the server stops. Pruning runs on the store's threads in
/// short transactions, so chat goes on meanwhile.
struct ChatRetention: Service {
    let hub: RoomHub
    let policy: RetentionPolicy
    let interval: Duration
    let logger: Logger

    func run() async throws {
        guard !policy.isUnlimited else {
            try await gracefulShutdown()
            return
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let n = try await hub.prune(policy)
                if n > 0 { logger.info("chat retention", metadata: ["deleted": .stringConvertible(n)]) }
            } catch {
                logger.error("chat retention failed", metadata: ["error": .string(error.description)])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

/// With a database other nodes share: delivers their chat messages to this node's rooms
/// (``RoomHub/followSharedStore()``) until shutdown. Nothing to do with SQLite.
struct SharedChatFeed: Service {
    let hub: RoomHub

    func run() async throws {
        guard hub.store is any SharedChatStore else {
            try await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown { await hub.followSharedStore() }
        // A service that returns ends the server: wait for the shutdown that ended the feed.
        try? await gracefulShutdown()
    }
}

/// Hands the connection's session to the short task that handles one message. The session is not
/// `Sendable` (its state is unguarded): it is safe here because the reader awaits that task before
/// it touches the session again, so one task at a time ever uses it.
private struct SessionTurn: @unchecked Sendable {
    let session: SignalingSession
    init(_ session: SignalingSession) { self.session = session }
}
