import Foundation

/// One line of an endpoint's delivery log (the supervisor view): an attempt, a drop or a pause.
public struct WebhookLogEntry: Codable, Sendable, Hashable {
    public enum Outcome: String, Codable, Sendable, Hashable {
        /// 2xx.
        case delivered
        /// Failed; tried again at ``WebhookLogEntry/nextAttempt``.
        case retrying
        /// Failed the last allowed attempt: the delivery is dropped.
        case gaveUp
        /// Dropped unsent because the outbox was full.
        case dropped
        /// The endpoint was paused after too many failures in a row.
        case paused
        /// An admin resumed the endpoint.
        case resumed
    }

    public var deliveryID: String?
    public var eventID: String?
    public var event: WebhookEventKind?
    /// The attempt's number, from 1.
    public var attempt: Int?
    public var status: Int?
    public var error: String?
    public var outcome: Outcome
    public var nextAttempt: Date?
    public var at: Date

    public init(
        deliveryID: String?, eventID: String?, event: WebhookEventKind?, attempt: Int?, status: Int?, error: String?, outcome: Outcome,
        nextAttempt: Date? = nil, at: Date
    ) {
        self.deliveryID = deliveryID
        self.eventID = eventID
        self.event = event
        self.attempt = attempt
        self.status = status
        self.error = error
        self.outcome = outcome
        self.nextAttempt = nextAttempt
        self.at = at
    }
}
