import Desk
import DeskSimulation
import Foundation

/// `swift run -c release DeskBenchmark [forecast|estimate|staffing|all]`
///
/// The desk's numbers in a release build, the figures docs/desk.md quotes:
/// - `forecast`: ``ArrivalForecast`` and ``StaffingPlan`` on a year of history at 10,000 arrivals
///   a day (3.65 M arrivals and handling samples), timed; and the forecast's error against the
///   synthetic shop's true rates.
/// - `estimate`: ``WaitEstimator``'s error against the simulated desk, by team, handling-time
///   distribution and load.
/// - `staffing`: ``ErlangC/agentsNeeded(arrivalsPerHour:averageHandlingSeconds:targetSeconds:serviceLevel:maxOccupancy:concurrency:)``
///   checked against the simulation, with one agent fewer, and the per-agent model compared.
let section = CommandLine.arguments.dropFirst().first ?? "all"

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// CPU seconds of this thread: the machine is shared (builds, fuzzers), so wall-clock time
/// says more about the neighbours than about the code. Wall time is printed next to it.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body`, returning its value and its CPU seconds; prints nothing.
func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = threadCPUSeconds()
    let value = try body()
    return (value, threadCPUSeconds() - start)
}

/// Runs `body` and returns CPU and wall seconds.
func timeBoth<T>(_ body: () throws -> T) rethrows -> (T, cpu: Double, wall: Double) {
    let clock = ContinuousClock()
    let wallStart = clock.now
    let (value, cpu) = try time(body)
    return (value, cpu, seconds(clock.now - wallStart))
}

func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }

// MARK: Forecast

if section == "forecast" || section == "all" {
    let zone = TimeZone(identifier: "Europe/Berlin")!
    // 2024-11-04 00:00 Berlin (a Monday) to 2025-11-03: a year with both DST changes in it.
    let start = Date(timeIntervalSince1970: 1_730_674_800)
    let profile = SyntheticHistory.shopProfile(arrivalsPerDay: 10_000)
    let (arrivals, generation) = time {
        SyntheticHistory.arrivals(from: start, days: 364, timeZone: zone, seed: 7, ratePerHour: profile)
    }
    let handling = SyntheticHistory.handling(for: arrivals, mean: 300, cv: 1, seed: 8)
    let end = start.addingTimeInterval(364 * 86_400)
    let history = ArrivalHistory(arrivals: arrivals, handling: handling, covered: DateInterval(start: start, end: end))
    print("## Forecast: a year of history, \(arrivals.count) arrivals and \(handling.count) handling samples (generated in \(f(generation, 2)) s)")
    let forecaster = ArrivalForecast(timeZone: zone)
    func report(_ what: String, runs: Int = 3, _ body: () -> String) {
        var cpu: [Double] = []
        var wall: [Double] = []
        var note = ""
        for _ in 0..<runs {
            let r = timeBoth(body)
            note = r.0
            cpu.append(r.cpu)
            wall.append(r.wall)
        }
        print("\(what): CPU \(f(cpu.min()! * 1_000)) ms best of \(runs) (wall \(f(wall.min()! * 1_000)) ms)\(note)")
    }
    var target = StaffingPlan.Target()
    target.concurrency = 2
    var slots: [ForecastSlot] = []
    report("forecast of 14 days, 8 weeks looked back") {
        slots = try! forecaster.forecast(history: history, from: end, days: 14)
        return " — \(slots.count) half hours"
    }
    report("staffing plan of those 14 days (concurrency 2)") {
        let plan = try! StaffingPlan(forecast: slots, target: target)
        return " — peak \(plan.peakAgents) agents, \(f(plan.agentHours, 0)) agent-hours"
    }
    var long: [ForecastSlot] = []
    report("forecast of 366 days, 8 weeks looked back") {
        long = try! forecaster.forecast(history: history, from: end, days: 366)
        return " — \(long.count) half hours"
    }
    report("staffing plan of those 366 days") {
        let plan = try! StaffingPlan(forecast: long, target: target)
        return " — peak \(plan.peakAgents) agents"
    }
    var deep = ArrivalForecast.Configuration()
    deep.weeks = 52
    report("worst forecast the limits allow: 52 weeks looked back, 366 days") {
        let all = try! ArrivalForecast(timeZone: zone, configuration: deep).forecast(history: history, from: end, days: 366)
        return " — \(all.count) half hours"
    }
    // The largest plan the limits allow: 366 days of half hours at 20,000 erlangs each.
    let heavy = long.map {
        var s = $0
        s.expectedArrivals = 20_000 * 3_600 / 300 * s.end.timeIntervalSince(s.start) / 3_600
        s.averageHandlingSeconds = 300
        return s
    }
    var heavyTarget = StaffingPlan.Target()
    heavyTarget.maxOccupancy = 1
    report("worst staffing plan the limits allow: 366 days of half hours at 20,000 erlangs", runs: 1) {
        let plan = try! StaffingPlan(forecast: heavy, target: heavyTarget)
        return " — \(plan.peakAgents) agents each"
    }
    report("ErlangC.agentsNeeded at 1,000 erlangs", runs: 5) {
        " — \(try! ErlangC.agentsNeeded(arrivalsPerHour: 12_000, averageHandlingSeconds: 300, targetSeconds: 30, serviceLevel: 0.8)) agents"
    }

    // Accuracy: 8 weeks of a 1,000-a-day shop, forecast the next 2 weeks, against the true rates.
    for perDay in [200.0, 1_000, 10_000] {
        let shop = SyntheticHistory.shopProfile(arrivalsPerDay: perDay)
        let past = SyntheticHistory.arrivals(from: start, days: 56, timeZone: zone, seed: 11, ratePerHour: shop)
        let cut = start.addingTimeInterval(56 * 86_400)
        let forecast = try! forecaster.forecast(
            history: ArrivalHistory(arrivals: past, covered: DateInterval(start: start, end: cut)), from: cut, days: 14)
        var absolute = 0.0
        var total = 0.0
        var worst = 0.0
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        for s in forecast {
            let truth = shop(s.weekday, s.minuteOfDay) * s.end.timeIntervalSince(s.start) / 3_600
            absolute += abs(s.expectedArrivals - truth)
            total += truth
            if truth >= perDay / 100 { worst = max(worst, abs(s.expectedArrivals / truth - 1)) }
        }
        print("forecast error, \(Int(perDay))/day, 8 weeks → 14 days: WAPE \(f(100 * absolute / total)) % (Σ|forecast − truth| / Σ truth), worst busy half hour \(f(100 * worst)) %")
    }
    print()
}

