import Foundation
import Logging
import MediaCrypto
import MediaPipeline
import MediaWire
@testable import Relay
import Testing
import WebRTCClient

/// A rendition's codecs as the relay sees them, recording what they were asked: no threads, no
/// codecs, so a test decides what the rendition "produced".
final class FakeEncoder: RenditionEncoder {
    let captureTimeExtensionID: UInt8? = nil
    private(set) var fed: [(kind: MediaKind, sequenceNumber: UInt16)] = []
    private(set) var keyFrameRequests = 0
    private(set) var stopped = false

    func feed(_ packet: RTPPacket, kind: MediaKind, arrival: MediaTime) -> Bool {
        fed.append((kind, packet.header.sequenceNumber))
        return true
    }
    func requestKeyFrame() { keyFrameRequests += 1 }
    func stop() { stopped = true }
}

/// ``Publication`` and ``Subscription`` through a socket-free ``RelayState``, with peers that did
/// the real ICE and DTLS handshake (the load tool's client) and renditions whose encoder is a
/// ``FakeEncoder``: where a packet, a key-frame request and a NACK go.
@Suite struct PublicationTests {
    final class World {
        let relay: RelayState
        private(set) var encoders: [Quality: [FakeEncoder]] = [:]
        /// When set, starting a rendition fails (a transcoder that cannot start, or no place left).
        var failing = false
        struct CannotStart: Error {}

        init(limits: RelayLimits = RelayLimits(), budget: RenditionBudget? = nil) throws {
            relay = try RelayState(
                certificate: DTLSCertificate(), announceIPs: ["127.0.0.1"], mediaPort: 40_000, limits: limits, logger: Logger(label: "test"),
                renditionBudget: budget)
            relay.makeEncoder = { [unowned self] _, quality, _ in
                if failing { throw CannotStart() }
                let encoder = FakeEncoder()
                encoders[quality, default: []].append(encoder)
                return encoder
            }
        }

        func encoder(_ quality: Quality) throws -> FakeEncoder { try #require(encoders[quality]?.last, "no \(quality) rendition started") }
    }

    /// A VP8-looking payload whose bytes say where it came from.
    static func payload(_ marker: UInt8, _ i: Int) -> [UInt8] { [0x10, 0, 0, 0, marker, UInt8(truncatingIfNeeded: i)] }

    /// A `low` subscriber's NACK names a packet the rendition made: it is resent from the
    /// rendition's cache, not the publisher's (whose packet under the same number differs).
    @Test func aNACKFromALowSubscriberIsServedFromTheRenditionsCache() throws {
        let world = try World()
        let relay = world.relay
        let publisher = try ConnectedPeer.connect(to: relay, room: "r", identity: "p", publishing: true, port: 6_000)
        let viewer = try ConnectedPeer.connect(to: relay, room: "r", identity: "v", publishing: false, port: 6_001, quality: .low)
        let encoder = try world.encoder(.low)
        // The publisher's packets 500–504 go to the encoder (and the source cache), not to the low subscriber.
        for seq in UInt16(500)...504 {
            let out = relay.receive(try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: seq, payload: Self.payload(0xAA, Int(seq))), from: publisher.address, now: .zero)
            #expect(viewer.received(out).isEmpty)
        }
        #expect(encoder.fed.map(\.sequenceNumber) == Array(500...504))
        #expect(encoder.fed.allSatisfy { $0.kind == .video })
        // The rendition produces its own 500–504.
        var output = RenditionOutput()
        output.video = (500...504).map {
            RTPPacket(header: RTPHeader(payloadType: 96, sequenceNumber: UInt16($0), timestamp: UInt32($0) * 3_000, ssrc: 0xC0DE), payload: Self.payload(0xBB, $0))
        }
        let datagrams = relay.renditionOutput(source: publisher.id, quality: .low, output, now: .zero)
        #expect(datagrams.count == 5)
        // The third is lost on the way (SRTP's replay check would refuse it a second time): the
        // subscriber decrypts the others and NACKs the number the lost one's header carried.
        let lost = try #require(datagrams.dropFirst(2).first.flatMap { d in d.buffer.withUnsafeReadableBytes { try? RTPHeaderView($0) } }?.sequenceNumber)
        var arrived = datagrams
        arrived.remove(at: 2)
        let sent = viewer.received(arrived)
        #expect(sent.map(\.payload) == [500, 501, 503, 504].map { Self.payload(0xBB, $0) })
        let videoSSRC = try #require(viewer.answer.videoSSRC)
        #expect(sent.allSatisfy { $0.header.ssrc == videoSSRC })
        let nack = try viewer.rtcp([
            .receiverReport(RTCPReceiverReport(ssrc: 0x5678)),
            .nack(RTCPGenericNACK(senderSSRC: 0x5678, mediaSSRC: videoSSRC, lost: [lost])),
        ])
        let resent = viewer.received(relay.receive(nack, from: viewer.address, now: .milliseconds(10)))
        #expect(resent.count == 1)
        #expect(resent.first?.payload == Self.payload(0xBB, 502), "resent from the rendition's cache")
        #expect(resent.first?.header.sequenceNumber == lost && resent.first?.header.ssrc == videoSSRC)
    }

