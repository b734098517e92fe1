import Foundation
import Testing

@testable import Desk

/// ``ErlangC`` against reference values computed independently (exact sums in log space, in
/// Python: `Σ Aᵏ/k!` with `lgamma`), the textbook example, and its limits.
@Suite struct ErlangCTests {
    /// 2 erlangs on 3 servers: C = 4/9 (M/M/3 with λ = 2, μ = 1).
    @Test func textbookSmallQueue() throws {
        let model = try ErlangC(arrivalsPerHour: 7_200, averageHandlingSeconds: 1, agents: 3)
        #expect(abs(model.trafficErlangs - 2) < 1e-12)
        #expect(abs(model.probabilityOfWaiting - 4.0 / 9) < 1e-12)
        #expect(abs(ErlangC.erlangB(traffic: 2, servers: 3) - 4.0 / 19) < 1e-12)
    }

    /// 200 contacts an hour of 180 s (10 erlangs), 20 s target: the usual worked example gives 14
    /// agents for 80 %, with C = 0.174, SL = 88.8 %, ASA = 7.8 s.
    @Test(arguments: [
        (11, 0.682118204689332, 0.38961381172915366, 122.78127684407977),
        (12, 0.4493882242982712, 0.6401580403740064, 40.444940186844406),
        (13, 0.28527045303649357, 0.7955947884177826, 17.116227182189615),
        (14, 0.17413193359504933, 0.8883500191794672, 7.83593701177722),
        (15, 0.10204236700798844, 0.9414528428690221, 3.6735252122875837),
    ])
    func tenErlangs(agents: Int, wait: Double, serviceLevel: Double, asa: Double) throws {
        let model = try ErlangC(arrivalsPerHour: 200, averageHandlingSeconds: 180, agents: agents)
        #expect(abs(model.probabilityOfWaiting - wait) < 1e-9)
        #expect(abs(model.serviceLevel(targetSeconds: 20) - serviceLevel) < 1e-9)
        #expect(abs(model.averageSpeedOfAnswer - asa) < 1e-7)
    }

    /// The recursion started just below the traffic gives the full recursion's result: the
    /// starting error is damped away before the servers reach the traffic.
    @Test(arguments: [0.3, 2, 9.99, 57.3, 120, 999.5, 1_000, 4_321.7, 20_000])
    func shortcutRecursionEqualsTheFullOne(traffic: Double) {
        let root = traffic.squareRoot()
        for offset in [-5 * root, -1, 0, 1, root, 3 * root, 10 * root, 50 * root] {
            let servers = max(0, Int((traffic + offset).rounded()))
            let full = ErlangC.erlangBFromZero(traffic: traffic, servers: servers)
            let fast = ErlangC.erlangB(traffic: traffic, servers: servers)
            #expect(abs(fast - full) <= 1e-13 * full, "A \(traffic), c \(servers): \(fast) vs \(full)")
        }
    }

