import MediaPipeline
@testable import Relay
import Testing

/// ``BandwidthProbe``: a train's arrival spread is the bottleneck's rate; lost or unreported
/// trains fail; failures space probes out, and a move a probe allowed that ends in congestion
/// counts as a failure too. And ``QualityController``'s side: when a probe is worth sending, and
/// what a probe's rate moves.
@Suite struct BandwidthProbeTests {
    typealias Packet = DelayBasedBandwidthEstimator.Packet

    /// Six 1,000-byte packets sent together across a bottleneck of `rate` bits/s arrive one
    /// serialization time apart.
    static func train(first: UInt16, rate: Double, sent: MediaTime, lost: Set<Int> = []) -> [Packet] {
        (0..<6).map { i in
            let arrival = sent + .milliseconds(20) + MediaTime(microseconds: Int64(Double(i * 8_000) / rate * 1e6))
            return Packet(sent: sent, arrived: lost.contains(i) ? nil : arrival, bytes: 1_000, number: first &+ UInt16(i))
        }
    }

    @Test func theTrainsSpreadIsTheBottlenecksRate() throws {
        var probe = BandwidthProbe()
        let start = MediaTime.milliseconds(1_000)
        let r1 = probe.isDue(now: start)
        #expect(!r1, "the first is due an interval after it is first wanted")
        let r2 = probe.isDue(now: start + BandwidthProbe.initialInterval)
        #expect(r2)
        let sent = start + BandwidthProbe.initialInterval
        probe.sent(first: 65_533, count: 6, now: sent)  // numbers wrap
        let r3 = probe.isDue(now: sent + .milliseconds(1))
        #expect(!r3, "one train at a time")
        let packets = Self.train(first: 65_533, rate: 1_000_000, sent: sent)
        // Reported in two feedbacks, with packets of other streams between.
        let r4 = probe.feedback(Array(packets.prefix(3)) + [Packet(sent: sent, arrived: sent, bytes: 500, number: 10)], now: sent + .milliseconds(50))
        #expect(r4 == nil)
        let outcome = probe.feedback(Array(packets.suffix(3)), now: sent + .milliseconds(100))
        guard case .rate(let rate) = outcome else {
            Issue.record("no outcome")
            return
        }
        #expect(abs(rate - 1_000_000) < 1_000, "\(rate)")
    }

    @Test func aLostOrUnreportedTrainFailsAndFailuresSpaceProbesOut() throws {
        var probe = BandwidthProbe()
        var now = MediaTime.milliseconds(0)
        _ = probe.isDue(now: now)
        now = now + BandwidthProbe.initialInterval
        let r5 = probe.isDue(now: now)
        #expect(r5)
        probe.sent(first: 100, count: 6, now: now)
        let r6 = probe.feedback(Self.train(first: 100, rate: 300_000, sent: now, lost: [2]), now: now + .milliseconds(200))
        #expect(r6 == .failed)
        probe.judged(success: false, now: now)
        #expect(probe.interval == min(BandwidthProbe.initialInterval + BandwidthProbe.initialInterval, BandwidthProbe.maximumInterval))
        #expect(probe.interval > BandwidthProbe.initialInterval)
        // Never reported: failed after the timeout, not before.
        now = now + probe.interval
        let r7 = probe.isDue(now: now)
        #expect(r7)
        probe.sent(first: 200, count: 6, now: now)
        let r8 = probe.feedback([], now: now + .milliseconds(900))
        #expect(r8 == nil)
        let r9 = probe.feedback([], now: now + BandwidthProbe.timeout)
        #expect(r9 == .failed)
        for _ in 0..<10 { probe.judged(success: false, now: now) }
        #expect(probe.interval == BandwidthProbe.maximumInterval)
        // A move down that no probe caused: the path changed, probing starts over.
        probe.movedDown(now: now + .milliseconds(30_000))
        #expect(probe.interval == BandwidthProbe.initialInterval)
    }

    @Test func aMoveAProbeAllowedThatEndsInCongestionCountsAsAFailure() {
        var probe = BandwidthProbe()
        probe.judged(success: true, now: .milliseconds(10_000))
        #expect(probe.interval == BandwidthProbe.initialInterval)
        probe.movedDown(now: .milliseconds(12_000))
        #expect(probe.interval == min(BandwidthProbe.initialInterval + BandwidthProbe.initialInterval, BandwidthProbe.maximumInterval))
        #expect(probe.interval > BandwidthProbe.initialInterval)
    }

