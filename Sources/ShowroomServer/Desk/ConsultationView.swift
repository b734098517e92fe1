import Desk
import Foundation

/// A consultation as the API shows it: the stored record plus what only the live desk knows —
/// the place in the queue and the estimated wait.
public struct ConsultationView: Codable, Sendable, Equatable {
    public var id: String
    public var room: String
    public var status: ConsultationStatus
    public var shopper: String
    public var shopperName: String
    public var department: String
    public var priority: Int
    public var context: ConsultationContext
    public var assignee: String?
    /// 1-based place in the department's queue, while it waits.
    public var position: Int?
    /// Estimated seconds until an agent takes it, while it waits (nil: no estimate yet — no
    /// handling times recorded, or nobody online).
    public var waitSeconds: Double?
    public var created: Date
    public var firstBotReply: Date?
    public var queued: Date?
    public var firstAgentReply: Date?
    public var resolved: Date?
    public var rating: Int?
    /// While an agent holds it: since when the shopper's oldest unanswered message waits, and
    /// how many reply targets that has missed (the SLA a supervisor watches).
    public var unansweredSince: Date?
    public var targetsMissed: Int?

    init(_ c: Consultation, position: Int? = nil, waitSeconds: Double? = nil) {
        id = c.id
        room = c.room
        status = c.status
        shopper = c.shopper
        shopperName = c.shopperName
        department = c.department
        priority = c.priority
        context = c.context
        assignee = c.assignee
        self.position = position
        self.waitSeconds = waitSeconds
        created = c.times.created
        firstBotReply = c.times.firstBotReply
        queued = c.times.queued
        firstAgentReply = c.times.firstAgentReply
        resolved = c.times.resolved
        rating = c.rating
    }
}
