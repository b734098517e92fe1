import Desk
import Testing

/// ``WaitEstimator``'s rules, one at a time; its accuracy against a simulated desk is in
/// ``WaitEstimatorAccuracyTests``.
@Suite struct WaitEstimatorTests {
    @Test func coldStartThenTheSamplesTakeOver() {
        var e = WaitEstimator()
        #expect(e.averageHandlingSeconds == 300 && e.samples == 0)
        // The cold start weighs 3 samples: after 3 samples of 600 s the average is halfway.
        for _ in 0..<3 { e.record(handlingSeconds: 600) }
        #expect(abs(e.averageHandlingSeconds - 450) < 15)
        for _ in 0..<200 { e.record(handlingSeconds: 600) }
        #expect(abs(e.averageHandlingSeconds - 600) < 1)
        #expect(e.samples == 203)
    }

    /// Half-life 50: after a step from 200 s to 400 s, 50 samples later the average is halfway.
    @Test func halfLifeInConsultations() {
        var e = WaitEstimator()
        for _ in 0..<2_000 { e.record(handlingSeconds: 200) }
        for _ in 0..<50 { e.record(handlingSeconds: 400) }
        #expect(abs(e.averageHandlingSeconds - 300) < 1)
    }

    @Test func outliersAndGarbageAreBounded() {
        var e = WaitEstimator()
        for _ in 0..<500 { e.record(handlingSeconds: 300) }
        // A chat left open overnight counts as 8 × the average, not 12 hours: one step of
        // (2,400 − 300) / 72.6 (the steady weight, 1/α) instead of 43,000 / 72.6.
        e.record(handlingSeconds: 43_200)
        let afterOutlier = e.averageHandlingSeconds
        #expect(abs(afterOutlier - 328.9) < 0.5)
        for x in [Double.nan, .infinity, -.infinity, -5, 0] { e.record(handlingSeconds: x) }
        #expect(e.averageHandlingSeconds == afterOutlier)
        #expect(e.samples == 501)
    }

    @Test func positionsWithinTheFreeSlotsWaitNothing() throws {
        let e = WaitEstimator()
        let capacity = QueueCapacity(totalSlots: 6, busySlots: 4)
        #expect(e.estimate(position: 1, capacity: capacity) == .now)
        #expect(e.estimate(position: 2, capacity: capacity) == .now)
        // The third needs one of 6 busy slots to free: 300 s / 6.
        let third = try #require(e.estimate(position: 3, capacity: capacity))
        #expect(third.departuresAhead == 1 && abs(third.seconds - 50) < 1e-9)
    }

    /// Position N with every slot busy waits N·h/S: N consultations must end, S slots end at rate S/h.
    @Test(arguments: [1, 2, 5, 20, 1_000])
    func busyDeskWaitsNTimesHOverS(position: Int) throws {
        var e = WaitEstimator()
        for _ in 0..<1_000 { e.record(handlingSeconds: 240) }
        let estimate = try #require(e.estimate(position: position, capacity: QueueCapacity(totalSlots: 8, busySlots: 8)))
        #expect(abs(estimate.seconds - Double(position) * 240 / 8) < 0.01)
        #expect(estimate.low < estimate.seconds && estimate.seconds < estimate.high)
        // The range narrows relative to the mean as 1/√N.
        let relative = (estimate.high - estimate.low) / estimate.seconds
        #expect(abs(relative - 2 * 1.2816 / Double(position).squareRoot()) < 0.5 / Double(position).squareRoot())
    }

    @Test func noAgentOnlineNoPromise() {
        #expect(WaitEstimator().estimate(position: 1, capacity: QueueCapacity(totalSlots: 0, busySlots: 0)) == nil)
        // Nonsense pictures are clamped: busy never above total, nothing negative.
        let clamped = QueueCapacity(totalSlots: 2, busySlots: 9)
        #expect(clamped.freeSlots == 0)
        #expect(QueueCapacity(totalSlots: -3, busySlots: -1) == QueueCapacity(totalSlots: 0, busySlots: 0))
        // Position 0 or below is the head of the queue.
        let e = WaitEstimator()
        #expect(e.estimate(position: -4, capacity: clamped) == e.estimate(position: 1, capacity: clamped))
        #expect(e.estimate(position: .max, capacity: clamped)!.seconds.isFinite)
    }

    @Test func hostileConfigurationFallsBackToDefaults() {
        var c = WaitEstimator.Configuration()
        c.halfLifeSamples = .nan
        c.coldStartHandlingSeconds = -1
        c.coldStartWeight = 0
        c.outlierFactor = .infinity
        let e = WaitEstimator(configuration: c)
        #expect(e.configuration == WaitEstimator.Configuration())
        #expect(e.averageHandlingSeconds == 300)
    }

    /// Wilson–Hilferty against the exponential's exact quantiles (shape 1: −ln 0.9, −ln 0.1).
    @Test func rangeAtShapeOneIsCloseToTheExponential() throws {
        var e = WaitEstimator()
        for _ in 0..<1_000 { e.record(handlingSeconds: 100) }
        let one = try #require(e.estimate(position: 1, capacity: QueueCapacity(totalSlots: 1, busySlots: 1)))
        #expect(abs(one.low - 10.54) < 0.8)
        #expect(abs(one.high - 230.26) < 3)
    }
}
