import MediaPipeline
import MediaWire
@testable import Relay
import Testing

/// Transport-wide congestion control's wire and bookkeeping (issue 16, item 4): the sequence
/// number written into a viewer's packets beside the capture time, its negotiation, and the send
/// history that turns a viewer's feedback into the estimator's packets — hostile feedback included.
@Suite struct TransportWideSendHistoryTests {
    /// Both extensions in one header, in the one-byte and the two-byte form, read back by the
    /// full parser and in place.
    @Test(arguments: [(UInt8(3), UInt8(5)), (14, 1), (200, 7), (7, 255)])
    func aTransportSequenceNumberIsWrittenBesideTheCaptureTime(captureID: UInt8, transportID: UInt8) throws {
        let capture = AbsoluteCaptureTime(captureTimestamp: 0x0102_0304_0506_0708, estimatedCaptureClockOffset: captureID == 14 ? -3 : nil)
        for withCapture in [true, false] {
            var header = [UInt8](repeating: 0xEE, count: RTPHeaderView.maximumWrittenLength)
            let length = header.withUnsafeMutableBytes {
                RTPHeaderView.write(
                    into: $0, marker: false, padding: false, payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3,
                    capture: withCapture ? (captureID, capture) : nil, transportSequence: (transportID, 0xBEEF))
            }
            #expect(length > 12 && length % 4 == 0 && length <= RTPHeaderView.maximumWrittenLength)
            let bytes = Array(header.prefix(length)) + [9, 9]
            let packet = try RTPPacket(parsing: bytes)
            #expect(packet.header.extensions?[transportID] == [0xBE, 0xEF])
            #expect(packet.payload == [9, 9])
            #expect(bytes.withUnsafeBytes { TransportSequenceNumber.read(inPacket: $0, id: transportID) } == 0xBEEF)
            #expect(AbsoluteCaptureTime(in: packet.header, id: captureID) == (withCapture ? capture : nil))
        }
    }

    /// A viewer that offers the extension gets it and `transport-cc` in the answer, and so does a
    /// publisher when the answerer is told to; one that does not offer it does not.
    @Test func negotiatedWithPeersThatOfferIt() throws {
        var answerer = answerer
        answerer.publisherTransportWideCC = true
        let tracks = [
            OutgoingTrack(kind: .audio, ssrc: 1, streamID: "s", trackID: "a"), OutgoingTrack(kind: .video, ssrc: 2, streamID: "s", trackID: "v"),
        ]
        for (fixture, role) in [("aiortc-viewer-offer.sdp", SDPAnswerer.Role.viewer), ("aiortc-publisher-offer.sdp", .publisher)] {
            var o = try offer(fixture)
            for i in o.media.indices { o.media[i].attributes.append(.init("extmap", "9 \(TransportSequenceNumber.uri)")) }
            let negotiated = try answerer.answer(o, role: role, tracks: role == .viewer ? tracks : [])
            #expect(negotiated.media.allSatisfy { $0.transportSequenceExtensionID == 9 })
            let text = negotiated.answer.serialized()
            #expect(text.contains("a=extmap:9 \(TransportSequenceNumber.uri)"))
            #expect(text.contains("transport-cc"))
            let plain = try answerer.answer(try offer(fixture), role: role, tracks: role == .viewer ? tracks : [])
            #expect(plain.media.allSatisfy { $0.transportSequenceExtensionID == nil })
            #expect(!plain.answer.serialized().contains("transport-cc"))
        }
        // By default, not with publishers.
        var publishing = try offer("aiortc-publisher-offer.sdp")
        for i in publishing.media.indices { publishing.media[i].attributes.append(.init("extmap", "9 \(TransportSequenceNumber.uri)")) }
        answerer.publisherTransportWideCC = false
        #expect(try answerer.answer(publishing, role: .publisher).media.allSatisfy { $0.transportSequenceExtensionID == nil })
    }

