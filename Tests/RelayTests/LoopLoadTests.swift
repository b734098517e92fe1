import MediaPipeline
@testable import Relay
import Testing

@Suite struct LoopLoadTests {
    @Test func aWindowIsMeasuredOnceItIsASecondLong() {
        var load = LoopLoad()
        load.tick(now: .milliseconds(1_000))  // the first window starts
        load.worked(.milliseconds(600))
        load.tick(now: .milliseconds(1_500))  // half a window: not measured yet
        #expect(load.busyFraction == 0)
        load.worked(.milliseconds(300))
        load.tick(now: .milliseconds(2_000))
        #expect(abs(load.busyFraction - 0.9) < 1e-9)
        #expect(load.isSaturated)
        // The next window starts empty: a quiet second brings it back.
        load.worked(.milliseconds(100))
        load.tick(now: .milliseconds(3_000))
        #expect(abs(load.busyFraction - 0.1) < 1e-9)
        #expect(!load.isSaturated)
    }

    @Test func workBeforeTheFirstWindowAndNegativeDurationsDoNotCount() {
        var load = LoopLoad()
        load.worked(.milliseconds(5_000))  // before any tick: no window to charge it to
        load.tick(now: .milliseconds(0))
        load.worked(MediaTime(microseconds: -1_000))  // a clock that stepped back
        load.tick(now: .milliseconds(1_000))
        #expect(load.busyFraction == 0)
        // More busy time than wall time (time measured across a window's edge) is capped at 1.
        load.worked(.milliseconds(1_500))
        load.tick(now: .milliseconds(2_000))
        #expect(load.busyFraction == 1)
    }
}
