import MediaPipeline
@testable import Relay
import Testing

/// ``NACKGenerator``: which of a publisher's packets the relay asks for again, and when.
@Suite struct NACKGeneratorTests {
    let t0 = MediaTime.zero

    @Test func aGapIsAskedForAtOnceAndFilledOnce() {
        var g = NACKGenerator()
        #expect(g.received(10, now: t0) == .new(lost: []))
        #expect(g.received(11, now: t0) == .new(lost: []))
        #expect(g.received(14, now: t0) == .new(lost: [12, 13]))
        #expect(g.received(13, now: t0) == .recovered)
        #expect(g.received(13, now: t0) == .duplicate)
        #expect(g.received(11, now: t0) == .duplicate)
        #expect(g.received(14, now: t0) == .duplicate)
        #expect(g.count == 1)
    }

    @Test func sequenceNumbersWrap() {
        var g = NACKGenerator()
        _ = g.received(65_534, now: t0)
        #expect(g.received(1, now: t0) == .new(lost: [65_535, 0]))
        #expect(g.received(65_535, now: t0) == .recovered)
        #expect(g.received(0, now: t0) == .recovered)
        #expect(g.count == 0)
    }

    @Test func aRestartIsNotLossAndALongGapIsBounded() {
        var g = NACKGenerator()
        _ = g.received(0, now: t0)
        _ = g.received(5, now: t0)
        #expect(g.count == 4)
        #expect(g.received(5 &+ NACKGenerator.maximumGap &+ 1, now: t0) == .new(lost: []))
        #expect(g.count == 0)
        // Far behind: one stray old packet moves nothing; three in a row are a restart, and the
        // stream goes on from there.
        let back: UInt16 = 5 &+ NACKGenerator.maximumGap &+ 1 &- 1_000
        #expect(g.received(back, now: t0) == .duplicate)
        #expect(g.received(back &+ 5, now: t0) == .duplicate)
        #expect(g.received(back &+ 6, now: t0) == .duplicate)
        #expect(g.received(back &+ 7, now: t0) == .new(lost: []))
        #expect(g.received(back &+ 8, now: t0) == .new(lost: []))
        #expect(g.received(back &+ 4, now: t0) == .duplicate)
        var h = NACKGenerator()
        _ = h.received(1_000, now: t0)
        guard case .new(let lost) = h.received(1_000 &+ NACKGenerator.maximumGap, now: t0) else {
            Issue.record("not new")
            return
        }
        #expect(lost.count == NACKGenerator.maximumMissing && lost.last == 1_000 &+ NACKGenerator.maximumGap &- 1)
        #expect(h.count == NACKGenerator.maximumMissing)
        // More gaps push the oldest out: never more than the bound.
        _ = h.received(1_000 &+ NACKGenerator.maximumGap &+ 10, now: t0)
        #expect(h.count == NACKGenerator.maximumMissing)
    }

    /// A path that reorders: once a packet came late on its own (overtaken by one), a gap waits
    /// for one more packet before it is asked for, and one that fills itself in time is never
    /// asked for; the timer asks for one that waited too long. A resent packet (RTX) changes
    /// nothing but the gap it fills, and one not missing is a duplicate.
    @Test func reorderingIsNotAskedFor() {
        var g = NACKGenerator()
        _ = g.received(10, now: t0)
        _ = g.received(11, now: t0)
        #expect(g.received(13, now: t0) == .new(lost: [12]))
        #expect(g.received(12, now: t0) == .recovered)
        #expect(g.reorderingDistance == 1)
        // A packet that comes long after its gap showed is a resend, not reordering.
        var r = NACKGenerator()
        _ = r.received(1, now: t0)
        _ = r.received(3, now: t0)
        #expect(r.received(2, now: t0 + .milliseconds(60)) == .recovered)
        #expect(r.reorderingDistance == 0)
        _ = g.received(14, now: t0)
        #expect(g.received(16, now: t0) == .new(lost: []))
        #expect(g.received(15, now: t0) == .late)
        #expect(g.received(18, now: t0) == .new(lost: []))
        #expect(g.received(19, now: t0) == .new(lost: [17]))
        #expect(g.repaired(17) == .recovered)
        #expect(g.repaired(17) == .duplicate)
        #expect(g.repaired(40) == .duplicate)
        #expect(g.received(20, now: t0) == .new(lost: []))
        // Not asked yet and waited a retry interval: the timer asks.
        #expect(g.received(22, now: t0) == .new(lost: []))
        #expect(g.due(now: t0 + NACKGenerator.retryInterval, retryInterval: NACKGenerator.retryInterval) == [21])
        // Far late: the wait is at most `maximumReorderingWait`.
        var h = NACKGenerator()
        _ = h.received(100, now: t0)
        _ = h.received(140, now: t0)
        #expect(h.received(110, now: t0) == .recovered)
        #expect(h.reorderingDistance == NACKGenerator.maximumReorderingWait)
    }

    @Test func askedAgainOncePerIntervalUntilTooOftenOrTooOld() {
        var g = NACKGenerator()
        _ = g.received(1, now: t0)
        _ = g.received(3, now: t0)
        #expect(g.due(now: t0 + .milliseconds(50), retryInterval: NACKGenerator.retryInterval).isEmpty)
        var asked = 1
        var t = t0
        for _ in 0..<20 {
            t = t + .milliseconds(100)
            asked += g.due(now: t, retryInterval: NACKGenerator.retryInterval).count
        }
        #expect(asked == NACKGenerator.maximumTries)
        #expect(g.count == 0)
        // Too old: a packet missing over a second is given up whatever its tries.
        _ = g.received(5, now: t)
        #expect(g.due(now: t + NACKGenerator.maximumAge + .milliseconds(1), retryInterval: .milliseconds(5_000)).isEmpty)
        #expect(g.count == 0)
    }
}
