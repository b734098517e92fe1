import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore
@testable import Relay
import Testing

/// The media pipe between two nodes (``NodePipe``), socket-free: two ``RelayState``s standing for
/// the workers of two nodes — the origin, holding the publisher, and the mirroring node with
/// viewers of its own — wired by handing each one's node datagrams to the other's `receive`, as
/// their sockets would. And what an attacker on the path can do with those datagrams: nothing.
@Suite struct NodePipeTests {
    static let secret = Array("a cluster secret of thirty-two bytes or more".utf8)
    static let originAddress = PeerAddress(ip: [127, 0, 0, 1], port: 40_000)
    static let mirrorAddress = PeerAddress(ip: [127, 0, 0, 2], port: 41_000)

    /// A publisher on the origin, a mirror of its publication on the other node fed by a pipe.
    struct Nodes {
        let origin: PublicationTests.World
        let mirror: PublicationTests.World
        let publisher: ConnectedPeer
        let id: String
        let token: UInt64
        /// What the origin sent the publisher when the mirror's first datagram started the pipe (a
        /// key-frame request).
        let attachOut: [OutgoingDatagram]
        let salt: [UInt8]

        init(room: String = "launch", token: UInt64 = 0x0123_4567_89AB_CDEF, mirrorSecret: [UInt8] = NodePipeTests.secret) throws {
            origin = try PublicationTests.World()
            mirror = try PublicationTests.World()
            publisher = try ConnectedPeer.connect(to: origin.relay, room: room, identity: "p", publishing: true, port: 7_000)
            _ = origin.relay.receive(try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: 1), from: publisher.address, now: .zero)
            self.token = token
            let (description, salt) = try origin.relay.pipeToNode(
                room: room, source: nil, token: token, secret: NodePipeTests.secret, peer: NodePipeTests.mirrorAddress, now: .zero)
            self.salt = salt
            id = try mirror.relay.mirrorFromNode(
                NodePipeOffer(description, host: "127.0.0.1", port: 40_000, salt: salt), token: token, secret: mirrorSecret, now: .zero)
            // The mirror's first word starts the pipe.
            let (hello, originState) = (mirror.relay.takeNodeOutbox(), origin.relay)
            attachOut = hello.flatMap { d in
                var buffer = d.buffer
                return originState.receive(&buffer, from: NodePipeTests.mirrorAddress, now: .zero)
            }
        }

