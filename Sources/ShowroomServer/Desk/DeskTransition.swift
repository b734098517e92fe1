import Desk
import Foundation

/// One thing that happened to a consultation, as the desk tells its listeners (agent assist: the
/// shop's webhooks and conversion attribution): the consultation after it and when. Read from
/// ``DeskService/transitions``.
public struct DeskTransition: Sendable, Codable, Equatable {
    /// `consultation.created`, `consultation.<status>` for each move (`queued`, `offered`,
    /// `active`, `on_hold`, `resolved`, `abandoned`, `missed`), `consultation.rated`.
    public var event: String
    public var consultation: ConsultationView
    public var at: Date
    /// The shopper's 1–5 score, for `consultation.rated`.
    public var rating: Int?

    public init(event: String, consultation: ConsultationView, at: Date, rating: Int? = nil) {
        self.event = event
        self.consultation = consultation
        self.at = at
        self.rating = rating
    }
}