    @Test func agentsNeededForTheWorkedExample() throws {
        #expect(try ErlangC.agentsNeeded(arrivalsPerHour: 200, averageHandlingSeconds: 180, targetSeconds: 20, serviceLevel: 0.8) == 14)
        // An occupancy cap binds first: 10 erlangs at ≤ 0.6 needs 17.
        #expect(
            try ErlangC.agentsNeeded(
                arrivalsPerHour: 200, averageHandlingSeconds: 180, targetSeconds: 20, serviceLevel: 0.8, maxOccupancy: 0.6) == 17)
    }

    /// 1,000 erlangs (12,000 an hour of 300 s): no factorial, no overflow, the reference figures.
    @Test(arguments: [
        (1_010, 0.6605211454676927, 0.7570078501234243),
        (1_015, 0.5276253546438903, 0.8822708701199367),
        (1_030, 0.2489087858434743, 0.9876075612618489),
        (1_045, 0.10306782374876032, 0.9988550199027708),
    ])
    func thousandErlangs(agents: Int, wait: Double, serviceLevel: Double) throws {
        let model = try ErlangC(arrivalsPerHour: 12_000, averageHandlingSeconds: 300, agents: agents)
        #expect(abs(model.probabilityOfWaiting - wait) < 1e-9)
        #expect(abs(model.serviceLevel(targetSeconds: 30) - serviceLevel) < 1e-9)
    }

    @Test func agentsNeededAtAThousandErlangs() throws {
        let (agents, model) = try ErlangC.staffing(
            arrivalsPerHour: 12_000, averageHandlingSeconds: 300, targetSeconds: 30, serviceLevel: 0.8)
        #expect(agents == 1_012)
        #expect(model.serviceLevel(targetSeconds: 30) >= 0.8)
        let fewer = try ErlangC(arrivalsPerHour: 12_000, averageHandlingSeconds: 300, agents: agents - 1)
        #expect(fewer.serviceLevel(targetSeconds: 30) < 0.8)
        // The bound: 20,000 erlangs still computes.
        let huge = try ErlangC.agentsNeeded(
            arrivalsPerHour: 240_000, averageHandlingSeconds: 300, targetSeconds: 30, serviceLevel: 0.8)
        #expect(huge > 20_000 && huge < 20_100)
    }

    /// A slot model: an agent of concurrency k is k servers, so the agents needed are the servers
    /// needed divided by k, rounded up.
    @Test(arguments: [1, 2, 3, 4, 7])
    func concurrencyIsServersPerAgent(k: Int) throws {
        let servers = try ErlangC.agentsNeeded(arrivalsPerHour: 600, averageHandlingSeconds: 300, targetSeconds: 30, serviceLevel: 0.8)
        let agents = try ErlangC.agentsNeeded(
            arrivalsPerHour: 600, averageHandlingSeconds: 300, targetSeconds: 30, serviceLevel: 0.8, concurrency: k)
        #expect(agents == (servers + k - 1) / k)
        let model = try ErlangC(arrivalsPerHour: 600, averageHandlingSeconds: 300, agents: agents, concurrency: k)
        #expect(model.servers == agents * k)
    }

    @Test func serviceLevelRisesWithAgentsAndTarget() throws {
        var previous = -1.0
        for agents in 0...30 {
            let model = try ErlangC(arrivalsPerHour: 200, averageHandlingSeconds: 180, agents: agents)
            let sl = model.serviceLevel(targetSeconds: 20)
            #expect(sl >= previous && (0...1).contains(sl))
            #expect(model.serviceLevel(targetSeconds: 60) >= sl)
            previous = sl
        }
        // Unstable: everyone waits, nobody is answered in time, the answer never comes.
        let unstable = try ErlangC(arrivalsPerHour: 200, averageHandlingSeconds: 180, agents: 10)
        #expect(!unstable.isStable && unstable.probabilityOfWaiting == 1)
        #expect(unstable.serviceLevel(targetSeconds: 20) == 0 && unstable.averageSpeedOfAnswer == .infinity)
    }

    @Test func noTrafficNeedsNobody() throws {
        #expect(try ErlangC.agentsNeeded(arrivalsPerHour: 0, averageHandlingSeconds: 300, targetSeconds: 30, serviceLevel: 0.8) == 0)
        let idle = try ErlangC(arrivalsPerHour: 0, averageHandlingSeconds: 300, agents: 0)
        #expect(idle.serviceLevel(targetSeconds: 30) == 1 && idle.averageSpeedOfAnswer == 0 && idle.occupancy == 0)
    }

    @Test func hostileInputsThrowWithTheirCode() {
        func code(_ body: () throws -> Void) -> ForecastError.Code? {
            do {
                try body()
                return nil
            } catch { return (error as? ForecastError)?.code }
        }
        let bad: [(ForecastError.Code, () throws -> Void)] = [
            (.invalidArgument, { _ = try ErlangC(arrivalsPerHour: .nan, averageHandlingSeconds: 300, agents: 1) }),
            (.invalidArgument, { _ = try ErlangC(arrivalsPerHour: -1, averageHandlingSeconds: 300, agents: 1) }),
            (.invalidArgument, { _ = try ErlangC(arrivalsPerHour: 10, averageHandlingSeconds: 0, agents: 1) }),
            (.invalidArgument, { _ = try ErlangC(arrivalsPerHour: 10, averageHandlingSeconds: .infinity, agents: 1) }),
            (.invalidArgument, { _ = try ErlangC(arrivalsPerHour: 10, averageHandlingSeconds: 300, agents: -1) }),
            (.invalidArgument, { _ = try ErlangC(arrivalsPerHour: 10, averageHandlingSeconds: 300, agents: 1, concurrency: 0) }),
            (.overLimit, { _ = try ErlangC(arrivalsPerHour: 10, averageHandlingSeconds: 300, agents: Int.max) }),
            (.overLimit, { _ = try ErlangC(arrivalsPerHour: 1e300, averageHandlingSeconds: 300, agents: 1) }),
            (.overLimit, { _ = try ErlangC(arrivalsPerHour: 10, averageHandlingSeconds: 1e9, agents: 1) }),
            (.invalidArgument, { _ = try ErlangC.agentsNeeded(arrivalsPerHour: 10, averageHandlingSeconds: 300, targetSeconds: -1, serviceLevel: 0.8) }),
            (.invalidArgument, { _ = try ErlangC.agentsNeeded(arrivalsPerHour: 10, averageHandlingSeconds: 300, targetSeconds: 30, serviceLevel: 1.5) }),
            (.invalidArgument, { _ = try ErlangC.agentsNeeded(arrivalsPerHour: 10, averageHandlingSeconds: 300, targetSeconds: 30, serviceLevel: .nan) }),
            (.invalidArgument, { _ = try ErlangC.agentsNeeded(arrivalsPerHour: 10, averageHandlingSeconds: 300, targetSeconds: 30, serviceLevel: 0.8, maxOccupancy: 0) }),
            (.invalidArgument, { _ = try ErlangC.agentsNeeded(arrivalsPerHour: 10, averageHandlingSeconds: 300, targetSeconds: 30, serviceLevel: 1) }),
            // 20,000 erlangs at most 30 % busy needs 66,667 servers: past the bound, the search stops.
            (.unreachableTarget, { _ = try ErlangC.agentsNeeded(arrivalsPerHour: 240_000, averageHandlingSeconds: 300, targetSeconds: 30, serviceLevel: 0.8, maxOccupancy: 0.3) }),
        ]
        for (i, (expected, body)) in bad.enumerated() {
            #expect(code(body) == expected, "case \(i)")
        }
    }
}
