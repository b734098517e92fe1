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
    /// The port bound (UDP, and TCP when ICE-TCP is on, for every announced address).
    let port: Int
    /// The first UDP socket: its loop is the worker's.
    private let channel: any Channel
    /// Every socket: UDP and, with ICE-TCP, a TCP listener, per announced address.
    private let sockets: [any Channel]
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
                    certificate: certificate, announceIPs: configuration.announceIPs, mediaPort: requestedPort, limits: configuration.limits,
                    logger: logger, renditionBudget: renditions, onSession: onSession),
                eventLoop: loop)
        }.get()
        let output = try await loop.submit { MediaOutput(eventLoop: loop, limits: configuration.limits, drops: bound.value.drops) }.get()
        let sockets = try await bind(configuration: configuration, requestedPort: requestedPort, loop: loop, state: bound, output: output)
        let channel = sockets[0], listening = configuration.iceTCP
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
            bound.value.offersTCP = listening
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
            if listening {
                output.sweeper = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                    output.sweep(state: bound.value, now: .now())
                }
            }
        }.get()
        let hosts = configuration.announceIPs.map(RelayConfiguration.bindHost(for:))
        logger.info(
            "media worker listening",
            metadata: [
                "worker": .stringConvertible(index), "udp": .string(hosts.map { "\($0) \(port)" }.joined(separator: ", ")),
                "tcp": .string(listening ? hosts.map { "\($0) \(port)" }.joined(separator: ", ") : "off"),
                "announce": .string(configuration.announceIPs.joined(separator: ", ")),
            ])
        return RelayWorker(index: index, port: port, channel: channel, sockets: sockets, output: output, state: bound)
    }

    /// Binds, for every announced address, a UDP socket and (with ICE-TCP on) a TCP listener, all
    /// on one port number: the first UDP socket's (the one asked for, or the kernel's pick with
    /// port 0 — where the others may find that number taken: then all are let go and another
    /// number is tried). The first UDP socket drives the worker's timer.
    private static func bind(
        configuration: RelayConfiguration, requestedPort: Int, loop: any EventLoop, state bound: NIOLoopBound<RelayState>, output: MediaOutput
    ) async throws -> [any Channel] {
        let hosts = configuration.announceIPs.map(RelayConfiguration.bindHost(for:))
        var attempt = 0
        while true {
            attempt += 1
            var sockets: [any Channel] = []
            do {
                var port = requestedPort
                for (i, host) in hosts.enumerated() {
                    let udp = try await bindUDP(host: host, port: port, loop: loop, state: bound, output: output, drivesTimer: i == 0)
                    sockets.append(udp)
                    port = udp.localAddress?.port ?? port
                }
                if configuration.iceTCP {
                    for host in hosts {
                        sockets.append(try await bindTCP(configuration: configuration, host: host, port: port, loop: loop, state: bound, output: output))
                    }
                }
                return sockets
            } catch {
                for s in sockets { try? await s.close() }
                guard requestedPort == 0, attempt < 8, !sockets.isEmpty else { throw error }
            }
        }
    }

    private static func bindUDP(
        host: String, port: Int, loop: any EventLoop, state bound: NIOLoopBound<RelayState>, output: MediaOutput, drivesTimer: Bool
    ) async throws -> any Channel {
        var bootstrap = DatagramBootstrap(group: loop)
        // An IPv6 socket takes IPv6 only: IPv4 has its own socket on the same port number.
        if host.contains(":") { bootstrap = bootstrap.channelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1) }
        return try await bootstrap
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // One packet fans out to every subscriber in one flush: room for large rooms' bursts.
            .channelOption(.socketOption(.so_sndbuf), value: 8 << 20)
            .channelOption(.socketOption(.so_rcvbuf), value: 8 << 20)
            .channelOption(.datagramVectorReadMessageCount, value: 32)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2_048 * 32))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RelayHandler(state: bound, output: output, drivesTimer: drivesTimer))
                }
            }
            .bind(host: host, port: port).get()
    }

    private static func bindTCP(
        configuration: RelayConfiguration, host: String, port: Int, loop: any EventLoop, state bound: NIOLoopBound<RelayState>, output: MediaOutput
    ) async throws -> any Channel {
        let limits = configuration.limits
        var bootstrap = ServerBootstrap(group: loop)
        if host.contains(":") { bootstrap = bootstrap.serverChannelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1) }
        return try await bootstrap
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(limits.tcpSendBuffer))
            .childChannelOption(.writeBufferWaterMark, value: .init(low: limits.tcpSendBuffer / 4, high: limits.tcpSendBuffer))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(RFC4571FrameDecoder(maximumFrame: RelayState.maximumDatagram), maximumBufferSize: 64 * 1_024))
                    try channel.pipeline.syncOperations.addHandler(ICETCPConnection(state: bound, output: output))
                }
            }
            .bind(host: host, port: port).get()
    }

    private init(index: Int, port: Int, channel: any Channel, sockets: [any Channel], output: MediaOutput, state: NIOLoopBound<RelayState>) {
        self.index = index
        self.port = port
        self.channel = channel
        self.sockets = sockets
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
        for s in sockets { try? await s.close() }
        let output = self.output
        try? await channel.eventLoop.submit { output.closeAll() }.get()
    }
}
