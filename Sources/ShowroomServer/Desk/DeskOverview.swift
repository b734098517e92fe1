import Desk

/// A supervisor's view of the desk (`GET /api/desk/overview`).
public struct DeskOverview: Codable, Sendable, Equatable {
    public struct Agent: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var presence: AgentPresence
        /// Consultations held plus a pending offer, of `capacity`.
        public var load: Int
        public var capacity: Int
        public var departments: [String]
        public var supervisor: Bool
        public var held: [ConsultationView]
    }

    public var agents: [Agent]
    /// Each department's queue, in order.
    public var queues: [String: [ConsultationView]]
    /// Open consultations by status.
    public var open: [String: Int]
}