        /// The publisher's packets `sequences` into the origin, and the loop turn's end: the node
        /// datagrams it sent.
        func publish(_ sequences: ClosedRange<UInt16>, at now: MediaTime = .milliseconds(20)) throws -> [OutgoingDatagram] {
            for seq in sequences {
                _ = origin.relay.receive(
                    try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: seq, payload: PublicationTests.payload(7, Int(seq))),
                    from: publisher.address, now: now)
            }
            return origin.relay.flushPipes()
        }

        /// Datagrams from the origin, into the mirroring node.
        func toMirror(_ datagrams: [OutgoingDatagram], at now: MediaTime = .milliseconds(20)) -> [OutgoingDatagram] {
            datagrams.flatMap { d in
                var buffer = d.buffer
                return mirror.relay.receive(&buffer, from: NodePipeTests.originAddress, now: now)
            }
        }

        /// Datagrams from the mirroring node, into the origin.
        func toOrigin(_ datagrams: [OutgoingDatagram], at now: MediaTime) -> [OutgoingDatagram] {
            datagrams.flatMap { d in
                var buffer = d.buffer
                return origin.relay.receive(&buffer, from: NodePipeTests.mirrorAddress, now: now)
            }
        }
    }

    /// Each packet crosses once — one datagram per packet whatever the number of viewers on the
    /// other node — encrypted (the payload is not in the datagram), and reaches every viewer there.
    @Test func eachPacketCrossesOnceEncryptedAndReachesEveryViewerOnTheOtherNode() throws {
        let nodes = try Nodes()
        #expect(nodes.id == nodes.publisher.id)
        #expect(nodes.attachOut.count == 1 && nodes.attachOut.first?.to == nodes.publisher.address, "a key frame for the new pipe")
        let viewers = try (0..<4).map {
            try ConnectedPeer.connect(to: nodes.mirror.relay, room: "launch", identity: "v\($0)", publishing: false, port: 7_010 + UInt16($0), source: nodes.id)
        }
        _ = nodes.mirror.relay.flushPipes()
        let sent = try nodes.publish(100...104)
        #expect(sent.count == 5, "one datagram per packet, not per viewer: \(sent.count)")
        #expect(sent.allSatisfy { $0.to == NodePipeTests.mirrorAddress })
        let marker = PublicationTests.payload(7, 102)
        #expect(sent.allSatisfy { d in !Array(d.buffer.readableBytesView).containsSequence(marker) }, "the payload crosses encrypted")
        let out = nodes.toMirror(sent)
        for viewer in viewers {
            let got = viewer.received(out)
            #expect(got.map(\.payload) == (100...104).map { PublicationTests.payload(7, $0) })
        }
        #expect(nodes.origin.relay.snapshot().nodePipesOut == 1 && nodes.mirror.relay.snapshot().nodePipesIn == 1)
    }

    /// A viewer's key-frame request on the other node goes up the pipe and reaches the publisher.
    @Test func aKeyFrameRequestOnTheOtherNodeReachesThePublisher() throws {
        let nodes = try Nodes()
        let viewer = try ConnectedPeer.connect(to: nodes.mirror.relay, room: "launch", identity: "v", publishing: false, port: 7_020, source: nodes.id)
        // The new viewer's own first key-frame request goes up as it subscribes.
        let joining = nodes.mirror.relay.flushPipes()
        #expect(joining.count == 1 && joining.first?.buffer.getInteger(at: 1, as: UInt8.self) == NodePipeDatagram.Kind.keyFrame.rawValue)
        _ = nodes.toMirror(try nodes.publish(10...12))
        let ssrc = try #require(viewer.answer.videoSSRC)
        let pli = try viewer.rtcp([
            .receiverReport(RTCPReceiverReport(ssrc: 0x1111)), .pictureLossIndication(RTCPPictureLossIndication(senderSSRC: 0x1111, mediaSSRC: ssrc)),
        ])
        let second = MediaTime(microseconds: 2_000_000)
        var up = nodes.mirror.relay.receive(pli, from: viewer.address, now: second)
        up += nodes.mirror.relay.flushPipes()
        // A request may wait for the next tick (key frames asked together go together).
        up += nodes.mirror.relay.tick(now: second + .milliseconds(200))
        up = up.filter { $0.to == NodePipeTests.originAddress && $0.buffer.getInteger(at: 1, as: UInt8.self) == NodePipeDatagram.Kind.keyFrame.rawValue }
        #expect(up.count == 1 && up.first?.to == NodePipeTests.originAddress, "one key-frame request up the pipe: \(up.map(\.to))")
        let toPublisher = nodes.toOrigin(up, at: second)
        #expect(toPublisher.count == 1 && toPublisher.first?.to == nodes.publisher.address, "the publisher is asked")
    }

    /// An attacker who sees the pipe's datagrams, or guesses its token, gets nothing done: a
    /// changed byte, a datagram sent again, one sealed under another secret, one cut short, one
    /// sent in the wrong direction and one for an unknown pipe are each dropped and counted, and
    /// the viewers get each genuine packet once.
    @Test func forgedReplayedCutAndMisdirectedDatagramsAreDropped() throws {
        let nodes = try Nodes()
        let viewer = try ConnectedPeer.connect(to: nodes.mirror.relay, room: "launch", identity: "v", publishing: false, port: 7_030, source: nodes.id)
        let genuine = try nodes.publish(20...20)
        let first = try #require(genuine.first)
        #expect(viewer.received(nodes.toMirror(genuine)).count == 1)
        // Sent again: the replay window refuses it.
        #expect(nodes.toMirror(genuine).isEmpty)
        #expect(nodes.mirror.relay.dropped["node-pipe-replay"] == 1)
        // One bit changed in the ciphertext, with a fresh counter so the window lets it by.
        let next = try #require(try nodes.publish(21...21).first)
        var altered = Array(next.buffer.readableBytesView)
        altered[NodePipeDatagram.headerLength + 5] ^= 0x01
        #expect(nodes.mirror.relay.receive(altered, from: NodePipeTests.originAddress, now: .milliseconds(30)).isEmpty)
        #expect(nodes.mirror.relay.dropped["node-pipe-forged"] == 1)
        // The counter changed in the header (associated data): forged as well.
        var recounted = Array(next.buffer.readableBytesView)
        recounted[17] &+= 9
        #expect(nodes.mirror.relay.receive(recounted, from: NodePipeTests.originAddress, now: .milliseconds(30)).isEmpty)
        #expect(nodes.mirror.relay.dropped["node-pipe-forged"] == 2)
        // Sealed by someone with another secret, for this pipe's token.
        let other = try #require(NodePipeCipher(secret: Array("not the cluster's secret, but long enough".utf8), token: nodes.token, salt: nodes.salt))
        let counterfeit = try #require(NodePipeDatagram(kind: .media, token: nodes.token, counter: 1_000, plaintext: [1, 255] + [0x80, 96, 0, 1]).sealed(with: other))
        #expect(nodes.mirror.relay.receive(counterfeit, from: NodePipeTests.originAddress, now: .milliseconds(30)).isEmpty)
        #expect(nodes.mirror.relay.dropped["node-pipe-forged"] == 3)
        // Cut short, of an unknown pipe, and the mirror's own kind sent to the mirror.
        #expect(nodes.mirror.relay.receive(Array(Array(first.buffer.readableBytesView).prefix(20)), from: NodePipeTests.originAddress, now: .zero).isEmpty)
        #expect(nodes.mirror.relay.dropped["node-pipe-malformed"] == 1)
        var unknown = Array(next.buffer.readableBytesView)
        unknown[2] ^= 0xFF
        #expect(nodes.mirror.relay.receive(unknown, from: NodePipeTests.originAddress, now: .zero).isEmpty)
        #expect(nodes.mirror.relay.dropped["node-pipe-unknown"] == 1)
        var misdirected = Array(next.buffer.readableBytesView)
        misdirected[1] = NodePipeDatagram.Kind.detach.rawValue
        #expect(nodes.mirror.relay.receive(misdirected, from: NodePipeTests.originAddress, now: .zero).isEmpty)
        #expect(nodes.mirror.relay.dropped["node-pipe-misdirected"] == 1)
        // The genuine datagram is still taken, once.
        #expect(viewer.received(nodes.toMirror([next])).count == 1)
        #expect(nodes.toMirror([next]).isEmpty)
        // A mirror keyed with another secret opens none of the origin's datagrams.
        let wrong = try Nodes(room: "other", token: 77, mirrorSecret: Array("a second, different secret of 32+ bytes".utf8))
        _ = try ConnectedPeer.connect(to: wrong.mirror.relay, room: "other", identity: "w", publishing: false, port: 7_031, source: wrong.id)
        #expect(wrong.attachOut.isEmpty, "the origin never heard the mirror (its hello is forged to it)")
        #expect(try wrong.publish(5...7).isEmpty, "and sends nothing")
        #expect(wrong.origin.relay.dropped["node-pipe-forged"] == 1)
    }

    /// A pipe request naming someone else's address as the mirror's gets nothing sent there: the
    /// origin waits for an authenticated word from that address's node, and after 5 s of silence
    /// the pipe goes. And the same token asked again gets a key of its own (a fresh salt), so a
    /// replayed request never makes the origin reuse a nonce under one key.
    @Test func anOriginSendsNothingUntilTheMirrorSpeaksAndNeverReusesAKey() throws {
        let world = try PublicationTests.World()
        let publisher = try ConnectedPeer.connect(to: world.relay, room: "launch", identity: "p", publishing: true, port: 7_070)
        let victim = PeerAddress(ip: [192, 0, 2, 1], port: 9)
        let first = try world.relay.pipeToNode(room: "launch", source: nil, token: 5, secret: NodePipeTests.secret, peer: victim, now: .zero)
        var sent: [OutgoingDatagram] = []
        var now = MediaTime.zero
        for seq in UInt16(1)...50 {
            now = now + .milliseconds(20)
            _ = world.relay.receive(try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: seq), from: publisher.address, now: now)
            sent += world.relay.flushPipes()
        }
        for _ in 0..<6 {
            now = now + .milliseconds(1_000)
            sent += world.relay.tick(now: now)
        }
        #expect(!sent.contains { $0.to == victim }, "nothing to the named address: \(sent.filter { $0.to == victim }.count)")
        #expect(world.relay.snapshot().nodePipesOut == 0, "the unconfirmed pipe went")
        let second = try world.relay.pipeToNode(room: "launch", source: nil, token: 5, secret: NodePipeTests.secret, peer: victim, now: now)
        #expect(first.salt != second.salt && first.salt.count == 16)
    }

    /// Each end says it is there every second; an end not heard from for five seconds goes: the
    /// origin stops piping (nothing more is sealed for a node that left), the mirror ends (its
    /// viewers wait for the room's next publisher, as when a publisher leaves).
    @Test func aSilentEndIsLetGo() throws {
        let nodes = try Nodes()
        let viewer = try ConnectedPeer.connect(to: nodes.mirror.relay, room: "launch", identity: "v", publishing: false, port: 7_040, source: nodes.id)
        _ = viewer
        var now = MediaTime.zero
        // Four seconds of keep-alives both ways: both ends stay.
        for _ in 0..<4 {
            now = now + .milliseconds(1_000)
            let down = nodes.origin.relay.tick(now: now)
            let up = nodes.mirror.relay.tick(now: now)
            #expect(down.contains { $0.to == NodePipeTests.mirrorAddress } && up.contains { $0.to == NodePipeTests.originAddress })
            _ = nodes.toMirror(down.filter { $0.to == NodePipeTests.mirrorAddress }, at: now)
            _ = nodes.toOrigin(up.filter { $0.to == NodePipeTests.originAddress }, at: now)
        }
        #expect(nodes.origin.relay.snapshot().nodePipesOut == 1 && nodes.mirror.relay.snapshot().nodePipesIn == 1)
        // The mirroring node falls silent (it died): six seconds later the origin lets go.
        for _ in 0..<6 {
            now = now + .milliseconds(1_000)
            _ = nodes.origin.relay.tick(now: now)
        }
        #expect(nodes.origin.relay.snapshot().nodePipesOut == 0)
        #expect(nodes.origin.relay.dropped["node-pipe-timeout"] == 1)
        #expect(try nodes.publish(30...31, at: now).isEmpty, "nothing is sealed for a node that left")
        // And the mirror, hearing nothing more, ends.
        for _ in 0..<6 {
            now = now + .milliseconds(1_000)
            _ = nodes.mirror.relay.tick(now: now)
        }
        #expect(nodes.mirror.relay.snapshot().nodePipesIn == 0)
        #expect(nodes.mirror.relay.publications[nodes.id] == nil, "the mirror is gone")
        #expect(nodes.mirror.relay.hasOrphans(in: "launch"), "its viewer waits for the next publisher")
    }

    /// The publisher leaves: the other node is told at once, and its mirror ends.
    @Test func thePublisherLeavingEndsTheMirror() throws {
        let nodes = try Nodes()
        _ = try ConnectedPeer.connect(to: nodes.mirror.relay, room: "launch", identity: "v", publishing: false, port: 7_050, source: nodes.id)
        #expect(nodes.origin.relay.close(id: nodes.publisher.id, reason: "left"))
        let told = nodes.origin.relay.tick(now: .milliseconds(40)).filter { $0.to == NodePipeTests.mirrorAddress }
        #expect(!told.isEmpty)
        _ = nodes.toMirror(told, at: .milliseconds(40))
        #expect(nodes.mirror.relay.publications[nodes.id] == nil && nodes.mirror.relay.snapshot().nodePipesIn == 0)
    }

    /// The mirror's last viewer leaves: after the grace, the origin is told to stop and does.
    @Test func theLastViewerLeavingDetachesThePipe() throws {
        let nodes = try Nodes()
        let viewer = try ConnectedPeer.connect(to: nodes.mirror.relay, room: "launch", identity: "v", publishing: false, port: 7_060, source: nodes.id)
        #expect(nodes.mirror.relay.close(id: viewer.id, reason: "left"))
        var now = MediaTime.zero
        var up: [OutgoingDatagram] = []
        for _ in 0..<4 {
            now = now + .milliseconds(1_000)
            up += nodes.mirror.relay.tick(now: now).filter { $0.to == NodePipeTests.originAddress }
        }
        _ = nodes.toOrigin(up, at: now)
        #expect(nodes.origin.relay.snapshot().nodePipesOut == 0, "the origin stopped piping")
        #expect(try nodes.publish(40...41, at: now).isEmpty)
    }
}

extension Array where Element: Equatable {
    fileprivate func containsSequence(_ s: [Element]) -> Bool {
        guard !s.isEmpty, s.count <= count else { return false }
        return (0...(count - s.count)).contains { Array(self[$0..<$0 + s.count]) == s }
    }
}
