import Desk

/// What `/metrics` shows of the desk (``ServerMetrics``): counts since the server started, the
/// agents now, and the last hour's ``DeskReport``.
public struct DeskMetrics: Sendable {
    /// Open consultations by status.
    public var open: [ConsultationStatus: Int]
    /// Status moves since start, by the status moved to.
    public var moves: [ConsultationStatus: Int]
    public var botReplies: Int
    public var handOffs: [HandOffReason: Int]
    public var agents: [DeskOverview.Agent]
    public var lastHour: DeskReport
    /// Room messages the desk could not take because it was too far behind.
    public var droppedMessages: Int = 0
}
