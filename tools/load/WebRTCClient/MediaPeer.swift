import Foundation
import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore
import Relay
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Microseconds since 1900 on the wall clock: the NTP timescale abs-capture-time uses, so a
/// receiver on the same machine can subtract a capture time from "now".
public func ntpMicros() -> Int64 { NTPTime.microseconds() }

/// Where a peer reports what happens to it. Called on the peer's event loop; implementations
/// aggregate across peers and must be cheap.
public protocol MediaPeerObserver: AnyObject, Sendable {
    /// ICE and DTLS are done (`micros` since the peer was created, which is when signaling began).
    func connected(after micros: Int64)
    /// The first media packet arrived (viewers).
    func firstMedia(after micros: Int64)
    func rendered(_ frame: ReceiveMonitor.RenderedFrame, firstAfter micros: Int64?)
    func failed(_ code: ClientError.Code)
    /// A datagram that did not decrypt or parse.
    func dropped(_ reason: String)
}

/// Counters a peer keeps; read with ``MediaPeer/snapshot()``.
public struct MediaPeerSnapshot: Sendable {
    public var connected = false
    public var receivedBytes = 0
    public var expectedPackets: Int64 = 0
    public var lostPackets: Int64 = 0
    public var jitterMilliseconds = 0.0
    public var renderedFrames = 0
    public var abandonedFrames = 0
    public var freezes = 0
    public var freezeMilliseconds = 0.0
    public var nacksSent = 0
    public var recoveredPackets = 0
    public var reorderedPackets = 0
    /// Copies of packets already received (SRTP replay protection rejects them; RFC 3711 §3.3.2).
    public var duplicatePackets = 0
    public var plisSent = 0
    public var sentPackets = 0
    public var sentBytes = 0
    public var nacksReceived = 0
    public var retransmissionsSent = 0
    public var plisReceived = 0

    public init() {}
}

/// One simulated WebRTC peer on its own UDP socket: connects (``ClientHandshake``), then either
/// sends the looped media (``MediaSender``) at 30 fps video and 50 packets/s audio, answering
/// NACKs and PLIs, or receives and measures it (``ReceiveMonitor``), sending receiver reports
/// every second, NACKs and PLIs. Runs on one event loop; everything below is confined to it.
public final class MediaPeer: ChannelInboundHandler, @unchecked Sendable {
    public typealias InboundIn = AddressedEnvelope<ByteBuffer>
    public typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    public enum Role {
        case publisher(EncodedMedia)
        case viewer
    }

    private let handshake: ClientHandshake
    private let remote: SocketAddress
    private let observer: MediaPeerObserver
    /// When signaling for this peer began (the POST, or the `/ws` message): join times count from it.
    private let created: Int64
    private let ssrc = UInt32.random(in: 1...UInt32.max)
    private let answer: ServerAnswer
    private var sender: MediaSender?
    private var monitor = ReceiveMonitor()
    private var srtpIn: SRTPSession?
    private var srtpOut: SRTPSession?
    private var channel: Channel?
    private var tasks: [RepeatedTask] = []
    private var stats = MediaPeerSnapshot()
    private var sawMedia = false
    private var lastPLIReceived: Int64?
    private var stopped = false
    private var videoFrame = 0
    private var audioFrame = 0
    /// When the publisher's first frame was due; frame n of each kind is due n intervals later.
    private var paceStart: Int64 = 0

    private init(
        role: Role, offer: ClientOffer, answer: ServerAnswer, certificate: DTLSCertificate, remote: SocketAddress, observer: MediaPeerObserver,
        signalingStarted: Int64
    ) throws {
        created = signalingStarted
        handshake = try ClientHandshake(offer: offer, answer: answer, certificate: certificate)
        self.remote = remote
        self.observer = observer
        self.answer = answer
        if case .publisher(let media) = role { sender = MediaSender(media: media, audioSSRC: offer.audioSSRC, videoSSRC: offer.videoSSRC) }
    }

    /// How the peer reaches the relay: UDP, or ICE-TCP — a TCP connection to the relay's passive
    /// candidate (the answer's port number), every packet framed as RFC 4571 says, from
    /// `localAddress` when given (the load tool spreads its connections over 127.0.0.x: the relay
    /// takes a bounded number from one address).
    public enum Transport: Sendable, Equatable {
        case udp
        case tcp(localAddress: SocketAddress? = nil)

        public static let tcp = Transport.tcp(localAddress: nil)
    }

