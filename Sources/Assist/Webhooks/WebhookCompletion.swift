import Foundation

/// What ``WebhookOutbox/complete(_:result:now:)`` decided, with what the server must store.
public struct WebhookCompletion: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        case delivered
        /// Failed; due again at this time.
        case retry(at: Date)
        /// Failed the last attempt: removed.
        case gaveUp
        /// No such pending delivery (completed twice, or its endpoint was removed).
        case unknownDelivery
    }

    public var outcome: Outcome
    /// The delivery as it now is, while it is still pending (store it); `nil` once removed (delete it).
    public var delivery: WebhookDelivery?
    /// The endpoint, when this completion paused it (store it; show it in the supervisor view).
    public var pausedEndpoint: WebhookEndpoint?

    public init(outcome: Outcome, delivery: WebhookDelivery?, pausedEndpoint: WebhookEndpoint?) {
        self.outcome = outcome
        self.delivery = delivery
        self.pausedEndpoint = pausedEndpoint
    }
}
