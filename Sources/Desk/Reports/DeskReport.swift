import Foundation

/// The desk's figures over a time range, overall, per department and per agent: what a shop
/// reads to know whether its promise (a bot answer within seconds, a person within the reply
/// target) holds. Computed from stored records only (``DeskStore``), without I/O of its own, so a
/// report is the same whenever it is asked.
///
/// Definitions (each over the consultations **created** in the range):
/// - **bot first reply**: created → the bot's first answer.
/// - **wait**: first queued → first taken by an agent (accepted or picked).
/// - **first response**: first queued → the agent's first message in the room.
/// - **handling**: first taken → resolved.
/// - **SLA attainment**: of the consultations handed to a person whose outcome is known (answered,
///   or ended without an answer), the share whose first response came within the department's
///   reply target. One still waiting inside its target is not counted yet.
/// - **abandonment**: of those handed to a person, the share abandoned (the shopper left before
///   an agent took it).
/// - **CSAT**: the mean 1–5 rating, and the share of ratings of 4 or 5.
///
/// Per agent: the consultations whose **last** assignee the agent is (a transfer credits the one
/// who finished it), with wait and first response measured as above.
public struct DeskReport: Codable, Sendable, Equatable {
    /// Count, mean and nearest-rank percentiles of a duration, in seconds (nil figures: no samples).
    public struct Durations: Codable, Sendable, Equatable {
        public var count: Int
        public var mean: Double?
        public var p50: Double?
        public var p90: Double?
        public var p99: Double?
        public var max: Double?

        public init(_ samples: [Double]) {
            let s = samples.filter(\.isFinite).sorted()
            count = s.count
            guard !s.isEmpty else { return }
            mean = s.reduce(0, +) / Double(s.count)
            p50 = Self.percentile(s, 0.50)
            p90 = Self.percentile(s, 0.90)
            p99 = Self.percentile(s, 0.99)
            max = s.last
        }

        /// Nearest rank: the smallest sample with at least `q` of all at or below it.
        static func percentile(_ sorted: [Double], _ q: Double) -> Double {
            let rank = Int((q * Double(sorted.count)).rounded(.up))
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))]
        }
    }

    /// The figures of one group of consultations.
    public struct Figures: Codable, Sendable, Equatable {
        public var created = 0
        public var answeredByBotOnly = 0
        public var handedOff = 0
        public var resolved = 0
        public var abandoned = 0
        public var missed = 0
        public var open = 0
        public var botFirstReply = Durations([])
        public var wait = Durations([])
        public var firstResponse = Durations([])
        public var handling = Durations([])
        /// 0…1; nil when no consultation's outcome against the target is known.
        public var slaAttainment: Double?
        public var abandonmentRate: Double?
        public var ratings = 0
        public var csatMean: Double?
        public var csatSatisfiedShare: Double?
    }

    public var from: Date
    public var to: Date
    public var overall: Figures
    public var departments: [String: Figures]
    public var agents: [String: Figures]

    /// Consultations a report takes at most (a longer range is refused: ask for a shorter one).
    public static let maximumConsultations = 200_000

    /// The report over `consultations` (created in `[from, to)`), with their `assigned` events
    /// (in order) and the departments' reply targets; `now` decides which waits are still open.
    public init(
        from: Date, to: Date, consultations: [Consultation], assignments: [ConsultationEvent], replyTargets: [String: Double], now: Date
    ) {
        self.from = from
        self.to = to
        var firstTaken: [String: Date] = [:]
        for e in assignments where firstTaken[e.consultation] == nil { firstTaken[e.consultation] = e.at }
        var groups: [String: [Consultation]] = [:]
        var byAgent: [String: [Consultation]] = [:]
        for c in consultations {
            groups[c.department, default: []].append(c)
            if let a = c.assignee { byAgent[a, default: []].append(c) }
        }
        func figures(_ cs: [Consultation]) -> Figures {
            Self.figures(cs, firstTaken: firstTaken, replyTargets: replyTargets, now: now)
        }
        overall = figures(consultations)
        departments = groups.mapValues(figures)
        agents = byAgent.mapValues(figures)
    }

    static func figures(_ cs: [Consultation], firstTaken: [String: Date], replyTargets: [String: Double], now: Date) -> Figures {
        var f = Figures()
        var bot: [Double] = [], wait: [Double] = [], response: [Double] = [], handling: [Double] = [], ratings: [Double] = []
        var slaKnown = 0, slaMet = 0
        for c in cs {
            f.created += 1
            switch c.status {
            case .resolved: f.resolved += 1
            case .abandoned: f.abandoned += 1
            case .missed: f.missed += 1
            default: f.open += 1
            }
            if let b = c.times.firstBotReply { bot.append(b.timeIntervalSince(c.times.created)) }
            if let r = c.rating {
                ratings.append(Double(r))
            }
            guard let queued = c.times.queued else {
                if c.status == .resolved { f.answeredByBotOnly += 1 }
                continue
            }
            f.handedOff += 1
            let taken = firstTaken[c.id]
            if let taken { wait.append(taken.timeIntervalSince(queued)) }
            if let taken, let resolved = c.times.resolved { handling.append(resolved.timeIntervalSince(taken)) }
            let target = replyTargets[c.department] ?? 30
            if let first = c.times.firstAgentReply {
                let s = first.timeIntervalSince(queued)
                response.append(s)
                slaKnown += 1
                if s <= target { slaMet += 1 }
            } else if c.status.isFinal || c.status == .missed || now.timeIntervalSince(queued) > target {
                slaKnown += 1  // ended, or already past its target, without an answer
            }
        }
        f.botFirstReply = Durations(bot)
        f.wait = Durations(wait)
        f.firstResponse = Durations(response)
        f.handling = Durations(handling)
        f.slaAttainment = slaKnown > 0 ? Double(slaMet) / Double(slaKnown) : nil
        f.abandonmentRate = f.handedOff > 0 ? Double(cs.filter { $0.times.queued != nil && $0.status == .abandoned }.count) / Double(f.handedOff) : nil
        f.ratings = ratings.count
        f.csatMean = ratings.isEmpty ? nil : ratings.reduce(0, +) / Double(ratings.count)
        f.csatSatisfiedShare = ratings.isEmpty ? nil : Double(ratings.filter { $0 >= 4 }.count) / Double(ratings.count)
        return f
    }
}
