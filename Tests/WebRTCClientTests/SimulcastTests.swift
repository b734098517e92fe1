import Foundation
import MediaCrypto
import MediaPipeline
import MediaWire
@testable import Relay
import Testing
import WebRTCClient

/// Issue 16, items 1 and 2: a publisher that sends simulcast (three encodings told apart by RID)
/// and viewers that each get one layer — by quality, switching at the target's key frame with
/// continuous sequence numbers and VP8 picture IDs — through a socket-free ``RelayState`` with
/// peers that did the real handshake. No rendition is ever started.
@Suite struct SimulcastTests {
    static let rids = ["q", "h", "f"]
    static let sizes = [(320, 180), (640, 360), (1280, 720)]

    /// A simulcast publisher: three SSRCs, each with its own sequence numbers and picture IDs (far
    /// apart, as a browser's are), one packet per frame.
    final class Publisher {
        let peer: ConnectedPeer
        let ssrcs: [UInt32] = [0x1111_0001, 0x2222_0002, 0x3333_0003]
        var sequence: [UInt16] = [100, 20_000, 40_000]
        var pictureID: [UInt16] = [5, 10_000, 32_000]
        var sendsRID = true
        /// Bytes appended to each frame of a layer, for layers with rates of some size.
        var filler = [0, 0, 0]

        init(_ peer: ConnectedPeer) { self.peer = peer }

        /// The next frame of `layer`: its payload's byte 14 names the layer, byte 15 the frame.
        func frame(_ layer: Int, key: Bool) throws -> [UInt8] {
            let pid = pictureID[layer]
            pictureID[layer] = (pid &+ 1) & 0x7FFF
            let payload = [0x90, 0x80, 0x80 | UInt8(pid >> 8), UInt8(pid & 0xFF)] + SimulcastTests.frameHeader(layer, key: key) + [0xA0 + UInt8(layer), UInt8(truncatingIfNeeded: sequence[layer])]
                + [UInt8](repeating: 0, count: filler[layer])
            defer { sequence[layer] &+= 1 }
            return try peer.rtp(
                ssrc: ssrcs[layer], sequence: sequence[layer], payload: payload, rid: sendsRID ? SimulcastTests.rids[layer] : nil, marker: true)
        }
    }

    /// The VP8 payload header of a frame of `layer` (10 bytes): a key frame's declares the layer's size.
    static func frameHeader(_ layer: Int, key: Bool) -> [UInt8] {
        key ? VP8KeyFrameHeader(width: sizes[layer].0, height: sizes[layer].1).serialized() : [0x01] + [UInt8](repeating: 0, count: 9)
    }

    /// What a viewer got: per packet, the layer, whether it started a key frame, and its
    /// sequence number and picture ID as the viewer sees them.
    struct Got: Equatable {
        var layer: Int, key: Bool, sequence: UInt16, pictureID: UInt16
    }

    static func got(_ peer: ConnectedPeer, _ datagrams: [OutgoingDatagram]) -> [Got] { got(peer.received(datagrams)) }

    /// The same, of packets already decrypted (a peer's SRTP context takes each packet once).
    static func got(_ packets: [RTPPacket]) -> [Got] {
        packets.compactMap { p in
            guard p.header.payloadType == ClientOffer.videoPayloadType, p.payload.count >= 16 else { return nil }
            let pid = UInt16(p.payload[2] & 0x7F) << 8 | UInt16(p.payload[3])
            return Got(layer: Int(p.payload[14]) - 0xA0, key: p.payload[4] & 1 == 0, sequence: p.header.sequenceNumber, pictureID: pid)
        }
    }

    /// The PLIs among `datagrams` sent to the publisher, by the SSRC they name.
    static func plis(_ publisher: ConnectedPeer, _ datagrams: [OutgoingDatagram]) -> [UInt32] {
        datagrams.filter { $0.to == publisher.address }.flatMap { d -> [UInt32] in
            var bytes = Array(d.buffer.readableBytesView)
            guard (try? publisher.srtpIn.unprotectRTCP(&bytes)) != nil, let packets = try? RTCPPacket.parseCompound(bytes) else { return [] }
            return packets.compactMap { if case .pictureLossIndication(let p) = $0 { p.mediaSSRC } else { nil } }
        }
    }

