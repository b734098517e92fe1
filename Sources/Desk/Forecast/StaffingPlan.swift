import Foundation

/// Agents a department needs in each coming half hour: an ``ArrivalForecast``'s slots, each
/// staffed with ``ErlangC/staffing(arrivalsPerHour:averageHandlingSeconds:targetSeconds:serviceLevel:maxOccupancy:concurrency:)``
/// for the department's reply target. For the supervisor view and the reports API.
///
/// Each half hour is taken as its own steady state at its expected arrival rate — the usual
/// contact-centre practice; a queue left over from a busier half hour is not carried into the
/// next, and nobody is modelled as leaving the queue (both make the plan slightly optimistic at
/// the start of a peak and slightly generous in it). Agents here are those *answering*: breaks,
/// meetings and absence ("shrinkage") come on top.
public struct StaffingPlan: Sendable {
    /// What the department promises its shoppers.
    public struct Target: Sendable, Hashable, Codable {
        /// Seconds from joining the queue to being taken by an agent.
        public var replySeconds = 30.0
        /// Share of shoppers taken within ``replySeconds``.
        public var serviceLevel = 0.8
        /// The busiest an agent's slots may be on average. 0.85 is the usual cap: Erlang C at
        /// high traffic asks for occupancies near 1, which nobody sustains for a shift.
        public var maxOccupancy = 0.85
        /// Consultations one agent holds at once.
        public var concurrency = 1

        public init() {}

        public init(replySeconds: Double = 30, serviceLevel: Double = 0.8, maxOccupancy: Double = 0.85, concurrency: Int = 1) {
            self.replySeconds = replySeconds
            self.serviceLevel = serviceLevel
            self.maxOccupancy = maxOccupancy
            self.concurrency = concurrency
        }
    }

    /// One half hour of the plan.
    public struct Slot: Sendable, Hashable, Codable {
        public var forecast: ForecastSlot
        /// Agents needed to meet the target (0 when no consultation is expected).
        public var agents: Int
        /// Share of shoppers taken within the reply target with ``agents``, by Erlang C.
        public var serviceLevel: Double
        /// Mean seconds to be taken with ``agents``, by Erlang C.
        public var averageSpeedOfAnswer: Double
        /// Share of the slots busy with ``agents``.
        public var occupancy: Double
    }

    public let target: Target
    public let slots: [Slot]

    /// - Throws: ``ForecastError`` for a target out of range, or a slot whose traffic is past
    ///   ``ForecastLimits/maximumTrafficErlangs`` or needs more than ``ForecastLimits/maximumServers``.
    public init(forecast: [ForecastSlot], target: Target = Target()) throws(ForecastError) {
        guard forecast.count <= ForecastLimits.maximumForecastDays * 50 else {
            throw .overLimit("\(forecast.count) slots is past \(ForecastLimits.maximumForecastDays) days of half hours")
        }
        self.target = target
        var slots: [Slot] = []
        slots.reserveCapacity(forecast.count)
        for f in forecast {
            let (agents, model) = try ErlangC.staffing(
                arrivalsPerHour: f.arrivalsPerHour, averageHandlingSeconds: f.averageHandlingSeconds,
                targetSeconds: target.replySeconds, serviceLevel: target.serviceLevel,
                maxOccupancy: target.maxOccupancy, concurrency: target.concurrency)
            slots.append(
                Slot(
                    forecast: f, agents: agents, serviceLevel: model.serviceLevel(targetSeconds: target.replySeconds),
                    averageSpeedOfAnswer: model.averageSpeedOfAnswer, occupancy: model.occupancy))
        }
        self.slots = slots
    }

    /// The most agents any half hour needs.
    public var peakAgents: Int { slots.map(\.agents).max() ?? 0 }

    /// Agent-hours over the plan: what the shifts must cover.
    public var agentHours: Double {
        slots.reduce(0) { $0 + Double($1.agents) * $1.forecast.end.timeIntervalSince($1.forecast.start) / 3_600 }
    }
}
