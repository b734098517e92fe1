import Logging
import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore
import NIOPosix
import ShowroomCore
import Synchronization

/// The media plane: ``RelayConfiguration/mediaThreads`` workers (``RelayWorker``), each an event
/// loop with its own UDP socket that owns the sessions of the rooms placed on it, so media uses
/// every core with no lock or hop per packet; renditions' codecs run on threads of their own. The
/// control path (WHIP, WHEP, `/ws`) comes here: the ``RelayDirectory`` says which worker holds a
/// room and keeps the relay-wide quotas, and the call goes on to that worker's loop.
public final class RelayServer: Sendable {
    public let configuration: RelayConfiguration
    /// The first worker's port (the only one with one media thread).
    public var port: Int { workers[0].port }
    /// Every worker's port, by worker.
    public var ports: [Int] { workers.map(\.port) }
    public let fingerprint: String
    private let workers: [RelayWorker]
    private let directory: SharedDirectory
    private let codecGroup: MultiThreadedEventLoopGroup
    private let stopped = Atomic(false)
    /// Mirrors of other nodes' publications being made, by worker and room (one at a time each).
    private let nodeMirrors = SingleFlight<String, String>()

    public static func start(
        configuration: RelayConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) async throws -> RelayServer {
        let certificate = try DTLSCertificate()
        let count = max(1, configuration.mediaThreads)
        let directory = SharedDirectory(RelayDirectory(workers: count, limits: configuration.limits))
        // Renditions' codecs get threads of their own: a VP8 frame must not stall forwarding.
        let codecGroup = MultiThreadedEventLoopGroup(numberOfThreads: max(1, min(count, System.coreCount)))
        let renditions = RenditionBudget()
        var loops = group.makeIterator()
        var workers: [RelayWorker] = []
        do {
            for i in 0..<count {
                let loop = loops.next() ?? group.next()
                let worker = try await RelayWorker.start(
                    index: i, configuration: configuration, certificate: certificate, loop: loop, codecLoop: codecGroup.next(),
                    renditions: renditions,
                    onSession: { event in
                        directory.withLock {
                            switch event {
                            case .opened(let room, let identity): $0.sessionOpened(room: room, identity: identity, worker: i)
                            case .closed(let room, let identity): $0.sessionClosed(room: room, identity: identity, worker: i)
                            }
                        }
                    }, logger: logger)
                workers.append(worker)
            }
        } catch {
            for w in workers { await w.stop() }
            try? await codecGroup.shutdownGracefully()
            throw error
        }
        logger.info("media relay listening", metadata: ["workers": .stringConvertible(count), "ports": .string(workers.map { String($0.port) }.joined(separator: ","))])
        return RelayServer(configuration: configuration, fingerprint: certificate.fingerprint, workers: workers, directory: directory, codecGroup: codecGroup)
    }

    private init(
        configuration: RelayConfiguration, fingerprint: String, workers: [RelayWorker], directory: SharedDirectory,
        codecGroup: MultiThreadedEventLoopGroup
    ) {
        self.configuration = configuration
        self.fingerprint = fingerprint
        self.workers = workers
        self.directory = directory
        self.codecGroup = codecGroup
    }

