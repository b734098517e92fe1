import CoreMetrics
import Logging
import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore
import NIOPosix
import Synchronization

/// One media worker: an event loop, the UDP socket bound on it (and an ICE-TCP listener on the
/// same port number), and the ``RelayState`` of the rooms placed on it — STUN, DTLS, SRTP and
/// SRTCP of their peers on one socket (RFC 7983 demultiplexing), with no lock or hop per packet.
/// ``RelayServer`` runs one per media thread.
final class RelayWorker: Sendable {
    let index: Int
    /// The port bound (UDP, and TCP when ICE-TCP is on).
    let port: Int
    private let channel: any Channel
    private let listener: (any Channel)?
    private let output: MediaOutput
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
        let output = try await loop.submit { MediaOutput(eventLoop: loop, limits: configuration.limits, drops: bound.value.drops) }.get()
        let (channel, listener) = try await bind(
            configuration: configuration, requestedPort: requestedPort, loop: loop, state: bound, output: output)
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
            bound.value.offersTCP = listener != nil
            bound.value.makeEncoder = { source, quality, captureID in
                try TranscodingEngine(
                    quality: quality, captureTimeExtensionID: captureID, loop: codecLoop, metrics: configuration.metricsFactory
                ) { output_ in
                    loop.execute {
                        // How long the output waited for the worker's loop: the last stage before the wire.
                        let start = MediaTime.now
                        handoffTimers[quality]?.recordNanoseconds((start - output_.producedAt).microseconds * 1_000)
                        RelayWorker.write(bound.value.renditionOutput(source: source, quality: quality, output_, now: start), to: output)
                        bound.value.loopLoad.worked(MediaTime.now - start)
                    }
                }
            }
            // ICE-TCP connections without a session, or whose peer stopped reading, are closed.
            if listener != nil {
                loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                    output.sweep(state: bound.value, now: .now())
                }
            }
        }.get()
        logger.info(
            "media worker listening",
            metadata: [
                "worker": .stringConvertible(index), "udp": .string("\(configuration.bindHost):\(port)"),
                "tcp": .string(listener == nil ? "off" : "\(configuration.bindHost):\(port)"), "announce": .string(configuration.announceIP),
            ])
        return RelayWorker(index: index, port: port, channel: channel, listener: listener, output: output, state: bound)
    }

    /// Binds the UDP socket and, with ICE-TCP on, a TCP listener on the same port number. With
    /// port 0 the kernel picks the UDP port, and a TCP port of that number may be taken: then both
    /// are let go and another pair is tried.
    private static func bind(
        configuration: RelayConfiguration, requestedPort: Int, loop: any EventLoop, state bound: NIOLoopBound<RelayState>, output: MediaOutput
    ) async throws -> (any Channel, (any Channel)?) {
        var attempt = 0
        while true {
            attempt += 1
            let channel = try await bindUDP(configuration: configuration, port: requestedPort, loop: loop, state: bound, output: output)
            guard configuration.iceTCP else { return (channel, nil) }
            let port = channel.localAddress?.port ?? requestedPort
            do {
                let listener = try await bindTCP(configuration: configuration, port: port, loop: loop, state: bound, output: output)
                return (channel, listener)
            } catch {
                try? await channel.close()
                guard requestedPort == 0, attempt < 8 else { throw error }
            }
        }
    }

    private static func bindUDP(
        configuration: RelayConfiguration, port: Int, loop: any EventLoop, state bound: NIOLoopBound<RelayState>, output: MediaOutput
    ) async throws -> any Channel {
        try await DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // One packet fans out to every subscriber in one flush: room for large rooms' bursts.
            .channelOption(.socketOption(.so_sndbuf), value: 8 << 20)
            .channelOption(.socketOption(.so_rcvbuf), value: 8 << 20)
            .channelOption(.datagramVectorReadMessageCount, value: 32)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2_048 * 32))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RelayHandler(state: bound, output: output))
                }
            }
            .bind(host: configuration.bindHost, port: port).get()
    }

    private static func bindTCP(
        configuration: RelayConfiguration, port: Int, loop: any EventLoop, state bound: NIOLoopBound<RelayState>, output: MediaOutput
    ) async throws -> any Channel {
        let limits = configuration.limits
        return try await ServerBootstrap(group: loop)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: limits.tcpSendBuffer / 4, high: limits.tcpSendBuffer))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(RFC4571FrameDecoder(maximumFrame: RelayState.maximumDatagram), maximumBufferSize: 64 * 1_024))
                    try channel.pipeline.syncOperations.addHandler(ICETCPConnection(state: bound, output: output))
                }
            }
            .bind(host: configuration.bindHost, port: port).get()
    }

    private init(index: Int, port: Int, channel: any Channel, listener: (any Channel)?, output: MediaOutput, state: NIOLoopBound<RelayState>) {
        self.index = index
        self.port = port
        self.channel = channel
        self.listener = listener
        self.output = output
        self.state = state
    }

    /// Runs `body` on the worker's loop with its state; nil when the loop is gone.
    func withState<T: Sendable>(_ body: @escaping @Sendable (RelayState, MediaOutput) -> T) async -> T? {
        let state = self.state, output = self.output
        return try? await channel.eventLoop.submit { body(state.value, output) }.get()
    }

    /// Runs `body` on the worker's loop without waiting for it (the pipes' hops between workers);
    /// its time counts as the loop's busy time (``LoopLoad``).
    func execute(_ body: @escaping @Sendable (RelayState, MediaOutput) -> Void) {
        let state = self.state, output = self.output
        channel.eventLoop.execute {
            let start = MediaTime.now
            body(state.value, output)
            state.value.loopLoad.worked(MediaTime.now - start)
        }
    }

    /// Writes and flushes from the worker's loop (the control path's own sends).
    static func write(_ out: [OutgoingDatagram], to output: MediaOutput) {
        guard !out.isEmpty else { return }
        output.write(out)
        output.flush()
    }

    func stop() async {
        try? await listener?.close()
        let output = self.output
        try? await channel.eventLoop.submit { output.closeAll() }.get()
        try? await channel.close()
    }
}
