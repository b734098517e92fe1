import Foundation

/// Where one consultation is in its department's guided flow: the step the workspace shows, moved
/// by the agent (advance, back, jump). A value the server stores per consultation
/// (``AssistStore/saveProgress(_:)``); every move takes the time from the caller.
///
/// Advancing from the last step completes the flow; moving back or jumping reopens it.
public struct FlowProgress: Codable, Sendable, Hashable {
    public var consultation: String
    /// The flow's department.
    public var department: String
    /// The flow's step ids when the progress started (a flow edited meanwhile is matched by id,
    /// see ``reconciled(with:now:)``).
    public private(set) var stepIDs: [String]
    /// The step shown, `0..<stepIDs.count`.
    public private(set) var current: Int
    public private(set) var completed: Bool
    public private(set) var started: Date
    public private(set) var updated: Date
    public private(set) var completedAt: Date?
    /// When each step was first reached, by step id.
    public private(set) var reached: [String: Date]

    /// Starts `flow` for `consultation` at its first step.
    public init(consultation: String, flow: GuidedFlow, now: Date) {
        self.consultation = consultation
        self.department = flow.department
        self.stepIDs = flow.steps.map(\.id)
        self.current = 0
        self.completed = false
        self.started = now
        self.updated = now
        self.completedAt = nil
        self.reached = stepIDs.first.map { [$0: now] } ?? [:]
    }

    /// The current step's id.
    public var currentStepID: String? { stepIDs.indices.contains(current) ? stepIDs[current] : nil }

    /// The current step of `flow` (matched by id), or `nil` if the flow no longer has it.
    public func currentStep(in flow: GuidedFlow) -> FlowStep? {
        guard let id = currentStepID else { return nil }
        return flow.steps.first { $0.id == id }
    }

    /// The next step, or completes the flow at the last one (a completed flow stays completed).
    public mutating func advance(now: Date) {
        guard !completed else { return }
        if current + 1 < stepIDs.count {
            current += 1
            markReached(now)
        } else {
            completed = true
            completedAt = now
        }
        updated = now
    }

    /// The previous step (stays at the first); reopens a completed flow at its last step.
    public mutating func back(now: Date) {
        if completed {
            completed = false
            completedAt = nil
        } else if current > 0 {
            current -= 1
        }
        updated = now
    }

    /// Moves to the step at `index`; `invalid_argument` outside the flow. Reopens a completed flow.
    public mutating func jump(to index: Int, now: Date) throws(AssistError) {
        guard stepIDs.indices.contains(index) else {
            throw AssistError(.invalidArgument, "step \(index) is outside 0..<\(stepIDs.count)")
        }
        current = index
        completed = false
        completedAt = nil
        markReached(now)
        updated = now
    }

    /// Moves to the step with `id`; `not_found` if the flow has none.
    public mutating func jump(toStep id: String, now: Date) throws(AssistError) {
        guard let i = stepIDs.firstIndex(of: id) else { throw AssistError(.notFound, "no step \(id)") }
        try jump(to: i, now: now)
    }

    /// This progress against an edited `flow`: the current step kept by id when it still exists,
    /// else the step at the same position (clamped).
    public func reconciled(with flow: GuidedFlow, now: Date) -> FlowProgress {
        var p = self
        let ids = flow.steps.map(\.id)
        guard ids != stepIDs, !ids.isEmpty else { return p }
        p.department = flow.department
        p.current = currentStepID.flatMap { ids.firstIndex(of: $0) } ?? min(current, ids.count - 1)
        p.stepIDs = ids
        p.reached = reached.filter { ids.contains($0.key) }
        p.updated = now
        return p
    }

    private mutating func markReached(_ now: Date) {
        if let id = currentStepID, reached[id] == nil { reached[id] = now }
    }
}