    /// Numbers outside the train, and a flood of them, are ignored: what it holds is bounded by the train.
    @Test func feedbackOutsideTheTrainIsIgnored() {
        var probe = BandwidthProbe()
        probe.sent(first: 1_000, count: 6, now: .zero)
        let noise = (0..<5_000).map { Packet(sent: .zero, arrived: .milliseconds(5), bytes: 1_200, number: UInt16(2_000 + $0 % 60_000)) }
        let r10 = probe.feedback(noise, now: .milliseconds(10))
        #expect(r10 == nil)
        let r11 = probe.feedback(Self.train(first: 1_000, rate: 2_000_000, sent: .zero), now: .milliseconds(20))
        #expect(r11 != nil)
    }

    /// The controller asks for a probe only when feedback steers it, a better quality is
    /// allowed, and nothing was congested for a while; a probe's rate moves it one step up when
    /// it carries the next quality with margin.
    @Test func theControllerProbesBelowItsCeilingAndMovesUpOnASufficientRate() {
        var c = QualityController(ceiling: .source)
        let measured: [Quality: Double] = [.low: 240_000, .medium: 560_000, .source: 2_200_000]
        // Congested at 1 s: down to low.
        _ = c.transportEstimate(300_000, congested: true, sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(1_000))
        #expect(c.current == .low)
        #expect(c.probeTarget(sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(2_000)) == nil, "too soon after congestion")
        _ = c.transportEstimate(280_000, congested: false, sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(4_000))
        let target = c.probeTarget(sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(4_000))
        #expect(target == 560_000 * QualityController.upMargin)
        #expect(c.probed(600_000, sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(4_100)) == nil, "not enough for medium")
        #expect(c.probed(1_000_000, sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(4_200)) == .medium)
        #expect(c.current == .medium)
        // A probe that shows room for the source goes there in one move (a cap that lifted).
        var lifted = QualityController(ceiling: .source)
        _ = lifted.transportEstimate(300_000, congested: true, sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(1_000))
        #expect(lifted.current == .low)
        #expect(lifted.probed(50_000_000, sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(4_000)) == .source)
        // Not past the ceiling, whatever the probe shows.
        var capped = QualityController(ceiling: .medium)
        _ = capped.transportEstimate(300_000, congested: true, sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(1_000))
        #expect(capped.current == .low)
        #expect(capped.probed(50_000_000, sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(4_000)) == .medium)
        // At its ceiling no probe is wanted.
        var top = QualityController(ceiling: .medium)
        _ = top.transportEstimate(2_000_000, congested: false, sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(5_000))
        #expect(top.probeTarget(sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(9_000)) == nil)
    }

    /// Within the settle after a move, feedback changes nothing — unless the move still waits for
    /// its key frame (a simulcast layer's) and the path is congested below the target too: then
    /// it goes further down at once; never up that way.
    @Test func aMoveStillWaitingForItsKeyFrameGoesFurtherDownAtOnce() {
        let measured: [Quality: Double] = [.low: 240_000, .medium: 560_000, .source: 2_200_000]
        func movedToMedium() -> QualityController {
            var c = QualityController(ceiling: .source)
            _ = c.transportEstimate(3_000_000, congested: false, sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(500))
            _ = c.transportEstimate(1_000_000, congested: true, sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(1_000))
            return c
        }
        var settled = movedToMedium()
        #expect(settled.current == .medium)
        let waited = settled.transportEstimate(
            250_000, congested: true, sourceBitrate: 2_200_000, measured: measured, now: .milliseconds(1_200))
        #expect(waited == nil && settled.current == .medium, "switched already: the settle holds")
        var pending = movedToMedium()
        let further = pending.transportEstimate(
            250_000, congested: true, sourceBitrate: 2_200_000, measured: measured, switchPending: true, now: .milliseconds(1_200))
        #expect(further == .low && pending.current == .low)
        var calm = movedToMedium()
        let notUp = calm.transportEstimate(
            9_000_000, congested: true, sourceBitrate: 2_200_000, measured: measured, switchPending: true, now: .milliseconds(1_200))
        let notCalm = calm.transportEstimate(
            250_000, congested: false, sourceBitrate: 2_200_000, measured: measured, switchPending: true, now: .milliseconds(1_300))
        #expect(notUp == nil && notCalm == nil && calm.current == .medium)
    }
}
