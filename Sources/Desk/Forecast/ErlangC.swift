import Foundation

/// The Erlang C model of a queue (M/M/c): Poisson arrivals, exponential handling times, `c`
/// identical servers, first come first served, nobody leaves the queue. It answers how likely a
/// shopper is to wait, how long on average, and how many agents a department needs to answer a
/// share of shoppers within its reply target.
///
/// **Concurrency.** An agent who holds up to `k` chats at once counts as `k` servers, each with
/// the *measured* handling time: the seconds a consultation holds one of the agent's slots,
/// which already include the slowdown of juggling several chats. So `servers = agents × k` and
/// the traffic is `λ × h` slot-erlangs. The alternative — one server per agent with an effective
/// handling time `h / k` — assumes an agent's `k` chats drain one after another, `k` times as
/// fast; it pools less and so asks for more agents than a desk of slots needs. The simulation in
/// `Tests/DeskSimulation` serves shoppers from slots exactly like the desk does, and the
/// slot model matches it (docs/desk.md, "Staffing: Erlang C").
///
/// **Stability.** Nothing here uses factorials or powers of the traffic: the Erlang B
/// recursion `B(n) = A·B(n−1) / (n + A·B(n−1))` stays in [0, 1] for any traffic, and
/// `C = c·B / (c − A·(1 − B))`. The recursion need not start at 0: it starts at
/// `n₀ = A − 10√A − 10` from the fluid value `B ≈ 1 − n₀/A`. In `1/B` the step is
/// `1/B(n) = 1 + (n/A)/B(n−1)`, so a starting error, relative to `1/B`, is multiplied by less
/// than `n/A` at each step below `A` — by `e^−50` over the `10√A` steps — and never grows above
/// it. The result equals the full recursion's within 1e-13 (relative) in `ErlangCTests`; 1,000 erlangs
/// then costs about 340 steps instead of 1,012, 20,000 erlangs about 1,450.
///
/// Formulas (Cooper, *Introduction to Queueing Theory*, §5.3; the usual contact-centre forms):
/// - probability of waiting `C(c, A)` as above, 1 when `c ≤ A` (the queue grows without end);
/// - service level `SL(T) = 1 − C · exp(−(c − A) · T / h)`;
/// - average speed of answer `ASA = C · h / (c − A)`.
public struct ErlangC: Sendable, Hashable {
    /// Offered load `A = λ × h`, in slot-erlangs.
    public let trafficErlangs: Double
    /// Servers: agents × concurrency.
    public let servers: Int
    /// Mean seconds one consultation holds a slot.
    public let averageHandlingSeconds: Double
    /// The chance that an arriving shopper finds every slot busy and queues: `C(c, A)`.
    public let probabilityOfWaiting: Double

    /// - Parameters:
    ///   - arrivalsPerHour: consultations reaching the queue per hour (≥ 0).
    ///   - averageHandlingSeconds: mean seconds a consultation holds an agent's slot (> 0).
    ///   - agents: agents serving the queue (≥ 0).
    ///   - concurrency: consultations one agent holds at once (1…``ForecastLimits/maximumConcurrency``).
    public init(
        arrivalsPerHour: Double, averageHandlingSeconds: Double, agents: Int, concurrency: Int = 1
    ) throws(ForecastError) {
        let traffic = try Self.traffic(arrivalsPerHour: arrivalsPerHour, averageHandlingSeconds: averageHandlingSeconds)
        try Self.check(concurrency: concurrency)
        guard agents >= 0 else { throw .invalid("agents \(agents) is negative") }
        guard agents <= ForecastLimits.maximumServers / concurrency else {
            throw .overLimit("\(agents) agents × \(concurrency) is past \(ForecastLimits.maximumServers) servers")
        }
        let servers = agents * concurrency
        self.trafficErlangs = traffic
        self.servers = servers
        self.averageHandlingSeconds = averageHandlingSeconds
        self.probabilityOfWaiting = Self.probabilityOfWaiting(
            traffic: traffic, servers: servers, erlangB: Self.erlangB(traffic: traffic, servers: servers))
    }

    /// Whether the servers outpace the traffic (`c > A`); if not, the queue grows without end
    /// and the figures below are their limits (service level 0, infinite speed of answer).
    public var isStable: Bool { Double(servers) > trafficErlangs || trafficErlangs == 0 }

