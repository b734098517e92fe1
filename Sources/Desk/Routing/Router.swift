import Foundation

/// Every routing decision of the desk, in one place and without I/O: which agent is offered which
/// consultation, when an offer lapses, what an agent may take, move or end, and when a shopper's
/// wait for a reply escalates. Fed ``RouterEvent``s and the time, it answers with
/// ``RouterAction``s for the server to carry out (send an offer, tell a shopper their position,
/// alert a supervisor) — and the server stores each status change as an event before acting.
///
/// The rules (Chatwoot's auto-assignment and Rocket.Chat's omnichannel routing, made capacity-
/// and SLA-aware):
/// - **Queue order**: per department, higher priority first, then longer waiting (the time a
///   consultation first entered the queue: a consultation sent back keeps its place).
/// - **Who gets an offer**: an agent who is online, serves the department, has every skill the
///   consultation needs, has a free slot (holding fewer than their capacity, offers included),
///   has no other offer pending, and has not let this consultation's offer lapse or declined it.
///   Among them the least busy (held ÷ capacity, then held), then the longest idle, then by id.
/// - **Offers** lapse after ``Configuration/offerTimeout``; the consultation goes back to its
///   place and the next agent is tried.
/// - **Reply target** (the department's SLA, default 30 s): a shopper's message unanswered for one
///   target alerts the agent, for two the supervisors, and for
///   ``Configuration/reassignAfterTargets`` targets (if set) the consultation is taken back and
///   offered to another agent.
/// - **Maximum wait**: a consultation queued longer than its department's maximum is offered to
///   leave a message (once).
public struct Router: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Seconds an agent has to accept an offer.
        public var offerTimeout: Double = 20
        /// After this many reply targets without an answer an active consultation is reassigned;
        /// nil: never (alerts only).
        public var reassignAfterTargets: Double? = 3
        public init() {}
    }

    /// A consultation waiting for a person.
    public struct Waiting: Sendable, Equatable {
        public var id: String
        public var department: String
        public var priority: Int
        public var skills: Set<String>
        /// When it first entered the queue: its place.
        public var since: Date
        /// The agent it is offered to now, and until when.
        public var offer: (agent: String, until: Date)?
        /// Agents whose offer lapsed or who declined: not offered it again.
        public var passedOver: Set<String> = []
        /// The shopper was offered to leave a message (past the maximum wait).
        public var leaveMessageOffered = false

        public static func == (a: Waiting, b: Waiting) -> Bool {
            a.id == b.id && a.department == b.department && a.priority == b.priority && a.skills == b.skills && a.since == b.since
                && a.offer?.agent == b.offer?.agent && a.offer?.until == b.offer?.until && a.passedOver == b.passedOver
                && a.leaveMessageOffered == b.leaveMessageOffered
        }
    }

    /// A consultation an agent holds.
    public struct Held: Sendable, Equatable {
        public var id: String
        public var department: String
        public var priority: Int
        public var skills: Set<String>
        public var agent: String
        public var onHold: Bool
        /// Its place had it to go back to the queue.
        public var queuedSince: Date
        /// The shopper's oldest message not yet answered by the agent.
        public var unansweredSince: Date?
        /// Escalation steps taken for the current unanswered message: 1 agent alerted, 2
        /// supervisors alerted.
        public var escalation = 0
    }

    struct AgentState: Sendable {
        var profile: AgentProfile
        var presence: AgentPresence
        /// Held consultations plus a pending offer.
        var held = 0
        var offered: String?
        /// When the agent last had nothing (longest idle wins ties).
        var idleSince: Date
    }

    public let configuration: Configuration
    public private(set) var departments: [String: Department] = [:]
    private var agents: [String: AgentState] = [:]
    private var waiting: [String: Waiting] = [:]
    private var held: [String: Held] = [:]

    public init(configuration: Configuration = Configuration()) { self.configuration = configuration }

    // MARK: Reading

    /// The queue of a department in order (priority, then waiting time), offered ones included.
    public func queue(_ department: String) -> [Waiting] {
        waiting.values.filter { $0.department == department }.sorted(by: Self.before)
    }

    /// A waiting consultation's 1-based place in its department's queue.
    public func position(of id: String) -> Int? {
        guard let w = waiting[id] else { return nil }
        return waiting.values.filter { $0.department == w.department && Self.before($0, w) }.count + 1
    }

    public func waitingConsultation(_ id: String) -> Waiting? { waiting[id] }
    public func heldConsultation(_ id: String) -> Held? { held[id] }
    public func consultations(heldBy agent: String) -> [Held] { held.values.filter { $0.agent == agent }.sorted { $0.queuedSince < $1.queuedSince } }
    public func profile(_ agent: String) -> AgentProfile? { agents[agent]?.profile }
    public func presence(_ agent: String) -> AgentPresence? { agents[agent]?.presence }
    /// Consultations held plus a pending offer.
    public func load(_ agent: String) -> Int? { agents[agent]?.held }
    public var agentIDs: [String] { agents.keys.sorted() }

    /// Online agents of a department and their free slots (for wait estimates).
    public func capacity(of department: String) -> (agents: Int, slots: Int, free: Int) {
        var n = 0, slots = 0, free = 0
        for a in agents.values where a.presence == .online && a.profile.departments.contains(department) {
            n += 1
            slots += a.profile.capacity
            free += max(0, a.profile.capacity - a.held)
        }
        return (n, slots, free)
    }

    static func before(_ a: Waiting, _ b: Waiting) -> Bool {
        if a.priority != b.priority { return a.priority > b.priority }
        if a.since != b.since { return a.since < b.since }
        return a.id < b.id
    }

    // MARK: Events

    /// Applies one event and returns what to do. A refused event (``DeskError``) changes nothing.
    public mutating func handle(_ event: RouterEvent, now: Date) throws(DeskError) -> [RouterAction] {
        var out: [RouterAction] = []
        switch event {
        case .department(let d):
            guard !d.id.isEmpty, d.replyTargetSeconds > 0, d.maximumWaitSeconds > 0 else {
                throw DeskError(.invalidArgument, "a department needs an id and positive reply target and maximum wait")
            }
            try d.externalBot?.validate()
            departments[d.id] = d
        case .agent(let p):
            guard !p.id.isEmpty, p.capacity >= 1 else { throw DeskError(.invalidArgument, "agent \(p.id): capacity is at least 1") }
            if let unknown = p.departments.first(where: { departments[$0] == nil }) {
                throw DeskError(.unknownDepartment, "agent \(p.id): no department \(unknown)")
            }
            if var a = agents[p.id] {
                a.profile = p
                agents[p.id] = a
            } else {
                agents[p.id] = AgentState(profile: p, presence: .offline, idleSince: now)
            }
        case .presence(let id, let presence):
            guard var a = agents[id] else { throw DeskError(.notFound, "no agent \(id)") }
            a.presence = presence
            agents[id] = a
            if presence != .online, let offered = a.offered { out += withdraw(offered, reason: .agentLeft, now: now) }
        case .queued(let id, let department, let priority, let skills):
            guard departments[department] != nil else { throw DeskError(.unknownDepartment, "no department \(department)") }
            guard waiting[id] == nil, held[id] == nil else { throw DeskError(.conflict, "consultation \(id) is already with the desk") }
            waiting[id] = Waiting(id: id, department: department, priority: priority, skills: skills, since: now)
            out.append(.queueChanged(department: department))
        case .accept(let id, let agent):
            guard var w = waiting[id] else {
                throw DeskError(held[id] == nil ? .notFound : .conflict, held[id].map { "consultation \(id) is with \($0.agent) already" } ?? "no consultation \(id) waits")
            }
            guard w.offer?.agent == agent else { throw DeskError(.conflict, "consultation \(id) is not offered to \(agent)") }
            w.offer = nil
            waiting[id] = nil
            agents[agent]?.offered = nil
            held[id] = Held(id: id, department: w.department, priority: w.priority, skills: w.skills, agent: agent, onHold: false, queuedSince: w.since)
            out += [.assigned(consultation: id, agent: agent), .queueChanged(department: w.department)]
        case .decline(let id, let agent):
            guard let w = waiting[id], w.offer?.agent == agent else { throw DeskError(.conflict, "consultation \(id) is not offered to \(agent)") }
            out += withdraw(id, reason: .declined, now: now)
        case .pick(let id, let agent):
            guard let a = agents[agent] else { throw DeskError(.notFound, "no agent \(agent)") }
            guard var w = waiting[id] else {
                throw DeskError(held[id] == nil ? .notFound : .conflict, held[id].map { "consultation \(id) is with \($0.agent) already" } ?? "no consultation \(id) waits")
            }
            guard a.profile.departments.contains(w.department) || a.profile.supervisor else {
                throw DeskError(.notAllowed, "\(agent) does not serve \(w.department)")
            }
            if let offer = w.offer, offer.agent != agent { throw DeskError(.conflict, "consultation \(id) is offered to \(offer.agent)") }
            let freed = w.offer?.agent == agent ? 1 : 0  // taking one's own offer converts the slot
            guard a.held - freed < a.profile.capacity else { throw DeskError(.notAllowed, "\(agent) holds \(a.held) of \(a.profile.capacity)") }
            if w.offer != nil { agents[agent]?.offered = nil; agents[agent]?.held -= 1 }
            w.offer = nil
            waiting[id] = nil
            agents[agent]?.held += 1
            held[id] = Held(id: id, department: w.department, priority: w.priority, skills: w.skills, agent: agent, onHold: false, queuedSince: w.since)
            out += [.assigned(consultation: id, agent: agent), .queueChanged(department: w.department)]
        case .transferToAgent(let id, let from, let to):
            guard var h = held[id] else { throw DeskError(.notFound, "\(id) is held by nobody") }
            guard h.agent == from else { throw DeskError(.conflict, "consultation \(id) is with \(h.agent), not \(from)") }
            guard let target = agents[to], target.presence == .online else { throw DeskError(.notAllowed, "\(to) is not online") }
            guard target.held < target.profile.capacity else { throw DeskError(.notAllowed, "\(to) holds \(target.held) of \(target.profile.capacity)") }
            release(from, now: now)
            agents[to]?.held += 1
            h.agent = to
            h.escalation = 0
            held[id] = h
            out.append(.assigned(consultation: id, agent: to))
        case .requeue(let id, let by, let department):
            guard let h = held[id] else { throw DeskError(.notFound, "\(id) is held by nobody") }
            guard by == nil || h.agent == by else { throw DeskError(.conflict, "consultation \(id) is with \(h.agent)") }
            let target = department ?? h.department
            guard departments[target] != nil else { throw DeskError(.unknownDepartment, "no department \(target)") }
            held[id] = nil
            release(h.agent, now: now)
            // Back in line at its old place: the shopper has waited already.
            waiting[id] = Waiting(id: id, department: target, priority: h.priority, skills: h.skills, since: h.queuedSince)
            out.append(.queueChanged(department: target))
        case .hold(let id, let by, let on):
            guard var h = held[id] else { throw DeskError(.notFound, "\(id) is held by nobody") }
            guard h.agent == by else { throw DeskError(.conflict, "consultation \(id) is with \(h.agent)") }
            h.onHold = on
            held[id] = h
        case .resolved(let id, let by):
            if let h = held[id] {
                guard by == nil || h.agent == by else { throw DeskError(.conflict, "consultation \(id) is with \(h.agent)") }
                held[id] = nil
                release(h.agent, now: now)
            } else if let w = waiting[id] {
                out += removeWaiting(w)
            } else {
                throw DeskError(.notFound, "no consultation \(id) with the desk")
            }
        case .left(let id):
            // The shopper is gone: whatever it was, it leaves the desk.
            if let h = held[id] {
                held[id] = nil
                release(h.agent, now: now)
            } else if let w = waiting[id] {
                out += removeWaiting(w)
            }
        case .shopperMessage(let id):
            if var h = held[id], h.unansweredSince == nil {
                h.unansweredSince = now
                h.escalation = 0
                held[id] = h
            }
        case .agentMessage(let id):
            if var h = held[id] {
                h.unansweredSince = nil
                h.escalation = 0
                held[id] = h
            }
        case .tick:
            out += expire(now: now)
        }
        out += dispatch(now: now)
        return out
    }

    /// Puts back what the store says was open at a restart: queued consultations at their place,
    /// held ones with their agent (who is offline until their workspace reconnects). Offers made
    /// before the restart are void: their consultations wait again.
    public mutating func restore(waiting restored: [Waiting], held restoredHeld: [Held]) {
        for var w in restored {
            w.offer = nil
            waiting[w.id] = w
        }
        for h in restoredHeld {
            held[h.id] = h
            agents[h.agent]?.held += 1
        }
    }

    // MARK: Rules

    private mutating func release(_ agent: String, now: Date) {
        guard var a = agents[agent] else { return }
        a.held = max(0, a.held - 1)
        if a.held == 0 { a.idleSince = now }
        agents[agent] = a
    }

    private mutating func removeWaiting(_ w: Waiting) -> [RouterAction] {
        waiting[w.id] = nil
        if let offer = w.offer {
            agents[offer.agent]?.offered = nil
            agents[offer.agent]?.held -= 1
            return [.offerWithdrawn(consultation: w.id, agent: offer.agent), .queueChanged(department: w.department)]
        }
        return [.queueChanged(department: w.department)]
    }

    enum WithdrawReason { case lapsed, declined, agentLeft }

    /// Takes an offer back: the consultation keeps its place, the agent is not asked again.
    private mutating func withdraw(_ id: String, reason: WithdrawReason, now: Date) -> [RouterAction] {
        guard var w = waiting[id], let offer = w.offer else { return [] }
        w.offer = nil
        if reason != .agentLeft { w.passedOver.insert(offer.agent) }
        waiting[id] = w
        agents[offer.agent]?.offered = nil
        release(offer.agent, now: now)
        return [.offerWithdrawn(consultation: id, agent: offer.agent)]
    }

    /// Lapsed offers, reply targets passed, maximum waits passed.
    private mutating func expire(now: Date) -> [RouterAction] {
        var out: [RouterAction] = []
        for w in waiting.values {
            if let offer = w.offer, now >= offer.until { out += withdraw(w.id, reason: .lapsed, now: now) }
            if let d = departments[w.department], !w.leaveMessageOffered, now.timeIntervalSince(w.since) >= d.maximumWaitSeconds {
                waiting[w.id]?.leaveMessageOffered = true
                out.append(.offerToLeaveMessage(consultation: w.id))
            }
        }
        for h in held.values.sorted(by: { $0.id < $1.id }) {
            guard let since = h.unansweredSince, !h.onHold, let d = departments[h.department] else { continue }
            let targets = now.timeIntervalSince(since) / d.replyTargetSeconds
            if let limit = configuration.reassignAfterTargets, targets >= limit {
                held[h.id] = nil
                release(h.agent, now: now)
                var w = Waiting(id: h.id, department: h.department, priority: h.priority, skills: h.skills, since: h.queuedSince)
                w.passedOver = [h.agent]
                waiting[h.id] = w
                out += [.reassigned(consultation: h.id, from: h.agent), .queueChanged(department: h.department)]
            } else if targets >= 2, h.escalation < 2 {
                held[h.id]?.escalation = 2
                let supervisors = agents.values.filter { $0.profile.supervisor && $0.presence != .offline }.map(\.profile.id).sorted()
                out.append(.replyOverdue(consultation: h.id, agent: h.agent, notify: supervisors, targetsMissed: 2))
            } else if targets >= 1, h.escalation < 1 {
                held[h.id]?.escalation = 1
                out.append(.replyOverdue(consultation: h.id, agent: h.agent, notify: [h.agent], targetsMissed: 1))
            }
        }
        return out
    }

    /// Offers waiting consultations, best first, to the best free agents.
    private mutating func dispatch(now: Date) -> [RouterAction] {
        var free = agents.values.filter { $0.presence == .online && $0.offered == nil && $0.held < $0.profile.capacity }
        guard !free.isEmpty else { return [] }
        var out: [RouterAction] = []
        for w in waiting.values.filter({ $0.offer == nil }).sorted(by: Self.before) {
            guard !free.isEmpty else { break }
            let candidates = free.indices.filter { i in
                let p = free[i].profile
                return p.departments.contains(w.department) && w.skills.isSubset(of: p.skills) && !w.passedOver.contains(p.id)
            }
            guard let best = candidates.min(by: { Self.better(free[$0], than: free[$1]) }) else { continue }
            let agent = free[best].profile.id
            free.remove(at: best)
            let until = now.addingTimeInterval(configuration.offerTimeout)
            waiting[w.id]?.offer = (agent, until)
            agents[agent]?.offered = w.id
            agents[agent]?.held += 1
            out.append(.offer(consultation: w.id, agent: agent, until: until))
        }
        return out
    }

    /// Least busy (share of capacity, then count), then longest idle, then by id.
    static func better(_ a: AgentState, than b: AgentState) -> Bool {
        let la = Double(a.held) / Double(a.profile.capacity), lb = Double(b.held) / Double(b.profile.capacity)
        if la != lb { return la < lb }
        if a.held != b.held { return a.held < b.held }
        if a.idleSince != b.idleSince { return a.idleSince < b.idleSince }
        return a.profile.id < b.profile.id
    }
}

