import CoreMetrics
import Logging
import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore
import NIOPosix

/// Where the media plane listens and what it announces.
public struct RelayConfiguration: Sendable {
    /// Address the UDP socket binds (127.0.0.1 unless peers on other hosts must reach it).
    public var bindHost = "127.0.0.1"
    /// UDP port for all media (0 picks a free one).
    public var mediaPort = 40_000
    /// The address put in the SDP candidate; never found by enumerating interfaces.
    public var announceIP = "127.0.0.1"
    /// Quotas: sessions per relay, room and identity; renditions per relay and room; SSRCs per session.
    public var limits = RelayLimits()
    /// Where the relay's timers go (per-stage transcoding latency); none by default.
    public var metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance

    public init() {}
}

/// The media plane: one UDP socket for STUN, DTLS, SRTP and SRTCP of every peer (RFC 7983
/// demultiplexing), on one event loop that owns all session state — no lock or hop per packet.
public final class RelayServer: Sendable {
    public let configuration: RelayConfiguration
    /// The port actually bound.
    public let port: Int
    public let fingerprint: String
    private let channel: any Channel
    private let state: NIOLoopBound<RelayState>

    public static func start(
        configuration: RelayConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) async throws -> RelayServer {
        let certificate = try DTLSCertificate()
        let loop = group.next()
        let bound = try await loop.submit { () -> NIOLoopBound<RelayState> in
            NIOLoopBound(
                try RelayState(
                    certificate: certificate, announceIP: configuration.announceIP, mediaPort: configuration.mediaPort,
                    limits: configuration.limits, logger: logger),
                eventLoop: loop)
        }.get()
        let channel = try await DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // One packet fans out to every viewer in one flush: room for large rooms' bursts.
            .channelOption(.socketOption(.so_sndbuf), value: 8 << 20)
            .channelOption(.socketOption(.so_rcvbuf), value: 8 << 20)
            .channelOption(.datagramVectorReadMessageCount, value: 32)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2_048 * 32))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RelayHandler(state: bound))
                }
            }
            .bind(host: configuration.bindHost, port: configuration.mediaPort).get()
        let port = channel.localAddress?.port ?? configuration.mediaPort
        if port != configuration.mediaPort {
            try await loop.submit { bound.value.updatePort(port) }.get()
        }
        // Renditions' codecs get their own thread: a VP8 frame must not stall forwarding.
        let codecLoop = MultiThreadedEventLoopGroup.singleton.makeIterator().first { $0 !== loop }
            ?? MultiThreadedEventLoopGroup.singleton.next()
        let handoffTimers = Dictionary(uniqueKeysWithValues: Quality.allCases.map { q in
            (q, CoreMetrics.Timer(label: StageTimers.label, dimensions: [("stage", "handoff"), ("kind", "all"), ("quality", q.rawValue)], factory: configuration.metricsFactory))
        })
        try await loop.submit {
            bound.value.makeEncoder = { source, quality, captureID in
                try TranscodingEngine(
                    quality: quality, captureTimeExtensionID: captureID, loop: codecLoop, metrics: configuration.metricsFactory
                ) { output in
                    loop.execute {
                        // How long the output waited for the relay's loop: the last stage before the wire.
                        handoffTimers[quality]?.recordNanoseconds((MediaTime.now - output.producedAt).microseconds * 1_000)
                        RelayServer.write(bound.value.renditionOutput(source: source, quality: quality, output, now: .now), to: channel)
                    }
                }
            }
        }.get()
        logger.info("media relay listening", metadata: ["udp": .string("\(configuration.bindHost):\(port)"), "announce": .string(configuration.announceIP)])
        return RelayServer(configuration: configuration, port: port, fingerprint: certificate.fingerprint, channel: channel, state: bound)
    }

    private init(configuration: RelayConfiguration, port: Int, fingerprint: String, channel: any Channel, state: NIOLoopBound<RelayState>) {
        self.configuration = configuration
        self.port = port
        self.fingerprint = fingerprint
        self.channel = channel
        self.state = state
    }

    /// Opens a publishing (WHIP) or viewing (WHEP) session from an SDP offer. An `exclusive`
    /// publisher (a broadcast) is refused where someone publishes already; others share the room
    /// (a call). A viewer watches `source` (a publisher's session id) or the room's latest
    /// publisher, gets `quality` at most, and with `adaptive` the relay moves it down to
    /// renditions its path can carry and back up (``QualityController``).
    public func open(
        room: String, identity: String = "", publishing: Bool, quality: Quality = .source, adaptive: Bool = true,
        source: String? = nil, exclusive: Bool = true, offer: String
    ) async throws(RelayError) -> OpenedSession {
        // Parsed here, on the caller's task: the relay's loop forwards every room's media and gets
        // only the parsed, size-capped description.
        let parsed: SessionDescription
        do {
            parsed = try SessionDescription(parsing: offer)
        } catch {
            throw RelayError(.badOffer, "malformed SDP: \(error.description)")
        }
        let state = self.state
        let result: Result<OpenedSession, RelayError>
        do {
            result = try await channel.eventLoop.submit { () -> Result<OpenedSession, RelayError> in
                do throws(RelayError) {
                    return .success(
                        try state.value.open(
                            room: room, identity: identity, role: publishing ? .publisher : .viewer, quality: quality,
                            adaptive: adaptive, source: source, exclusive: exclusive, offer: parsed, now: .now))
                } catch {
                    return .failure(error)
                }
            }.get()
        } catch {
            throw RelayError(.internalError, "relay unavailable: \(error)")
        }
        return try result.get()
    }

    /// Ends a session by its public id (a `/ws` connection's own sessions); false if there is
    /// none with that id in that room.
    public func close(room: String, id: String) async -> Bool {
        let state = self.state
        return (try? await channel.eventLoop.submit { state.value.close(id: id, room: room, reason: "stopped") }.get()) ?? false
    }

    /// Ends a session by its control capability (WHIP/WHEP `DELETE`): only one of the endpoint's
    /// kind (`publishing`), in `room`, opened by `identity` (nil: an admin may end any).
    public func close(room: String, resource: String, publishing: Bool, identity: String?) async throws(RelayError) {
        let state = self.state
        let result: Result<Void, RelayError>
        do {
            result = try await channel.eventLoop.submit { () -> Result<Void, RelayError> in
                do throws(RelayError) {
                    return .success(try state.value.close(resource: resource, room: room, publishing: publishing, identity: identity))
                } catch {
                    return .failure(error)
                }
            }.get()
        } catch {
            throw RelayError(.internalError, "relay unavailable: \(error)")
        }
        try result.get()
    }

    /// Moves a viewer to another rendition (its RTP streams continue unbroken): `notFound` when
    /// there is no such viewer, `atCapacity` when the rendition cannot start (it stays where it was).
    /// A viewer changes at most once a second: a change asked sooner is applied when its second
    /// has passed (the latest wish wins; see ``RelayState/setQuality(id:quality:now:)``).
    public func setQuality(id: String, quality: Quality) async throws(RelayError) {
        let state = self.state, channel = self.channel
        let result: Result<Void, RelayError>
        do {
            result = try await channel.eventLoop.submit { () -> Result<Void, RelayError> in
                do throws(RelayError) {
                    guard let out = try state.value.setQuality(id: id, quality: quality, now: .now) else {
                        return .failure(RelayError(.notFound, "no subscription \(id)"))
                    }
                    Self.write(out, to: channel)
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }.get()
        } catch {
            throw RelayError(.internalError, "relay unavailable: \(error)")
        }
        try result.get()
    }

    /// Writes and flushes from the channel's loop (the control path's own sends).
    static func write(_ out: [OutgoingDatagram], to channel: any Channel) {
        guard !out.isEmpty else { return }
        for o in out { if let envelope = o.envelope { channel.write(envelope, promise: nil) } }
        channel.flush()
    }

    /// Drop counters by reason.
    public func droppedCounts() async -> [String: Int] {
        let state = self.state
        return (try? await channel.eventLoop.submit { state.value.dropped }.get()) ?? [:]
    }

    /// Per-session and per-stream figures (packets, bytes, loss, jitter, RTT, NACKs, PLIs).
    public func statistics() async -> [SessionStatistics] {
        let state = self.state
        return (try? await channel.eventLoop.submit { state.value.statistics() }.get()) ?? []
    }

    /// Totals for metrics: sessions, renditions, what went in and out, drops by reason.
    public func snapshot() async -> RelaySnapshot {
        let state = self.state
        return (try? await channel.eventLoop.submit { state.value.snapshot() }.get()) ?? RelaySnapshot()
    }

    public func sessionCount() async -> Int {
        let state = self.state
        return (try? await channel.eventLoop.submit { state.value.sessionCount() }.get()) ?? 0
    }

    public func stop() async {
        try? await channel.close()
    }
}