    /// Opens a publishing (WHIP) or viewing (WHEP) session from an SDP offer, on the worker
    /// ``RelayDirectory`` places it on: a publisher on its room's home, a subscriber there or, in
    /// a room larger than its home serves, on another worker that mirrors the publication. An `exclusive` publisher (a broadcast) is refused where someone publishes
    /// already; others share the room (a call). A subscriber receives `source` (a publication's
    /// id) or the room's latest publication, gets `quality` at most, and with `adaptive` the relay
    /// moves it down to renditions its path can carry and back up (``QualityController``).
    ///
    /// With `origin`, the room's publications are another node's: a subscriber is served from a
    /// mirror on its room's home worker here, fed by that node's pipe (``NodePipe``), asked for
    /// through `origin` when this node has none yet.
    public func open(
        room: String, identity: String = "", publishing: Bool, quality: Quality = .source, adaptive: Bool = true,
        source: String? = nil, exclusive: Bool = true, origin: NodeOrigin? = nil, offer: String
    ) async throws(RelayError) -> OpenedSession {
        // Parsed here, on the caller's task: the workers' loops forward media and get only the
        // parsed, size-capped description.
        let parsed: SessionDescription
        do {
            parsed = try SessionDescription(parsing: offer)
        } catch {
            throw RelayError(.badOffer, "malformed SDP: \(error.description)")
        }
        let admitted = directory.withLock { d -> Result<(worker: Int, home: Int), RelayError> in
            do throws(RelayError) {
                let worker = try d.admit(room: room, identity: identity, publishing: publishing, now: .now)
                return .success((worker, d.rooms[room]?.home ?? worker))
            } catch {
                return .failure(error)
            }
        }
        let (index, home) = try admitted.get()
        var opened = false
        defer { directory.withLock { $0.finish(room: room, identity: identity, worker: index, opened: opened) } }
        guard !stopped.load(ordering: .relaxed) else { throw RelayError(.internalError, "the relay is stopping") }
        // Another node's publication: this node's mirror of it, on the room's home worker.
        var held = source
        if let origin, !publishing { held = try await nodeMirror(room: room, source: source, on: home, origin: origin) }
        // The room's home is busy: this subscriber is served here from a mirror of the
        // publication, piped from the home.
        let source = !publishing && index != home ? try await pipe(room: room, source: held, from: home, to: index) : held
        let result = await workers[index].withState { state, _ -> Result<OpenedSession, RelayError> in
            do throws(RelayError) {
                return .success(
                    try state.open(
                        room: room, identity: identity, role: publishing ? .publisher : .viewer, quality: quality, adaptive: adaptive,
                        source: source, exclusive: exclusive, offer: parsed, now: .now))
            } catch {
                return .failure(error)
            }
        }
        guard let result else { throw RelayError(.internalError, "relay unavailable") }
        let session = try result.get()
        opened = true
        if publishing && exclusive {
            // A broadcast's subscribers on other workers, left by its previous publisher, follow this one.
            let others = directory.withLock { $0.rooms[room]?.workers ?? [] }.filter { $0 != index }
            for w in others { _ = try? await pipe(room: room, source: session.id, from: index, to: w, onlyForOrphans: true) }
        }
        return session
    }

    /// Makes sure worker `target` has a mirror of publication `source` (the room's latest when
    /// nil) of `room`, held on worker `home`, fed by a pipe from there; returns the publication's
    /// id. The pipe is attached from the far loop right after, without waiting (a subscriber
    /// opening meanwhile is fed from the attach on). With `onlyForOrphans`, only where
    /// subscribers wait for a broadcast's next publisher.
    private func pipe(room: String, source: String?, from home: Int, to target: Int, onlyForOrphans: Bool = false)
        async throws(RelayError) -> String
    {
        let origin = workers[home], far = workers[target]
        let described = await origin.withState { state, _ -> Result<PublicationDescription, RelayError> in
            do throws(RelayError) { return .success(try state.describe(room: room, source: source)) } catch { return .failure(error) }
        }
        guard let described else { throw RelayError(.internalError, "relay unavailable") }
        let description = try described.get()
        let id = description.id
        let made = await far.withState { state, _ -> Bool in
            guard
                let (token, made) = state.mirror(
                    description, onlyForOrphans: onlyForOrphans,
                    upstream: { token in
                        PipeUpstream(
                            requestKeyFrame: { layer in
                                origin.execute { s, ch in RelayWorker.write(s.pipedKeyFrameRequest(for: id, layer: layer, now: .now), to: ch) }
                            },
                            nack: { lost, kind in origin.execute { s, ch in RelayWorker.write(s.pipedNACK(for: id, lost: lost, kind: kind), to: ch) } },
                            detach: { origin.execute { s, _ in s.detachPipe(from: id, worker: target, token: token) } })
                    })
            else { return false }
            guard made else { return true }
            // Sent from this (the far) loop, as its detaches are: the origin sees them in order.
            origin.execute { s, ch in
                let pipe = PipeOut(
                    worker: target, token: token,
                    send: { batch, gauge in
                        far.execute { s, ch in
                            RelayWorker.write(s.receivePiped(batch, id: id, token: token, now: .now), to: ch)
                            gauge.done(batch.count)
                        }
                    },
                    ended: { far.execute { s, _ in s.mirrorEnded(id: id, token: token) } })
                let (attached, out) = s.attach(pipe, to: id, now: .now)
                RelayWorker.write(out, to: ch)
                // Ended meanwhile: the mirror goes (its subscribers wait for the next publisher).
                far.execute { s, _ in attached ? s.mirrorAttached(id: id, token: token) : s.mirrorEnded(id: id, token: token) }
            }
            return true
        }
        guard made != nil else { throw RelayError(.internalError, "relay unavailable") }
        return id
    }

