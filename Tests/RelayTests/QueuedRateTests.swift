import MediaPipeline
@testable import Relay
import Testing

/// A key frame's burst against a path that falls short: what the estimator reads of the
/// bottleneck's own rate from the packets that waited in its queue
/// (``DelayBasedBandwidthEstimator/queuedRate(now:)``), and whether the relay takes the queue for
/// congestion (``RelayState/isBurst(_:sending:now:)``).
@Suite struct QueuedRateTests {
    /// A video stream of `average` bit/s (1,200-byte packets, 30 a second) through a FIFO drained
    /// at `capacity`, with a `keyFrame`-byte burst sent back to back every 2 s; feedback every
    /// 50 ms, for `seconds`. Returns the estimator and each feedback's (time, queue, queued rate,
    /// burst or congestion) where the feedback showed a queue.
    static func run(capacity: Double, average: Double, keyFrame: Int, seconds: Double)
        -> (estimator: DelayBasedBandwidthEstimator, readings: [(t: Double, signalled: Bool, rate: Double?, burst: Bool)])
    {
        var path = BottleneckPath(capacity: { _ in capacity })
        var estimator = DelayBasedBandwidthEstimator(start: 300_000)
        var readings: [(t: Double, signalled: Bool, rate: Double?, burst: Bool)] = []
        var pending: [DelayBasedBandwidthEstimator.Packet] = []
        let packetGap = MediaTime(microseconds: Int64(1_200 * 8 / average * 1_000_000))
        var nextPacket = MediaTime.zero, nextKey = MediaTime.milliseconds(1_000), nextFeedback = MediaTime.milliseconds(50)
        let end = MediaTime.milliseconds(seconds * 1_000)
        while nextFeedback < end {
            let t = min(nextPacket, nextKey, nextFeedback)
            if t == nextKey {
                for _ in 0..<(keyFrame / 1_200) { pending.append(.init(sent: t, arrived: path.carry(bytes: 1_200, at: t), bytes: 1_200)) }
                nextKey = t + .milliseconds(2_000)
            } else if t == nextPacket {
                pending.append(.init(sent: t, arrived: path.carry(bytes: 1_200, at: t), bytes: 1_200))
                nextPacket = t + packetGap
            } else {
                let ready = pending.prefix { p in p.arrived.map { $0 <= t } ?? (t - p.sent >= .milliseconds(200)) }
                estimator.feedback(Array(ready), rtt: .milliseconds(40), now: t)
                pending.removeFirst(ready.count)
                let signalled = RelayState.isCongested(estimator)
                readings.append((t.milliseconds / 1_000, signalled, estimator.queuedRate(now: t),
                    signalled && RelayState.isBurst(estimator, sending: average, now: t)))
                nextFeedback = t + .milliseconds(50)
            }
        }
        return (estimator, readings)
    }

    /// 520 kbit/s with a 30 KB key frame every 2 s through 1 Mbit/s: each key frame queues
    /// 240 ms — congestion by the queue alone — but the packets behind it leave at the path's
    /// 1 Mbit/s, which carries the stream: a burst, every time, and the rate read is the path's
    /// within 10%. Fails with the burst rule gone.
    @Test func aKeyFramesQueueOnAPathThatCarriesTheStreamIsABurst() {
        let (_, readings) = Self.run(capacity: 1_000_000, average: 520_000, keyFrame: 30_000, seconds: 12)
        let signalled = readings.filter(\.signalled)
        print("1 Mbit/s, 520 kbit/s with 30 KB key frames: \(signalled.count) feedbacks signalled, queued rate \(signalled.compactMap(\.rate).map { Int($0) }.prefix(8))")
        #expect(signalled.count >= 5, "the key frames made no queue the relay reads as congestion")
        let notBursts = signalled.filter { !$0.burst }
        #expect(notBursts.isEmpty, "\(notBursts)")
        for r in signalled { #expect(r.rate.map { abs($0 - 1_000_000) < 100_000 } == true, "queued rate \(String(describing: r.rate)) at \(r.t) s") }
    }

    /// The same stream through 400 kbit/s: the queue is read at the path's 400 kbit/s, below the
    /// stream, and stays congestion.
    @Test func aQueueOnAPathThatCannotCarryTheStreamIsCongestion() {
        let (_, readings) = Self.run(capacity: 400_000, average: 520_000, keyFrame: 30_000, seconds: 6)
        let signalled = readings.filter(\.signalled)
        #expect(signalled.count >= 5)
        let bursts = signalled.filter { $0.burst }
        #expect(bursts.isEmpty, "\(bursts)")
        #expect(signalled.compactMap(\.rate).allSatisfy { abs($0 - 400_000) < 40_000 }, "\(signalled.compactMap(\.rate))")
    }

    /// With no queue there is no queued rate; hostile arrival times (all equal, or jumping by
    /// years) neither trap nor give one; and what is held stays within ``DelayBasedBandwidthEstimator/maximumHeld``
    /// however many queued packets feedback reports.
    @Test func noQueueNoReadingAndHostileTimesAreBounded() {
        let (estimator, readings) = Self.run(capacity: 5_000_000, average: 520_000, keyFrame: 1_200, seconds: 4)
        #expect(readings.allSatisfy { $0.rate == nil && !$0.signalled }, "\(readings.filter { $0.rate != nil })")
        var hostile = estimator
        let now = MediaTime.milliseconds(5_000)
        let jumping = (0..<100).map { n in
            DelayBasedBandwidthEstimator.Packet(sent: .milliseconds(4_000), arrived: MediaTime(microseconds: Int64(n) << 50), bytes: 1_200)
        }
        let same = (0..<100).map { _ in DelayBasedBandwidthEstimator.Packet(sent: .milliseconds(4_000), arrived: .milliseconds(9_000), bytes: 65_535) }
        hostile.feedback(jumping, rtt: .milliseconds(40), now: now)
        hostile.feedback(same, rtt: .milliseconds(40), now: now)
        #expect(hostile.queuedRate(now: now) == nil)
        // 20,000 packets, each 1 ms after the one before and 100 ms over the path's quickest.
        for batch in 0..<20 {
            let packets = (0..<1_000).map { (i: Int) -> DelayBasedBandwidthEstimator.Packet in
                let n = Int64(batch * 1_000 + i)
                return .init(sent: MediaTime(microseconds: 6_000_000 + n * 1_000), arrived: MediaTime(microseconds: 6_100_000 + n * 1_000), bytes: 1_200)
            }
            hostile.feedback(packets, rtt: .milliseconds(40), now: now + MediaTime(microseconds: Int64(batch) * 1_000))
        }
        #expect(hostile.queuedGaps.count <= DelayBasedBandwidthEstimator.maximumHeld)
        #expect(hostile.queuedRate(now: now + MediaTime(microseconds: 19_000)).map { abs($0 - 9_600_000) < 1 } == true)
    }
}
