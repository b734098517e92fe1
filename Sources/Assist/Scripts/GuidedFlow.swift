/// A department's guided flow: the ordered steps an agent walks a consultation through (greet →
/// ask needs → recommend → offer → close). One flow per department; a department without one
/// shows no flow.
///
/// JSON:
/// ```json
/// { "department": "sales", "title": "Sales consultation",
///   "steps": [ { "id": "greet", "title": "Greet", "guidance": "Introduce yourself.", "scripts": ["hi"] },
///              { "id": "needs", "title": "Ask about needs", "scripts": ["size", "budget"] } ] }
/// ```
public struct GuidedFlow: Codable, Sendable, Hashable, Identifiable {
    /// The department the flow is for: its identity (a second flow for it replaces the first).
    public var department: String
    /// 1 to ``Script/maximumTitleLength`` characters.
    public var title: String
    /// 1 to ``maximumSteps`` steps with unique ids, in order.
    public var steps: [FlowStep]

    public static let maximumSteps = 20

    public var id: String { department }

    public init(department: String, title: String, steps: [FlowStep]) {
        self.department = department
        self.title = title
        self.steps = steps
    }

    /// Checks the bounds and every step; with `shortCodes` (the library's), also that every
    /// script a step offers exists (`not_found` otherwise).
    public func validate(shortCodes: Set<String>? = nil) throws(AssistError) {
        guard !department.isEmpty, department.count <= Script.maximumDepartmentLength else {
            throw AssistError(.invalidArgument, "department must have 1 to \(Script.maximumDepartmentLength) characters")
        }
        guard !title.isEmpty, title.count <= Script.maximumTitleLength else {
            throw AssistError(.invalidArgument, "flow \(department): title must have 1 to \(Script.maximumTitleLength) characters")
        }
        guard !steps.isEmpty, steps.count <= Self.maximumSteps else {
            throw AssistError(.invalidArgument, "flow \(department): 1 to \(Self.maximumSteps) steps")
        }
        var ids = Set<String>()
        for step in steps {
            try step.validate()
            guard ids.insert(step.id).inserted else { throw AssistError(.conflict, "flow \(department): step id \(step.id) appears twice") }
            if let shortCodes {
                for code in step.scripts where !shortCodes.contains(code) {
                    throw AssistError(.notFound, "flow \(department), step \(step.id): no script with short code \(code)")
                }
            }
        }
    }
}