    struct Setup {
        let world: PublicationTests.World
        let publisher: Publisher
        var viewers: [ConnectedPeer]
        var now = MediaTime.zero
        /// Everything the relay sent, in order.
        var sent: [OutgoingDatagram] = []

        init(viewers qualities: [Quality], rtx: Bool = false, transportWideCC: Bool = false) throws {
            let world = try PublicationTests.World()
            self.world = world
            publisher = Publisher(
                try ConnectedPeer.connect(
                    to: world.relay, room: "r", identity: "p", publishing: true, port: 7_000, rtx: rtx, simulcastRIDs: SimulcastTests.rids))
            viewers = try qualities.enumerated().map { i, q in
                try ConnectedPeer.connect(
                    to: world.relay, room: "r", identity: "v\(i)", publishing: false, port: 7_001 + UInt16(i), quality: q, transportWideCC: transportWideCC)
            }
        }

        /// Consent checks from the publisher and `others` (a run past 30 s needs them, RFC 7675).
        mutating func refreshConsent(of others: [ConnectedPeer] = []) {
            for peer in [publisher.peer] + viewers + others { sent += world.relay.receive(peer.consentCheck(), from: peer.address, now: now) }
        }

        /// `frames` frames of each of `layers` at 30 a second (a key frame first when `keyFirst`),
        /// with the relay's timers between.
        mutating func run(frames: Int, layers: [Int] = [0, 1, 2], keyFirst: Bool = false, keyEvery: Int = 0) throws {
            for n in 0..<frames {
                now = now + .milliseconds(33)
                for layer in layers {
                    let key = (keyFirst && n == 0) || (keyEvery > 0 && n % keyEvery == 0)
                    sent += world.relay.receive(try publisher.frame(layer, key: key), from: publisher.peer.address, now: now)
                }
                sent += world.relay.tick(now: now)
            }
        }
    }

    /// The answer takes the offer's three encodings: `a=rid:<id> recv`, `a=simulcast:recv q;h;f`
    /// and the RID extension under the publisher's id (RFC 8853 §5.3).
    @Test func theAnswerReceivesTheOfferedEncodings() throws {
        let world = try PublicationTests.World()
        let p = try ConnectedPeer.connect(to: world.relay, room: "r", identity: "p", publishing: true, port: 7_000, simulcastRIDs: Self.rids)
        let video = try #require(try SessionDescription(parsing: p.answerSDP).media.first { $0.kind == "video" })
        #expect(video.values("rid") == ["q recv", "h recv", "f recv"])
        #expect(video.value("simulcast") == "recv q;h;f")
        #expect(video.extensions.contains { $0.id == ClientOffer.ridExtensionID && $0.uri == RTPStreamID.uri })
    }