    /// Opens a UDP socket on 127.0.0.1 and connects to what `answer` names — or to `via` (a
    /// `showroom-netsim` in front of the server) instead; with `transport: .tcp`, a TCP connection
    /// to the same address. `signalingStarted` (``monotonicMicros()``) is when the offer went out;
    /// join times count from it.
    public static func start(
        role: Role, offer: ClientOffer, answer: ServerAnswer, certificate: DTLSCertificate, via: SocketAddress?, transport: Transport = .udp,
        group: EventLoopGroup, observer: MediaPeerObserver, signalingStarted: Int64 = monotonicMicros()
    ) async throws -> MediaPeer {
        let remote = try via ?? SocketAddress(ipAddress: answer.host, port: answer.port)
        let peer = try MediaPeer(
            role: role, offer: offer, answer: answer, certificate: certificate, remote: remote, observer: observer, signalingStarted: signalingStarted)
        let channel: any Channel
        switch transport {
        case .udp:
            channel = try await DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_rcvbuf), value: 1 << 20)
                .channelInitializer { $0.pipeline.addHandler(peer) }
                .bind(host: remote.protocol == .inet6 ? "::1" : "127.0.0.1", port: 0).get()
        case .tcp(let localAddress):
            var bootstrap = ClientBootstrap(group: group)
            if let localAddress { bootstrap = bootstrap.bind(to: localAddress) }
            channel = try await bootstrap
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(RFC4571FrameDecoder(maximumFrame: Int(UInt16.max))), ICETCPFraming(remote: remote), peer)
                    }
                }
                .connect(to: remote).get()
        }
        try await channel.eventLoop.submit { peer.begin(channel) }.get()
        return peer
    }

    /// Counters so far (hops to the peer's loop).
    public func snapshot() async -> MediaPeerSnapshot {
        guard let channel else { return stats }
        return (try? await channel.eventLoop.submit { self.currentSnapshot() }.get()) ?? stats
    }

    /// Stops sending and closes the socket.
    public func stop() async {
        guard let channel else { return }
        try? await channel.eventLoop.submit {
            self.stopped = true
            for t in self.tasks { t.cancel() }
            self.tasks = []
        }.get()
        try? await channel.close()
    }

    private func currentSnapshot() -> MediaPeerSnapshot {
        var s = stats
        s.expectedPackets = monitor.video.expected + monitor.audio.expected
        s.lostPackets = max(0, monitor.video.cumulativeLost) + max(0, monitor.audio.cumulativeLost)
        s.jitterMilliseconds = monitor.video.jitterMilliseconds
        s.renderedFrames = monitor.renderedFrames
        s.abandonedFrames = monitor.abandonedFrames
        s.freezes = monitor.freezes
        s.freezeMilliseconds = Double(monitor.freezeMicros) / 1_000
        s.nacksSent = monitor.nackedPackets
        s.recoveredPackets = monitor.recoveredPackets
        s.reorderedPackets = monitor.reorderedPackets
        s.plisSent = monitor.keyFramesAsked
        return s
    }

    // MARK: On the event loop

    private func begin(_ channel: Channel) {
        self.channel = channel
        send(handshake.start(now: monotonicMicros()))
        tasks.append(
            channel.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(10), delay: .milliseconds(10)) { [self] task in
                send(handshake.tick(now: monotonicMicros()))
                if case .failed(let code) = handshake.state {
                    task.cancel()
                    observer.failed(code)
                } else if handshake.state == .connected {
                    task.cancel()
                }
            })
    }

    private func send(_ datagrams: [[UInt8]]) {
        guard let channel, !stopped else { return }
        for d in datagrams {
            channel.write(AddressedEnvelope(remoteAddress: remote, data: channel.allocator.buffer(bytes: d)), promise: nil)
        }
        if !datagrams.isEmpty { channel.flush() }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data).data
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        switch first {
        case 0...3, 20...63:
            guard handshake.state != .connected, let bytes = buffer.readBytes(length: buffer.readableBytes) else { return }  // else a late retransmission
            send(handshake.receive(bytes, now: monotonicMicros()))
            if handshake.state == .connected { didConnect() }
        case 128...191:
            guard let srtpIn, let second = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) else { return }
            if (64...95).contains(second & 0x7F) {
                guard var packet = buffer.readBytes(length: buffer.readableBytes) else { return }
                do { try srtpIn.unprotectRTCP(&packet) } catch {
                    observer.dropped("srtcp")
                    return
                }
                receiveRTCP(packet)
            } else {
                // Media, the hot path: decrypted in place in the buffer, no copy.
                let size = buffer.readableBytes
                buffer.withUnsafeMutableReadableBytes { raw in
                    let length: Int
                    do { length = try srtpIn.unprotectRTP(raw, length: size) } catch {
                        if (error as? SRTPError)?.code == .replay { stats.duplicatePackets += 1 } else { observer.dropped("srtp") }
                        return
                    }
                    receiveRTP(UnsafeRawBufferPointer(rebasing: raw[0..<length]), size: size)
                }
            }
        default:
            observer.dropped("unknown")
        }
    }

    private func didConnect() {
        guard let keys = handshake.keys, let channel else { return }
        do {
            srtpOut = try SRTPSession(keys.local, direction: .outbound)
            srtpIn = try SRTPSession(keys.remote, direction: .inbound)
        } catch {
            observer.failed(.dtlsFailed)
            return
        }
        stats.connected = true
        observer.connected(after: monotonicMicros() - created)
        let loop = channel.eventLoop
        // Consent freshness: every 4–6 s (RFC 7675 §5.1 randomises around 5 s).
        tasks.append(
            loop.scheduleRepeatedTask(initialDelay: .milliseconds(Int64.random(in: 4_000...6_000)), delay: .seconds(5)) { [self] _ in
                send([handshake.consentCheck()])
            })
        if sender != nil {
            paceStart = monotonicMicros()
            pace()
        } else {
            tasks.append(
                loop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(50)) { [self] _ in feedback() })
            tasks.append(
                loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in receiverReport() })
        }
    }

    /// A publisher's clock: sends every video frame (30 fps) and audio frame (20 ms) that is due —
    /// all of them if the loop ran late, so nothing drifts — then sleeps until the next one. One
    /// scheduled callback per due time: a fixed-rate timer per publisher cost a third of the tool's
    /// core at 200 publishers.
    private func pace() {
        guard !stopped, let channel, sender != nil else { return }
        let now = monotonicMicros()
        func videoDue() -> Int64 { paceStart + Int64(videoFrame) * 1_000_000 / 30 }
        func audioDue() -> Int64 { paceStart + Int64(audioFrame) * 20_000 }
        while videoDue() <= now {
            let packets = sender!.videoPackets(frame: videoFrame, captureMicros: ntpMicros())
            videoFrame += 1
            sendRTP(packets)
        }
        while audioDue() <= now {
            let packet = sender!.audioPacket(frame: audioFrame, captureMicros: ntpMicros())
            audioFrame += 1
            sendRTP([packet])
        }
        let wait = min(videoDue(), audioDue()) - monotonicMicros()
        _ = try? channel.eventLoop.scheduleCallback(in: .microseconds(max(wait, 0)), handler: self)
    }

    /// Protects each packet in place in its own send buffer (room for the tag reserved) and sends
    /// them in one flush.
    private func sendRTP(_ packets: [[UInt8]]) {
        guard let srtpOut, let channel, !stopped, !packets.isEmpty else { return }
        for p in packets {
            stats.sentPackets += 1
            stats.sentBytes += p.count
            var buffer = channel.allocator.buffer(capacity: p.count + SRTPSession.maxTrailer)
            buffer.writeBytes(p)
            buffer.writeRepeatingByte(0, count: SRTPSession.maxTrailer)
            guard let length = buffer.withUnsafeMutableReadableBytes({ try? srtpOut.protectRTP($0, length: p.count) }) else { continue }
            buffer.moveWriterIndex(to: buffer.readerIndex + length)
            channel.write(AddressedEnvelope(remoteAddress: remote, data: buffer), promise: nil)
        }
        channel.flush()
    }

    private func sendRTCP(_ packets: [RTCPPacket]) {
        guard let srtpOut, !packets.isEmpty else { return }
        var bytes = RTCPPacket.serializeCompound(packets)
        if (try? srtpOut.protectRTCP(&bytes)) != nil { send([bytes]) }
    }

    private func receiveRTP(_ raw: UnsafeRawBufferPointer, size: Int) {
        let now = ntpMicros()
        stats.receivedBytes += size
        if !sawMedia {
            sawMedia = true
            observer.firstMedia(after: monotonicMicros() - created)
        }
        guard let header = try? RTPHeaderView(raw) else {
            observer.dropped("rtp")
            return
        }
        let end = raw.count - (header.hasPadding ? Int(raw[raw.count - 1]) : 0)
        guard end > header.headerLength else { return }
        if header.ssrc == answer.videoSSRC {
            // Read in place, as the relay reads it.
            let capture = AbsoluteCaptureTime(inPacket: UnsafeRawBufferPointer(raw), id: ClientOffer.captureTimeExtensionID)?.microseconds
            // The monitor reads only the VP8 descriptor and the first byte after it (≤ 7 bytes).
            let head = Array(raw[header.headerLength..<min(end, header.headerLength + 8)])
            let frames = monitor.receiveVideo(
                sequenceNumber: header.sequenceNumber, timestamp: header.timestamp, marker: header.marker,
                payload: head[...], captureMicros: capture, size: size, now: now)
            for f in frames {
                observer.rendered(f, firstAfter: monitor.renderedFrames == 1 ? monotonicMicros() - created : nil)
            }
        } else if header.ssrc == answer.audioSSRC {
            monitor.receiveAudio(sequenceNumber: header.sequenceNumber, timestamp: header.timestamp, size: size, now: now)
        }
    }

    private func receiveRTCP(_ packet: [UInt8]) {
        guard let packets = try? RTCPPacket.parseCompound(packet) else {
            observer.dropped("rtcp")
            return
        }
        guard let videoSSRC = sender?.videoSSRC else { return }
        var retransmit: [[UInt8]] = []
        for p in packets {
            switch p {
            case .nack(let n) where n.mediaSSRC == videoSSRC:
                stats.nacksReceived += n.lostSequenceNumbers.count
                for seq in n.lostSequenceNumbers {
                    if let r = sender?.retransmission(of: seq) { retransmit.append(r) }
                }
            case .pictureLossIndication(let pli) where pli.mediaSSRC == videoSSRC:
                stats.plisReceived += 1
                keyFrameRequested()
            case .fullIntraRequest:
                keyFrameRequested()
            default:
                break
            }
        }
        stats.retransmissionsSent += retransmit.count
        sendRTP(retransmit)
    }

    /// A key frame at most every 500 ms, however many ask.
    private func keyFrameRequested() {
        let now = monotonicMicros()
        guard lastPLIReceived.map({ now - $0 >= 500_000 }) ?? true else { return }
        lastPLIReceived = now
        sender?.requestKeyFrame()
    }

    private func feedback() {
        guard let videoSSRC = answer.videoSSRC else { return }
        let now = ntpMicros()
        var out: [RTCPPacket] = []
        let lost = monitor.nacks(now: now)
        if !lost.isEmpty { out.append(.nack(RTCPGenericNACK(senderSSRC: ssrc, mediaSSRC: videoSSRC, lost: lost))) }
        if monitor.shouldSendPLI(now: now) { out.append(.pictureLossIndication(RTCPPictureLossIndication(senderSSRC: ssrc, mediaSSRC: videoSSRC))) }
        if !out.isEmpty { sendRTCP([.receiverReport(RTCPReceiverReport(ssrc: ssrc))] + out) }
    }

    /// A receiver report for both streams ([RFC 3550 §6.4.2](https://www.rfc-editor.org/rfc/rfc3550#section-6.4.2)).
    private func receiverReport() {
        let now = ntpMicros()
        var blocks: [RTCPReportBlock] = []
        if let v = answer.videoSSRC, monitor.video.received > 0 { blocks.append(monitor.reportBlock(video: true, ssrc: v, now: now)) }
        if let a = answer.audioSSRC, monitor.audio.received > 0 { blocks.append(monitor.reportBlock(video: false, ssrc: a, now: now)) }
        sendRTCP([.receiverReport(RTCPReceiverReport(ssrc: ssrc, reports: blocks))])
    }
}

extension MediaPeer: NIOScheduledCallbackHandler {
    public func handleScheduledCallback(eventLoop: some EventLoop) { pace() }
}

/// Microseconds on the monotonic clock.
public func monotonicMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
}

/// Between an ICE-TCP connection and ``MediaPeer``, which speaks datagrams: each RFC 4571 frame
/// read becomes a datagram from the relay, each datagram written goes out framed.
final class ICETCPFraming: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = AddressedEnvelope<ByteBuffer>
    typealias OutboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = ByteBuffer

    private let remote: SocketAddress

    init(remote: SocketAddress) { self.remote = remote }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(wrapInboundOut(AddressedEnvelope(remoteAddress: remote, data: unwrapInboundIn(data))))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard let framed = RFC4571FrameDecoder.frame(unwrapOutboundIn(data).data, allocator: context.channel.allocator) else {
            promise?.fail(ChannelError.writeMessageTooLarge)
            return
        }
        context.write(wrapOutboundOut(framed), promise: promise)
    }
}
