import Desk
import DeskSimulation
import Testing

/// ``ErlangC/agentsNeeded(arrivalsPerHour:averageHandlingSeconds:targetSeconds:serviceLevel:maxOccupancy:concurrency:)``
/// checked against the simulated desk: the team it asks for answers the target share within 30 s,
/// and one agent fewer does not. Agents hold several chats at once (slots); handling times are
/// exponential (Erlang C's assumption) or log-normal (closer to chats). Longer runs and larger
/// desks are in docs/desk.md (`swift run -c release DeskBenchmark staffing`).
///
/// Tolerance: the simulated service level may fall short of the target by 2 points and differ
/// from Erlang C's prediction by 2.5 points. These runs (400,000 arrivals) have a standard
/// error, by 20 batch means, of 0.1–0.7 points with the team asked for, so 2 points is at
/// least 3 standard errors.
@Suite struct StaffingSimulationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var arrivalsPerHour: Double
        var handling: HandlingDistribution
        var concurrency: Int
        var testDescription: String { "\(Int(arrivalsPerHour))/h, \(handling), concurrency \(concurrency)" }
    }

    static let target = 30.0
    static let level = 0.8

    @Test(arguments: [
        Case(arrivalsPerHour: 20, handling: .exponential(mean: 300), concurrency: 1),
        Case(arrivalsPerHour: 20, handling: .logNormal(mean: 300, cv: 1), concurrency: 1),
        Case(arrivalsPerHour: 60, handling: .exponential(mean: 240), concurrency: 2),
        Case(arrivalsPerHour: 60, handling: .logNormal(mean: 240, cv: 1), concurrency: 2),
        Case(arrivalsPerHour: 300, handling: .exponential(mean: 300), concurrency: 3),
        Case(arrivalsPerHour: 300, handling: .logNormal(mean: 300, cv: 1), concurrency: 3),
    ])
    func agentsNeededMeetsTheTargetAndOneFewerDoesNot(_ c: Case) throws {
        let agents = try ErlangC.agentsNeeded(
            arrivalsPerHour: c.arrivalsPerHour, averageHandlingSeconds: c.handling.mean, targetSeconds: Self.target,
            serviceLevel: Self.level, concurrency: c.concurrency)
        func simulate(_ n: Int) -> (value: Double, standardError: Double) {
            var s = QueueSimulation.Scenario(
                arrivalsPerHour: c.arrivalsPerHour, handling: c.handling, agents: [Int](repeating: c.concurrency, count: n))
            s.consultations = 400_000
            s.warmUp = 10_000
            s.seed = 9
            return QueueSimulation.run(s).serviceLevelWithError(targetSeconds: Self.target)
        }
        let predicted = try ErlangC(
            arrivalsPerHour: c.arrivalsPerHour, averageHandlingSeconds: c.handling.mean, agents: agents,
            concurrency: c.concurrency
        ).serviceLevel(targetSeconds: Self.target)
        let enough = simulate(agents)
        print("staffing check \(c.testDescription): \(agents) agents, Erlang C \(predicted), simulated \(enough)")
        #expect(enough.value >= Self.level - 0.02, "\(agents) agents: \(enough)")
        #expect(abs(enough.value - predicted) <= 0.025, "\(agents) agents: simulated \(enough), Erlang C \(predicted)")
        #expect(enough.standardError < 0.007)
        let fewer = simulate(agents - 1)
        print("staffing check \(c.testDescription): \(agents - 1) agents, simulated \(fewer)")
        #expect(fewer.value < Self.level, "\(agents - 1) agents: \(fewer)")
    }

    /// The per-agent alternative (one server per agent, handling time h / k) asks for more agents
    /// than the slot model where the slot model's team already meets the target in simulation.
    @Test func theSlotModelNeedsNoMoreAgentsThanThePerAgentModel() throws {
        let slots = try ErlangC.agentsNeeded(arrivalsPerHour: 300, averageHandlingSeconds: 300, targetSeconds: 30, serviceLevel: 0.8, concurrency: 3)
        let perAgent = try ErlangC.agentsNeeded(arrivalsPerHour: 300, averageHandlingSeconds: 100, targetSeconds: 30, serviceLevel: 0.8)
        #expect(slots == 10 && perAgent == 11)
        for cv in [0.0, 1.0] {
            var s = QueueSimulation.Scenario(
                arrivalsPerHour: 300, handling: cv == 0 ? .exponential(mean: 300) : .logNormal(mean: 300, cv: cv),
                agents: [Int](repeating: 3, count: slots))
            s.consultations = 120_000
            #expect(QueueSimulation.run(s).serviceLevel(targetSeconds: 30) >= 0.8)
        }
    }
}