    /// What the offer's simulcast lines may say, and what is taken of it: paused and undeclared
    /// encodings are left out, alternatives after the first too, invalid RIDs refused, at most
    /// three taken; a RID extension under another extension's id means no simulcast.
    @Test func offeredEncodingsAreReadAsRFC8853SaysAndBounded() throws {
        func media(_ lines: [String]) throws -> SessionDescription.Media {
            let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n" + lines.map { "a=\($0)\r\n" }.joined()
            return try #require(try SessionDescription(parsing: sdp).media.first)
        }
        #expect(try media(["rid:a send", "rid:b send", "simulcast:send a;b"]).simulcastSendRIDs() == ["a", "b"])
        #expect(try media(["rid:a send", "rid:b send", "rid:c send", "simulcast:send a;~b;c"]).simulcastSendRIDs() == ["a", "c"])
        #expect(try media(["rid:a send", "rid:b send", "simulcast:send a,b;b"]).simulcastSendRIDs() == ["a", "b"])
        #expect(try media(["rid:a send", "simulcast:send a;zz"]).simulcastSendRIDs() == ["a"])
        #expect(try media(["rid:a recv", "rid:b send", "simulcast:send a;b"]).simulcastSendRIDs() == ["b"])
        #expect(try media(["rid:a send", "rid:a send", "simulcast:send a;a"]).simulcastSendRIDs() == ["a"])
        let long = String(repeating: "x", count: 17)
        #expect(try media(["rid:\(long) send", "rid:ok send", "rid:b@d send", "simulcast:send \(long);ok;b@d"]).simulcastSendRIDs() == ["ok"])
        #expect(try media(["rid:a send", "simulcast:recv a"]).simulcastSendRIDs() == [])

        // Five offered, three taken; a RID extension that collides with the MID extension's id: none.
        let base = ClientOffer(direction: .send, fingerprint: try DTLSCertificate().fingerprint)
        var five = base
        five.simulcastRIDs = ["a", "b", "c", "d", "e"]
        let answerer = SDPAnswerer(iceUfrag: "u", icePassword: "p", fingerprint: "00", candidateAddress: "127.0.0.1", candidatePort: 1, sessionID: 1)
        let taken = try answerer.answer(SessionDescription(parsing: five.sdp), role: .publisher).media.first { $0.kind == .video }
        #expect(taken?.rids == ["a", "b", "c"])
        var colliding = base
        colliding.simulcastRIDs = ["a", "b"]
        let sdp = colliding.sdp.replacingOccurrences(of: "a=extmap:\(ClientOffer.ridExtensionID) ", with: "a=extmap:\(ClientOffer.captureTimeExtensionID) ")
        let none = try answerer.answer(SessionDescription(parsing: sdp), role: .publisher)
        #expect(none.media.first { $0.kind == .video }?.rids == [])
        #expect(!none.answer.serialized().contains("simulcast"))
    }

    /// The point: viewers asking for low, medium and source get 320×180, 640×360 and
    /// 1280×720 — the publisher's own layers, each from a key frame on — and no transcoder runs.
    @Test func eachViewerGetsTheLayerOfItsQualityAndNoRenditionStarts() throws {
        var setup = try Setup(viewers: [.low, .medium, .source])
        try setup.run(frames: 30, keyFirst: true)
        #expect(setup.world.relay.renditionCount == 0)
        #expect(setup.world.encoders.isEmpty)
        for (i, viewer) in setup.viewers.enumerated() {
            let got = Self.got(viewer, setup.sent)
            #expect(got.count >= 25, "viewer \(i) got \(got.count)")
            // The layers start one after another: a viewer may begin on a smaller one for the
            // frame before its own layer's first key frame arrives.
            #expect(got.dropFirst(2).allSatisfy { $0.layer == i }, "viewer \(i) got layers \(got.map(\.layer))")
            #expect(got.first?.key == true)
            #expect(got.count(where: { $0.key }) <= 3)
            // One stream: consecutive sequence numbers and picture IDs.
            for (a, b) in zip(got, got.dropFirst()) {
                #expect(b.sequence == a.sequence &+ 1 && b.pictureID == (a.pictureID + 1) & 0x7FFF)
            }
        }
    }

    /// A viewer with receiver reports alone to steer it (no transport-wide feedback: aiortc)
    /// starts on the lowest layer — it played nothing for 15–18 s in every browser run after a
    /// start on a layer its 300 kbit/s path could not carry — and climbs by probing. One with
    /// transport-wide feedback starts at what it asked for (its estimate moves it within a
    /// feedback interval), as does one that did not ask for adaptation.
    @Test func aViewerWithOnlyReceiverReportsStartsOnTheLowestLayer() throws {
        var setup = try Setup(viewers: [])
        let relay = setup.world.relay
        let reportsOnly = try ConnectedPeer.connect(to: relay, room: "r", identity: "a", publishing: false, port: 7_101, adaptive: true)
        let withFeedback = try ConnectedPeer.connect(
            to: relay, room: "r", identity: "b", publishing: false, port: 7_102, adaptive: true, transportWideCC: true)
        let fixed = try ConnectedPeer.connect(to: relay, room: "r", identity: "c", publishing: false, port: 7_103)
        try setup.run(frames: 30, keyFirst: true)
        func layers(_ viewer: ConnectedPeer) -> Set<Int> { Set(Self.got(viewer, setup.sent).dropFirst(2).map(\.layer)) }
        #expect(layers(reportsOnly) == [0])
        #expect(layers(withFeedback) == [2])
        #expect(layers(fixed) == [2])
        #expect(relay.snapshot().viewers == [.low: 1, .source: 2])
        #expect(setup.world.encoders.isEmpty, "a layer, not a rendition")
    }