    /// The id of a mirror on worker `home` of `source` (the room's latest publication when nil),
    /// a publication of another node: the one there, or one made now, its pipe asked of `origin`.
    /// One is made at a time per worker and room; those asking meanwhile share it.
    private func nodeMirror(room: String, source: String?, on home: Int, origin: NodeOrigin) async throws(RelayError) -> String {
        let worker = workers[home]
        do {
            return try await nodeMirrors.run("\(home) \(room) \(source ?? "")") {
                if let id = await worker.withState({ state, _ in state.nodeMirror(room: room, source: source) }) ?? nil { return id }
                let token = UInt64.random(in: 1...UInt64.max)
                let offer = try await origin.attach(token, worker.port)
                guard offer.room == room, source == nil || offer.id == source else {
                    throw RelayError(.internalError, "the room's node offered publication \(offer.id) of room \(offer.room)")
                }
                let made = await worker.withState { state, output -> Result<String, RelayError> in
                    do throws(RelayError) {
                        let id = try state.mirrorFromNode(offer, token: token, secret: origin.secret, now: .now)
                        RelayWorker.write(state.takeNodeOutbox(), to: output)  // the origin starts once it hears this
                        return .success(id)
                    } catch {
                        return .failure(error)
                    }
                }
                guard let made else { throw RelayError(.internalError, "relay unavailable") }
                let id = try made.get()
                // A broadcast's viewers on other workers here, left by the room's previous publisher, follow it.
                let others = self.directory.withLock { $0.rooms[room]?.workers ?? [] }.filter { $0 != home }
                for w in others { _ = try? await self.pipe(room: room, source: id, from: home, to: w, onlyForOrphans: true) }
                return id
            }
        } catch let error as RelayError {
            throw error
        } catch {
            throw RelayError(.internalError, "the room's node: \(error)")
        }
    }

    /// Rooms whose viewers here wait for a publisher of another node: their mirror of it ended (its
    /// publisher left, or its node fell silent). The server asks the room's node again for each
    /// (``followNodePublisher(room:origin:)``), so that they follow the next publisher there as
    /// viewers on its own node do.
    public func roomsAwaitingNodePublisher() async -> Set<String> {
        var rooms: Set<String> = []
        for w in workers { rooms.formUnion(await w.withState { state, _ in state.roomsAwaitingNodePublisher() } ?? []) }
        return rooms
    }

    /// Asks `origin` (the room's node now) for its publication of `room` for the viewers here that
    /// wait for one; `nothingPublished` when it has none yet.
    public func followNodePublisher(room: String, origin: NodeOrigin) async throws(RelayError) {
        guard let home = directory.withLock({ $0.rooms[room]?.home }) else { return }  // nobody waits any more
        _ = try await nodeMirror(room: room, source: nil, on: home, origin: origin)
    }

    /// Pipes `request.source` (the room's latest publication when nil) of `request.room`, held on
    /// this node, to the asking node's mirror (``NodePipe``): once per node, whatever its number
    /// of viewers. `secret` is the cluster's, which keys the pipe with the request's token.
    /// `nothingPublished` when this node publishes nothing in the room.
    public func pipe(toNode request: NodePipeRequest, secret: [UInt8]) async throws(RelayError) -> NodePipeOffer {
        guard let token = UInt64(request.token), token != 0 else { throw RelayError(.badOffer, "token: a decimal number of 64 bits, not 0") }
        guard let peer = PeerAddress(host: request.host, port: request.port) else {
            throw RelayError(.badOffer, "host and port: an IP address and a port")
        }
        guard let home = directory.withLock({ $0.rooms[request.room]?.home }) else {
            throw RelayError(.nothingPublished, "nothing is published in room \(request.room) on this node")
        }
        let worker = workers[home]
        let ips = configuration.announceIPs
        let host = ips.first { $0.contains(":") == request.host.contains(":") } ?? ips.first ?? "127.0.0.1"
        let result = await worker.withState { state, _ -> Result<NodePipeOffer, RelayError> in
            do throws(RelayError) {
                let (description, salt) = try state.pipeToNode(
                    room: request.room, source: request.source, token: token, secret: secret, peer: peer, now: .now)
                return .success(NodePipeOffer(description, host: host, port: worker.port, salt: salt))
            } catch {
                return .failure(error)
            }
        }
        guard let result else { throw RelayError(.internalError, "relay unavailable") }
        return try result.get()
    }

    /// The workers that hold sessions of `room` now, its home first.
    private func holding(_ room: String) -> [RelayWorker] {
        directory.withLock { $0.rooms[room]?.workers ?? [] }.map { workers[$0] }
    }

    /// Ends a session by its public id (a `/ws` connection's own sessions); false if there is
    /// none with that id in that room.
    public func close(room: String, id: String) async -> Bool {
        for worker in holding(room) where await worker.withState({ state, _ in state.close(id: id, room: room, reason: "stopped") }) == true {
            return true
        }
        return false
    }

