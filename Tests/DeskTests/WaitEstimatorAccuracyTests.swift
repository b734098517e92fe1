import Desk
import DeskSimulation
import Testing

/// ``WaitEstimator`` against the simulated desk: every shopper who queues is told an estimate
/// on joining; the simulation then says how long they actually waited. Shorter runs than
/// docs/desk.md's table (`swift run -c release DeskBenchmark estimate`), same bounds.
///
/// The error is mostly the wait's own randomness: position N waits for N departures, a sum whose
/// spread is 1/√N of its mean, so even the formula fed the true mean handling time (the
/// "oracle") is off by about half the wait at ρ 0.5 and a fifth at ρ 0.95. The bounds check that
/// the running average costs little on top of that, that the estimate is not biased, and that
/// its 10–90 % range holds about 80 % of waits.
@Suite struct WaitEstimatorAccuracyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var handling: HandlingDistribution
        var load: Double
        /// Largest mean absolute error allowed, as a share of the mean wait.
        var relativeError: Double
        var testDescription: String { "\(handling) at ρ \(load)" }
    }

    @Test(arguments: [
        Case(handling: .exponential(mean: 300), load: 0.5, relativeError: 0.60),
        Case(handling: .exponential(mean: 300), load: 0.8, relativeError: 0.40),
        Case(handling: .exponential(mean: 300), load: 0.95, relativeError: 0.25),
        Case(handling: .logNormal(mean: 300, cv: 1), load: 0.5, relativeError: 0.60),
        Case(handling: .logNormal(mean: 300, cv: 1), load: 0.8, relativeError: 0.40),
        Case(handling: .logNormal(mean: 300, cv: 1), load: 0.95, relativeError: 0.25),
    ])
    func estimateErrorIsBounded(_ c: Case) {
        // Four agents of three chats, the cold start (300 s) at the true mean's distance of 0.
        var scenario = QueueSimulation.Scenario(load: c.load, handling: c.handling, agents: [3, 3, 3, 3])
        scenario.consultations = c.load < 0.6 ? 200_000 : 100_000
        scenario.warmUp = 5_000
        scenario.seed = 42
        let e = QueueSimulation.run(scenario).estimateErrors()
        #expect(e.count > 1_000, "\(e)")
        #expect(e.meanAbsoluteError <= c.relativeError * e.meanWait, "\(e)")
        #expect(e.meanAbsoluteError <= 1.2 * e.oracleMeanAbsoluteError, "\(e)")
        #expect(abs(e.bias) <= 0.08 * e.meanWait, "\(e)")
        #expect((0.7...0.9).contains(e.coverage), "\(e)")
        #expect(e.p90AbsoluteError <= 2.5 * e.meanAbsoluteError, "\(e)")
    }

    /// A cold start far from the truth (300 s assumed, 900 s real) is forgotten within the
    /// warm-up: the error afterwards is that of a warm estimator.
    @Test func aWrongColdStartIsForgotten() {
        var scenario = QueueSimulation.Scenario(load: 0.8, handling: .logNormal(mean: 900, cv: 1), agents: [3, 3, 3, 3])
        scenario.consultations = 60_000
        scenario.warmUp = 2_000
        let e = QueueSimulation.run(scenario).estimateErrors()
        #expect(e.meanAbsoluteError <= 1.2 * e.oracleMeanAbsoluteError, "\(e)")
        #expect(abs(e.bias) <= 0.08 * e.meanWait, "\(e)")
    }

    @Test func theSimulationReplaysExactly() {
        var scenario = QueueSimulation.Scenario(load: 0.9, handling: .logNormal(mean: 200, cv: 1.5), agents: [1, 2, 3])
        scenario.consultations = 5_000
        scenario.warmUp = 0
        let a = QueueSimulation.run(scenario)
        let b = QueueSimulation.run(scenario)
        #expect(a.shoppers.map(\.wait) == b.shoppers.map(\.wait))
        #expect(a.shoppers.allSatisfy { $0.wait >= 0 })
        scenario.seed = 2
        #expect(QueueSimulation.run(scenario).shoppers.map(\.wait) != a.shoppers.map(\.wait))
    }
}
