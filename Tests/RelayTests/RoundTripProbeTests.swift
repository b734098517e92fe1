import MediaPipeline
@testable import Relay
import Testing

/// ``RoundTripProbe`` and the moves it gates (``QualityController/measuredProbes``): a viewer
/// without transport-wide feedback is moved up only when a sender report that left behind a
/// burst of copies comes back no more than ``RoundTripProbe/allowedGrowth`` later than the
/// smallest round trip — the path carries the total rate the copies made.
@Suite struct RoundTripProbeTests {
    /// The growth a bottleneck of `capacity` gives the report behind `rate` for the probe's duration.
    static func growth(rate: Double, capacity: Double) -> Double {
        max(rate - capacity, 0) * Double(RoundTripProbe.duration.microseconds) / 1_000 / capacity
    }

    /// A path carries the target's need (`rate / upMargin`) when the growth its queue gives stays
    /// within the allowed growth: 40 ms for a 200 ms probe at a 1.2 margin, and 20 ms of noise —
    /// so a path with 92% of the need passes, and one with 90% does not.
    @Test func theAllowedGrowthIsWhatABottleneckAtTheTargetsNeedGives() {
        #expect(abs(RoundTripProbe.allowedGrowth - 60) < 1e-9)
        let rate = 624_000.0, need = rate / QualityController.upMargin
        #expect(Self.growth(rate: rate, capacity: need) + RoundTripProbe.noise <= RoundTripProbe.allowedGrowth + 1e-6)
        #expect(Self.growth(rate: rate, capacity: need * 0.93) <= RoundTripProbe.allowedGrowth)
        #expect(Self.growth(rate: rate, capacity: need * 0.9) > RoundTripProbe.allowedGrowth)
        // The browser test's 300 kbit/s path against the 360p layer: 216 ms, far over.
        #expect(Self.growth(rate: rate, capacity: 300_000) > 200)
    }

    /// Copies are paced at the rate over the duration (a late tick sends no more than
    /// ``RoundTripProbe/maximumBytesPerTick``); then the report, then only its echo judges.
    @Test func copiesArePacedThenTheReportsEchoJudges() {
        var probe = RoundTripProbe()
        let t0 = MediaTime.milliseconds(10_000)
        probe.start(target: .medium, from: .low, rate: 400_000, baseline: 20, now: t0)
        #expect(probe.holdsReports)
        var total = 0
        for tick in 1...9 {
            let due = probe.due(now: t0 + .milliseconds(Double(tick) * 20))
            #expect(due?.last == false)
            total += due?.bytes ?? 0
            probe.sent(due?.bytes ?? 0)
        }
        #expect(total == 400_000 * 180 / 1_000 / 8, "the rate over 180 ms")
        // The last tick is late: what is left of the 200 ms, no more, and the report goes behind it.
        let last = probe.due(now: t0 + .milliseconds(230))
        #expect(last?.bytes == 400_000 * 20 / 1_000 / 8 && last?.last == true)
        probe.sent(last?.bytes ?? 0)
        probe.reported(0xABCD_0000, now: t0 + .milliseconds(230))
        #expect(probe.due(now: t0 + .milliseconds(250)) == nil)
        #expect(probe.echo(lastSenderReport: 0x1234_0000, roundTrip: 500, fractionLost: 0) == nil, "an older report's echo")
        #expect(probe.holdsReports)
        let outcome = probe.echo(lastSenderReport: 0xABCD_0000, roundTrip: 75, fractionLost: 0.02)
        #expect(outcome == RoundTripProbe.Outcome(target: .medium, from: .low, carried: true, growth: 55))
        #expect(!probe.holdsReports)

        var late = RoundTripProbe()
        late.start(target: .medium, from: .low, rate: 10_000_000, baseline: 20, now: t0)
        #expect(late.due(now: t0 + .milliseconds(190))?.bytes == RoundTripProbe.maximumBytesPerTick)
    }

