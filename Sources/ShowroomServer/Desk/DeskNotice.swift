import Desk
import Foundation

/// One line of an agent's workspace stream (`GET /api/desk/events`, docs/desk.md "HTTP API").
public struct DeskNotice: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// First on every stream: the agent's consultations and their queues.
        case hello
        /// A consultation is offered to the agent until `until`: accept or decline.
        case offer
        /// The offer is gone (lapsed, declined, taken by the shopper leaving).
        case offerWithdrawn = "offer_withdrawn"
        /// The consultation is the agent's: `roomToken` opens its room (chat and call).
        case assigned
        /// The consultation was taken from the agent (unanswered too long, or transferred on).
        case revoked
        /// A shopper's message is unanswered for `targetsMissed` reply targets.
        case overdue
        /// A department's queue changed: `queue` is its new order.
        case queue
        /// The consultation ended (resolved, or the shopper left).
        case ended
    }

    public var type: Kind
    public var consultation: ConsultationView?
    public var until: Date?
    public var roomToken: String?
    public var targetsMissed: Int?
    public var department: String?
    public var queue: [ConsultationView]?
    /// For `queue`: the department's left messages (``DeskService/leftMessages(_:)``), oldest first.
    public var messages: [ConsultationView]?
    /// For `hello`: what the agent holds now.
    public var held: [ConsultationView]?
    /// For `assigned`: notes left by earlier agents (a transfer's), oldest first.
    public var notes: [Note]?
    /// For `assigned`: the shopper's earlier consultations, newest first (at most 5).
    public var previous: [ConsultationView]?

    public struct Note: Codable, Sendable, Equatable {
        public var agent: String
        public var text: String
        public var at: Date
    }

    public init(
        type: Kind, consultation: ConsultationView? = nil, until: Date? = nil, roomToken: String? = nil, targetsMissed: Int? = nil,
        department: String? = nil, queue: [ConsultationView]? = nil, held: [ConsultationView]? = nil
    ) {
        self.type = type
        self.consultation = consultation
        self.until = until
        self.roomToken = roomToken
        self.targetsMissed = targetsMissed
        self.department = department
        self.queue = queue
        self.held = held
    }
}