    /// Ends a session by its control capability (WHIP/WHEP `DELETE`): only one of the endpoint's
    /// kind (`publishing`), in `room`, opened by `identity` (nil: an admin may end any).
    public func close(room: String, resource: String, publishing: Bool, identity: String?) async throws(RelayError) {
        for worker in holding(room) {
            let result = await worker.withState { state, _ -> Result<Void, RelayError> in
                do throws(RelayError) {
                    return .success(try state.close(resource: resource, room: room, publishing: publishing, identity: identity))
                } catch {
                    return .failure(error)
                }
            }
            if case .success = result { return }  // nil: that worker's loop is gone (stopping); ask the others
        }
        throw RelayError(.notFound, "no session \(resource) of yours in room \(room)")
    }

    /// Moves a subscriber to another rendition (its RTP streams continue unbroken): `notFound` when
    /// there is no such subscriber, `atCapacity` when the rendition cannot start (it stays where it
    /// was). A subscriber changes at most once a second: a change asked sooner is applied when its
    /// second has passed (the latest wish wins; see ``RelayState/setQuality(id:quality:now:)``).
    public func setQuality(id: String, room: String, quality: Quality) async throws(RelayError) {
        // Only the workers holding the room's sessions are asked (control path; a handful of them).
        for worker in holding(room) {
            let result = await worker.withState { state, channel -> Result<Bool, RelayError> in
                do throws(RelayError) {
                    guard let out = try state.setQuality(id: id, room: room, quality: quality, now: .now) else { return .success(false) }
                    RelayWorker.write(out, to: channel)
                    return .success(true)
                } catch {
                    return .failure(error)
                }
            }
            guard let result else { throw RelayError(.internalError, "relay unavailable") }
            if try result.get() { return }
        }
        throw RelayError(.notFound, "no subscription \(id)")
    }

    /// Drop counters by reason, over all workers and the relay-wide quotas.
    public func droppedCounts() async -> [String: Int] {
        var total = directory.withLock { $0.refused }
        for w in workers { total.merge(await w.withState { state, _ in state.dropped } ?? [:], uniquingKeysWith: +) }
        return total
    }

    /// Per-session and per-stream figures (packets, bytes, loss, jitter, RTT, NACKs, PLIs).
    public func statistics() async -> [SessionStatistics] {
        var all: [SessionStatistics] = []
        for w in workers { all += await w.withState { state, _ in state.statistics() } ?? [] }
        return all
    }

    /// Totals for metrics: sessions, renditions, what went in and out, drops by reason.
    public func snapshot() async -> RelaySnapshot {
        var total = RelaySnapshot()
        total.dropped = directory.withLock { $0.refused }
        for w in workers {
            guard let s = await w.withState({ state, _ in state.snapshot() }) else { continue }
            total.publishers += s.publishers
            total.viewers.merge(s.viewers, uniquingKeysWith: +)
            total.renditions += s.renditions
            total.totals.add(s.totals)
            total.dropped.merge(s.dropped, uniquingKeysWith: +)
            total.loopLag = max(total.loopLag, s.loopLag)
            total.lateTicks += s.lateTicks
            total.loopBusy = max(total.loopBusy, s.loopBusy)
            total.adaptationHeld += s.adaptationHeld
            total.pipes += s.pipes
            total.pipedPackets += s.pipedPackets
            total.nodePipesOut += s.nodePipesOut
            total.nodePipesIn += s.nodePipesIn
        }
        return total
    }

    public func sessionCount() async -> Int {
        var n = 0
        for w in workers { n += await w.withState { state, _ in state.sessionCount() } ?? 0 }
        return n
    }

    /// The rooms with a session open, or an open under way, on this relay.
    public func activeRooms() -> Set<String> { directory.withLock { Set($0.rooms.keys) } }

    /// Sessions per worker, as the directory counts them (what placement goes by).
    public func sessionsPerWorker() -> [Int] { directory.withLock { $0.sessionsOnWorker } }

    /// Ends every session (their state lets go of itself), closes the sockets and the codec
    /// threads; opens after this are refused.
    public func stop() async {
        stopped.store(true, ordering: .relaxed)
        for w in workers {
            _ = await w.withState { state, _ in state.closeAll(reason: "relay stopped") }
            await w.stop()
        }
        try? await codecGroup.shutdownGracefully()
    }
}

/// The directory behind its lock, shared by the control path and the workers' session events.
final class SharedDirectory: Sendable {
    private let mutex: Mutex<RelayDirectory>
    init(_ directory: RelayDirectory) { mutex = Mutex(directory) }
    func withLock<T: Sendable>(_ body: (inout RelayDirectory) -> T) -> T {
        mutex.withLock { body(&$0) }
    }
}
