import Foundation
import Logging
import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore
import NIOEmbedded
import NIOPosix
@testable import Relay
import Synchronization
import Testing
import WebRTCClient

/// ICE-TCP (RFC 6544, RFC 4571 framing): the relay's passive TCP candidate, media both ways over
/// it with the project's own client, and what a hostile TCP peer gets — an oversize frame, a
/// connection that never authenticates, too many connections from one address, a reader that
/// stops.
@Suite struct ICETCPTests {
    /// RFC 4571 §2: a 16-bit length, then the packet; frames split and merged across reads.
    @Test func framesAreSplitAndJoinedAcrossReads() throws {
        let packets: [[UInt8]] = [[0x80, 1, 2], Array(repeating: 7, count: 300), [0x01]]
        var wire = ByteBuffer()
        for p in packets { wire.writeImmutableBuffer(try #require(RFC4571FrameDecoder.frame(ByteBuffer(bytes: p), allocator: .init()))) }
        #expect(wire.getBytes(at: 0, length: 2) == [0, 3])
        // Fed one byte at a time, and all at once: the same packets come out.
        for chunk in [1, wire.readableBytes] {
            var pending = ByteBuffer(), out: [[UInt8]] = []
            var source = wire
            while let piece = source.readSlice(length: min(chunk, source.readableBytes)), piece.readableBytes > 0 {
                pending.writeImmutableBuffer(piece)
                while let frame = try RFC4571FrameDecoder.next(&pending, maximumFrame: 2_048) { out.append(Array(frame.readableBytesView)) }
            }
            #expect(out == packets, "chunks of \(chunk)")
        }
        // A length beyond a datagram is no peer's.
        var huge = ByteBuffer(bytes: [0x10, 0x00, 0x80])
        #expect(throws: RFC4571FrameDecoder.FrameTooLarge(length: 4_096)) { try RFC4571FrameDecoder.next(&huge, maximumFrame: 2_048) }
        var empty = ByteBuffer(bytes: [0, 0])
        #expect(try RFC4571FrameDecoder.next(&empty, maximumFrame: 2_048)?.readableBytes == 0)
    }

    /// The answer offers a passive TCP candidate on the UDP port's number, below UDP in priority;
    /// none with ICE-TCP off.
    @Test func answersOfferAPassiveTCPCandidateBelowUDP() async throws {
        for iceTCP in [true, false] {
            var config = RelayConfiguration()
            config.mediaPort = 0
            config.iceTCP = iceTCP
            let relay = try await RelayServer.start(configuration: config, logger: Logger(label: "test"))
            let cert = try DTLSCertificate()
            let answer = try await relay.open(room: "r", publishing: true, offer: ClientOffer(direction: .send, fingerprint: cert.fingerprint).sdp).answer
            let candidates = answer.split(separator: "\r\n").filter { $0.hasPrefix("a=candidate:") }
            let udp = candidates.first { $0.contains(" udp ") }, tcp = candidates.first { $0.contains(" tcp ") }
            #expect(udp?.contains(" \(relay.port) typ host") == true)
            if iceTCP {
                #expect(tcp?.hasSuffix(" \(relay.port) typ host tcptype passive") == true, "\(candidates)")
                let priority = { (line: Substring?) in Int(line?.split(separator: " ")[3] ?? "") ?? 0 }
                #expect(priority(tcp) > 0 && priority(tcp) < priority(udp))
            } else {
                #expect(tcp == nil)
            }
            await relay.stop()
        }
    }

    /// A publisher and viewers on either transport, through the real relay: everyone renders,
    /// glass-to-glass is measured over TCP, nothing is lost on loopback.
    @Test func mediaFlowsOverICETCPBothWays() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var config = RelayConfiguration()
        config.mediaPort = 0
        let relay = try await RelayServer.start(configuration: config, group: group, logger: Logger(label: "test"))
        let media = try EncodedMedia(width: 320, height: 180, videoBitrate: 300_000, seconds: 2)
        let cert = try DTLSCertificate()
        var peers: [MediaPeer] = []
        var viewers: [(MediaPeer.Transport, MediaPeer, Tally)] = []
        // Room "a": the publisher over UDP, a viewer over TCP and one over UDP; room "b": the
        // publisher over TCP, a viewer over UDP.
        for (room, publisherTransport, viewerTransports) in [("a", MediaPeer.Transport.udp, [MediaPeer.Transport.tcp, .udp]), ("b", .tcp, [.udp])] {
            let offer = ClientOffer(direction: .send, fingerprint: cert.fingerprint)
            let answer = try ServerAnswer(parsing: try await relay.open(room: room, identity: "p-\(room)", publishing: true, offer: offer.sdp).answer)
            peers.append(
                try await MediaPeer.start(
                    role: .publisher(media), offer: offer, answer: answer, certificate: cert, via: nil, transport: publisherTransport, group: group,
                    observer: Tally()))
            for (i, transport) in viewerTransports.enumerated() {
                let offer = ClientOffer(direction: .receive, fingerprint: cert.fingerprint)
                let answer = try ServerAnswer(parsing: try await relay.open(room: room, identity: "v-\(room)-\(i)", publishing: false, offer: offer.sdp).answer)
                let tally = Tally()
                let peer = try await MediaPeer.start(
                    role: .viewer, offer: offer, answer: answer, certificate: cert, via: nil, transport: transport, group: group, observer: tally)
                viewers.append((transport, peer, tally))
            }
        }
        for _ in 0..<200 where viewers.contains(where: { $0.2.counts.withLock { $0.rendered } < 40 }) { try await Task.sleep(for: .milliseconds(50)) }
        for (i, (transport, peer, tally)) in viewers.enumerated() {
            let counts = tally.counts.withLock { $0 }
            #expect(counts.failures.isEmpty && counts.connected == 1, "viewer \(i) over \(transport): \(counts.failures)")
            #expect(counts.rendered >= 40, "viewer \(i) over \(transport) rendered \(counts.rendered)")
            #expect(!counts.latencies.isEmpty && counts.latencies.allSatisfy { $0 > 0 && $0 < 2_000_000 })
            let snapshot = await peer.snapshot()
            #expect(snapshot.lostPackets == 0, "viewer \(i) over \(transport)")
        }
        let dropped = await relay.droppedCounts()
        #expect(dropped.keys.filter { $0.hasPrefix("tcp-") }.isEmpty, "\(dropped)")
        for p in peers + viewers.map(\.1) { await p.stop() }
        await relay.stop()
        try await group.shutdownGracefully()
    }

    /// A TCP client that reports when the relay closes it.
    private static func connect(_ port: Int, group: any EventLoopGroup) async throws -> any Channel {
        try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
    }

    /// Whether `channel` is closed within `seconds`.
    private static func closed(_ channel: any Channel, within seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while channel.isActive, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return !channel.isActive
    }

    @Test func hostileTCPPeersAreCutOffAndCounted() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var config = RelayConfiguration()
        config.mediaPort = 0
        config.limits.tcpConnectionsPerAddress = 3
        // Long enough that the three below are all still open when the fourth comes, on a busy
        // machine too (CI, stop 25: with 500 ms one was swept first and the fourth was taken; with
        // 1.5 s it happened once more on this machine, the whole socket-free suite running beside
        // it and this test taking 18 s).
        config.limits.tcpAuthenticateDeadline = .milliseconds(5_000)
        let relay = try await RelayServer.start(configuration: config, group: group, logger: Logger(label: "test"))
        // A frame longer than a datagram: the connection ends at once.
        let oversize = try await Self.connect(relay.port, group: group)
        try await oversize.writeAndFlush(ByteBuffer(bytes: [0x10, 0x00] + Array(repeating: 0x80, count: 64)))
        #expect(await Self.closed(oversize, within: 2))
        // Three from one address at once; a fourth is refused at once. The three say nothing and
        // are closed after the deadline to authenticate.
        var held: [any Channel] = []
        for _ in 0..<3 { held.append(try await Self.connect(relay.port, group: group)) }
        let refused = try await Self.connect(relay.port, group: group)
        #expect(await Self.closed(refused, within: 2), "a fourth connection from one address was kept")
        for c in held { #expect(await Self.closed(c, within: 10), "an unauthenticated connection outlived its deadline") }
        // Before an answered check, a connection takes only STUN: a binding request for no session
        // is counted as such and ends it; so does media, and a frame shorter than any packet.
        let check = STUNMessage(
            type: STUNMessage.MessageType.bindingRequest, transactionID: Array(repeating: 1, count: 12),
            attributes: [.init(type: STUNMessage.AttributeType.username, value: Array("nobody:x".utf8))]
        ).serialized(integrityKey: Array("0123456789abcdefghijkl".utf8), mac: HMACSHA1.digest)
        for packet in [check, [0x80, 0x60] + Array(repeating: 0, count: 22), [0x00, 0x01, 0x00]] {
            let peer = try await Self.connect(relay.port, group: group)
            try await peer.writeAndFlush(try #require(RFC4571FrameDecoder.frame(ByteBuffer(bytes: packet), allocator: .init())))
            #expect(await Self.closed(peer, within: 2), "a connection that sent \(packet.count) bytes before authenticating was kept")
        }
        let dropped = await relay.droppedCounts()
        #expect(dropped["tcp-oversize-frame"] == 1, "\(dropped)")
        #expect(dropped["tcp-connections-per-address"] == 1, "\(dropped)")
        #expect(dropped["tcp-closed-unauthenticated"] == 3, "\(dropped)")
        #expect(dropped["stun-unknown-ufrag"] == 1 && dropped["tcp-unauthenticated"] == 1, "\(dropped)")
        #expect(dropped["tcp-unauthenticated-frame"] == 1 && dropped["tcp-runt-frame"] == 1, "\(dropped)")
        await relay.stop()
        try await group.shutdownGracefully()
    }

    /// A peer that stops reading: past the high-water mark its packets are dropped (not queued
    /// without end), and after the stall deadline the connection is closed. Socket-free.
    @Test func aReaderThatStopsIsDroppedThenClosed() throws {
        var limits = RelayLimits()
        limits.tcpBindDeadline = .hours(1)
        limits.tcpAuthenticateDeadline = .hours(1)
        let worker = try SocketFreeWorker(limits: limits)
        let (state, output) = (worker.state, worker.output)
        let channel = try worker.connect("127.0.0.1", port: 5_555)
        #expect(output.tcpConnectionCount == 1)
        let peer = PeerAddress(ip: [127, 0, 0, 1], port: 5_555, transport: .tcp)
        let packet: [UInt8] = [0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9]
        output.write([OutgoingDatagram(bytes: packet, to: peer)])
        output.flush()
        let sent = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(Array(sent.readableBytesView) == [0, 12] + packet, "framed: length, then the packet")
        // The socket is over its high-water mark: packets are dropped and counted.
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        output.write([OutgoingDatagram(bytes: packet, to: peer)])
        output.flush()
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(state.dropped["tcp-backpressure"] == 1)
        // Still stalled after the deadline: closed.
        output.sweep(state: state, now: .now() + .seconds(1))
        #expect(channel.isActive, "closed before the stall deadline")
        output.sweep(state: state, now: .now() + limits.tcpStallDeadline + .seconds(1))
        #expect(!channel.isActive)
        #expect(state.dropped["tcp-closed-stalled"] == 1)
        #expect(output.tcpConnectionCount == 0)
        // A packet to a peer with no connection is counted, not sent anywhere.
        output.write([OutgoingDatagram(bytes: packet, to: peer)])
        #expect(state.dropped["tcp-no-connection"] == 1)
    }

    /// Two connections from one remote address and port (possible when the worker listens on two
    /// local addresses): the second is refused, so the first is not orphaned outside the quotas
    /// and the sweep, and closing either leaves the per-address count right. Socket-free.
    @Test func aSecondConnectionFromTheSameAddressIsRefused() throws {
        var limits = RelayLimits()
        limits.tcpConnectionsPerAddress = 2
        let worker = try SocketFreeWorker(limits: limits)
        let (state, output) = (worker.state, worker.output)
        let first = try worker.connect("127.0.0.1", port: 5_555)
        let second = try worker.connect("127.0.0.1", port: 5_555)
        #expect(!second.isActive, "a duplicate remote address was taken")
        #expect(first.isActive)
        #expect(output.tcpConnectionCount == 1)
        #expect(state.dropped["tcp-duplicate-address"] == 1)
        // The per-address quota still counts one: two more ports from the address fit only once.
        let third = try worker.connect("127.0.0.1", port: 5_556)
        let fourth = try worker.connect("127.0.0.1", port: 5_557)
        #expect(third.isActive && !fourth.isActive)
        #expect(state.dropped["tcp-connections-per-address"] == 1)
        // Closing the first frees its slot.
        _ = try? first.close().wait()
        #expect(output.tcpConnectionCount == 1)
        let fifth = try worker.connect("127.0.0.1", port: 5_558)
        #expect(fifth.isActive)
    }

    /// The per-address quota counts an IPv6 peer by its /64: addresses that differ only in their
    /// last 64 bits share one quota, another /64 has its own. Socket-free.
    @Test func ipv6PeersAreCountedByTheirSlash64() throws {
        var limits = RelayLimits()
        limits.tcpConnectionsPerAddress = 2
        let worker = try SocketFreeWorker(limits: limits)
        let state = worker.state
        func connect(_ ip: String) throws -> EmbeddedChannel { try worker.connect(ip, port: 5_000) }
        let same = try ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"].map(connect)
        #expect(same.map(\.isActive) == [true, true, false], "a third address in one /64 was taken")
        #expect(state.dropped["tcp-connections-per-address"] == 1)
        #expect(try connect("2001:db8:1:3::1").isActive, "another /64 has its own quota")
        // IPv4 addresses are counted one by one.
        #expect(try ["192.0.2.1", "192.0.2.2", "192.0.2.3"].map(connect).allSatisfy(\.isActive))
    }

    /// Frames that arrive with the one that ends a connection (one read holds thousands of tiny
    /// ones) are not handled after it: the first refusal is the last thing the worker does for
    /// that connection. Socket-free, through the real frame decoder.
    @Test func framesAfterARefusalAreNotHandled() throws {
        let worker = try SocketFreeWorker(limits: RelayLimits())
        let channel = try worker.connect("192.0.2.9", port: 1_000, framed: true)
        var read = ByteBuffer()
        read.writeBytes([0, 3, 1, 2, 3])  // a runt frame: the connection ends here
        for _ in 0..<100 { read.writeBytes([0, 20] + [0x00, 0x01] + Array(repeating: 0x55, count: 18)) }  // STUN-looking garbage
        try? channel.writeInbound(read)
        #expect(!channel.isActive)
        #expect(worker.state.dropped["tcp-runt-frame"] == 1, "\(worker.state.dropped)")
        #expect(worker.state.dropped["tcp-unauthenticated"] == nil && worker.state.dropped["stun-malformed"] == nil, "frames after the refusal were handled: \(worker.state.dropped)")
    }

    /// A worker full of connections that never authenticated takes a new one by closing the
    /// oldest of them; a connection whose check was answered is never the one evicted. Socket-free.
    @Test func aFullWorkerEvictsTheOldestUnauthenticatedConnection() throws {
        var limits = RelayLimits()
        limits.tcpConnectionsPerWorker = 3
        let worker = try SocketFreeWorker(limits: limits)
        // One real peer: a session, and its authenticated check over this connection.
        let offer = ClientOffer(direction: .send, fingerprint: worker.state.certificate.fingerprint)
        let opened = try worker.state.open(room: "r", role: .publisher, offer: SessionDescription(parsing: offer.sdp), now: .zero)
        let answer = try SessionDescription(parsing: opened.answer)
        let ufrag = try #require(answer.media[0].value("ice-ufrag")), password = try #require(answer.media[0].value("ice-pwd"))
        let real = try worker.connect("192.0.2.1", port: 1_000)
        let check = STUNMessage(
            type: STUNMessage.MessageType.bindingRequest, transactionID: Array(repeating: 7, count: 12),
            attributes: [.init(type: STUNMessage.AttributeType.username, value: Array("\(ufrag):\(offer.iceUfrag)".utf8))]
        ).serialized(integrityKey: Array(password.utf8), mac: HMACSHA1.digest)
        try real.writeInbound(ByteBuffer(bytes: check))
        #expect(try real.readOutbound(as: ByteBuffer.self) != nil, "the check was not answered")
        // Two that say nothing fill the worker; each newcomer evicts the oldest silent one.
        let silent = try ["192.0.2.2", "192.0.2.3"].map { try worker.connect($0, port: 1_000) }
        let newcomer = try worker.connect("192.0.2.4", port: 1_000)
        #expect(newcomer.isActive && !silent[0].isActive && silent[1].isActive && real.isActive)
        let another = try worker.connect("192.0.2.5", port: 1_000)
        #expect(another.isActive && !silent[1].isActive && real.isActive)
        #expect(worker.state.dropped["tcp-evicted-unauthenticated"] == 2)
        #expect(worker.output.tcpConnectionCount == 3)
        // The sweep closes the silent ones after the deadline; the authenticated one stays.
        worker.output.sweep(state: worker.state, now: .now() + limits.tcpAuthenticateDeadline + .seconds(1))
        #expect(!newcomer.isActive && !another.isActive && real.isActive)
        #expect(worker.state.dropped["tcp-closed-unauthenticated"] == 2)
    }
}

/// A media worker's ICE-TCP side without sockets: its state and output on an `EmbeddedEventLoop`,
/// and connections as `EmbeddedChannel`s from any address.
struct SocketFreeWorker {
    let loop = EmbeddedEventLoop()
    let state: RelayState
    let output: MediaOutput
    private let bound: NIOLoopBound<RelayState>

    init(limits: RelayLimits) throws {
        state = try RelayState(certificate: DTLSCertificate(), announceIPs: ["127.0.0.1"], mediaPort: 40_000, limits: limits, logger: Logger(label: "test"))
        bound = NIOLoopBound(state, eventLoop: loop)
        output = MediaOutput(eventLoop: loop, limits: limits, drops: state.drops)
    }

    /// A connection from `ip`:`port`, through the worker's admission (it may be refused: closed);
    /// `framed`: behind the RFC 4571 decoder, as on the wire (else each inbound buffer is a frame).
    func connect(_ ip: String, port: Int, framed: Bool = false) throws -> EmbeddedChannel {
        let connection = ICETCPConnection(state: bound, output: output)
        let channel = EmbeddedChannel(loop: loop)
        if framed {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RFC4571FrameDecoder(maximumFrame: RelayState.maximumDatagram)))
        }
        try channel.pipeline.syncOperations.addHandler(connection)
        try channel.connect(to: SocketAddress(ipAddress: ip, port: port)).wait()
        return channel
    }
}
