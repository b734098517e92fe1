import Foundation
import MediaPipeline
import MediaWire
@testable import Relay
import Testing
import WebRTCClient

/// Issue 16, item 4: a viewer that negotiated transport-wide congestion control is steered by the
/// relay's send-side, delay-based estimate from its feedback — through a socket-free ``RelayState``
/// with a publisher and a viewer that did the real handshake, and a simulated path between the
/// relay and the viewer (propagation delay, jitter, random loss, a bottleneck with a queue).
@Suite struct TransportWideCongestionControlTests {
    /// The path from the relay to the viewer. Times in microseconds on the relay's clock.
    struct Path {
        var delay: Int64 = 30_000
        var jitter: Int64 = 0
        var loss = 0.0
        /// Bottleneck capacity, bit/s (nil: none).
        var capacity: Double?
        /// The bottleneck's queue holds at most this much delay; more is dropped at its tail.
        var queueLimit: Int64 = 400_000
    }

    /// The viewer's end: reads the transport-wide number of each packet that arrives, and every
    /// 100 ms reports what arrived when (and what did not) as Chromium does.
    final class Viewer {
        let peer: ConnectedPeer
        var path: Path
        var rng: SeededGenerator
        private var linkFree: Int64 = 0
        /// Arrival times by number (µs, the viewer's clock) of the last second, and the numbers
        /// that arrived since the last feedback; the highest number seen.
        private var arrivals: [UInt16: Int64] = [:]
        private var fresh: Set<UInt16> = []
        private var highest: UInt16?
        private var feedbackCount: UInt8 = 0
        private(set) var received = 0, lost = 0
        /// Packets the relay sent without a transport-wide number.
        private(set) var unnumbered = 0

        init(_ peer: ConnectedPeer, path: Path, seed: UInt64) {
            self.peer = peer
            self.path = path
            rng = SeededGenerator(seed: seed)
        }

        /// The relay's datagrams at `now`: those to this viewer cross the path.
        func deliver(_ datagrams: [OutgoingDatagram], now: MediaTime) {
            for d in datagrams where d.to == peer.address {
                guard let packet = peer.received([d]).first else { continue }
                guard let data = packet.header.extensions?[ClientOffer.transportSequenceExtensionID], data.count == 2 else {
                    unnumbered += 1
                    continue
                }
                let number = UInt16(data[0]) << 8 | UInt16(data[1])
                let bytes = d.buffer.readableBytes + 28  // IP and UDP headers
                var arrival = now.microseconds
                if let capacity = path.capacity {
                    let start = max(arrival, linkFree)
                    if start - arrival > path.queueLimit {
                        lost += 1
                        continue
                    }
                    linkFree = start + Int64(Double(bytes * 8) / capacity * 1e6)
                    arrival = linkFree
                }
                if Double.random(in: 0..<1, using: &rng) < path.loss {
                    lost += 1
                    continue
                }
                arrival += max(0, path.delay + Int64(Double(path.jitter) * normal()))
                inFlight.append((number, arrival))
                received += 1
            }
        }
        private var inFlight: [(number: UInt16, arrival: Int64)] = []

        /// Standard normal (Box–Muller), as showroom-netsim's default jitter.
        func normal() -> Double {
            let u = max(Double.random(in: 0..<1, using: &rng), 1e-12), v = Double.random(in: 0..<1, using: &rng)
            return (-2 * Foundation.log(u)).squareRoot() * cos(2 * Double.pi * v)
        }

