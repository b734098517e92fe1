import Foundation
import MediaPipeline
import MediaWire
@testable import Relay
import Testing
import WebRTCClient

/// A viewer with receiver reports alone (aiortc, GStreamer) and an RTX stream is moved up a
/// simulcast publication's layers only after a ``RoundTripProbe``: copies of what it was just sent,
/// on its RTX stream, then a sender report behind them, whose echo's round trip says whether the
/// path carries the next layer. Through a socket-free ``RelayState`` with peers that did the real
/// handshake; the viewer's reports give the round trip the test chooses.
@Suite struct ReceiverReportProbeTests {
    struct Scene {
        var setup: SimulcastTests.Setup
        let viewer: ConnectedPeer
        let video: UInt32
        /// The sender reports on its video it got, and when.
        var reports: [(ntpMiddle: UInt32, at: MediaTime)] = []
        /// The RTX packets it got: when, and the sequence number each repairs.
        var copies: [(at: MediaTime, repairs: UInt16)] = []
        /// The sequence numbers of the video it got.
        var media: Set<UInt16> = []
        var highest: UInt32 = 0
        /// Layers of about 150 and 500 kbit/s: a clean path's loss-based estimate (at most 1.5×
        /// what is sent) never carries the next layer by itself.
        static let filler = [600, 2_000, 4_000]

        init() throws {
            setup = try SimulcastTests.Setup(viewers: [])
            setup.publisher.filler = Self.filler
            viewer = try ConnectedPeer.connect(
                to: setup.world.relay, room: "r", identity: "a", publishing: false, port: 7_101, quality: .medium, adaptive: true, rtx: true)
            video = try #require(viewer.answer.videoSSRC)
        }

        /// One frame of each layer, the relay's tick; what the viewer got, sorted.
        mutating func step(key: Bool) throws {
            let from = setup.sent.count
            try setup.run(frames: 1, keyFirst: key)
            for d in setup.sent[from...] where d.to == viewer.address {
                var bytes = Array(d.buffer.readableBytesView)
                guard bytes.count > 1 else { continue }
                if (192...223).contains(bytes[1]) {
                    guard (try? viewer.srtpIn.unprotectRTCP(&bytes)) != nil, let packets = try? RTCPPacket.parseCompound(bytes) else { continue }
                    for case .senderReport(let sr) in packets where sr.ssrc == video {
                        reports.append((UInt32(truncatingIfNeeded: sr.ntpTimestamp >> 16), setup.now))
                    }
                } else if let p = viewer.received([d]).first {
                    if p.header.payloadType == ClientOffer.rtxPayloadType, p.payload.count >= 2 {
                        copies.append((setup.now, UInt16(p.payload[0]) << 8 | UInt16(p.payload[1])))
                    } else if p.header.ssrc == video {
                        media.insert(p.header.sequenceNumber)
                    }
                }
            }
        }

        /// A second of frames (a key frame first), after both peers' consent checks.
        mutating func second() throws {
            setup.refreshConsent(of: [viewer])
            for n in 0..<30 { try step(key: n == 0) }
        }

        /// A receiver report on its video echoing the newest sender report it got (or `echo`, or
        /// none when `echoes` is false), with round trip `rtt` ms.
        mutating func report(rtt: Double, echo: (ntpMiddle: UInt32, at: MediaTime)? = nil, echoes: Bool = true) throws {
            highest += 30
            var lsr: UInt32 = 0, dlsr: UInt32 = 0
            if echoes, let last = echo ?? reports.last {
                lsr = last.ntpMiddle
                dlsr = UInt32(max((setup.now - last.at).milliseconds - rtt, 0) * 65.536)
            }
            let block = RTCPReportBlock(
                ssrc: video, fractionLost: 0, cumulativeLost: 0, extendedHighestSequence: highest, jitter: 0, lastSenderReport: lsr,
                delaySinceLastSenderReport: dlsr)
            setup.sent += setup.world.relay.receive(
                try viewer.rtcp([.receiverReport(RTCPReceiverReport(ssrc: 0x7777, reports: [block]))]), from: viewer.address, now: setup.now)
        }

        /// Clean seconds, each ending in a report at `rtt`, until copies come (at most `limit`).
        mutating func calmUntilAProbe(limit: Int, rtt: Double = 20, echoes: Bool = true) throws -> Int? {
            for s in 1...limit {
                try second()
                if !copies.isEmpty { return s }
                try report(rtt: rtt, echoes: echoes)
            }
            return nil
        }
    }