    /// The share of their time slots are busy, `A / c` (1 when unstable; 0 with no traffic).
    public var occupancy: Double {
        guard trafficErlangs > 0 else { return 0 }
        return isStable ? trafficErlangs / Double(servers) : 1
    }

    /// The share of shoppers answered (given a slot) within `targetSeconds` of joining the queue,
    /// those who never queue included: `1 − C · exp(−(c − A) · T / h)`.
    public func serviceLevel(targetSeconds: Double) -> Double {
        guard trafficErlangs > 0 else { return 1 }
        guard isStable else { return 0 }
        let t = targetSeconds.isFinite ? max(0, targetSeconds) : (targetSeconds > 0 ? .infinity : 0)
        let decay = exp(-(Double(servers) - trafficErlangs) * t / averageHandlingSeconds)
        return min(1, max(0, 1 - probabilityOfWaiting * decay))
    }

    /// Mean seconds from joining the queue to getting a slot, over all shoppers (those who never
    /// queue count as 0): `C · h / (c − A)`. Infinite when unstable.
    public var averageSpeedOfAnswer: Double {
        guard trafficErlangs > 0 else { return 0 }
        guard isStable else { return .infinity }
        return probabilityOfWaiting * averageHandlingSeconds / (Double(servers) - trafficErlangs)
    }

    /// The fewest agents with which the queue answers at least `serviceLevel` of its shoppers
    /// within `targetSeconds`, with no more than `maxOccupancy` of the slots busy on average.
    /// 0 when no consultations arrive.
    ///
    /// Walks the Erlang B recursion up one server at a time from a little below the traffic (see
    /// the type's notes), so the cost is about `10√A` steps plus the servers above `A`; throws `unreachableTarget` past
    /// ``ForecastLimits/maximumServers`` (an occupancy cap far below the traffic can get there).
    /// - Parameters:
    ///   - arrivalsPerHour: consultations reaching the queue per hour.
    ///   - averageHandlingSeconds: mean seconds a consultation holds a slot.
    ///   - targetSeconds: the reply target, e.g. 30.
    ///   - serviceLevel: the share to answer within it, in (0, 1), e.g. 0.8.
    ///   - maxOccupancy: the busiest the slots may be on average, in (0, 1]; 1 for no cap.
    ///   - concurrency: consultations one agent holds at once.
    public static func agentsNeeded(
        arrivalsPerHour: Double, averageHandlingSeconds: Double, targetSeconds: Double,
        serviceLevel: Double, maxOccupancy: Double = 1, concurrency: Int = 1
    ) throws(ForecastError) -> Int {
        try staffing(
            arrivalsPerHour: arrivalsPerHour, averageHandlingSeconds: averageHandlingSeconds,
            targetSeconds: targetSeconds, serviceLevel: serviceLevel, maxOccupancy: maxOccupancy,
            concurrency: concurrency
        ).agents
    }

    /// ``agentsNeeded(arrivalsPerHour:averageHandlingSeconds:targetSeconds:serviceLevel:maxOccupancy:concurrency:)``
    /// with the model at that staffing, for the figures a supervisor sees next to it (predicted
    /// service level, speed of answer, occupancy).
    public static func staffing(
        arrivalsPerHour: Double, averageHandlingSeconds: Double, targetSeconds: Double,
        serviceLevel: Double, maxOccupancy: Double = 1, concurrency: Int = 1
    ) throws(ForecastError) -> (agents: Int, model: ErlangC) {
        let traffic = try Self.traffic(arrivalsPerHour: arrivalsPerHour, averageHandlingSeconds: averageHandlingSeconds)
        try check(concurrency: concurrency)
        guard targetSeconds.isFinite, targetSeconds >= 0 else { throw .invalid("target \(targetSeconds) s is not ≥ 0") }
        // 1 is no target: with random arrivals some shopper always waits; the answer would be
        // wherever floating point rounds the chance of waiting to 0.
        guard serviceLevel > 0, serviceLevel < 1 else { throw .invalid("service level \(serviceLevel) is not in (0, 1)") }
        guard maxOccupancy > 0, maxOccupancy <= 1 else { throw .invalid("max occupancy \(maxOccupancy) is not in (0, 1]") }

        func model(agents: Int, erlangB: Double) -> ErlangC {
            ErlangC(traffic: traffic, servers: agents * concurrency, handling: averageHandlingSeconds, erlangB: erlangB)
        }
        guard traffic > 0 else { return (0, model(agents: 0, erlangB: 0)) }

        // B(n) from n₀ up; every `concurrency` servers is one more agent to try, starting with
        // the first team that outnumbers the traffic.
        var (n, b) = recursionStart(traffic: traffic)
        var agents = Int(traffic) / concurrency
        while true {
            agents += 1
            let servers = agents * concurrency
            guard servers <= ForecastLimits.maximumServers else {
                throw ForecastError(
                    .unreachableTarget,
                    "no team of up to \(ForecastLimits.maximumServers) servers answers \(serviceLevel) within \(targetSeconds) s")
            }
            while n < servers {
                n += 1
                b = traffic * b / (Double(n) + traffic * b)
            }
            // Below the traffic the queue is unstable; skip without building a model.
            guard Double(servers) > traffic else { continue }
            let candidate = model(agents: agents, erlangB: b)
            if candidate.occupancy <= maxOccupancy, candidate.serviceLevel(targetSeconds: targetSeconds) >= serviceLevel {
                return (agents, candidate)
            }
        }
    }