        /// What libwebrtc's receiver sends every 100 ms: from the lowest number that arrived since
        /// the last feedback to the highest, each with its arrival time or as not received (a
        /// reordered packet still on its way is "not received" now and reported again when it
        /// arrives). Nil when nothing arrived.
        func feedback(now: MediaTime) throws -> [UInt8]? {
            let clock = now.microseconds
            for (number, arrival) in inFlight where arrival <= clock {
                arrivals[number] = arrival + 5_000_000_000  // the viewer's clock is not the relay's
                fresh.insert(number)
                if highest.map({ Int16(bitPattern: number &- $0) > 0 }) ?? true { highest = number }
            }
            inFlight.removeAll { $0.arrival <= clock }
            guard let last = highest, let first = fresh.min(by: { Int16(bitPattern: $0 &- $1) < 0 }) else { return nil }
            fresh = []
            let count = Int(last &- first) + 1
            let known = (0..<count).compactMap { arrivals[first &+ UInt16($0)] }
            guard let earliest = known.min() else { return nil }
            let reference = earliest / 64_000
            var tick = reference * 64_000 / 250
            var results: [TransportWideFeedback.PacketResult] = []
            for i in 0..<count {
                if let arrival = arrivals[first &+ UInt16(i)] {
                    let t = arrival / 250
                    results.append(.received(delta: Int16(clamping: t - tick)))
                    tick = t
                } else {
                    results.append(.lost)
                }
            }
            if arrivals.count > 2_000 { arrivals = arrivals.filter { Int16(bitPattern: last &- $0.key) < 1_000 } }
            feedbackCount &+= 1
            let fb = TransportWideFeedback(
                senderSSRC: 0x1234, mediaSSRC: peer.answer.videoSSRC ?? 0, baseSequence: first, referenceTime: Int32(reference),
                feedbackCount: feedbackCount, packets: results)
            return try peer.rtcp([.transportFeedback(fb)])
        }
    }

    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// A publisher sending ~1.2 Mbit/s of video (150 packets of 1,000 bytes a second), a viewer on
    /// `path` sending feedback every 100 ms and a receiver report with its loss every second;
    /// `change` may alter the path as time goes. Returns the viewer's rendition after each second.
    static func run(
        seconds: Int, path: Path, transportWideCC: Bool = true, seed: UInt64 = 7, change: (Int, Viewer) -> Void = { _, _ in }
    ) throws -> (renditions: [Quality], estimates: [Double], viewer: Viewer, relay: RelayState, id: String) {
        let world = try PublicationTests.World()
        let relay = world.relay
        let publisher = try ConnectedPeer.connect(to: relay, room: "r", identity: "p", publishing: true, port: 7_000)
        let peer = try ConnectedPeer.connect(
            to: relay, room: "r", identity: "v", publishing: false, port: 7_001, adaptive: true, transportWideCC: transportWideCC)
        let viewer = Viewer(peer, path: path, seed: seed)
        let videoSSRC = try #require(peer.answer.videoSSRC)
        var renditions: [Quality] = [], estimates: [Double] = []
        var sequence: UInt16 = 1
        var lostAtLastReport = 0, receivedAtLastReport = 0
        var credit = 0.0, renditionSequence: UInt16 = 0
        let step: Int64 = 1_000_000 / 150
        var now = MediaTime.zero
        for second in 0..<seconds {
            change(second, viewer)
            for i in 0..<150 {
                now = MediaTime(microseconds: Int64(second) * 1_000_000 + Int64(i) * step)
                let packet = try publisher.rtp(
                    ssrc: publisher.offer.videoSSRC, sequence: sequence, payload: [0x10, 0, 0, 0] + [UInt8](repeating: 0xAB, count: 996))
                sequence &+= 1
                viewer.deliver(relay.receive(packet, from: publisher.address, now: now), now: now)
                // A rendition's encoder (fake here) makes its own packets at about its nominal rate.
                let quality = relay.sessions[peer.id]?.subscription?.quality ?? .source
                if quality != .source {
                    credit += quality.nominalBitrate / 150
                    var output = RenditionOutput()
                    while credit >= 8_000 {
                        credit -= 8_000
                        renditionSequence &+= 1
                        output.video.append(
                            RTPPacket(
                                header: RTPHeader(payloadType: 96, sequenceNumber: renditionSequence, timestamp: UInt32(renditionSequence) * 3_000, ssrc: 0xC0DE),
                                payload: [0x10, 0, 0, 0] + [UInt8](repeating: 0xCD, count: 996)))
                    }
                    viewer.deliver(relay.renditionOutput(source: publisher.id, quality: quality, output, now: now), now: now)
                }
                if i % 3 == 0 { viewer.deliver(relay.tick(now: now), now: now) }
                if i % 15 == 14, let fb = try viewer.feedback(now: now) {
                    viewer.deliver(relay.receive(fb, from: peer.address, now: now), now: now)
                }
            }
            let lost = viewer.lost - lostAtLastReport, got = viewer.received - receivedAtLastReport
            lostAtLastReport = viewer.lost
            receivedAtLastReport = viewer.received
            let fraction = UInt8(clamping: lost * 256 / max(lost + got, 1))
            let block = RTCPReportBlock(
                ssrc: videoSSRC, fractionLost: fraction, cumulativeLost: Int32(viewer.lost), extendedHighestSequence: UInt32(sequence),
                jitter: 0, lastSenderReport: 0, delaySinceLastSenderReport: 0)
            viewer.deliver(relay.receive(try peer.rtcp([.receiverReport(RTCPReceiverReport(ssrc: 0x1234, reports: [block]))]), from: peer.address, now: now), now: now)
            renditions.append(relay.sessions[peer.id]?.subscription?.quality ?? .source)
            estimates.append(relay.sessions[peer.id]?.subscription?.bandwidth?.estimate ?? 0)
        }
        return (renditions, estimates, viewer, relay, peer.id)
    }