    /// After 10 s of calm the relay sends copies of what the viewer just got, for no longer than
    /// the probe's duration, then one sender report — the regular one waits — and moves the viewer
    /// up when that report's round trip grew by no more than the allowance (60 ms), not when it
    /// grew by a queue's worth; a failure makes the next probe wait twice as long.
    @Test(arguments: [(15.0, true), (200.0, false)]) func theViewerMovesUpOnlyWhenTheReportBehindTheCopiesIsNotDelayed(
        growth: Double, moves: Bool
    ) throws {
        var scene = try Scene()
        let relay = scene.setup.world.relay
        #expect(relay.snapshot().viewers == [.low: 1], "starts on the lowest layer")
        let probed = try #require(try scene.calmUntilAProbe(limit: 15))
        // The first report starts the 10 s (its "seconds" are 30 frames, 990 ms); the copies follow the report that asks.
        #expect((12...13).contains(probed), "probed in the \(probed)th second")
        let copies = scene.copies
        #expect(copies.allSatisfy { scene.media.contains($0.repairs) }, "copies of what it was sent")
        let lastCopy = try #require(copies.last).at
        let span = lastCopy - copies[0].at
        #expect(span <= RoundTripProbe.duration, "copies for \(span)")
        let report = try #require(scene.reports.last)
        #expect(scene.reports.filter { $0.at >= copies[0].at }.count == 1, "one report in the second of the probe: the regular one waited")
        #expect(report.at >= lastCopy, "the report behind the copies")
        #expect(relay.snapshot().viewers == [.low: 1], "no move before the echo")
        try scene.report(rtt: 20 + growth)
        #expect(relay.snapshot().viewers == (moves ? [.medium: 1] : [.low: 1]))
        if moves {
            #expect(SimulcastTests.plis(scene.setup.publisher.peer, Array(scene.setup.sent.suffix(3))) == [scene.setup.publisher.ssrcs[1]])
        } else {
            // Two more reports echoing the probe's (aiortc reports every 0.5–1.5 s): the same
            // sample again, not two queues in a row — no congestion, so calm goes on.
            for _ in 0..<2 {
                try scene.second()
                try scene.report(rtt: 20 + growth, echo: report)
            }
            scene.copies = []
            let next = try #require(try scene.calmUntilAProbe(limit: 25))
            #expect((18...20).contains(next), "the next probe \(next + 2) s on, not 10")
        }
    }

    /// A probe whose report is never echoed (the viewer's reports echo an older one) fails once
    /// ``RoundTripProbe/timeout`` has passed, and the regular sender reports resume.
    @Test func aReportNeverEchoedFailsTheProbeAndReportsResume() throws {
        var scene = try Scene()
        let relay = scene.setup.world.relay
        _ = try #require(try scene.calmUntilAProbe(limit: 15))
        let probeReport = try #require(scene.reports.last)
        scene.reports.removeLast()  // the viewer never got it
        for _ in 0..<4 {
            try scene.report(rtt: 20)
            try scene.second()
        }
        #expect(relay.snapshot().viewers == [.low: 1])
        let after = scene.reports.filter { $0.at > probeReport.at }
        #expect(after.count >= 1, "regular reports again")
        #expect(try #require(after.first).at - probeReport.at >= RoundTripProbe.timeout)
        #expect(relay.sessions[scene.viewer.id]?.subscription?.roundTripProbe.isIdle == true)
    }

    /// A viewer whose reports echo no sender report gives no round trip to judge a probe by: it
    /// is moved blind, after 30 s, as one without RTX is.
    @Test func aViewerWhoseReportsGiveNoRoundTripIsMovedBlind() throws {
        var scene = try Scene()
        let relay = scene.setup.world.relay
        var moved: Int?
        for second in 1...35 where moved == nil {
            try scene.second()
            try scene.report(rtt: 20, echoes: false)
            if relay.snapshot().viewers[.medium] == 1 { moved = second }
        }
        #expect(scene.copies.isEmpty, "no probe")
        #expect(moved.map { (30...32).contains($0) } == true, "moved at \(String(describing: moved))")
    }

    /// A session that ends mid-probe leaves nothing behind.
    @Test func aSessionClosedMidProbeLeavesNothing() throws {
        var scene = try Scene()
        let relay = scene.setup.world.relay
        // Up to the tick that starts sending: the copies are going when the session ends.
        for _ in 0..<12 {
            try scene.second()
            try scene.report(rtt: 20)
        }
        try scene.step(key: false)
        #expect(!relay.roundTripProbing.isEmpty && !scene.copies.isEmpty)
        relay.close(id: scene.viewer.id, reason: "test")
        try scene.second()
        #expect(relay.roundTripProbing.isEmpty)
    }

    /// A viewer without RTX has nothing to probe with: it is still moved blind, after 30 s.
    @Test func withoutRTXTheMoveStaysBlind() throws {
        var setup = try SimulcastTests.Setup(viewers: [])
        setup.publisher.filler = Scene.filler
        let relay = setup.world.relay
        let viewer = try ConnectedPeer.connect(to: relay, room: "r", identity: "a", publishing: false, port: 7_101, quality: .medium, adaptive: true)
        let video = try #require(viewer.answer.videoSSRC)
        var highest: UInt32 = 0
        var moved: Int?
        for second in 1...35 where moved == nil {
            setup.refreshConsent(of: [viewer])
            try setup.run(frames: 30, keyFirst: true)
            highest += 30
            let block = RTCPReportBlock(
                ssrc: video, fractionLost: 0, cumulativeLost: 0, extendedHighestSequence: highest, jitter: 0, lastSenderReport: 0,
                delaySinceLastSenderReport: 0)
            setup.sent += relay.receive(try viewer.rtcp([.receiverReport(RTCPReceiverReport(ssrc: 0x7777, reports: [block]))]), from: viewer.address, now: setup.now)
            if relay.snapshot().viewers[.medium] == 1 { moved = second }
        }
        #expect(moved.map { (30...32).contains($0) } == true, "moved at \(String(describing: moved))")
    }
}
