import CoreMetrics
import Logging
import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore
import NIOPosix
import Synchronization

/// One media worker: an event loop, the UDP socket bound on it, and the ``RelayState`` of the
/// rooms placed on it — STUN, DTLS, SRTP and SRTCP of their peers on one socket (RFC 7983
/// demultiplexing), with no lock or hop per packet. ``RelayServer`` runs one per media thread.
final class RelayWorker: Sendable {
    let index: Int
    /// The port bound.
    let port: Int
    private let channel: any Channel
    private let state: NIOLoopBound<RelayState>

    static func start(
        index: Int, configuration: RelayConfiguration, certificate: DTLSCertificate, loop: any EventLoop, codecLoop: any EventLoop,
        renditions: RenditionBudget, onSession: @escaping @Sendable (RelayState.SessionEvent) -> Void, logger: Logger
    ) async throws -> RelayWorker {
        let requestedPort = configuration.mediaPort == 0 ? 0 : configuration.mediaPort + index
        let bound = try await loop.submit { () -> NIOLoopBound<RelayState> in
            NIOLoopBound(
                try RelayState(
                    certificate: certificate, announceIP: configuration.announceIP, mediaPort: requestedPort, limits: configuration.limits,
                    logger: logger, renditionBudget: renditions, onSession: onSession),
                eventLoop: loop)
        }.get()
        let channel = try await DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // One packet fans out to every subscriber in one flush: room for large rooms' bursts.
            .channelOption(.socketOption(.so_sndbuf), value: 8 << 20)
            .channelOption(.socketOption(.so_rcvbuf), value: 8 << 20)
            .channelOption(.datagramVectorReadMessageCount, value: 32)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2_048 * 32))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RelayHandler(state: bound))
                }
            }
            .bind(host: configuration.bindHost, port: requestedPort).get()
        let port = channel.localAddress?.port ?? requestedPort
        let handoffTimers = Dictionary(
            uniqueKeysWithValues: Quality.allCases.map { q in
                (
                    q,
                    CoreMetrics.Timer(
                        label: StageTimers.label, dimensions: [("stage", "handoff"), ("kind", "all"), ("quality", q.rawValue)],
                        factory: configuration.metricsFactory)
                )
            })
        try await loop.submit {
            bound.value.updatePort(port)
            bound.value.makeEncoder = { source, quality, captureID in
                try TranscodingEngine(
                    quality: quality, captureTimeExtensionID: captureID, loop: codecLoop, metrics: configuration.metricsFactory
                ) { output in
                    loop.execute {
                        // How long the output waited for the worker's loop: the last stage before the wire.
                        let start = MediaTime.now
                        handoffTimers[quality]?.recordNanoseconds((start - output.producedAt).microseconds * 1_000)
                        RelayWorker.write(bound.value.renditionOutput(source: source, quality: quality, output, now: start), to: channel)
                        bound.value.loopLoad.worked(MediaTime.now - start)
                    }
                }
            }
        }.get()
        logger.info(
            "media worker listening",
            metadata: ["worker": .stringConvertible(index), "udp": .string("\(configuration.bindHost):\(port)"), "announce": .string(configuration.announceIP)])
        return RelayWorker(index: index, port: port, channel: channel, state: bound)
    }

    private init(index: Int, port: Int, channel: any Channel, state: NIOLoopBound<RelayState>) {
        self.index = index
        self.port = port
        self.channel = channel
        self.state = state
    }

    /// Runs `body` on the worker's loop with its state; nil when the loop is gone.
    func withState<T: Sendable>(_ body: @escaping @Sendable (RelayState, any Channel) -> T) async -> T? {
        let state = self.state, channel = self.channel
        return try? await channel.eventLoop.submit { body(state.value, channel) }.get()
    }

    /// Runs `body` on the worker's loop without waiting for it (the pipes' hops between workers);
    /// its time counts as the loop's busy time (``LoopLoad``).
    func execute(_ body: @escaping @Sendable (RelayState, any Channel) -> Void) {
        let state = self.state, channel = self.channel
        channel.eventLoop.execute {
            let start = MediaTime.now
            body(state.value, channel)
            state.value.loopLoad.worked(MediaTime.now - start)
        }
    }

    /// Writes and flushes from the channel's loop (the control path's own sends).
    static func write(_ out: [OutgoingDatagram], to channel: any Channel) {
        guard !out.isEmpty else { return }
        for o in out { if let envelope = o.envelope { channel.write(envelope, promise: nil) } }
        channel.flush()
    }

    func stop() async {
        try? await channel.close()
    }
}
