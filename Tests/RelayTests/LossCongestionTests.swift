import MediaPipeline
@testable import Relay
import Testing

/// Loss as congestion for moving a viewer (``RelayState/isCongested(_:)``): one receiver report's
/// window over 10% is not taken, with a queue standing or not (random loss reads that now and then,
/// and a loaded machine's jitter reads as a 30 ms queue); loss that lasts two updates is.
@Suite struct LossCongestionTests {
    /// An estimator fed a second of feedback with no queue, then receiver reports each covering
    /// 25 packets with `lost[i]` lost.
    static func reports(_ lost: [Int32], queued: Bool = false) -> [Bool] {
        var e = DelayBasedBandwidthEstimator(start: 1_000_000)
        var t = MediaTime.zero
        for i in 0..<20 {
            t = t + .milliseconds(50)
            // 30 ms over the path's quickest from the 10th feedback on, when `queued`.
            let extra = MediaTime.milliseconds(queued && i >= 10 ? 30 : 0)
            e.feedback([.init(sent: t - .milliseconds(40), arrived: t - .milliseconds(20) + extra, bytes: 1_200)], rtt: .milliseconds(40), now: t)
        }
        var cumulative: Int32 = 0, highest: UInt32 = 1_000
        e.receiverReport(cumulativeLost: 0, highestSequence: highest, now: t)
        return lost.map { n in
            cumulative += n
            highest += 25
            t = t + .milliseconds(500)
            e.receiverReport(cumulativeLost: cumulative, highestSequence: highest, now: t)
            return RelayState.isCongested(e)
        }
    }

    @Test func oneLossyWindowWithNoQueueIsNotCongestion() {
        #expect(Self.reports([0, 3, 0, 0]) == [false, false, false, false])
    }

    @Test func lossThatLastsIsCongestion() {
        #expect(Self.reports([0, 3, 4, 0]) == [false, false, true, false])
    }

    /// CI, 2026-12-05: one window read 14% while a 30 ms queue showed on a path with no bottleneck.
    @Test func oneLossyWindowWithAQueueIsNotCongestion() {
        #expect(Self.reports([0, 3, 0], queued: true) == [false, false, false])
    }

    @Test func lossThatLastsWithAQueueIsCongestion() {
        #expect(Self.reports([0, 3, 4], queued: true) == [false, false, true])
    }

    /// The trend's overuse alone counts once it has lasted 200 ms of feedback (a 40–80 ms hiccup
    /// of a loaded machine does not); other congestion counts at once and clears the wait.
    @Test func theTrendsOveruseAloneCountsOnceItHasLasted() {
        var since: MediaTime?
        let t = MediaTime.milliseconds(1_000)
        #expect(!RelayState.overuseHasLasted(since: &since, trendOnly: true, now: t))
        #expect(!RelayState.overuseHasLasted(since: &since, trendOnly: true, now: t + .milliseconds(80)))
        #expect(RelayState.overuseHasLasted(since: &since, trendOnly: true, now: t + .milliseconds(200)))
        // A long queue or lasting loss: at once.
        #expect(RelayState.overuseHasLasted(since: &since, trendOnly: false, now: t + .milliseconds(250)))
        #expect(since == nil)
        #expect(!RelayState.overuseHasLasted(since: &since, trendOnly: true, now: t + .milliseconds(300)))
    }
}
