import Foundation

/// One event on its way to one endpoint: what the outbox keeps (and the store, so a restart loses
/// none) until it is delivered, given up or dropped.
public struct WebhookDelivery: Codable, Sendable, Hashable, Identifiable {
    /// `<event id>@<endpoint id>`: one delivery per event and endpoint, the same after a restart.
    public var id: String
    public var endpoint: String
    public var event: WebhookEvent
    /// Attempts completed so far.
    public var attempts: Int
    /// When it may be attempted (next).
    public var nextAttempt: Date
    public var created: Date
    /// The last failure: `HTTP 503` or the transport error.
    public var lastError: String?
    /// Handed out by ``WebhookOutbox/due(now:limit:)`` and not completed yet: not handed out again
    /// before this time (a completion that never comes does not lose the delivery).
    public var leasedUntil: Date?

    public init(endpoint: String, event: WebhookEvent, now: Date) {
        self.id = event.id + "@" + endpoint
        self.endpoint = endpoint
        self.event = event
        self.attempts = 0
        self.nextAttempt = now
        self.created = now
        self.lastError = nil
        self.leasedUntil = nil
    }
}
