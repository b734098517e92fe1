import Foundation
import Logging
import MediaCrypto
import MediaPipeline
import MediaWire
@testable import Relay
import ShowroomTestSupport
import Testing
import WebRTCClient

/// What a peer that completed the handshake can reach, which a fuzzer of raw datagrams cannot
/// (everything after SRTP authentication): RTP with any header a publisher chooses, and RTCP of
/// every kind from a viewer and a publisher — valid packets with hostile values, and damaged
/// ones — all properly encrypted. Nothing may trap; the relay keeps forwarding.
@Suite struct AuthenticatedFuzzTests {
    @Test func hostileButAuthenticatedTrafficNeverTraps() throws {
        let relay = try RelayQuotaTests.relay()
        // The publisher negotiated RTX, so the relay NACKs its random sequence numbers' gaps
        // (`hostileRTXFillsOnlyTheGapsTheRelayAskedFor` fuzzes the RTX stream itself).
        let publisher = try ConnectedPeer.connect(to: relay, room: "r", identity: "p", publishing: true, port: 6_000, rtx: true)
        let viewer = try ConnectedPeer.connect(to: relay, room: "r", identity: "v", publishing: false, port: 6_001)
        let viewerSSRCs = [viewer.answer.audioSSRC, viewer.answer.videoSSRC].compactMap { $0 }
        #expect(viewerSSRCs.count == 2)
        let publisherSSRCs = [publisher.offer.audioSSRC, publisher.offer.videoSSRC]
        var rng = SeededRandom(seed: 0xF022)
        var sent = 0
        for i in 0..<60_000 {
            let now = MediaTime(microseconds: Int64(i) * 400)  // 24 s in all: within ICE consent (30 s)
            if i % 3 != 2 {
                // RTP from the publisher: its two SSRCs, any sequence number, timestamp, marker,
                // payload type, extensions (abs-capture-time under a random id among them).
                var extensions: RTPHeaderExtensions?
                if Bool.random(using: &rng) {
                    extensions = RTPHeaderExtensions(elements: (0..<Int.random(in: 1...3, using: &rng)).map { _ in
                        RTPHeaderExtension(id: UInt8.random(in: 1...14, using: &rng), data: rng.bytes(Int.random(in: 1...16, using: &rng)))
                    })
                }
                var bytes = RTPPacket(
                    header: RTPHeader(
                        marker: Bool.random(using: &rng), payloadType: [ClientOffer.audioPayloadType, ClientOffer.videoPayloadType, UInt8.random(in: 0...127, using: &rng)][i % 3],
                        sequenceNumber: UInt16.random(in: 0...UInt16.max, using: &rng), timestamp: UInt32.random(in: 0...UInt32.max, using: &rng),
                        ssrc: publisherSSRCs[i % 2], extensions: extensions),
                    payload: rng.bytes(Int.random(in: 0...1_200, using: &rng))
                ).serialized()
                if i % 50 == 0 { bytes = rng.mutate(bytes) }
                try? publisher.srtp.protectRTP(&bytes)
                _ = relay.receive(bytes, from: publisher.address, now: now)
            } else {
                // RTCP from the viewer about what it gets (or from the publisher), valid then damaged.
                let mediaSSRC = viewerSSRCs.randomElement(using: &rng) ?? 0
                let block = RTCPReportBlock(
                    ssrc: mediaSSRC, fractionLost: UInt8.random(in: 0...255, using: &rng), cumulativeLost: Int32.random(in: Int32.min...Int32.max, using: &rng),
                    extendedHighestSequence: UInt32.random(in: 0...UInt32.max, using: &rng), jitter: UInt32.random(in: 0...UInt32.max, using: &rng),
                    lastSenderReport: UInt32.random(in: 0...UInt32.max, using: &rng), delaySinceLastSenderReport: UInt32.random(in: 0...UInt32.max, using: &rng))
                let lost = (0..<Int.random(in: 1...300, using: &rng)).map { _ in UInt16.random(in: 0...UInt16.max, using: &rng) }
                let packets: [RTCPPacket] = [
                    .receiverReport(RTCPReceiverReport(ssrc: 7, reports: [block])),
                    [
                        RTCPPacket.nack(RTCPGenericNACK(senderSSRC: 7, mediaSSRC: mediaSSRC, lost: lost)),
                        .pictureLossIndication(RTCPPictureLossIndication(senderSSRC: 7, mediaSSRC: mediaSSRC)),
                        .remb(RTCPREMB(senderSSRC: 7, bitrate: UInt64.random(in: 0...UInt64.max, using: &rng), ssrcs: [mediaSSRC])),
                        .fullIntraRequest(RTCPFullIntraRequest(senderSSRC: 7, entries: [.init(ssrc: mediaSSRC, sequenceNumber: 1)])),
                        .senderReport(
                            RTCPSenderReport(
                                ssrc: publisherSSRCs[0], ntpTimestamp: UInt64.random(in: 0...UInt64.max, using: &rng), rtpTimestamp: 0, packetCount: 0,
                                octetCount: 0, reports: [block])),
                    ].randomElement(using: &rng)!,
                ]
                var bytes = RTCPPacket.serializeCompound(packets)
                if i % 7 == 0 { bytes = rng.mutate(bytes) }
                let from = i % 11 == 0 ? publisher : viewer
                try? from.srtp.protectRTCP(&bytes)
                _ = relay.receive(bytes, from: from.address, now: now)
            }
            if i % 20 == 0 { _ = relay.tick(now: now) }
            sent += 1
        }
        #expect(sent == 60_000)
        // Still forwarding: a plain run of packets from the publisher reaches the viewer (a run past
        // half the sequence space, so that SRTP's replay window, left anywhere by the random
        // sequence numbers above, takes it in).
        let before = relay.statistics().first { !$0.publishing }?.streams[.video]?.packets ?? 0
        #expect(before > 1_000, "forwarded during the run")
        for seq in 0..<33_000 {
            var bytes = RTPPacket(
                header: RTPHeader(payloadType: ClientOffer.videoPayloadType, sequenceNumber: UInt16(seq), timestamp: UInt32(seq) * 3_000, ssrc: publisherSSRCs[1]),
                payload: [0x10, 0, 0, 0]
            ).serialized()
            try publisher.srtp.protectRTP(&bytes)
            _ = relay.receive(bytes, from: publisher.address, now: MediaTime(microseconds: 24_000_000))
        }
        #expect(relay.sessionCount() == 2)
        #expect((relay.statistics().first { !$0.publishing }?.streams[.video]?.packets ?? 0) > before + 1_000, "\(relay.dropped)")
    }

