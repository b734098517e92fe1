/// What the desk knows of an agent from the admin API: who, where they work, what they are good
/// at, and how many consultations they hold at once.
public struct AgentProfile: Codable, Sendable, Equatable {
    /// The agent's identity (the `sub` of their token).
    public var id: String
    public var name: String
    /// Departments whose queues the agent serves.
    public var departments: Set<String>
    /// Skills a consultation may require (a language, a product line): an agent is offered only
    /// consultations whose every required skill they have.
    public var skills: Set<String>
    /// Consultations held at once (active, on hold, or offered and not yet answered): at least 1.
    public var capacity: Int
    /// May see every queue and agent, and is alerted when an agent misses a reply target.
    public var supervisor: Bool

    public init(id: String, name: String, departments: Set<String>, skills: Set<String> = [], capacity: Int = 3, supervisor: Bool = false) {
        self.id = id
        self.name = name
        self.departments = departments
        self.skills = skills
        self.capacity = capacity
        self.supervisor = supervisor
    }
}

/// Whether an agent takes new consultations.
public enum AgentPresence: String, Codable, Sendable, CaseIterable {
    /// Offered consultations as capacity allows.
    case online
    /// Keeps what they hold, is offered nothing new.
    case away
    /// Gone (their workspace closed past the grace period): offered nothing; what they hold stays
    /// theirs until the reply target escalates it.
    case offline
}