/// What happens to the desk, as the ``Router`` takes it.
public enum RouterEvent: Sendable, Equatable {
    /// A department's settings (new or changed).
    case department(Department)
    /// An agent's profile (new or changed); a new agent starts offline.
    case agent(AgentProfile)
    case presence(agent: String, AgentPresence)
    /// A consultation joins its department's queue (the bot handed off).
    case queued(consultation: String, department: String, priority: Int, skills: Set<String>)
    /// The agent takes the consultation offered to them.
    case accept(consultation: String, agent: String)
    case decline(consultation: String, agent: String)
    /// An agent takes a waiting consultation from the queue themselves.
    case pick(consultation: String, agent: String)
    case transferToAgent(consultation: String, from: String, to: String)
    /// Back to the queue (its department's, or `department`'s: a transfer to a department);
    /// `by` nil: the desk itself.
    case requeue(consultation: String, by: String?, department: String?)
    case hold(consultation: String, by: String, on: Bool)
    /// Ended by its agent (or by the desk with `by` nil).
    case resolved(consultation: String, by: String?)
    /// The shopper left.
    case left(consultation: String)
    case shopperMessage(consultation: String)
    case agentMessage(consultation: String)
    /// Time passed: offers lapse, targets escalate.
    case tick
}

/// What the ``Router`` decided; the server carries it out (and stores status changes).
public enum RouterAction: Sendable, Equatable {
    case offer(consultation: String, agent: String, until: Date)
    case offerWithdrawn(consultation: String, agent: String)
    case assigned(consultation: String, agent: String)
    /// Positions (and so wait estimates) in this department's queue changed.
    case queueChanged(department: String)
    /// A shopper's message went unanswered for `targetsMissed` reply targets: tell `notify`.
    case replyOverdue(consultation: String, agent: String, notify: [String], targetsMissed: Int)
    /// Taken back from `from` (unanswered too long): it waits again, offered to someone else.
    case reassigned(consultation: String, from: String)
    /// Waited past its department's maximum: offer the shopper to leave a message.
    case offerToLeaveMessage(consultation: String)
}
