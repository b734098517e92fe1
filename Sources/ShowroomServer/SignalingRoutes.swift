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

    func publish(room: String, offer: String) async throws(SignalingError) -> (session: String, answer: String) {
        // A call: both sides publish into the room.
        try await open(room: room, publishing: true, quality: .source, adaptive: false, source: nil, offer: offer)
    }

    func subscribe(room: String, offer: String, quality: String, adaptive: Bool, source: String?) async throws(SignalingError) -> (
        session: String, answer: String
    ) {
        try await open(room: room, publishing: false, quality: Quality(rawValue: quality) ?? .source, adaptive: adaptive, source: source, offer: offer)
    }

    private func open(room: String, publishing: Bool, quality: Quality, adaptive: Bool, source: String?, offer: String) async throws(SignalingError) -> (
        session: String, answer: String
    ) {
        do {
            let r = try await relay.open(
                room: room, publishing: publishing, quality: quality, adaptive: adaptive, source: source, exclusive: false, offer: offer)
            return (r.id, r.answer)
        } catch {
            throw error.signalingError
        }
    }

    func setQuality(session: String, quality: String) async -> Bool {
        guard let q = Quality(rawValue: quality) else { return false }
        do { try await relay.setQuality(id: session, quality: q) } catch { return false }
        return true
    }

    func stop(session: String, room: String) async -> Bool { await relay.close(room: room, id: session) }
}

/// One `/ws` connection: a reader task feeds text frames to a ``SignalingSession``; a writer task
/// drains the session's outgoing queue (bounded: a client that cannot keep up is closed with
/// `slow_consumer` and resumes from its last seq); one ``Sweeper`` for all connections closes
/// those that never say hello (10 s) or go quiet (30 s — clients ping every 10 s). The server's shutdown closes every
/// connection with `shutting_down`.
enum SignalingConnection {
    static let maximumFrame = 1 << 16
    static let queueLength = 16_384
    static let helloTimeout = Duration.seconds(10)
    static let idleTimeout = Duration.seconds(30)

    /// What the connection's tasks share.
    final class State: Sendable {
        let continuation: AsyncStream<String>.Continuation
        let reason = Mutex<SignalingError?>(nil)
        let lastSeen = Mutex(ContinuousClock.now)
        let authenticated = Mutex(false)
        let opened = ContinuousClock.now

        init(_ continuation: AsyncStream<String>.Continuation) { self.continuation = continuation }

        /// Ends the connection if it is past a timeout.
        func check(now: ContinuousClock.Instant) {
            if !authenticated.withLock({ $0 }), now - opened > helloTimeout {
                finish(SignalingError(.timeout, "no hello within \(helloTimeout)"))
            } else if now - lastSeen.withLock({ $0 }) > idleTimeout {
                finish(SignalingError(.timeout, "nothing received for \(idleTimeout); send ping"))
            }
        }

        /// Records why the connection ends (the first reason wins) and queues `closing` last.
        func finish(_ e: SignalingError) {
            let first = reason.withLock { r -> Bool in
                guard r == nil else { return false }
                r = e
                return true
            }
            if first {
                continuation.yield(ServerMessage.closing(code: e.code.rawValue, reason: e.detail).json())
                continuation.finish()
            }
        }

        func deliver(_ m: String) -> Bool {
            switch continuation.yield(m) {
            case .enqueued: return true
            case .dropped:
                finish(SignalingError(.slowConsumer, "more than \(queueLength) messages waiting; reconnect and resume"))
                return false
            case .terminated: return false
            @unknown default: return false
            }
        }
    }

    static func run(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, hub: RoomHub, media: (any MediaNegotiator)?,
        auth: TokenAuthority, metrics: ServerMetrics? = nil, logger: Logger
    ) async {
        metrics?.connectionOpened()
        let (queue, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingOldest(queueLength))
        let state = State(continuation)
        let key = Sweeper.shared.add(state)
        defer { Sweeper.shared.remove(key) }
        let session = SignalingSession(
            hub: hub, media: media,
            authenticate: { (token: String) async throws(SignalingError) -> Grant in
                do throws(AuthError) {
                    let t = try await auth.verify(token)
                    state.authenticated.withLock { $0 = true }
                    return Grant(identity: t.sub.value, role: t.role.rawValue, room: t.room, canPublish: t.role.canPublish)
                } catch {
                    throw SignalingError(.unauthorized, error.detail)
                }
            }, deliver: { state.deliver($0) })

        await withTaskGroup(of: Void.self) { group in
            // Writer: drains the queue in order, then closes with the reason's code.
            group.addTask {
                for await text in queue { try? await outbound.write(.text(text)) }
                let code: WebSocketErrorCode
                switch state.reason.withLock({ $0?.code }) {
                case nil: code = .normalClosure
                case .shuttingDown?, .timeout?, .slowConsumer?: code = .goingAway
                default: code = .policyViolation
                }
                try? await outbound.close(code, reason: state.reason.withLock { $0?.code.rawValue })
            }
            // Reader, in this task: frames in order through the session.
            await withGracefulShutdownHandler {
                do {
                    for try await frame in inbound.messages(maxSize: maximumFrame) {
                        state.lastSeen.withLock { $0 = .now }
                        if state.reason.withLock({ $0 != nil }) { continue }  // closing: drain until the peer closes
                        guard case .text(let text) = frame else {
                            state.finish(SignalingError(.badMessage, "only text frames carry the protocol"))
                            continue
                        }
                        if let e = await session.handle(text) { state.finish(e) }
                    }
                } catch {
                    logger.debug("signaling connection ended", metadata: ["error": .string("\(error)")])
                }
            } onGracefulShutdown: {
                state.finish(SignalingError(.shuttingDown, "the server is stopping; reconnect shortly"))
            }
            await session.end()
            continuation.finish()
        }
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
                        let now = ContinuousClock.now
                        for state in self.states.withLock({ Array($0.all.values) }) { state.check(now: now) }
                    }
                }
            }
            return s.next
        }
    }

    func remove(_ key: Int) { states.withLock { _ = $0.all.removeValue(forKey: key) } }
}