// MARK: Wait estimate

if section == "estimate" || section == "all" {
    print("## Wait estimate: estimate at join vs actual wait, queued shoppers only (400,000 arrivals, 20,000 warm-up)")
    print("| team | handling | ρ | queued | mean wait | MAE | MAE / mean wait | oracle MAE | p90 abs err | bias | in 10–90 % range |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    let teams: [(String, [Int])] = [("1 × 2 slots", [2]), ("4 × 3 slots", [3, 3, 3, 3]), ("20 × 3 slots", [Int](repeating: 3, count: 20))]
    let distributions: [HandlingDistribution] = [.exponential(mean: 300), .logNormal(mean: 300, cv: 1), .logNormal(mean: 300, cv: 1.5)]
    for (name, agents) in teams {
        for d in distributions {
            for load in [0.5, 0.8, 0.95] {
                var s = QueueSimulation.Scenario(load: load, handling: d, agents: agents)
                s.consultations = 400_000
                s.warmUp = 20_000
                s.seed = 42
                let e = QueueSimulation.run(s).estimateErrors()
                guard e.count > 0 else {
                    print("| \(name) | \(d) | \(load) | 0 | nobody queued | | | | | | |")
                    continue
                }
                print(
                    "| \(name) | \(d) | \(load) | \(e.count) | \(f(e.meanWait)) s | \(f(e.meanAbsoluteError)) s | \(f(100 * e.meanAbsoluteError / e.meanWait, 0)) % | \(f(e.oracleMeanAbsoluteError)) s | \(f(e.p90AbsoluteError)) s | \(f(e.bias, 1)) s | \(f(100 * e.coverage, 0)) % |"
                )
            }
        }
    }
    print()
}

// MARK: Staffing

if section == "staffing" || section == "all" {
    print("## Staffing: agentsNeeded (30 s, 80 %, no occupancy cap) against the simulation (1,000,000 arrivals, 20,000 warm-up; ± one standard error by 20 batch means)")
    print("| arrivals/h | handling | concurrency | agents (slot model) | agents (h/k model) | Erlang C SL | simulated SL | with one agent fewer: Erlang C | simulated |")
    print("|---|---|---|---|---|---|---|---|---|")
    let cases: [(Double, Double, Int)] = [(20, 300, 1), (60, 240, 2), (300, 300, 3), (1_000, 420, 2), (2_000, 300, 3), (12_000, 300, 1)]
    for (rate, aht, k) in cases {
        let agents = try! ErlangC.agentsNeeded(arrivalsPerHour: rate, averageHandlingSeconds: aht, targetSeconds: 30, serviceLevel: 0.8, concurrency: k)
        let perAgent = try! ErlangC.agentsNeeded(arrivalsPerHour: rate, averageHandlingSeconds: aht / Double(k), targetSeconds: 30, serviceLevel: 0.8)
        let model = try! ErlangC(arrivalsPerHour: rate, averageHandlingSeconds: aht, agents: agents, concurrency: k)
        let fewerModel = try! ErlangC(arrivalsPerHour: rate, averageHandlingSeconds: aht, agents: agents - 1, concurrency: k)
        for d in [HandlingDistribution.exponential(mean: aht), .logNormal(mean: aht, cv: 1)] {
            func simulate(_ n: Int) -> (value: Double, standardError: Double) {
                var s = QueueSimulation.Scenario(arrivalsPerHour: rate, handling: d, agents: [Int](repeating: k, count: n))
                s.consultations = 1_000_000
                s.warmUp = 20_000
                s.seed = 9
                return QueueSimulation.run(s).serviceLevelWithError(targetSeconds: 30)
            }
            let sim = simulate(agents)
            let fewer = agents > 1 ? simulate(agents - 1) : (value: 0.0, standardError: 0.0)
            print(
                "| \(Int(rate)) | \(d) | \(k) | \(agents) | \(perAgent) | \(f(100 * model.serviceLevel(targetSeconds: 30))) % | \(f(100 * sim.value)) ± \(f(100 * sim.standardError)) % | \(f(100 * fewerModel.serviceLevel(targetSeconds: 30))) % | \(f(100 * fewer.value)) ± \(f(100 * fewer.standardError)) % |"
            )
        }
    }
    print()
    print("## Concurrency slowdown: a chat lasts 1 + β(j − 1) times its drawn length when its agent then holds j (300/h, lognormal 240 s cv 1, concurrency 3); Erlang C fed the handling time measured in each run")
    print("| β | agents | measured handling | Erlang C SL (measured h) | simulated SL | simulated mean wait |")
    print("|---|---|---|---|---|---|")
    var summaries: [String] = []
    for beta in [0.0, 0.15, 0.3] {
        var smallest: Int?
        for agents in 8...16 {
            var s = QueueSimulation.Scenario(arrivalsPerHour: 300, handling: .logNormal(mean: 240, cv: 1), agents: [Int](repeating: 3, count: agents))
            s.slowdownPerExtraChat = beta
            s.consultations = 1_000_000
            s.warmUp = 20_000
            s.seed = 5
            let result = QueueSimulation.run(s)
            let h = result.meanHandlingSeconds
            let model = try? ErlangC(arrivalsPerHour: 300, averageHandlingSeconds: h, agents: agents, concurrency: 3)
            let sim = result.serviceLevelWithError(targetSeconds: 30)
            let meanWait = result.shoppers.reduce(0) { $0 + $1.wait } / Double(result.shoppers.count)
            print(
                "| \(beta) | \(agents) | \(f(h)) s | \(f(100 * (model?.serviceLevel(targetSeconds: 30) ?? 0))) % | \(f(100 * sim.value)) ± \(f(100 * sim.standardError)) % | \(f(meanWait)) s |"
            )
            if smallest == nil, sim.value >= 0.8 { smallest = agents }
            if sim.value > 0.97 { break }
        }
        let full = 240 * (1 + beta * 2)
        let forFull = try! ErlangC.agentsNeeded(arrivalsPerHour: 300, averageHandlingSeconds: full, targetSeconds: 30, serviceLevel: 0.8, concurrency: 3)
        summaries.append(
            "β \(beta): smallest simulated team meeting 80 % in 30 s: \(smallest.map(String.init) ?? "none") agents; agentsNeeded fed the handling time at full concurrency (\(f(full, 0)) s): \(forFull)"
        )
    }
    print()
    for line in summaries { print(line) }
}