    /// Review: an id of 0 (padding in the two-byte form) or one another extension already has is
    /// not negotiated; a session whose sections disagree on the id numbers nothing.
    @Test func invalidOrCollidingIDsAreNotNegotiated() throws {
        let tracks = [
            OutgoingTrack(kind: .audio, ssrc: 1, streamID: "s", trackID: "a"), OutgoingTrack(kind: .video, ssrc: 2, streamID: "s", trackID: "v"),
        ]
        for id in [0, 1, 7] as [UInt8] {  // 1 is the offer's mid; 7 its capture time (added below)
            var o = try offer("aiortc-viewer-offer.sdp")
            for i in o.media.indices {
                o.media[i].attributes.append(.init("extmap", "7 \(AbsoluteCaptureTime.uri)"))
                o.media[i].attributes.append(.init("extmap", "\(id) \(TransportSequenceNumber.uri)"))
            }
            let negotiated = try answerer.answer(o, role: .viewer, tracks: tracks)
            #expect(negotiated.media.allSatisfy { $0.transportSequenceExtensionID == nil }, "id \(id)")
            #expect(!negotiated.answer.serialized().contains("transport-cc"))
        }
        var o = try offer("aiortc-viewer-offer.sdp")
        for (i, id) in zip(o.media.indices, [9, 10] as [UInt8]) { o.media[i].attributes.append(.init("extmap", "\(id) \(TransportSequenceNumber.uri)")) }
        let disagreeing = try answerer.answer(o, role: .viewer, tracks: tracks)
        #expect(NegotiatedMedia.transportSequenceExtensionID(of: disagreeing.media) == nil)
    }

    /// Review: a stream whose negotiated ids include one above 14 keeps the two-byte form on every
    /// packet, with or without the capture time (mixing forms needs `extmap-allow-mixed`).
    @Test func oneExtensionFormPerStream() throws {
        for capture in [nil, AbsoluteCaptureTime(captureTimestamp: 1)] as [AbsoluteCaptureTime?] {
            var header = [UInt8](repeating: 0, count: RTPHeaderView.maximumWrittenLength)
            let length = header.withUnsafeMutableBytes {
                RTPHeaderView.write(
                    into: $0, marker: false, padding: false, payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3,
                    capture: capture.map { (20, $0) }, transportSequence: (3, 77), twoByteForm: true)
            }
            #expect(header[12] == 0x10 && header[13] == 0x00, "profile \(header[12]) \(header[13])")
            let packet = try RTPPacket(parsing: Array(header.prefix(length)))
            #expect(packet.header.extensions?[3] == [0, 77])
        }
    }

    /// Review: a compound packet's transport-wide feedback reports on at most 4,096 packets in all
    /// (80 feedbacks of 24 bytes claiming 4,096 each took 1 ms to parse).
    @Test func aCompoundClaimsAtMost4096Statuses() throws {
        let one = TransportWideFeedback(
            senderSSRC: 1, mediaSSRC: 2, baseSequence: 0, referenceTime: 0, feedbackCount: 0,
            packets: Array(repeating: .lost, count: TransportWideFeedback.maximumPacketStatusCount))
        #expect(try RTCPPacket.parseCompound(RTCPPacket.serializeCompound([.transportFeedback(one)])).count == 1)
        let twice = RTCPPacket.serializeCompound([.transportFeedback(one), .transportFeedback(one)])
        #expect((try? RTCPPacket.parseCompound(twice)) == nil, "two feedbacks of 4,096 in one compound were taken")
        var half = one
        half.packets = Array(one.packets.prefix(2_048))
        #expect(try RTCPPacket.parseCompound(RTCPPacket.serializeCompound([.transportFeedback(half), .transportFeedback(half)])).count == 2)
    }

    static func send(_ history: inout TransportWideSendHistory, count: Int, from start: MediaTime = .zero) -> [UInt16] {
        (0..<count).map { i in
            let n = history.number()
            history.sent(n, bytes: 1_000 + i, at: start + .milliseconds(Double(i)))
            return n
        }
    }