    /// A viewer just moved from the source to a rendition, before the rendition's next packet
    /// reaches it, NACKs a packet of the source: its number maps to the source's input number,
    /// and the rendition's cache holds a packet under that same number — another stream's picture.
    /// It is not resent (before: it was, under the NACKed number, and the resend made the
    /// rendition the viewer's stream, its numbering restarting from the old packet).
    @Test func aNACKInTheMomentAfterARenditionMoveIsNotAnsweredWithTheOtherStreamsPacket() throws {
        let world = try World()
        let relay = world.relay
        let publisher = try ConnectedPeer.connect(to: relay, room: "r", identity: "p", publishing: true, port: 6_000)
        _ = try ConnectedPeer.connect(to: relay, room: "r", identity: "low", publishing: false, port: 6_001, quality: .low)
        let viewer = try ConnectedPeer.connect(to: relay, room: "r", identity: "v", publishing: false, port: 6_002)
        // The source's 500–504 reach the viewer; the low rendition makes its own 500–504 (for the other viewer).
        var toViewer: [OutgoingDatagram] = []
        for seq in UInt16(500)...504 {
            toViewer += relay.receive(try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: seq, payload: Self.payload(0xAA, Int(seq))), from: publisher.address, now: .zero)
        }
        var output = RenditionOutput()
        output.video = (500...504).map {
            RTPPacket(header: RTPHeader(payloadType: 96, sequenceNumber: UInt16($0), timestamp: UInt32($0) * 3_000, ssrc: 0xC0DE), payload: Self.payload(0xBB, $0))
        }
        _ = relay.renditionOutput(source: publisher.id, quality: .low, output, now: .zero)
        let media = viewer.media(toViewer)
        try #require(media.count == 5)
        let lost = media[2].sequence
        _ = viewer.received((Array(media[..<2]) + Array(media[3...])).map(\.datagram))
        // The viewer moves to low; before the rendition's next packet, it NACKs the lost one.
        _ = try relay.setQuality(id: viewer.id, quality: .low, now: .milliseconds(5))
        let videoSSRC = try #require(viewer.answer.videoSSRC)
        let nack = try viewer.rtcp([
            .receiverReport(RTCPReceiverReport(ssrc: 0x5678)), .nack(RTCPGenericNACK(senderSSRC: 0x5678, mediaSSRC: videoSSRC, lost: [lost])),
        ])
        let resent = viewer.received(relay.receive(nack, from: viewer.address, now: .milliseconds(10)))
        #expect(resent.isEmpty, "resent: \(resent.map(\.payload))")
        // The rendition's next packet still continues the viewer's numbering.
        var next = RenditionOutput()
        next.video = [RTPPacket(header: RTPHeader(payloadType: 96, sequenceNumber: 505, timestamp: 505 * 3_000, ssrc: 0xC0DE), payload: Self.payload(0xBB, 505))]
        let after = viewer.received(relay.renditionOutput(source: publisher.id, quality: .low, next, now: .milliseconds(40)))
        let last = media[4].sequence
        #expect(after.first?.header.sequenceNumber == last &+ 1, "\(after.map(\.header.sequenceNumber)) after \(last)")
    }

    /// Issue 16, item 3: a viewer that offers RTX gets its NACKed packets on the RTX stream the
    /// answer announced (RFC 4588 §4): the RTX SSRC and payload type, sequence numbers of its own,
    /// the original sequence number first in the payload, the original timestamp and payload after it.
    @Test func aViewerThatOffersRTXGetsRetransmissionsOnTheRTXStream() throws {
        let world = try World()
        let relay = world.relay
        let publisher = try ConnectedPeer.connect(to: relay, room: "r", identity: "p", publishing: true, port: 6_000)
        let viewer = try ConnectedPeer.connect(to: relay, room: "r", identity: "v", publishing: false, port: 6_001, rtx: true)
        let videoSSRC = try #require(viewer.answer.videoSSRC)
        // The answer: the RTX payload type for VP8, and its SSRC grouped with the video's.
        #expect(viewer.answerSDP.contains("a=fmtp:\(ClientOffer.rtxPayloadType) apt=\(ClientOffer.videoPayloadType)"))
        let group = try #require(viewer.answerSDP.split(separator: "\r\n").first { $0.hasPrefix("a=ssrc-group:FID \(videoSSRC) ") })
        let rtxSSRC = try #require(group.split(separator: " ").last.flatMap { UInt32($0) })
        var sent: [RTPPacket] = []
        for seq in UInt16(300)...304 {
            let out = relay.receive(try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: seq, payload: Self.payload(0xAA, Int(seq))), from: publisher.address, now: .zero)
            sent += viewer.received(out)
        }
        #expect(sent.count == 5 && sent.allSatisfy { $0.header.ssrc == videoSSRC })
        let lost = sent[2].header
        var resent: [RTPPacket] = []
        for attempt in 0..<2 {
            let nack = try viewer.rtcp([
                .receiverReport(RTCPReceiverReport(ssrc: 0x5678)),
                .nack(RTCPGenericNACK(senderSSRC: 0x5678, mediaSSRC: videoSSRC, lost: [lost.sequenceNumber, sent[3].header.sequenceNumber])),
            ])
            resent += viewer.received(relay.receive(nack, from: viewer.address, now: .milliseconds(Double(10 + attempt * 1_000))))
        }
        #expect(resent.count == 4)
        #expect(resent.allSatisfy { $0.header.ssrc == rtxSSRC && $0.header.payloadType == ClientOffer.rtxPayloadType })
        // The RTX stream's own numbers, one after another.
        #expect(zip(resent, resent.dropFirst()).allSatisfy { $1.header.sequenceNumber == $0.header.sequenceNumber &+ 1 })
        let first = try #require(resent.first)
        #expect(Array(first.payload.prefix(2)) == [UInt8(lost.sequenceNumber >> 8), UInt8(lost.sequenceNumber & 0xFF)])
        #expect(Array(first.payload.dropFirst(2)) == Self.payload(0xAA, 302))
        #expect(first.header.timestamp == lost.timestamp && first.header.marker == lost.marker)
        // A viewer that does not offer RTX gets them on its video stream, as first sent.
        let plain = try ConnectedPeer.connect(to: relay, room: "r", identity: "w", publishing: false, port: 6_002)
        #expect(!plain.answerSDP.contains("rtx"))
    }

    /// Issue 14, item 3: while the worker's loop is saturated (``LoopLoad``), an adaptive viewer's
    /// lossy reports describe the relay, not its path: it stays on the source and the reports are
    /// counted as held; once the loop has room, the same reports move it to `low`.
    @Test func adaptationHoldsWhileTheWorkersLoopIsSaturated() throws {
        let world = try World()
        let relay = world.relay
        let publisher = try ConnectedPeer.connect(to: relay, room: "r", identity: "p", publishing: true, port: 6_000)
        let viewer = try ConnectedPeer.connect(to: relay, room: "r", identity: "v", publishing: false, port: 6_001, adaptive: true)
        let videoSSRC = try #require(viewer.answer.videoSSRC)
        var sequence: UInt16 = 100
        var now = MediaTime.zero
        /// A second of video to the viewer with the loop busy for 95% (or 5%) of it, then the
        /// viewer's report: half of it lost.
        func second(busy: Bool) throws {
            for _ in 0..<30 {
                let packet = try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: sequence, payload: Self.payload(0xAA, Int(sequence)))
                _ = relay.receive(packet, from: publisher.address, now: now)
                sequence &+= 1
            }
            relay.loopLoad.worked(.milliseconds(busy ? 950 : 50))
            now = now + .milliseconds(1_000)
            _ = relay.tick(now: now)
            let block = RTCPReportBlock(
                ssrc: videoSSRC, fractionLost: 128, cumulativeLost: 15, extendedHighestSequence: UInt32(sequence), jitter: 0,
                lastSenderReport: 0, delaySinceLastSenderReport: 0)
            _ = relay.receive(try viewer.rtcp([.receiverReport(RTCPReceiverReport(ssrc: 0x5678, reports: [block]))]), from: viewer.address, now: now)
        }
        _ = relay.tick(now: now)  // the load's first window starts
        for _ in 0..<6 { try second(busy: true) }
        #expect(relay.snapshot().viewers[.source] == 1, "moved while the relay was the bottleneck")
        #expect(world.encoders[.low] == nil)
        #expect(relay.snapshot().adaptationHeld == 6)
        #expect(relay.snapshot().loopBusy >= LoopLoad.saturation)
        for _ in 0..<3 { try second(busy: false) }
        #expect(relay.snapshot().viewers[.low] == 1, "the same reports move it once the loop has room")
        #expect(relay.snapshot().adaptationHeld == 6)
    }

    /// A PLI from a rendition's subscriber asks that rendition's encoder for a key frame and sends
    /// the publisher nothing; a source subscriber's goes to the publisher.
    @Test func aPLIFromARenditionSubscriberGoesToItsEncoder() throws {
        let world = try World()
        let relay = world.relay
        let publisher = try ConnectedPeer.connect(to: relay, room: "r", identity: "p", publishing: true, port: 6_100)
        _ = relay.receive(try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: 1), from: publisher.address, now: .zero)
        let low = try ConnectedPeer.connect(to: relay, room: "r", identity: "low", publishing: false, port: 6_101, quality: .low)
        let source = try ConnectedPeer.connect(to: relay, room: "r", identity: "src", publishing: false, port: 6_102)
        let encoder = try world.encoder(.low)
        let connecting = encoder.keyFrameRequests
        #expect(connecting == 1, "a new subscriber of a rendition starts with the encoder's key frame")

        func pli(from peer: ConnectedPeer) throws -> [UInt8] {
            let ssrc = try #require(peer.answer.videoSSRC)
            return try peer.rtcp([
                .receiverReport(RTCPReceiverReport(ssrc: 0x1111)), .pictureLossIndication(RTCPPictureLossIndication(senderSSRC: 0x1111, mediaSSRC: ssrc)),
            ])
        }
        let second = MediaTime(microseconds: 1_000_000)
        let fromLow = relay.receive(try pli(from: low), from: low.address, now: second)
        #expect(encoder.keyFrameRequests == connecting + 1)
        #expect(fromLow.isEmpty, "nothing to the publisher: \(fromLow.map(\.to))")
        let fromSource = relay.receive(try pli(from: source), from: source.address, now: second)
        #expect(fromSource.count == 1 && fromSource.first?.to == publisher.address)
        #expect(encoder.keyFrameRequests == connecting + 1)
        // The publisher is asked at most once per interval, however many subscribers ask.
        #expect(relay.receive(try pli(from: source), from: source.address, now: second + .milliseconds(10)).isEmpty)
    }

    /// A broadcast's subscribers follow its next publisher: the same outgoing stream (SSRC), its
    /// sequence continuing, now carrying the new publisher's packets; and the rendition of the
    /// publisher that left is stopped.
    @Test func subscribersFollowTheNextPublisher() throws {
        let world = try World()
        let relay = world.relay
        let first = try ConnectedPeer.connect(to: relay, room: "live", identity: "merchant", publishing: true, port: 6_200)
        let viewer = try ConnectedPeer.connect(to: relay, room: "live", identity: "v", publishing: false, port: 6_201)
        let low = try ConnectedPeer.connect(to: relay, room: "live", identity: "low", publishing: false, port: 6_202, quality: .low)
        let lowEncoder = try world.encoder(.low)
        var before: [RTPPacket] = []
        for seq in UInt16(10)...12 {
            before += viewer.received(relay.receive(try first.rtp(ssrc: first.offer.videoSSRC, sequence: seq, payload: Self.payload(1, Int(seq))), from: first.address, now: .zero))
        }
        #expect(before.count == 3)
        #expect(relay.close(id: first.id, reason: "test"))
        #expect(lowEncoder.stopped, "the rendition of a publisher that left stops")
        #expect(relay.statistics().first { $0.id == viewer.id }?.watching == first.id)

        let next = try ConnectedPeer.connect(to: relay, room: "live", identity: "merchant", publishing: true, port: 6_203)
        #expect(relay.statistics().first { $0.id == viewer.id }?.watching == next.id)
        var after: [RTPPacket] = []
        for seq in UInt16(9_000)...9_002 {
            after += viewer.received(relay.receive(try next.rtp(ssrc: next.offer.videoSSRC, sequence: seq, payload: Self.payload(2, Int(seq % 256))), from: next.address, now: .milliseconds(500)))
        }
        #expect(after.map(\.payload) == (9_000...9_002).map { Self.payload(2, $0 % 256) })
        #expect(Set((before + after).map(\.header.ssrc)).count == 1, "one outgoing stream throughout")
        #expect(after.first?.header.sequenceNumber == (before.last?.header.sequenceNumber).map { $0 &+ 1 }, "the sequence continues")
        // The low subscriber followed too, to a new rendition of the new publisher.
        let nextLow = try world.encoder(.low)
        #expect(nextLow !== lowEncoder && !nextLow.stopped)
        #expect(nextLow.fed.map(\.sequenceNumber) == [9_000, 9_001, 9_002])
        _ = low
    }

    /// A subscriber whose rendition cannot start again is not stranded (attacker's review): a
    /// move that fails, and whose way back fails too (the place it freed was taken meanwhile),
    /// leaves it on the source, receiving.
    @Test func aSubscriberWhoseRenditionCannotRestartFallsBackToTheSource() throws {
        let world = try World()
        let relay = world.relay
        let publisher = try ConnectedPeer.connect(to: relay, room: "r", identity: "p", publishing: true, port: 6_400)
        let viewer = try ConnectedPeer.connect(to: relay, room: "r", identity: "v", publishing: false, port: 6_401, quality: .low)
        world.failing = true
        #expect(throws: RelayError.self) { try relay.setQuality(id: viewer.id, quality: .medium, now: .milliseconds(2_000)) }
        #expect(relay.statistics().first { $0.id == viewer.id }?.quality == .source)
        let out = relay.receive(try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: 7, payload: Self.payload(9, 7)), from: publisher.address, now: .milliseconds(2_100))
        #expect(viewer.received(out).map(\.payload) == [Self.payload(9, 7)], "the subscriber still receives")
        // And a broadcast's next publisher takes a low subscriber on the source when no rendition can start.
        world.failing = false
        #expect(throws: Never.self) { try relay.setQuality(id: viewer.id, quality: .low, now: .milliseconds(4_000)) }
        world.failing = true
        #expect(relay.close(id: publisher.id, reason: "test"))
        let next = try ConnectedPeer.connect(to: relay, room: "r", identity: "p", publishing: true, port: 6_402)
        let after = relay.receive(try next.rtp(ssrc: next.offer.videoSSRC, sequence: 1, payload: Self.payload(8, 1)), from: next.address, now: .milliseconds(4_500))
        #expect(viewer.received(after).map(\.payload) == [Self.payload(8, 1)])
        #expect(relay.dropped["subscription-fell-back-to-source"] == 2)
    }

    /// Workers starting renditions at the same moment cannot together pass the relay's limit: a
    /// place is taken before the codecs are built (attacker's review).
    @Test func renditionPlacesAreTakenAtomically() async throws {
        let budget = RenditionBudget()
        let taken = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<64 {
                group.addTask { (0..<50).filter { i in budget.reserve(room: "r\(i % 5)", limit: 8, roomLimit: 2) == nil }.count }
            }
            return await group.reduce(0, +)
        }
        #expect(taken == 8 && budget.running == 8)
        #expect((0..<5).map { budget.running(in: "r\($0)") }.allSatisfy { $0 <= 2 })
        let full = try #require((0..<5).first { budget.running(in: "r\($0)") == 2 })
        #expect(budget.reserve(room: "r\(full)", limit: 9, roomLimit: 2) == .room)
        budget.release(room: "r\(full)")
        #expect(budget.reserve(room: "r\(full)", limit: 8, roomLimit: 2) == nil && budget.reserve(room: "other", limit: 8, roomLimit: 2) == .relay)
    }

    /// A rendition runs while it has subscribers: a second `low` subscriber shares it; the last
    /// one to leave (or move away) stops it.
    @Test func aRenditionIsSharedAndStopsWithItsLastSubscriber() throws {
        let world = try World()
        let relay = world.relay
        _ = try ConnectedPeer.connect(to: relay, room: "r", identity: "p", publishing: true, port: 6_300)
        let a = try ConnectedPeer.connect(to: relay, room: "r", identity: "a", publishing: false, port: 6_301, quality: .low)
        let b = try ConnectedPeer.connect(to: relay, room: "r", identity: "b", publishing: false, port: 6_302, quality: .low)
        let encoder = try world.encoder(.low)
        #expect(relay.renditionCount == 1)
        #expect(relay.close(id: a.id, reason: "test"))
        #expect(!encoder.stopped)
        // b moves to the source: the rendition has no one left.
        _ = try relay.setQuality(id: b.id, quality: .source, now: .milliseconds(2_000))
        #expect(encoder.stopped && relay.renditionCount == 0)
        #expect(relay.statistics().first { $0.id == b.id }?.quality == .source)
    }
}