    /// Erlang B, the share of arrivals that would find all `servers` busy if they left instead of
    /// queueing, by the recursion `B(0) = 1`, `B(n) = A·B(n−1) / (n + A·B(n−1))`.
    public static func erlangB(traffic: Double, servers: Int) -> Double {
        var (n, b) = recursionStart(traffic: traffic)
        if servers < n { (n, b) = (0, 1) }
        while n < servers {
            n += 1
            b = traffic * b / (Double(n) + traffic * b)
        }
        return b
    }

    /// Where the Erlang B recursion may start for `traffic` without changing its result beyond
    /// rounding: `n₀ = A − 10√A − 10` with `B(n₀) ≈ 1 − n₀/A`, or `(0, 1)` for small traffic.
    static func recursionStart(traffic: Double) -> (n: Int, b: Double) {
        let n0 = (traffic - 10 * traffic.squareRoot() - 10).rounded(.down)
        guard n0 >= 1 else { return (0, 1) }
        return (Int(n0), (traffic - n0) / traffic)
    }

    /// The Erlang B recursion from 0, for checking ``recursionStart(traffic:)``.
    static func erlangBFromZero(traffic: Double, servers: Int) -> Double {
        var b = 1.0
        if servers > 0 {
            for n in 1...servers { b = traffic * b / (Double(n) + traffic * b) }
        }
        return b
    }

    // MARK: Internals

    private init(traffic: Double, servers: Int, handling: Double, erlangB: Double) {
        trafficErlangs = traffic
        self.servers = servers
        averageHandlingSeconds = handling
        probabilityOfWaiting = Self.probabilityOfWaiting(traffic: traffic, servers: servers, erlangB: erlangB)
    }

    /// `C = c·B / (c − A·(1 − B))`, from Erlang B; 1 when `c ≤ A`, 0 with no traffic.
    private static func probabilityOfWaiting(traffic: Double, servers: Int, erlangB b: Double) -> Double {
        guard traffic > 0 else { return 0 }
        let c = Double(servers)
        guard c > traffic else { return 1 }
        return min(1, max(0, c * b / (c - traffic * (1 - b))))
    }

    private static func traffic(arrivalsPerHour: Double, averageHandlingSeconds: Double) throws(ForecastError) -> Double {
        guard arrivalsPerHour.isFinite, arrivalsPerHour >= 0 else {
            throw .invalid("arrivals per hour \(arrivalsPerHour) is not a number ≥ 0")
        }
        guard averageHandlingSeconds.isFinite, averageHandlingSeconds > 0 else {
            throw .invalid("average handling time \(averageHandlingSeconds) s is not > 0")
        }
        guard averageHandlingSeconds <= ForecastLimits.maximumHandlingSeconds else {
            throw .overLimit("average handling time \(averageHandlingSeconds) s is past \(ForecastLimits.maximumHandlingSeconds) s")
        }
        let traffic = arrivalsPerHour / 3_600 * averageHandlingSeconds
        guard traffic <= ForecastLimits.maximumTrafficErlangs else {
            throw .overLimit("traffic \(traffic) erlangs is past \(ForecastLimits.maximumTrafficErlangs)")
        }
        return traffic
    }

    private static func check(concurrency: Int) throws(ForecastError) {
        guard concurrency >= 1, concurrency <= ForecastLimits.maximumConcurrency else {
            throw .invalid("concurrency \(concurrency) is not 1…\(ForecastLimits.maximumConcurrency)")
        }
    }
}