extension MediaTime {
    /// The event loop's monotonic clock, for state that the relay owns.
    static var now: MediaTime { MediaTime(microseconds: Int64(NIODeadline.now().uptimeNanoseconds / 1_000)) }
}

/// Reads datagrams, hands them to ``RelayState``, writes what it returns in one flush (NIO sends
/// a flushed batch with `sendmmsg`), and drives the timers.
final class RelayHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let state: NIOLoopBound<RelayState>
    private var timer: RepeatedTask?
    private var pending = 0
    /// Source addresses already converted, so that a packet costs a hash lookup, not an allocation.
    private var addresses: [SocketAddress: PeerAddress] = [:]

    init(state: NIOLoopBound<RelayState>) { self.state = state }

    func handlerAdded(context: ChannelHandlerContext) {
        let state = self.state
        let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(20)) { _ in
            let out = state.value.tick(now: .now)
            Self.write(out, context: loopBoundContext.value)
            if !out.isEmpty { loopBoundContext.value.flush() }
        }

    }

    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let address: PeerAddress
        if let known = addresses[envelope.remoteAddress] {
            address = known
        } else {
            guard let converted = PeerAddress(envelope.remoteAddress) else { return }
            if addresses.count > 10_000 { addresses.removeAll() }
            addresses[envelope.remoteAddress] = converted
            address = converted
        }
        var buffer = envelope.data
        let out = state.value.receive(&buffer, from: address, socket: envelope.remoteAddress, now: .now)
        Self.write(out, context: context)
        pending += out.count
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if pending > 0 {
            context.flush()
            pending = 0
        }
    }

    private static func write(_ out: [OutgoingDatagram], context: ChannelHandlerContext) {
        for o in out { if let envelope = o.envelope { context.write(NIOAny(envelope), promise: nil) } }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A UDP error (ICMP unreachable from a peer that left) must not close the shared socket.
    }
}

extension PeerAddress {
    init?(_ address: SocketAddress) {
        switch address {
        case .v4(let a):
            let raw = a.address.sin_addr.s_addr.bigEndian
            self.init(ip: [UInt8(raw >> 24), UInt8(raw >> 16 & 0xFF), UInt8(raw >> 8 & 0xFF), UInt8(raw & 0xFF)], port: UInt16(address.port ?? 0))
        case .v6(let a):
            let bytes = withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
            self.init(ip: bytes, port: UInt16(address.port ?? 0))
        default:
            return nil
        }
    }

    var socketAddress: SocketAddress? {
        if ip.count == 4 {
            return try? SocketAddress(ipAddress: ip.map(String.init).joined(separator: "."), port: Int(port))
        }
        guard ip.count == 16 else { return nil }
        var parts: [String] = []
        for i in stride(from: 0, to: 16, by: 2) { parts.append(String(UInt16(ip[i]) << 8 | UInt16(ip[i + 1]), radix: 16)) }
        return try? SocketAddress(ipAddress: parts.joined(separator: ":"), port: Int(port))
    }
}
