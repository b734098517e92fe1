/// The events a shop can subscribe its webhook to.
public enum WebhookEventKind: String, Codable, Sendable, Hashable, CaseIterable {
    case consultationCreated = "consultation.created"
    case consultationQueued = "consultation.queued"
    case consultationAssigned = "consultation.assigned"
    case consultationResolved = "consultation.resolved"
    case consultationRated = "consultation.rated"
    case messageCreated = "message.created"
    case conversionRecorded = "conversion.recorded"
}