    /// Arrivals are the reference time plus the deltas so far; each packet's send time and size
    /// come back from the history.
    @Test func feedbackBecomesSentAndArrivedPackets() throws {
        var history = TransportWideSendHistory()
        let numbers = Self.send(&history, count: 4)
        #expect(numbers == [1, 2, 3, 4])
        let fb = TransportWideFeedback(
            senderSSRC: 1, mediaSSRC: 2, baseSequence: 1, referenceTime: 10, feedbackCount: 0,
            packets: [.received(delta: 4), .lost, .received(delta: 8), .received(delta: -4)])
        let packets = history.packets(for: fb)
        #expect(packets.map(\.sent) == [.zero, .milliseconds(1), .milliseconds(2), .milliseconds(3)])
        #expect(packets.map(\.bytes) == [1_000, 1_001, 1_002, 1_003])
        #expect(packets.map(\.arrived) == [MediaTime(microseconds: 641_000), nil, MediaTime(microseconds: 643_000), MediaTime(microseconds: 642_000)])
    }

    /// A packet reported lost and then received (reordered) comes back once more, marked, so that
    /// its loss is taken back; anything else comes once. Numbers never sent, numbers overwritten
    /// since (the ring holds 1,024), and the same feedback again give nothing.
    @Test func eachPacketIsReportedOnceAndHostileFeedbackGivesNothing() throws {
        var history = TransportWideSendHistory()
        _ = Self.send(&history, count: 10)
        let early = TransportWideFeedback(
            senderSSRC: 1, mediaSSRC: 2, baseSequence: 1, referenceTime: 0, feedbackCount: 0, packets: [.received(delta: 1), .lost, .received(delta: 1)])
        #expect(history.packets(for: early).count == 3)
        #expect(history.packets(for: early).isEmpty, "the same feedback twice")
        let late = TransportWideFeedback(
            senderSSRC: 1, mediaSSRC: 2, baseSequence: 2, referenceTime: 0, feedbackCount: 1, packets: [.received(delta: 20), .received(delta: 1)])
        let again = history.packets(for: late)
        #expect(again.count == 1 && again[0].arrived != nil, "a packet reported lost and then received comes again, received")
        // Never sent: numbers 11 on; the whole 16-bit space claimed lost.
        let ahead = TransportWideFeedback(
            senderSSRC: 1, mediaSSRC: 2, baseSequence: 11, referenceTime: 0, feedbackCount: 2,
            packets: Array(repeating: .lost, count: TransportWideFeedback.maximumPacketStatusCount))
        #expect(history.packets(for: ahead).isEmpty)
        // 1,024 more sent: number 4's slot now holds 1,028.
        _ = Self.send(&history, count: TransportWideSendHistory.capacity)
        let stale = TransportWideFeedback(
            senderSSRC: 1, mediaSSRC: 2, baseSequence: 4, referenceTime: 0, feedbackCount: 3, packets: [.received(delta: 1)])
        #expect(history.packets(for: stale).isEmpty)
        // Extreme times parse into bounded arrivals (the estimator bounds what it takes).
        let extreme = TransportWideFeedback(
            senderSSRC: 1, mediaSSRC: 2, baseSequence: 1_030, referenceTime: -(1 << 23), feedbackCount: 4,
            packets: [.received(delta: .min), .received(delta: .max)])
        let odd = history.packets(for: extreme)
        #expect(odd.count == 2)
        var estimator = DelayBasedBandwidthEstimator(start: 1_000_000)
        estimator.feedback(odd, rtt: .milliseconds(50), now: .milliseconds(2_000))
        #expect(estimator.estimate > 0)
    }

    /// Numbers wrap at 65,535 and carry on.
    @Test func numbersWrap() {
        var history = TransportWideSendHistory()
        for _ in 0..<65_534 { _ = history.number() }
        #expect(history.number() == 65_535)
        #expect(history.number() == 0)
        #expect(history.number() == 1)
    }
}
