import Foundation
import MediaCrypto
import MediaPipeline
import MediaWire
@testable import Relay
import Testing
import WebRTCClient

/// Issue 16, item 3: RTX from the publisher. What its uplink loses, the relay NACKs at once
/// (``NACKGenerator``); the publisher resends it on its RTX stream (RFC 4588), which the relay
/// decapsulates and forwards to every viewer in the gap it left — for a simulcast publisher, on
/// the layer the repaired-RID extension names. What it did not ask for (a publisher probing its
/// path with old packets or padding) goes nowhere. Through a socket-free ``RelayState`` with
/// peers that did the real handshake.
@Suite struct PublisherRetransmissionTests {
    /// A publisher that offered RTX, one `source` viewer, and video packets 100… sent by hand.
    struct Setup {
        let world: PublicationTests.World
        let publisher: ConnectedPeer
        let viewer: ConnectedPeer
        var now = MediaTime.zero
        var rtxSequence: UInt16 = 7

        init() throws {
            world = try PublicationTests.World()
            publisher = try ConnectedPeer.connect(to: world.relay, room: "r", identity: "p", publishing: true, port: 7_100, rtx: true)
            viewer = try ConnectedPeer.connect(to: world.relay, room: "r", identity: "v", publishing: false, port: 7_101)
        }

        static func payload(_ i: UInt16) -> [UInt8] { [0x10, 0, 0, 0, 0xAB, UInt8(truncatingIfNeeded: i), UInt8(i >> 8)] }

        /// Video packet `seq` from the publisher, 10 ms after the last.
        mutating func send(_ seq: UInt16) throws -> [OutgoingDatagram] {
            now = now + .milliseconds(10)
            let bytes = try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: seq, payload: Self.payload(seq), marker: true)
            return world.relay.receive(bytes, from: publisher.address, now: now)
        }

        /// Packet `original` again, on the publisher's RTX stream: its own SSRC, payload type and
        /// sequence numbers, the original sequence number first in the payload.
        mutating func resend(_ original: UInt16, payload: [UInt8]? = nil, paddingLength: UInt8 = 0) throws -> [OutgoingDatagram] {
            now = now + .milliseconds(1)
            rtxSequence &+= 1
            let body = payload ?? ([UInt8(original >> 8), UInt8(original & 0xFF)] + Self.payload(original))
            let bytes = try publisher.rtp(
                ssrc: publisher.offer.rtxSSRC, sequence: rtxSequence, payloadType: ClientOffer.rtxPayloadType, payload: body,
                timestamp: UInt32(original) * 3_000, paddingLength: paddingLength)
            return world.relay.receive(bytes, from: publisher.address, now: now)
        }

        /// The NACKs among `datagrams` sent to the publisher: the SSRC each names and the
        /// sequence numbers it asks for.
        func nacks(_ datagrams: [OutgoingDatagram]) -> [(ssrc: UInt32, lost: [UInt16])] {
            Self.nacks(publisher, datagrams)
        }

        static func nacks(_ publisher: ConnectedPeer, _ datagrams: [OutgoingDatagram]) -> [(ssrc: UInt32, lost: [UInt16])] {
            datagrams.filter { $0.to == publisher.address }.flatMap { d -> [(ssrc: UInt32, lost: [UInt16])] in
                var bytes = Array(d.buffer.readableBytesView)
                guard (try? publisher.srtpIn.unprotectRTCP(&bytes)) != nil, let packets = try? RTCPPacket.parseCompound(bytes) else { return [] }
                return packets.compactMap { if case .nack(let n) = $0 { (n.mediaSSRC, n.lostSequenceNumbers) } else { nil } }
            }
        }

