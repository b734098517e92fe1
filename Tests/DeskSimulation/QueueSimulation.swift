import Desk
import Foundation
import ShowroomTestSupport

/// A seeded discrete-event simulation of one department's queue, served the way the desk serves
/// it: Poisson arrivals, agents each with a number of slots (their concurrency), first come first
/// served, a shopper taken by any free slot the moment one frees up. Nobody leaves the queue.
///
/// It is the reference the desk's models are checked against: ``WaitEstimator``'s estimate at
/// each queued shopper's join time against the wait that shopper then had, and ``ErlangC``'s
/// staffing against the service level the simulated team reaches. The same seed gives the same
/// run, event for event.
public struct QueueSimulation {
    public struct Scenario: Sendable, CustomStringConvertible {
        public var arrivalsPerHour: Double
        public var handling: HandlingDistribution
        /// Each agent's concurrency (slots).
        public var agents: [Int]
        /// A chat taken by an agent who then holds `j` chats lasts `1 + slowdown × (j − 1)` times
        /// its drawn length: agents juggling more chats answer each more slowly. 0: slots are
        /// independent, as ``ErlangC`` assumes. With a slowdown, new shoppers go to the agent
        /// with the most free slots.
        public var slowdownPerExtraChat = 0.0
        /// Arrivals simulated.
        public var consultations = 100_000
        /// Arrivals at the start left out of every statistic (the queue and the estimator's
        /// average start empty and cold).
        public var warmUp = 5_000
        public var seed: UInt64 = 1
        public var estimator = WaitEstimator.Configuration()

        public init(arrivalsPerHour: Double, handling: HandlingDistribution, agents: [Int]) {
            self.arrivalsPerHour = arrivalsPerHour
            self.handling = handling
            self.agents = agents
        }

        /// A scenario at slot utilisation `load` (ρ = λ·h / slots).
        public init(load: Double, handling: HandlingDistribution, agents: [Int]) {
            let slots = agents.reduce(0, +)
            self.init(arrivalsPerHour: load * Double(slots) * 3_600 / handling.mean, handling: handling, agents: agents)
        }

        public var slots: Int { agents.reduce(0, +) }
        /// ρ = λ·h / slots, with h the drawn mean (before any slowdown).
        public var load: Double { arrivalsPerHour / 3_600 * handling.mean / Double(slots) }

        public var description: String {
            "\(agents.count) agents/\(slots) slots, \(handling), ρ \(String(format: "%.2f", load)), seed \(seed)"
        }
    }

    /// One arrival and what happened to it.
    public struct Shopper: Sendable {
        public var arrival: Double
        /// Seconds from arrival to being taken by a slot.
        public var wait: Double
        /// Whether every slot was busy on arrival.
        public var queued: Bool
        /// Position on joining (1 = next), 0 when not queued.
        public var position: Int
        /// The estimator's answer at join time (queued shoppers only).
        public var estimate: WaitEstimate?
    }

    public struct Result: Sendable {
        public var scenario: Scenario
        /// Every arrival after the warm-up, in arrival order.
        public var shoppers: [Shopper]
        /// Mean seconds a consultation held a slot over the whole run (slowdown included).
        public var meanHandlingSeconds: Double

        /// Share of shoppers taken within `targetSeconds`.
        public func serviceLevel(targetSeconds: Double) -> Double {
            guard !shoppers.isEmpty else { return 1 }
            return Double(shoppers.count { $0.wait <= targetSeconds }) / Double(shoppers.count)
        }

        /// The service level by batch means: the run cut in `batches` consecutive pieces, whose
        /// spread gives the standard error despite the correlation between neighbours' waits.
        public func serviceLevelWithError(targetSeconds: Double, batches: Int = 20) -> (value: Double, standardError: Double) {
            let size = shoppers.count / batches
            guard size > 0 else { return (serviceLevel(targetSeconds: targetSeconds), 1) }
            let levels = (0..<batches).map { b in
                Double(shoppers[(b * size)..<((b + 1) * size)].count { $0.wait <= targetSeconds }) / Double(size)
            }
            let mean = levels.reduce(0, +) / Double(batches)
            let variance = levels.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(batches - 1)
            return (mean, (variance / Double(batches)).squareRoot())
        }

        /// Share of shoppers who queued.
        public var probabilityOfWaiting: Double {
            shoppers.isEmpty ? 0 : Double(shoppers.count { $0.queued }) / Double(shoppers.count)
        }

        /// How far the estimates at join time were from the waits that followed, over the
        /// shoppers who queued. `oracle` also scores the same formula fed the run's true mean
        /// handling time instead of the running average: the error no average could remove.
        public func estimateErrors() -> EstimateErrors {
            let queued = shoppers.filter { $0.queued }
            let slots = Double(scenario.slots)
            return EstimateErrors(
                estimates: queued.map { $0.estimate?.seconds ?? 0 },
                lows: queued.map { $0.estimate?.low ?? 0 }, highs: queued.map { $0.estimate?.high ?? 0 },
                oracle: queued.map { Double($0.position) * meanHandlingSeconds / slots },
                waits: queued.map(\.wait))
        }
    }