    /// Copies short of three quarters of what the rate called for (nothing cached to copy) say
    /// nothing about the path: not carried, however small the growth.
    @Test(arguments: [(7_400, false), (7_500, true)]) func aProbeThatSentTooLittleIsNotCarried(sent: Int, carried: Bool) {
        var probe = RoundTripProbe()
        probe.start(target: .medium, from: .low, rate: 400_000, baseline: 20, now: .zero)  // 10,000 bytes in 200 ms
        probe.sent(sent)
        probe.reported(7, now: .milliseconds(200))
        #expect(probe.echo(lastSenderReport: 7, roundTrip: 21, fractionLost: 0)?.carried == carried)
    }

    @Test(arguments: [(81.0, 0.0, false), (79.0, 0.2, false), (79.0, 0.05, true)])
    func growthOverTheAllowanceOrLossFails(roundTrip: Double, lost: Double, carried: Bool) {
        var probe = RoundTripProbe()
        probe.start(target: .source, from: .medium, rate: 500_000, baseline: 20, now: .zero)
        probe.sent(12_500)
        probe.reported(7, now: .milliseconds(200))
        #expect(probe.echo(lastSenderReport: 7, roundTrip: roundTrip, fractionLost: lost)?.carried == carried)
    }

    @Test func aReportNeverEchoedFailsAfterTheTimeout() {
        var probe = RoundTripProbe()
        probe.start(target: .medium, from: .low, rate: 500_000, baseline: 20, now: .zero)
        probe.reported(7, now: .milliseconds(200))
        #expect(probe.expired(now: .milliseconds(200) + RoundTripProbe.timeout - .milliseconds(1)) == nil)
        let outcome = probe.expired(now: .milliseconds(200) + RoundTripProbe.timeout)
        #expect(outcome?.carried == false && outcome?.growth == nil)
        #expect(probe.isIdle)
    }

    @Test func nonsenseRatesStartNothing() {
        for rate in [0, -1, .infinity, .nan] {
            var probe = RoundTripProbe()
            probe.start(target: .medium, from: .low, rate: rate, baseline: 20, now: .zero)
            #expect(probe.isIdle, "\(rate)")
        }
    }

    /// With measured probes a calm path asks for a probe instead of moving blind (after the
    /// shorter ``QualityController/initialMeasuredProbeInterval``); the outcome moves it, a failure
    /// doubles the wait for the next.
    @Test func theControllerAsksForAProbeAndItsOutcomeMovesIt() {
        var c = QualityController(ceiling: .source, start: .low, measuredProbes: true)
        var bytes = 0
        var requests: [(second: Int, target: Quality)] = []
        func run(_ seconds: ClosedRange<Int>) {
            for second in seconds {
                bytes += 30_000
                #expect(
                    c.report(fractionLost: 0, roundTripMilliseconds: 20, bytesSent: bytes, sourceBitrate: 1_500_000, now: .milliseconds(Double(second) * 1_000))
                        == nil, "no blind move")
                if let t = c.takeProbeRequest() { requests.append((second, t)) }
            }
        }
        run(0...10)
        #expect(requests.map(\.second) == [10], "\(requests)")
        #expect(requests.first?.target == .medium)
        let failed = RoundTripProbe.Outcome(target: .medium, from: .low, carried: false, growth: 200)
        #expect(c.probeFinished(failed, now: .milliseconds(11_000)) == nil)
        requests = []
        run(12...35)
        #expect(requests.map(\.second) == [31], "20 s after the failure, not 10: \(requests)")
        let carried = RoundTripProbe.Outcome(target: .medium, from: .low, carried: true, growth: 3)
        #expect(c.probeFinished(carried, now: .milliseconds(32_000)) == .medium)
        #expect(c.current == .medium)
        // An outcome for where it no longer is moves nothing.
        #expect(c.probeFinished(carried, now: .milliseconds(33_000)) == nil)
    }

    /// Without RTX (no copies can be sent) the blind move stays.
    @Test func withoutMeasuredProbesTheMoveIsBlind() {
        var c = QualityController(ceiling: .source, start: .low)
        var bytes = 0
        var moved: Int?
        for second in 0...40 where moved == nil {
            bytes += 30_000
            if c.report(fractionLost: 0, roundTripMilliseconds: 20, bytesSent: bytes, sourceBitrate: 1_500_000, now: .milliseconds(Double(second) * 1_000)) != nil {
                moved = second
            }
            #expect(c.takeProbeRequest() == nil)
        }
        #expect(moved == 30)
    }
}