    /// A viewer with receiver reports alone, probed up blind (30 s of clean reports), that then
    /// reports more than a third lost: moved down with its layer held back until the target's
    /// key frame — nothing of the layer its path cannot carry goes out meanwhile, so the queue
    /// drains and no more of its numbers go on packets it would lose. Reporting less (20% lost)
    /// moves it down too, but the layer goes on until the switch.
    @Test(arguments: [(UInt8(128), true), (UInt8(51), false)]) func aReceiverReportMoveDownHoldsTheLayerWhenAThirdIsLost(
        fractionLost: UInt8, holds: Bool
    ) throws {
        var setup = try Setup(viewers: [])
        let relay = setup.world.relay
        let viewer = try ConnectedPeer.connect(to: relay, room: "r", identity: "a", publishing: false, port: 7_101, quality: .medium, adaptive: true)
        let video = try #require(viewer.answer.videoSSRC)
        var highest: UInt32 = 0
        func report(lost: UInt8) throws -> [OutgoingDatagram] {
            highest += 30
            let block = RTCPReportBlock(
                ssrc: video, fractionLost: lost, cumulativeLost: 0, extendedHighestSequence: highest, jitter: 0, lastSenderReport: 0,
                delaySinceLastSenderReport: 0)
            return relay.receive(try viewer.rtcp([.receiverReport(RTCPReceiverReport(ssrc: 0x7777, reports: [block]))]), from: viewer.address, now: setup.now)
        }
        for second in 0..<40 where relay.snapshot().viewers[.medium] != 1 {
            try setup.run(frames: 30, keyFirst: second == 0, keyEvery: 30)
            setup.sent += try report(lost: 0)
        }
        #expect(relay.snapshot().viewers[.medium] == 1, "the blind probe after 30 s of clean reports")
        try setup.run(frames: 90, keyEvery: 30)
        #expect(Set(Self.got(viewer, Array(setup.sent.suffix(30))).map(\.layer)) == [1])
        let moved = try report(lost: fractionLost)
        #expect(relay.snapshot().viewers[.low] == 1)
        #expect(Self.plis(setup.publisher.peer, moved) == [setup.publisher.ssrcs[0]])
        let s = try #require(relay.sessions[viewer.id]?.subscription)
        #expect(s.layers.holding == holds)
        setup.sent = []
        try setup.run(frames: 5, layers: [1, 2])  // no key frame of the target yet
        #expect(Self.got(viewer, setup.sent).isEmpty == holds, "layer 1 while the move waits: \(Self.got(viewer, setup.sent).map(\.layer))")
        setup.sent = []
        try setup.run(frames: 3, layers: [0], keyFirst: true)
        #expect(Self.got(viewer, setup.sent).map(\.layer) == [0, 0, 0])
        #expect(!s.layers.holding)
    }

    /// A move to another layer waits for that layer's key frame (asked for with a PLI naming its
    /// SSRC): until then the old layer goes on, from then on only the new one, and the viewer
    /// sees one stream — sequence numbers and picture IDs go on by one across the switch.
    @Test func aSwitchHappensAtTheTargetsKeyFrameAndTheStreamStaysContinuous() throws {
        var setup = try Setup(viewers: [.source])
        try setup.run(frames: 10, keyFirst: true)
        let viewer = setup.viewers[0]
        let before = Self.got(viewer, setup.sent)
        #expect(before.last?.layer == 2)
        let moved = try #require(try setup.world.relay.setQuality(id: viewer.id, quality: .low, now: setup.now))
        #expect(Self.plis(setup.publisher.peer, moved) == [setup.publisher.ssrcs[0]])
        setup.sent = moved
        try setup.run(frames: 5)  // no key frame yet: still the source layer
        try setup.run(frames: 5, keyFirst: true)  // the low layer's key frame: the switch
        let after = Self.got(viewer, setup.sent)
        #expect(after.map(\.layer) == [2, 2, 2, 2, 2, 0, 0, 0, 0, 0], "the old layer goes on up to the new one's key frame")
        #expect(after[5].key)
        let got = before + after
        for (a, b) in zip(got, got.dropFirst()) {
            #expect(b.sequence == a.sequence &+ 1, "sequence \(a.sequence) → \(b.sequence)")
            #expect(b.pictureID == (a.pictureID + 1) & 0x7FFF, "picture id \(a.pictureID) → \(b.pictureID)")
        }
        #expect(setup.world.encoders.isEmpty)
    }