    /// The case: 30 ms ± 10 ms and 2% random loss with room to spare. Random loss and
    /// jitter are not congestion: the viewer stays on the source for the whole run, and the
    /// estimate is above what the publisher sends at least half the time (jitter trips the delay
    /// trend now and then, which costs the estimate 15% for a few seconds, not the viewer its
    /// rendition: that needs a queue). Eight seeds.
    @Test(arguments: [7, 8, 9, 10, 11, 12, 13, 14] as [UInt64])
    func randomLossAndJitterOnAPathWithRoomKeepTheSource(seed: UInt64) throws {
        let r = try Self.run(seconds: 20, path: Path(delay: 30_000, jitter: 10_000, loss: 0.02), seed: seed)
        #expect(r.viewer.unnumbered == 0, "every packet to the viewer carries a transport-wide number")
        #expect(r.viewer.lost > 20, "the path dropped packets: \(r.viewer.lost)")
        #expect(r.renditions.allSatisfy { $0 == .source }, "\(r.renditions)")
        let s = try #require(r.relay.sessions[r.id]?.subscription)
        #expect(s.adaptation?.delayBased == true)
        let source = try #require(s.publication?.incomingBitrate)
        let above = r.estimates.count { $0 > source }
        #expect(above >= r.estimates.count / 2, "estimate above the source's \(Int(source)) in \(above) of \(r.estimates.count) s: \(r.estimates.map { Int($0) })")
    }

    /// A 400 kbit/s bottleneck from second 5 on: the queue grows, the delay trend says overuse, and
    /// the viewer is on `low` within 2 s of the cap.
    @Test func aBottleneckMovesTheViewerDownWithinTwoSeconds() throws {
        let r = try Self.run(seconds: 10, path: Path(delay: 20_000)) { second, viewer in
            if second == 5 { viewer.path.capacity = 400_000 }
        }
        #expect(r.renditions.prefix(5).allSatisfy { $0 == .source }, "\(r.renditions)")
        #expect(r.renditions[6] == .low, "not on low 2 s after the cap: \(r.renditions)")
        // The bottleneck's queue was what moved it: its estimate is below the source's rate.
        #expect((r.relay.sessions[r.id]?.subscription?.bandwidth?.estimate ?? .infinity) < (r.relay.sessions[r.id]?.subscription?.publication?.incomingBitrate ?? 0))
    }

    /// With ``RelayState/publisherTransportWideCC`` a publisher that offers it gets feedback on
    /// its packets every 100 ms — each number it sent, received, with arrival deltas as they came;
    /// by default it is not negotiated and nothing is sent.
    @Test func aPublisherGetsFeedbackWhenEnabled() throws {
        for enabled in [true, false] {
            let world = try PublicationTests.World()
            world.relay.publisherTransportWideCC = enabled
            let publisher = try ConnectedPeer.connect(to: world.relay, room: "r", identity: "p", publishing: true, port: 7_100, transportWideCC: true)
            var feedback: [TransportWideFeedback] = []
            for i in 0..<30 {
                let now = MediaTime.milliseconds(Double(i * 10))
                let packet = try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: UInt16(i), transportSequence: UInt16(1_000 + i))
                _ = world.relay.receive(packet, from: publisher.address, now: now)
                for d in world.relay.tick(now: now) where d.to == publisher.address {
                    var bytes = Array(d.buffer.readableBytesView)
                    guard (try? publisher.srtpIn.unprotectRTCP(&bytes)) != nil, let packets = try? RTCPPacket.parseCompound(bytes) else { continue }
                    for case .transportFeedback(let fb) in packets { feedback.append(fb) }
                }
            }
            if enabled {
                #expect(publisher.answerSDP.contains("transport-cc"))
                #expect(feedback.count >= 2)
                let reported = feedback.flatMap { fb in fb.arrivals.map(\.sequence) }
                #expect(Set(reported).isSubset(of: Set((1_000..<1_030).map(UInt16.init))) && reported.count >= 20, "\(reported)")
                // 10 ms apart: 40 ticks of 250 µs.
                #expect(feedback.flatMap { $0.packets.dropFirst() }.allSatisfy { $0.delta == 40 })
            } else {
                #expect(!publisher.answerSDP.contains("transport-cc"))
                #expect(feedback.isEmpty)
            }
        }
    }

    /// A viewer that did not negotiate it gets no numbers, and feedback it sends anyway changes
    /// nothing (its receiver reports still steer it).
    @Test func withoutNegotiationNothingIsNumberedAndFeedbackIsIgnored() throws {
        let r = try Self.run(seconds: 3, path: Path(delay: 20_000), transportWideCC: false)
        #expect(r.viewer.unnumbered > 300)
        let s = try #require(r.relay.sessions[r.id]?.subscription)
        // Feedback it sends anyway (on numbers it was never given) changes nothing.
        let fb = TransportWideFeedback(
            senderSSRC: 1, mediaSSRC: 2, baseSequence: 1, referenceTime: 0, feedbackCount: 0,
            packets: Array(repeating: .received(delta: 4), count: 100))
        _ = r.relay.receive(try r.viewer.peer.rtcp([.transportFeedback(fb)]), from: r.viewer.peer.address, now: .milliseconds(3_100))
        #expect(s.sendHistory == nil && s.bandwidth == nil && s.adaptation?.delayBased == false)
    }
}