        /// The viewer's video packets among `datagrams`: sequence number as it sees it, and the
        /// publisher's sequence number its payload carries.
        func viewed(_ datagrams: [OutgoingDatagram]) -> [(sequence: UInt16, original: UInt16)] {
            viewer.received(datagrams).compactMap { p in
                guard p.header.payloadType == ClientOffer.videoPayloadType, p.payload.count == 7, p.payload[4] == 0xAB else { return nil }
                return (p.header.sequenceNumber, UInt16(p.payload[5]) | UInt16(p.payload[6]) << 8)
            }
        }
    }

    /// The answer takes a publisher's RTX for VP8 (`apt=` the VP8 payload type), and for a
    /// simulcast publisher the repaired-RID extension; one that offers no RTX gets none.
    @Test func theAnswerTakesThePublishersRTX() throws {
        let world = try PublicationTests.World()
        let plain = try ConnectedPeer.connect(to: world.relay, room: "a", identity: "p", publishing: true, port: 7_110, rtx: true)
        let rtx = ClientOffer.rtxPayloadType, vp8 = ClientOffer.videoPayloadType
        #expect(plain.answerSDP.contains("a=rtpmap:\(rtx) rtx/90000\r\n") && plain.answerSDP.contains("a=fmtp:\(rtx) apt=\(vp8)\r\n"))
        #expect(!plain.answerSDP.contains(RTPStreamID.repairedURI))
        let simulcast = try ConnectedPeer.connect(
            to: world.relay, room: "b", identity: "p", publishing: true, port: 7_111, rtx: true, simulcastRIDs: SimulcastTests.rids)
        #expect(simulcast.answerSDP.contains("a=extmap:\(ClientOffer.repairedRIDExtensionID) \(RTPStreamID.repairedURI)\r\n"))
        #expect(simulcast.answerSDP.contains("a=fmtp:\(rtx) apt=\(vp8)\r\n"))
        let none = try ConnectedPeer.connect(to: world.relay, room: "c", identity: "p", publishing: true, port: 7_112)
        #expect(!none.answerSDP.contains("rtx/90000"))
        // Simulcast RTX without the repaired RID: which layer a resend repairs could not be told,
        // so no RTX (the publisher then resends on each layer itself).
        var offer = ClientOffer(direction: .send, fingerprint: try DTLSCertificate().fingerprint)
        offer.rtx = true
        offer.simulcastRIDs = SimulcastTests.rids
        let withoutRepairedRID = offer.sdp.split(separator: "\r\n").filter { !$0.contains(RTPStreamID.repairedURI) }.joined(separator: "\r\n") + "\r\n"
        let opened = try world.relay.open(
            room: "d", identity: "p", role: .publisher, offer: SessionDescription(parsing: withoutRepairedRID), now: .zero)
        #expect(opened.answer.contains("a=simulcast:recv q;h;f") && !opened.answer.contains("rtx/90000"))
    }

    /// A packet lost on the uplink: the next one makes the relay NACK it at once; the publisher's
    /// RTX packet carries it, and the viewer gets it exactly once, in the gap the relay left in
    /// its sequence numbers. Sent again, or an old packet the relay did not ask for, it goes nowhere.
    @Test func aPacketLostOnTheUplinkIsNACKedAndRepairedFromRTX() throws {
        var setup = try Setup()
        var toViewer: [OutgoingDatagram] = []
        for seq in UInt16(100)...104 { toViewer += try setup.send(seq) }
        #expect(setup.nacks(toViewer).isEmpty)
        // 105 is lost on the way to the relay.
        let after = try setup.send(106)
        let nacks = setup.nacks(after)
        #expect(nacks.count == 1 && nacks.first?.ssrc == setup.publisher.offer.videoSSRC && nacks.first?.lost == [105])
        toViewer += after
        for seq in UInt16(107)...110 { toViewer += try setup.send(seq) }
        let before = setup.viewed(toViewer)
        #expect(before.map(\.original) == [100, 101, 102, 103, 104, 106, 107, 108, 109, 110])
        let gap = try #require(before.first { $0.original == 104 }?.sequence) &+ 1
        #expect(before.first { $0.original == 106 }?.sequence == gap &+ 1)

        let repaired = setup.viewed(try setup.resend(105))
        #expect(repaired.count == 1 && repaired.first?.original == 105 && repaired.first?.sequence == gap)
        // Once is enough: the same RTX again, and an old packet the relay never asked for (what
        // libwebrtc sends as "payload padding" when it probes its path), reach no viewer.
        #expect(setup.viewed(try setup.resend(105)).isEmpty)
        #expect(setup.viewed(try setup.resend(103)).isEmpty)
        // Padding only: nothing to forward either.
        #expect(setup.viewed(try setup.resend(0, payload: [], paddingLength: 200)).isEmpty)
        let totals = setup.world.relay.snapshot().totals
        #expect(totals.recovered == 1 && totals.upstreamNACKed == 1 && totals.nacksOut == 1)
        #expect(setup.world.relay.dropped["rtx-unrequested"] == 2 && setup.world.relay.dropped["rtx-padding"] == 1)
    }

    /// A publisher that resends on its media stream (one without RTX does): the packet that fills
    /// the gap goes on, once.
    @Test func aRetransmissionOnTheMediaStreamFillsTheGapToo() throws {
        var setup = try Setup()
        _ = try setup.send(100)
        _ = try setup.send(102)
        let filled = setup.viewed(try setup.send(101))
        #expect(filled.map(\.original) == [101])
        #expect(setup.world.relay.snapshot().totals.recovered == 1)
    }

    /// A gap that stays open is asked for again on the relay's timer (not more often than
    /// ``NACKGenerator/retryInterval``), until ``NACKGenerator/maximumTries``; a jump too large to
    /// be loss is not asked for at all, and a long gap asks for at most
    /// ``NACKGenerator/maximumMissing`` packets.
    @Test func aGapStillOpenIsAskedForAgainThenGivenUp() throws {
        var setup = try Setup()
        _ = try setup.send(100)
        #expect(setup.nacks(try setup.send(102)).map(\.lost) == [[101]])
        var asked = 1
        for _ in 0..<30 {
            setup.now = setup.now + .milliseconds(100)
            asked += setup.nacks(setup.world.relay.tick(now: setup.now)).filter { $0.lost == [101] }.count
        }
        #expect(asked == NACKGenerator.maximumTries)
        // A jump of 10,000: a restart, not 9,999 losses.
        #expect(setup.nacks(try setup.send(10_102)).isEmpty)
        // A gap of 400: the newest 256 are asked for, in one NACK.
        let long = setup.nacks(try setup.send(10_503))
        #expect(long.count == 1 && long.first?.lost.count == NACKGenerator.maximumMissing && long.first?.lost.last == 10_502)
    }

    /// Simulcast: a packet lost from the 360p layer is NACKed on that layer's SSRC; the RTX packet
    /// naming the layer by repaired RID repairs it for the viewer on that layer. An RTX stream
    /// naming a RID the offer did not have, or a second RTX stream claiming a layer that has one,
    /// is dropped; an RTX packet too short to hold a sequence number is dropped without a trap.
    @Test func simulcastRTXRepairsTheLayerItNames() throws {
        var setup = try SimulcastTests.Setup(viewers: [.medium], rtx: true)
        try setup.run(frames: 5, keyFirst: true)
        let publisher = setup.publisher
        // Layer 1's next packet is lost on the way; the one after shows it.
        let lost = publisher.sequence[1]
        _ = try publisher.frame(1, key: false)
        setup.now = setup.now + .milliseconds(33)
        let out = setup.world.relay.receive(try publisher.frame(1, key: false), from: publisher.peer.address, now: setup.now)
        let nacks = Setup.nacks(publisher.peer, out)
        #expect(nacks.count == 1 && nacks.first?.ssrc == publisher.ssrcs[1] && nacks.first?.lost == [lost])
        let viewer = setup.viewers[0]
        let seen = SimulcastTests.got(viewer, setup.sent + out)
        let gap = try #require(seen.last?.sequence) &- 1

        func rtx(ssrc: UInt32, seq: UInt16, rid: String?, payload: [UInt8]) throws -> [OutgoingDatagram] {
            setup.now = setup.now + .milliseconds(1)
            let bytes = try publisher.peer.rtp(
                ssrc: ssrc, sequence: seq, payloadType: ClientOffer.rtxPayloadType, payload: payload, repairedRID: rid, timestamp: UInt32(lost) * 3_000)
            return setup.world.relay.receive(bytes, from: publisher.peer.address, now: setup.now)
        }
        // The lost frame's payload, as the publisher made it (its picture ID does not matter here).
        let body: [UInt8] = [0x90, 0x80, 0x80, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xA1, UInt8(truncatingIfNeeded: lost)]
        let osn = [UInt8(lost >> 8), UInt8(lost & 0xFF)]
        // Hostile first: an unknown RID, a payload of one byte.
        #expect(SimulcastTests.got(viewer, try rtx(ssrc: 0xBAD0_0001, seq: 1, rid: "x", payload: osn + body)).isEmpty)
        #expect(SimulcastTests.got(viewer, try rtx(ssrc: 0x7777_0001, seq: 1, rid: "h", payload: [0x01])).isEmpty)
        // The layer's RTX stream (its SSRC now tied to "h"), then the real repair.
        let repaired = SimulcastTests.got(viewer, try rtx(ssrc: 0x7777_0001, seq: 2, rid: nil, payload: osn + body))
        #expect(repaired.count == 1 && repaired.first?.layer == 1 && repaired.first?.sequence == gap)
        // A second RTX stream claiming the same layer is not one.
        #expect(SimulcastTests.got(viewer, try rtx(ssrc: 0x7777_0002, seq: 1, rid: "h", payload: osn + body)).isEmpty)
        #expect(setup.world.relay.dropped["rtx-unknown-stream"] == 2)
        #expect(setup.world.relay.dropped["rtx-padding"] == 1)
    }
}