    /// A layer the publisher stops sending (its uplink dropped it) is left at once: within the
    /// ``SimulcastLayer/inactiveAfter`` and a tick the viewer's target is the next layer down,
    /// whose key frame is asked for; and it moves back up when the layer returns.
    @Test func aLayerThatStopsIsLeftAndTakenAgainWhenItReturns() throws {
        var setup = try Setup(viewers: [.source])
        try setup.run(frames: 10, keyFirst: true)
        setup.sent = []
        // The top layer stops; the others go on. 40 frames: 1.3 s, past ``SimulcastLayer/inactiveAfter``.
        try setup.run(frames: 40, layers: [0, 1])
        #expect(Self.plis(setup.publisher.peer, setup.sent).contains(setup.publisher.ssrcs[1]), "the middle layer's key frame was asked for")
        setup.sent = []
        try setup.run(frames: 5, layers: [0, 1], keyFirst: true)
        let down = Self.got(setup.viewers[0], setup.sent)
        #expect(!down.isEmpty && down.allSatisfy { $0.layer == 1 })
        // The top layer comes back: the viewer asks for its key frame and returns to it.
        setup.sent = []
        try setup.run(frames: 5, layers: [0, 1, 2])
        #expect(Self.plis(setup.publisher.peer, setup.sent).contains(setup.publisher.ssrcs[2]))
        setup.sent = []
        try setup.run(frames: 5, layers: [0, 1, 2], keyFirst: true)
        #expect(Self.got(setup.viewers[0], setup.sent).last?.layer == 2)
        // Counted once, when it came back (`showroom_relay_publisher_layer_pauses_total`).
        #expect(setup.world.relay.snapshot().totals.layerPauses == 1)
    }

    /// A NACK from a viewer is answered from the cache of the layer it is on, with the numbers
    /// and picture ID it saw the first time.
    @Test func aNACKIsAnsweredFromTheViewersLayer() throws {
        var setup = try Setup(viewers: [.medium])
        try setup.run(frames: 10, keyFirst: true)
        let viewer = setup.viewers[0]
        // The viewer's fifth RTP packet is lost on the way (its header is in the clear).
        let media = viewer.media(setup.sent)
        try #require(media.count >= 6)
        let lostSequence = media[4].sequence
        let got = Self.got(viewer, (Array(media[..<4]) + Array(media[5...])).map(\.datagram))
        let lost = Got(layer: 1, key: false, sequence: lostSequence, pictureID: (got[3].pictureID + 1) & 0x7FFF)
        #expect(got[3].sequence &+ 1 == lostSequence && got[3].layer == 1)
        let videoSSRC = try #require(viewer.answer.videoSSRC)
        let nack = try viewer.rtcp([
            .receiverReport(RTCPReceiverReport(ssrc: 1)), .nack(RTCPGenericNACK(senderSSRC: 1, mediaSSRC: videoSSRC, lost: [lostSequence])),
        ])
        let again = Self.got(viewer, setup.world.relay.receive(nack, from: viewer.address, now: setup.now + .milliseconds(1)))
        #expect(again == [lost])
    }

