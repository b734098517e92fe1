import Foundation

/// One shopper's request for help, from the widget's first message to its end: the desk's record
/// (through ``DeskStore``), with the times of every milestone. Its status moves only as
/// ``ConsultationStatus/canMove(to:)`` allows, one stored ``ConsultationEvent`` per move.
public struct Consultation: Codable, Sendable, Equatable {
    public var id: String
    /// The chat (and call) room of the consultation.
    public var room: String
    /// The shopper's identity (their token's subject) and the name shown to agents.
    public var shopper: String
    public var shopperName: String
    /// Where the widget was opened: what the shopper was looking at.
    public var context: ConsultationContext
    public var department: String
    /// Higher first in the queue (a VIP shopper: 10).
    public var priority: Int
    /// Skills an agent needs for it (e.g. the shopper's language).
    public var skills: Set<String>
    public var status: ConsultationStatus
    public var assignee: String?
    public var times: Times
    /// The shopper's rating after it was resolved, 1–5.
    public var rating: Int?

    /// When each milestone happened (nil: not yet).
    public struct Times: Codable, Sendable, Equatable {
        public var created: Date
        public var firstBotReply: Date?
        /// When it first entered the queue: its place, kept through transfers and returns.
        public var queued: Date?
        public var firstAgentReply: Date?
        public var resolved: Date?
        /// When it ended some other way (abandoned), or was left as a message (missed).
        public var ended: Date?

        public init(created: Date) { self.created = created }
    }

    public init(
        id: String, room: String, shopper: String, shopperName: String, context: ConsultationContext, department: String,
        priority: Int = 0, skills: Set<String> = [], created: Date
    ) {
        self.id = id
        self.room = room
        self.shopper = shopper
        self.shopperName = shopperName
        self.context = context
        self.department = department
        self.priority = priority
        self.skills = skills
        status = .bot
        times = Times(created: created)
    }
}

/// The page the widget was opened on.
public struct ConsultationContext: Codable, Sendable, Equatable {
    /// The product shown (SKU), if any.
    public var sku: String?
    public var pageURL: String?
    /// The shopper's language (BCP 47, e.g. "de-DE").
    public var locale: String?

    public init(sku: String? = nil, pageURL: String? = nil, locale: String? = nil) {
        self.sku = sku
        self.pageURL = pageURL
        self.locale = locale
    }
}

extension Consultation {
    /// What a move to `status` does to the record, as every store applies it: the status, the
    /// milestone times that go with it (queued the first time, resolved, ended), and the assignee
    /// (set by `active` and `on_hold` when one is given, cleared by a move back to the queue or a
    /// miss). Whether the move is allowed is ``ConsultationStatus/canMove(to:)``'s to say, first.
    public mutating func apply(_ status: ConsultationStatus, assignee: String?, at: Date) {
        self.status = status
        switch status {
        case .queued:
            if times.queued == nil { times.queued = at }
            self.assignee = nil
        case .offered, .bot: break
        case .active, .onHold:
            if let assignee { self.assignee = assignee }
        case .resolved: times.resolved = at
        case .abandoned, .missed:
            times.ended = at
            if status == .missed { self.assignee = nil }
        }
    }
}
