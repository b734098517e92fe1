/// How often each rule's hint was shown to each agent: for the supervisor's report and for tuning
/// rules (a rule that fires for everyone all day is noise). A value; the server keeps one and
/// stores or exports it as it likes.
///
/// Count a hint when it appears, not on every keystroke it stays: ``recordShown(_:previous:agent:)``
/// counts only hints not in the previous evaluation's list.
public struct HintCounters: Codable, Sendable, Hashable {
    public struct Key: Codable, Sendable, Hashable {
        public var agent: String
        public var rule: String

        public init(agent: String, rule: String) {
            self.agent = agent
            self.rule = rule
        }
    }

    public private(set) var counts: [Key: Int] = [:]

    public init() {}

    /// Counts every hint in `hints` once for `agent`.
    public mutating func record(_ hints: [Hint], agent: String) {
        for h in hints { counts[Key(agent: agent, rule: h.ruleID), default: 0] += 1 }
    }

    /// Counts the hints of `hints` that `previous` (the last list shown to this agent in this
    /// consultation) did not have — the same rule firing on the same thing is one showing.
    public mutating func recordShown(_ hints: [Hint], previous: [Hint], agent: String) {
        let before = Set(previous.map { Shown(rule: $0.ruleID, matched: $0.matched) })
        record(hints.filter { !before.contains(Shown(rule: $0.ruleID, matched: $0.matched)) }, agent: agent)
    }

    private struct Shown: Hashable {
        var rule: String
        var matched: String?
    }

    public func count(agent: String, rule: String) -> Int { counts[Key(agent: agent, rule: rule)] ?? 0 }

    /// All of an agent's hints.
    public func total(agent: String) -> Int { counts.reduce(0) { $0 + ($1.key.agent == agent ? $1.value : 0) } }

    /// By rule id, for one agent.
    public func byRule(agent: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for (k, v) in counts where k.agent == agent { out[k.rule, default: 0] += v }
        return out
    }

    /// By agent, for one rule.
    public func byAgent(rule: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for (k, v) in counts where k.rule == rule { out[k.agent, default: 0] += v }
        return out
    }

    /// Adds `other`'s counts (another server's, a stored day's).
    public mutating func merge(_ other: HintCounters) {
        for (k, v) in other.counts { counts[k, default: 0] += v }
    }
}