    /// Runs `scenario` to its last arrival and until the queue is empty.
    public static func run(_ scenario: Scenario) -> Result {
        var rng = SeededRandom(seed: scenario.seed)
        var estimator = WaitEstimator(configuration: scenario.estimator)
        let slots = scenario.slots
        let meanGap = 3_600 / scenario.arrivalsPerHour
        let leastLoaded = scenario.slowdownPerExtraChat != 0

        var load = [Int](repeating: 0, count: scenario.agents.count)
        // With independent slots any free slot will do: keep them on a stack.
        var freeSlots: [Int] = scenario.agents.enumerated().flatMap { i, c in [Int](repeating: i, count: c) }.reversed()
        var busy = 0
        var departures = MinHeap<(time: Double, agent: Int, duration: Double)>(by: { $0.time < $1.time })
        var shoppers: [Shopper] = []
        shoppers.reserveCapacity(scenario.consultations)
        var queue: [Int] = []
        var head = 0
        var handled = 0.0
        var handledCount = 0

        func takeAgent() -> Int? {
            if leastLoaded {
                var best: Int?
                var bestFree = 0
                for (i, c) in scenario.agents.enumerated() where c - load[i] > bestFree {
                    best = i
                    bestFree = c - load[i]
                }
                return best
            }
            return freeSlots.popLast()
        }
        func start(agent: Int, at t: Double) {
            load[agent] += 1
            busy += 1
            let duration = scenario.handling.sample(&rng) * (1 + scenario.slowdownPerExtraChat * Double(load[agent] - 1))
            handled += duration
            handledCount += 1
            departures.push((t + duration, agent, duration))
        }

        var nextArrival = meanGap * rng.exponential()
        var arrived = 0
        while arrived < scenario.consultations || head < queue.count {
            let next = departures.min
            if arrived < scenario.consultations, next == nil || nextArrival < next!.time {
                let t = nextArrival
                if let agent = takeAgent() {
                    shoppers.append(Shopper(arrival: t, wait: 0, queued: false, position: 0, estimate: nil))
                    start(agent: agent, at: t)
                } else {
                    queue.append(shoppers.count)
                    let position = queue.count - head
                    let estimate = estimator.estimate(
                        position: position, capacity: QueueCapacity(totalSlots: slots, busySlots: busy))
                    shoppers.append(Shopper(arrival: t, wait: -1, queued: true, position: position, estimate: estimate))
                }
                arrived += 1
                nextArrival = t + meanGap * rng.exponential()
            } else if let d = departures.pop() {
                load[d.agent] -= 1
                busy -= 1
                if !leastLoaded { freeSlots.append(d.agent) }
                estimator.record(handlingSeconds: d.duration)
                if head < queue.count {
                    let i = queue[head]
                    head += 1
                    shoppers[i].wait = d.time - shoppers[i].arrival
                    if let agent = takeAgent() { start(agent: agent, at: d.time) }
                }
            }
        }
        return Result(
            scenario: scenario, shoppers: Array(shoppers.dropFirst(min(scenario.warmUp, shoppers.count))),
            meanHandlingSeconds: handledCount > 0 ? handled / Double(handledCount) : scenario.handling.mean)
    }
}

/// Errors of wait estimates against actual waits, in seconds.
public struct EstimateErrors: Sendable, CustomStringConvertible {
    public var count: Int
    public var meanWait: Double
    public var meanAbsoluteError: Double
    public var p90AbsoluteError: Double
    /// Mean of estimate − actual: positive when the estimate promises longer waits than happen.
    public var bias: Double
    /// Share of actual waits within the estimate's 10th–90th percentile range (0.8 ideally).
    public var coverage: Double
    /// Mean absolute error of the same formula with the true mean handling time.
    public var oracleMeanAbsoluteError: Double

    init(estimates: [Double], lows: [Double], highs: [Double], oracle: [Double], waits: [Double]) {
        count = waits.count
        let n = Double(max(1, count))
        meanWait = waits.reduce(0, +) / n
        let absolute = zip(estimates, waits).map { abs($0 - $1) }.sorted()
        meanAbsoluteError = absolute.reduce(0, +) / n
        p90AbsoluteError = absolute.isEmpty ? 0 : absolute[min(absolute.count - 1, Int(0.9 * Double(absolute.count)))]
        bias = zip(estimates, waits).reduce(0) { $0 + $1.0 - $1.1 } / n
        coverage = Double(waits.indices.count { lows[$0] <= waits[$0] && waits[$0] <= highs[$0] }) / n
        oracleMeanAbsoluteError = zip(oracle, waits).reduce(0) { $0 + abs($1.0 - $1.1) } / n
    }

    public var description: String {
        String(
            format: "queued %d, mean wait %.1f s, MAE %.1f s (%.0f %% of mean wait; true-mean oracle %.1f s), p90 |err| %.1f s, bias %+.1f s, in 10–90 %% range %.0f %%",
            count, meanWait, meanAbsoluteError, 100 * meanAbsoluteError / max(meanWait, 1e-9), oracleMeanAbsoluteError,
            p90AbsoluteError, bias, 100 * coverage)
    }
}
