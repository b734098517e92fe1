import MediaPipeline
@testable import Relay
import Testing

/// A bottleneck between the relay and a viewer, simulated: a FIFO drained at `capacity` (which
/// may change over time), a fixed propagation delay, tail drop past `queueLimit` of queued time,
/// optional random loss after the queue and constant-rate cross traffic sharing the queue.
struct BottleneckPath {
    var capacity: (MediaTime) -> Double
    var baseDelay = MediaTime.milliseconds(20)
    var lossRate = 0.0
    var crossTraffic = 0.0
    var queueLimit = MediaTime.milliseconds(500)
    private var busyUntil = MediaTime.zero
    private var crossNext = MediaTime.zero
    private var seed: UInt64 = 0x9E37_79B9_7F4A_7C15

    init(capacity: @escaping (MediaTime) -> Double) { self.capacity = capacity }

    /// How long a packet entering now would wait in the queue.
    func queueDelay(at t: MediaTime) -> MediaTime { busyUntil > t ? busyUntil - t : .zero }

    /// A packet of `bytes` sent at `t`: when it arrives, or nil (dropped at the queue or lost).
    mutating func carry(bytes: Int, at t: MediaTime) -> MediaTime? {
        while crossTraffic > 0, crossNext <= t {
            if queueDelay(at: crossNext) <= queueLimit { _ = enqueue(1_200, at: crossNext) }
            crossNext = crossNext + MediaTime(microseconds: Int64(1_200 * 8 / crossTraffic * 1_000_000))
        }
        guard queueDelay(at: t) <= queueLimit else { return nil }
        let arrival = enqueue(bytes, at: t) + baseDelay
        return random() < lossRate ? nil : arrival
    }

    private mutating func enqueue(_ bytes: Int, at t: MediaTime) -> MediaTime {
        let start = max(t, busyUntil)
        busyUntil = start + MediaTime(microseconds: Int64(Double(bytes * 8) / capacity(start) * 1_000_000))
        return busyUntil
    }

    /// SplitMix64, uniform in [0, 1): seeded, so a run is the same every time.
    private mutating func random() -> Double {
        seed &+= 0x9E37_79B9_7F4A_7C15
        var z = seed
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }
}

/// A sender paced at the estimate through `path`, feedback every 50 ms (what arrived; a loss once
/// 200 ms have passed) and a receiver report every second (packets lost, and decided, so far), for
/// `seconds`. Returns (time, estimate, queue delay) every
/// 100 ms.
func simulate(_ path: inout BottleneckPath, start: Double, seconds: Double) -> [(t: Double, estimate: Double, queue: Double)] {
    var estimator = DelayBasedBandwidthEstimator(start: start)
    var samples: [(t: Double, estimate: Double, queue: Double)] = []
    var t = MediaTime.zero, nextSend = MediaTime.zero
    var nextFeedback = MediaTime.milliseconds(50), nextSample = MediaTime.zero
    var pending: [DelayBasedBandwidthEstimator.Packet] = []
    var decided = 0, lost = 0, nextReport = MediaTime.milliseconds(1_000)
    let end = MediaTime.milliseconds(seconds * 1_000)
    while t < end {
        if nextSend <= nextFeedback {
            t = nextSend
            pending.append(.init(sent: t, arrived: path.carry(bytes: 1_200, at: t), bytes: 1_200))
            nextSend = t + MediaTime(microseconds: Int64(1_200 * 8 / estimator.estimate * 1_000_000))
        } else {
            t = nextFeedback
            var ready = 0
            while ready < pending.count {
                let p = pending[ready]
                if let arrived = p.arrived { guard arrived <= t else { break } } else { guard t - p.sent >= .milliseconds(200) else { break } }
                ready += 1
            }
            estimator.feedback(Array(pending.prefix(ready)), rtt: path.baseDelay + path.baseDelay, now: t)
            decided += ready
            lost += pending.prefix(ready).count { $0.arrived == nil }
            pending.removeFirst(ready)
            if t >= nextReport {
                estimator.receiverReport(cumulativeLost: Int32(lost), highestSequence: UInt32(decided), now: t)
                nextReport = t + .milliseconds(1_000)
            }
            nextFeedback = t + .milliseconds(50)
        }
        if t >= nextSample {
            samples.append((t: t.milliseconds / 1_000, estimate: estimator.estimate, queue: path.queueDelay(at: t).milliseconds))
            nextSample = nextSample + .milliseconds(100)
        }
    }
    return samples
}