    /// A publisher's RTX stream, hostile: 100 packets of its video lost (every tenth of 1,000),
    /// then 6,000 RTX packets in order (so SRTP takes each) with any original sequence number —
    /// half of them one of the lost ones —, payloads shorter than a sequence number, padding only,
    /// padding counts that lie, stray extensions. Nothing traps; the viewer gets at most the 100
    /// lost packets back (each once), some of them; the rest is counted as dropped.
    @Test func hostileRTXFillsOnlyTheGapsTheRelayAskedFor() throws {
        let relay = try RelayQuotaTests.relay()
        let publisher = try ConnectedPeer.connect(to: relay, room: "r", identity: "p", publishing: true, port: 6_200, rtx: true)
        _ = try ConnectedPeer.connect(to: relay, room: "r", identity: "v", publishing: false, port: 6_201)
        var rng = SeededRandom(seed: 0x47A)
        func forwarded() -> Int { relay.statistics().first { !$0.publishing }?.streams[.video]?.packets ?? 0 }
        for seq in UInt16(0)..<1_000 where seq % 10 != 5 {
            let bytes = try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: seq, payload: [0x10, 0, 0, 0, 1, 2, 3])
            _ = relay.receive(bytes, from: publisher.address, now: MediaTime(microseconds: Int64(seq) * 1_000))
        }
        let before = forwarded()
        #expect(before == 900)
        for n in 0..<6_000 {
            var extensions: RTPHeaderExtensions?
            if Bool.random(using: &rng) {
                extensions = RTPHeaderExtensions(elements: [
                    RTPHeaderExtension(id: UInt8.random(in: 1...14, using: &rng), data: rng.bytes(Int.random(in: 1...16, using: &rng)))
                ])
            }
            let original = Bool.random(using: &rng) ? UInt16(Int.random(in: 0..<100, using: &rng) * 10 + 5) : UInt16.random(in: 0...UInt16.max, using: &rng)
            let body = Int.random(in: 0...4, using: &rng) == 0 ? rng.bytes(Int.random(in: 0...2, using: &rng)) : [UInt8(original >> 8), UInt8(original & 0xFF)] + rng.bytes(Int.random(in: 1...1_200, using: &rng))
            var bytes = RTPPacket(
                header: RTPHeader(
                    marker: Bool.random(using: &rng), payloadType: ClientOffer.rtxPayloadType, sequenceNumber: UInt16(n),
                    timestamp: UInt32.random(in: 0...UInt32.max, using: &rng), ssrc: publisher.offer.rtxSSRC, extensions: extensions),
                payload: body, paddingLength: UInt8.random(in: 0...3, using: &rng)
            ).serialized()
            if n % 5 == 0, let last = bytes.indices.last { bytes[last] = UInt8.random(in: 0...255, using: &rng) }  // a padding count that lies
            try publisher.srtp.protectRTP(&bytes)
            _ = relay.receive(bytes, from: publisher.address, now: MediaTime(microseconds: 1_000_000 + Int64(n) * 50))
        }
        let repaired = forwarded() - before
        let dropped = relay.dropped
        print("hostile RTX: \(repaired) gaps filled; dropped \(dropped)")
        #expect(repaired > 0 && repaired <= 100, "\(repaired) forwarded from RTX")
        #expect(relay.snapshot().totals.recovered == repaired)
        #expect((dropped["rtx-unrequested"] ?? 0) > 0 && (dropped["rtx-padding"] ?? 0) > 0 && dropped["ssrc-quota"] == nil, "\(dropped)")
    }

    /// Found by the relay fuzzer: one SRTCP datagram of generic NACKs — 16,000 entries, each
    /// naming 17 packets — made the relay look up 272,000 sequence numbers on its loop (0.1–0.3 s).
    /// A viewer's NACKs are read up to ``RelayState/maximumNACKEntries`` entries a datagram, and
    /// a datagram larger than any real one is not read at all.
    @Test func aNACKFloodCostsBoundedWork() throws {
        let relay = try RelayQuotaTests.relay()
        let publisher = try ConnectedPeer.connect(to: relay, room: "r", identity: "p", publishing: true, port: 6_100)
        let viewer = try ConnectedPeer.connect(to: relay, room: "r", identity: "v", publishing: false, port: 6_101)
        for seq in UInt16(0)..<300 {
            var bytes = RTPPacket(
                header: RTPHeader(payloadType: ClientOffer.videoPayloadType, sequenceNumber: seq, timestamp: UInt32(seq) * 3_000, ssrc: publisher.offer.videoSSRC),
                payload: [0x10, 0, 0, 0] + Array(repeating: 7, count: 1_000)
            ).serialized()
            try publisher.srtp.protectRTP(&bytes)
            _ = relay.receive(bytes, from: publisher.address, now: .zero)
        }
        let video = try #require(viewer.answer.videoSSRC)
        // Within a real datagram's size: 120 entries, each all 17 packets.
        let entries = (0..<120).map { RTCPGenericNACK.Entry(packetID: UInt16($0 * 17), lostBitmask: 0xFFFF) }
        var bytes = RTCPPacket.serializeCompound([
            .receiverReport(RTCPReceiverReport(ssrc: 7)), .nack(RTCPGenericNACK(senderSSRC: 7, mediaSSRC: video, entries: entries)),
        ])
        try viewer.srtp.protectRTCP(&bytes)
        #expect(bytes.count < RelayState.maximumDatagram)
        let out = relay.receive(bytes, from: viewer.address, now: .milliseconds(100))
        let considered = relay.statistics().first { !$0.publishing }?.nackedPackets ?? 0
        #expect(considered == RelayState.maximumNACKEntries * 17, "\(considered) NACKed packets read of 2,040")
        #expect(relay.dropped["nack-entries-over-limit"] == 1)
        #expect(!out.isEmpty, "the first entries are answered")
        // The fuzzer's 64 KB datagram is not read.
        let huge = (0..<16_000).map { RTCPGenericNACK.Entry(packetID: UInt16(truncatingIfNeeded: $0), lostBitmask: 0xFFFF) }
        var flood = RTCPPacket.serializeCompound([.nack(RTCPGenericNACK(senderSSRC: 7, mediaSSRC: video, entries: huge))])
        try viewer.srtp.protectRTCP(&flood)
        #expect(relay.receive(flood, from: viewer.address, now: .milliseconds(200)).isEmpty)
        #expect(relay.dropped["oversize"] == 1)
    }
}
