import Logging
import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore
import NIOPosix
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

    /// Opens a publishing (WHIP) or viewing (WHEP) session from an SDP offer, on the worker that
    /// holds `room`. An `exclusive` publisher (a broadcast) is refused where someone publishes
    /// already; others share the room (a call). A subscriber receives `source` (a publication's
    /// id) or the room's latest publication, gets `quality` at most, and with `adaptive` the relay
    /// moves it down to renditions its path can carry and back up (``QualityController``).
    public func open(
        room: String, identity: String = "", publishing: Bool, quality: Quality = .source, adaptive: Bool = true,
        source: String? = nil, exclusive: Bool = true, offer: String
    ) async throws(RelayError) -> OpenedSession {
        // Parsed here, on the caller's task: the workers' loops forward media and get only the
        // parsed, size-capped description.
        let parsed: SessionDescription
        do {
            parsed = try SessionDescription(parsing: offer)
        } catch {
            throw RelayError(.badOffer, "malformed SDP: \(error.description)")
        }
        let admitted = directory.withLock { d -> Result<Int, RelayError> in
            do throws(RelayError) { return .success(try d.admit(room: room, identity: identity, now: .now)) } catch { return .failure(error) }
        }
        let index = try admitted.get()
        guard !stopped.load(ordering: .relaxed) else {
            directory.withLock { $0.finish(room: room, identity: identity, opened: false) }
            throw RelayError(.internalError, "the relay is stopping")
        }
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
        let opened: Bool
        if case .success = result { opened = true } else { opened = false }
        directory.withLock { $0.finish(room: room, identity: identity, opened: opened) }
        guard let result else { throw RelayError(.internalError, "relay unavailable") }
        return try result.get()
    }

    /// The worker that holds `room` now, if any session of it is open or opening.
    private func worker(of room: String) -> RelayWorker? {
        directory.withLock { $0.rooms[room]?.worker }.map { workers[$0] }
    }

    /// Ends a session by its public id (a `/ws` connection's own sessions); false if there is
    /// none with that id in that room.
    public func close(room: String, id: String) async -> Bool {
        guard let worker = worker(of: room) else { return false }
        return await worker.withState { state, _ in state.close(id: id, room: room, reason: "stopped") } ?? false
    }

    /// Ends a session by its control capability (WHIP/WHEP `DELETE`): only one of the endpoint's
    /// kind (`publishing`), in `room`, opened by `identity` (nil: an admin may end any).
    public func close(room: String, resource: String, publishing: Bool, identity: String?) async throws(RelayError) {
        guard let worker = worker(of: room) else { throw RelayError(.notFound, "no session \(resource) of yours in room \(room)") }
        let result = await worker.withState { state, _ -> Result<Void, RelayError> in
            do throws(RelayError) {
                return .success(try state.close(resource: resource, room: room, publishing: publishing, identity: identity))
            } catch {
                return .failure(error)
            }
        }
        guard let result else { throw RelayError(.internalError, "relay unavailable") }
        try result.get()
    }

    /// Moves a subscriber to another rendition (its RTP streams continue unbroken): `notFound` when
    /// there is no such subscriber, `atCapacity` when the rendition cannot start (it stays where it
    /// was). A subscriber changes at most once a second: a change asked sooner is applied when its
    /// second has passed (the latest wish wins; see ``RelayState/setQuality(id:quality:now:)``).
    public func setQuality(id: String, quality: Quality) async throws(RelayError) {
        // The id names no room: ask each worker (control path; a handful of them).
        for worker in workers {
            let result = await worker.withState { state, channel -> Result<Bool, RelayError> in
                do throws(RelayError) {
                    guard let out = try state.setQuality(id: id, quality: quality, now: .now) else { return .success(false) }
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
        }
        return total
    }

    public func sessionCount() async -> Int {
        var n = 0
        for w in workers { n += await w.withState { state, _ in state.sessionCount() } ?? 0 }
        return n
    }

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
