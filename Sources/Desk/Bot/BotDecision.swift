import Foundation

/// What ``BotTriage`` tells its caller to do after a shopper's message or feedback.
public enum BotDecision: Sendable, Hashable {
    /// Send `text` to the shopper as the bot; `source` says where it came from (stored with the
    /// message, for reports and for the FAQ's admin).
    case reply(text: String, source: BotReplySource)
    /// Ask the shop's order system (``OrderStatusLookup``) about `orderID`, then give the result
    /// to ``BotTriage/orderLookupFinished(_:at:)``. ``BotTriage/respond(to:at:orders:)`` does both.
    case lookUpOrder(orderID: String)
    /// Move the consultation to the queue (``ConsultationStatus/queued``); the bot is done.
    /// `closedHours` is set when this happens outside the department's ``BusinessHours``: the
    /// queue decides what then.
    case handOff(HandOffReason, closedHours: ClosedHours?)
}

/// Where a bot reply came from.
public enum BotReplySource: Sendable, Hashable {
    /// An FAQ entry's answer, with its BM25 score.
    case faq(entryID: String, score: Double)
    /// A built-in intent's reply.
    case intent(BotIntent)
}

/// The built-in intents the bot replies to without the FAQ.
public enum BotIntent: String, Sendable, Hashable, Codable, CaseIterable {
    /// "hi", "Guten Tag".
    case greeting
    /// "thanks", "ok", or 👍.
    case thanks
    /// An order's status from the order system, the request for an order number, or "no such order".
    case orderStatus = "order_status"
    /// The department's opening hours.
    case openingHours = "opening_hours"
    /// After an answer that did not help: asks to rephrase, offers a person.
    case rephrase
}

/// Why the bot handed a consultation to the queue; stored with the hand-off event.
public enum HandOffReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// The shopper asked for a person (or accepted the bot's offer of one).
    case askedForPerson = "asked_for_person"
    /// The best FAQ match was below the confidence threshold, or the two best were too close
    /// (``BotTriage/Configuration``).
    case notConfident = "not_confident"
    /// Two of the bot's answers did not help.
    case unhelpful
    /// VIP shoppers go to a person at once.
    case vip
}

/// A hand-off outside business hours.
public struct ClosedHours: Sendable, Hashable {
    /// When the department next opens; `nil` if its hours never open again.
    public var nextOpening: Date?

    public init(nextOpening: Date?) { self.nextOpening = nextOpening }
}