    /// A NACK for a packet sent before a switch (it was lost on the way while the viewer moved) is
    /// answered from the old layer's cache, as it was sent: its sequence number, timestamp and
    /// picture ID. A receiver that waits for every packet (aiortc's jitter buffer) otherwise stalls
    /// until 512 packets have passed the hole: ~30 s of the 180p layer. A viewer with
    /// transport-wide feedback (a browser) is not sent the old layer again.
    @Test(arguments: [false, true]) func aNACKForAPacketSentBeforeASwitchIsAnsweredAsItWasSent(transportWideCC: Bool) throws {
        var setup = try Setup(viewers: [.medium], transportWideCC: transportWideCC)
        try setup.run(frames: 10, keyFirst: true)
        let viewer = setup.viewers[0]
        let first = Self.got(viewer, setup.sent)
        _ = try #require(try setup.world.relay.setQuality(id: viewer.id, quality: .low, now: setup.now))
        setup.sent = []
        try setup.run(frames: 3)  // still the medium layer
        // Its last video packet is lost on the way (the RTP header is in the clear).
        func header(_ d: OutgoingDatagram) -> (payloadType: UInt8, sequence: UInt16, timestamp: UInt32)? {
            let b = d.buffer, i = b.readerIndex
            guard d.to == viewer.address, let pt = b.getInteger(at: i + 1, as: UInt8.self), !(192...223).contains(pt),
                let seq = b.getInteger(at: i + 2, as: UInt16.self), let ts = b.getInteger(at: i + 4, as: UInt32.self)
            else { return nil }
            return (pt & 0x7F, seq, ts)
        }
        let lostAt = try #require(setup.sent.lastIndex { header($0)?.payloadType == ClientOffer.videoPayloadType })
        let lost = try #require(header(setup.sent[lostAt]))
        setup.sent.remove(at: lostAt)
        let before = first + Self.got(viewer, setup.sent)
        #expect(before.last?.layer == 1 && before.last?.sequence == lost.sequence &- 1)
        setup.sent = []
        try setup.run(frames: 3, keyFirst: true)  // the low layer's key frame: the switch
        let after = Self.got(viewer, setup.sent)
        #expect(after.first?.layer == 0 && after.first?.key == true && after.first?.sequence == lost.sequence &+ 1)
        // NACKed once the viewer is on low.
        let videoSSRC = try #require(viewer.answer.videoSSRC)
        let nack = try viewer.rtcp([
            .receiverReport(RTCPReceiverReport(ssrc: 1)), .nack(RTCPGenericNACK(senderSSRC: 1, mediaSSRC: videoSSRC, lost: [lost.sequence])),
        ])
        let resent = viewer.received(setup.world.relay.receive(nack, from: viewer.address, now: setup.now + .milliseconds(1)))
            .filter { $0.header.payloadType == ClientOffer.videoPayloadType }
        if transportWideCC {
            #expect(resent.isEmpty)
            return
        }
        #expect(resent.map(\.header.timestamp) == [lost.timestamp])
        let expected = Got(layer: 1, key: false, sequence: lost.sequence, pictureID: ((before.last?.pictureID ?? 0) + 1) & 0x7FFF)
        #expect(Self.got(resent) == [expected], "the packet as it was sent: layer, sequence number, picture ID")
    }