/// The delay-based estimator (issue 16 item 4) on simulated paths: it finds a bottleneck's rate
/// without filling its queue, follows a capacity that drops or grows, shares a path with cross
/// traffic, and does not read random loss as congestion.
@Suite struct BandwidthEstimatorTests {
    static func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(max(xs.count, 1)) }
    static func p95(_ xs: [Double]) -> Double { xs.sorted()[min(xs.count - 1, Int(0.95 * Double(xs.count)))] }

    @Test func convergesToTheBottleneckWithoutFillingItsQueue() {
        var path = BottleneckPath(capacity: { _ in 1_000_000 })
        let run = simulate(&path, start: 300_000, seconds: 40)
        let late = run.filter { $0.t >= 30 }
        let rate = Self.mean(late.map(\.estimate)), queue = Self.p95(late.map(\.queue))
        print("1 Mbit/s: estimate \(Int(rate)) bit/s over the last 10 s, queue p95 \(queue) ms")
        #expect(rate > 600_000 && rate < 1_150_000, "estimate \(rate)")
        #expect(queue < 150, "queue p95 \(queue) ms")
    }

    @Test func aCapacityThatDropsIsFollowedWithinTwoSeconds() {
        var path = BottleneckPath(capacity: { $0 < .milliseconds(20_000) ? 2_000_000 : 500_000 })
        let run = simulate(&path, start: 1_500_000, seconds: 30)
        let before = Self.mean(run.filter { $0.t >= 15 && $0.t < 20 }.map(\.estimate))
        let down = run.first { $0.t >= 20 && $0.estimate <= 600_000 }?.t ?? .infinity
        print("2 → 0.5 Mbit/s at 20 s: \(Int(before)) bit/s before, ≤ 600 kbit/s at \(down) s")
        #expect(before > 1_200_000, "before the drop: \(before)")
        #expect(down - 20 <= 2, "took \(down - 20) s")
        let settled = run.filter { $0.t >= 25 }
        #expect(Self.p95(settled.map(\.queue)) < 200, "the queue did not drain: \(Self.p95(settled.map(\.queue))) ms")
    }

    @Test func aCapacityThatGrowsIsFound() {
        var path = BottleneckPath(capacity: { $0 < .milliseconds(20_000) ? 500_000 : 2_000_000 })
        let run = simulate(&path, start: 500_000, seconds: 45)
        let up = run.first { $0.t >= 20 && $0.estimate >= 1_400_000 }?.t ?? .infinity
        print("0.5 → 2 Mbit/s at 20 s: ≥ 1.4 Mbit/s at \(up) s")
        #expect(up - 20 <= 20, "took \(up - 20) s")
    }

    /// A probe's measured rate is where the estimate starts from when it is higher (GCC's way):
    /// the rate does not have to climb 8% a second from what a smaller stream needed; a lower one
    /// changes nothing; an overuse after it backs off from what is acknowledged, as always.
    @Test func aProbesRateRaisesTheEstimate() {
        var aimd = AIMDRateControl(start: 150_000)
        _ = aimd.update(.normal, acknowledged: 140_000, rtt: .milliseconds(40), now: .milliseconds(100))
        let before = aimd.rate
        aimd.probed(90_000)
        #expect(aimd.rate == before)
        aimd.probed(800_000)
        #expect(aimd.rate == 800_000)
        _ = aimd.update(.overusing, acknowledged: 500_000, rtt: .milliseconds(40), now: .milliseconds(200))
        #expect(aimd.rate == 425_000)
        var estimator = DelayBasedBandwidthEstimator(start: 150_000)
        estimator.probed(700_000)
        #expect(estimator.estimate == 700_000)
    }

    @Test func queueingDelayGrowthIsCaught() {
        // The capacity falls from 2 to 0.8 Mbit/s over 10 s: the queue grows slowly, not in a step.
        var path = BottleneckPath(capacity: { t in
            let s = t.milliseconds / 1_000
            return s < 15 ? 2_000_000 : s > 25 ? 800_000 : 2_000_000 - (s - 15) / 10 * 1_200_000
        })
        let run = simulate(&path, start: 1_500_000, seconds: 35)
        let ramp = run.filter { $0.t >= 15 && $0.t <= 27 }
        let end = Self.mean(run.filter { $0.t >= 28 }.map(\.estimate))
        print("2 → 0.8 Mbit/s over 10 s: queue p95 \(Self.p95(ramp.map(\.queue))) ms during, \(Int(end)) bit/s after")
        #expect(Self.p95(ramp.map(\.queue)) < 300)
        #expect(end < 950_000, "after the ramp: \(end)")
    }

    @Test func crossTrafficLeavesItsShare() {
        var path = BottleneckPath(capacity: { _ in 1_500_000 })
        path.crossTraffic = 500_000
        let run = simulate(&path, start: 300_000, seconds: 40)
        let late = run.filter { $0.t >= 30 }
        let rate = Self.mean(late.map(\.estimate))
        print("1.5 Mbit/s with 0.5 Mbit/s of cross traffic: \(Int(rate)) bit/s, queue p95 \(Self.p95(late.map(\.queue))) ms")
        #expect(rate > 500_000 && rate < 1_150_000, "estimate \(rate)")
    }

    @Test func randomLossIsNotCongestion() {
        // 2% random loss and plenty of room: the estimate keeps growing (issue 16: today's
        // loss-based adaptation moves such a viewer to 320×180).
        var path = BottleneckPath(capacity: { _ in 3_000_000 })
        path.lossRate = 0.02
        let run = simulate(&path, start: 800_000, seconds: 25)
        let end = Self.mean(run.filter { $0.t >= 20 }.map(\.estimate))
        print("2% random loss, 3 Mbit/s: \(Int(end)) bit/s after 20 s")
        #expect(end > 1_500_000, "estimate \(end)")
        #expect(run.allSatisfy { $0.estimate >= 700_000 }, "the estimate fell below its start")
    }

    @Test func heavyLossBacksOff() {
        // 15% loss is past what random loss explains: the loss-based estimate halves the ratio off.
        var path = BottleneckPath(capacity: { _ in 3_000_000 })
        path.lossRate = 0.15
        let run = simulate(&path, start: 1_500_000, seconds: 10)
        let end = Self.mean(run.filter { $0.t >= 8 }.map(\.estimate))
        print("15% random loss: \(Int(end)) bit/s after 8 s")
        #expect(end < 1_000_000, "estimate \(end)")
    }

    /// Feedback is the viewer's word: times that never advance, or lie at the ends of the clock,
    /// neither trap nor grow what the estimator holds.
    @Test func hostileFeedbackIsBounded() {
        var estimator = DelayBasedBandwidthEstimator(start: 1_000_000)
        for round in 0..<100 {
            let packets = (0..<1_000).map { i in
                DelayBasedBandwidthEstimator.Packet(sent: MediaTime(microseconds: Int64(round * 1_000 + i)), arrived: .milliseconds(5), bytes: 1_200)
            }
            estimator.feedback(packets, rtt: .milliseconds(40), now: .milliseconds(Double(round)))
        }
        #expect(estimator.held <= DelayBasedBandwidthEstimator.maximumHeld)
        // Counters that go back, jump, or claim more lost than expected.
        for (lost, highest) in [(0, 0), (Int32.max, 10), (Int32.min, 100_000), (5, UInt32.max), (0, 0), (1_000, 30)] as [(Int32, UInt32)] {
            estimator.receiverReport(cumulativeLost: lost, highestSequence: highest, now: .milliseconds(200))
        }
        #expect(estimator.lossRatio.map { (0...1).contains($0) } ?? true)
        let extremes = [Int64.min, Int64.max, -1, 0, Int64.max / 2].map { MediaTime(microseconds: $0) }
        estimator.feedback(extremes.map { .init(sent: $0, arrived: $0, bytes: Int.max / 16) }, rtt: .zero, now: .zero)
        estimator.feedback(extremes.map { .init(sent: .zero, arrived: $0, bytes: 1) }, rtt: MediaTime(microseconds: Int64.max / 4), now: MediaTime(microseconds: Int64.min / 4))
        #expect(estimator.estimate >= 30_000 && estimator.estimate <= 20_000_000)
    }
}