    /// Hostile streams: packets with no RID on an unknown SSRC, a second SSRC claiming a RID that
    /// has one, and a RID the offer did not name are dropped and counted; the viewers still get
    /// their layers.
    @Test func streamsTheOfferDoesNotExplainAreDropped() throws {
        var setup = try Setup(viewers: [.low])
        try setup.run(frames: 5, keyFirst: true)
        let relay = setup.world.relay
        let p = setup.publisher.peer
        let strays = [
            try p.rtp(ssrc: 0x0BAD_0001, sequence: 1, payload: [0x90, 0x80, 0x80, 0x01, 0x00]),  // no RID
            try p.rtp(ssrc: 0x0BAD_0002, sequence: 1, payload: [0x90, 0x80, 0x80, 0x01, 0x00], rid: "q"),  // q is bound
            try p.rtp(ssrc: 0x0BAD_0003, sequence: 1, payload: [0x90, 0x80, 0x80, 0x01, 0x00], rid: "zz"),  // not offered
        ]
        for s in strays { #expect(Self.got(setup.viewers[0], relay.receive(s, from: p.address, now: setup.now)).isEmpty) }
        #expect(relay.dropped["simulcast-unknown-stream"] == 3)
        setup.sent = []
        try setup.run(frames: 5)
        #expect(Self.got(setup.viewers[0], setup.sent).count == 5)
    }

    /// Review finding: a browser stops sending the RID extension once the relay's receiver
    /// reports acknowledged its SSRCs; a mirror on another worker made after that still gets
    /// every layer (the origin pipes each packet's layer with it), and its viewer plays.
    @Test func aMirrorMadeAfterTheRIDsStopStillGetsItsLayer() throws {
        let pair = try PipeTests.Pair()
        let publisher = Publisher(
            try ConnectedPeer.connect(to: pair.home.relay, room: "show", identity: "p", publishing: true, port: 7_000, simulcastRIDs: Self.rids))
        for n in 0..<10 {
            for layer in 0..<3 { _ = pair.home.relay.receive(try publisher.frame(layer, key: n == 0), from: publisher.peer.address, now: .zero) }
        }
        publisher.sendsRID = false
        let id = try #require(try pair.connect(room: "show"))
        let far = try ConnectedPeer.connect(to: pair.far.relay, room: "show", identity: "far", publishing: false, port: 7_010, quality: .medium, source: id)
        let near = try ConnectedPeer.connect(to: pair.home.relay, room: "show", identity: "near", publishing: false, port: 7_011, quality: .medium)
        var nearOut: [OutgoingDatagram] = []
        for n in 0..<30 {
            for layer in 0..<3 {
                nearOut += pair.home.relay.receive(try publisher.frame(layer, key: n % 10 == 0), from: publisher.peer.address, now: .zero)
            }
            pair.home.relay.flushPipes()
        }
        let nearGot = Self.got(near, nearOut), farGot = Self.got(far, pair.farOut)
        #expect(nearGot.count >= 15 && nearGot.dropFirst(2).allSatisfy { $0.layer == 1 })
        #expect(farGot.count >= 15, "the far viewer got \(farGot.count) packets; far drops \(pair.far.relay.dropped)")
        #expect(farGot.dropFirst(2).allSatisfy { $0.layer == 1 })
    }

    /// Review finding: a packet of the new layer from before the key frame it switched at,
    /// arriving late, is not forwarded — it would reuse an outgoing sequence number the old
    /// layer's packets had.
    @Test func aLatePacketFromBeforeTheSwitchIsNotForwarded() throws {
        var setup = try Setup(viewers: [.source])
        try setup.run(frames: 10, keyFirst: true)
        let viewer = setup.viewers[0]
        _ = try setup.world.relay.setQuality(id: viewer.id, quality: .low, now: setup.now)
        let p = setup.publisher
        let late = try p.frame(0, key: false)  // held back by the network
        setup.now = setup.now + .milliseconds(33)
        for layer in [0, 1, 2] { setup.sent += setup.world.relay.receive(try p.frame(layer, key: layer == 0), from: p.peer.address, now: setup.now) }
        setup.sent += setup.world.relay.receive(late, from: p.peer.address, now: setup.now)
        let sequences = viewer.media(setup.sent).map(\.sequence)
        #expect(Set(sequences).count == sequences.count, "an outgoing sequence number went twice: \(sequences.suffix(5))")
    }

    /// Review finding: a new source whose first packet carries no picture ID still continues the
    /// numbering once its picture IDs come.
    @Test func pictureIDsContinueWhenTheNewSourcesFirstPacketHasNone() {
        var rewriter = VP8PictureIDRewriter()
        func packet(_ pid: UInt16?) -> [UInt8] { pid.map { [0x90, 0x80, 0x80 | UInt8($0 >> 8), UInt8($0 & 0xFF), 0] } ?? [0x10, 0] }
        func written(_ bytes: [UInt8], ssrc: UInt32) -> UInt16? {
            var b = bytes
            b.withUnsafeMutableBytes { rewriter.rewrite($0, ssrc: ssrc) }
            return b.count == 5 ? UInt16(b[2] & 0x7F) << 8 | UInt16(b[3]) : nil
        }
        #expect(written(packet(100), ssrc: 1) == 100)
        #expect(written(packet(101), ssrc: 1) == 101)
        _ = written(packet(nil), ssrc: 2)  // the new source's first packet: no picture ID
        #expect(written(packet(9_000), ssrc: 2) == 102)
        #expect(written(packet(9_001), ssrc: 2) == 103)
    }
}
