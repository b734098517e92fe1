import Foundation

/// The bot's side of one consultation: every new consultation meets it first. Fed the shopper's
/// messages and feedback, it answers from simple intents and the FAQ, or hands the consultation
/// to the queue. A value with no I/O and no clock of its own: the caller passes the time of each
/// event, performs the ``BotDecision`` it returns, and stores the value between messages.
///
/// Per message, first match wins:
///
/// 1. Already handed off → the same ``BotDecision/handOff(_:closedHours:)`` again.
/// 2. A ``ShopperTier/vip`` shopper → hand off (``HandOffReason/vip``) at once.
/// 3. Asks for a person ("agent", "Mitarbeiter", …), or says yes after the bot offered one →
///    hand off (``HandOffReason/askedForPerson``). A plain "no" to the offer → "what else?".
/// 4. Says the last answer did not help ("no", "that doesn't help", "nein", 👎 via
///    ``feedback(helpful:at:)``) → counts an unhelpful answer; the second → hand off
///    (``HandOffReason/unhelpful``). With nothing else in the message → "could you rephrase, or
///    talk to a person?"; otherwise the rest is handled as a question below.
/// 5. An order id (``OrderIDPattern``; after the bot asked for one, a bare number too) →
///    ``BotDecision/lookUpOrder(orderID:)``; the caller asks the ``OrderStatusLookup`` and gives
///    the result to ``orderLookupFinished(_:at:)`` (``respond(to:at:orders:)`` does both). An
///    unknown order → says so and offers a person.
/// 6. Asks where an order is without an id → asks for the number.
/// 7. Asks for opening hours (and the department has ``BusinessHours``) → answers from them.
/// 8. Only thanks / only a greeting → a short polite reply.
/// 9. Otherwise the FAQ (``FAQIndex``, the shopper's locale and department): not confident
///    (``Configuration/isConfident(_:)``) → hand off (``HandOffReason/notConfident``); the same
///    entry as the last answer (asked again) → counts an unhelpful answer as in 4; else its
///    answer.
///
/// Every hand-off outside the department's hours carries ``ClosedHours``.
public struct BotTriage: Sendable {
    /// The thresholds and patterns; the defaults are the measured ones (docs/desk.md, "Bot").
    public struct Configuration: Sendable, Hashable {
        /// The best match's BM25 score must reach this.
        public var minimumScore: Double = 3.5
        /// The best match must cover this share of the query's idf (``FAQIndex/Match/coverage``).
        public var minimumCoverage: Double = 0.2
        /// The runner-up's score must stay below this share of the best's, or the two are "too
        /// close" to choose between.
        public var maximumRunnerUpRatio: Double = 0.8
        /// Unhelpful answers before the bot hands off.
        public var unhelpfulLimit = 2
        public var orderIDPattern: OrderIDPattern = .standard

        public init() {}

        /// Whether the bot may answer with the first of `matches` (a search's result, best first).
        public func isConfident(_ matches: [FAQIndex.Match]) -> Bool {
            guard let best = matches.first, best.score >= minimumScore, best.coverage >= minimumCoverage else {
                return false
            }
            if matches.count > 1, matches[1].score >= best.score * maximumRunnerUpRatio { return false }
            return true
        }
    }

    public let index: FAQIndex
    /// The shopper's locale (from the consultation): picks FAQ entries and the reply language.
    public let locale: String?
    /// The consultation's department: picks FAQ entries.
    public let department: String?
    public let tier: ShopperTier
    /// The department's hours; `nil` when it has none (never reported closed, and "when are you
    /// open?" goes to the FAQ).
    public let hours: BusinessHours?
    public let configuration: Configuration

    /// Answers the shopper judged unhelpful so far.
    public private(set) var unhelpfulAnswers = 0
    /// The hand-off, once there was one; the bot is done then.
    public private(set) var handOff: BotDecision?

    /// What the shopper may judge next (cleared once judged, so an answer counts once).
    private var lastAnswer: BotReplySource?
    /// The FAQ entry answered last, to notice the same question asked again.
    private var lastFAQEntryID: String?
    private var offeredPerson = false
    private var awaitingOrderID = false
    private var pendingOrderID: String?
    private let recognizer: IntentRecognizer

    public init(
        index: FAQIndex, locale: String?, department: String?, tier: ShopperTier = .standard, hours: BusinessHours? = nil,
        configuration: Configuration = Configuration()
    ) {
        self.index = index
        self.locale = locale
        self.department = department
        self.tier = tier
        self.hours = hours
        self.configuration = configuration
        self.recognizer = IntentRecognizer(orderIDPattern: configuration.orderIDPattern)
    }

    /// The language the bot replies in.
    public var language: BotLanguage { BotLanguage.replyLanguage(for: locale) }

    /// A shopper's message arrived at `now`.
    public mutating func receive(_ text: String, at now: Date) -> BotDecision {
        if let handOff { return handOff }
        if tier == .vip { return handingOff(.vip, at: now) }
        let intents = recognizer.recognize(text)
        if intents.asksForPerson { return handingOff(.askedForPerson, at: now) }

        if offeredPerson {
            offeredPerson = false
            if intents.isAffirmative { return handingOff(.askedForPerson, at: now) }
            if intents.isNegativeFeedback && !intents.hasQuestion {
                return .reply(text: BotReplies.personDeclined(language), source: .intent(.rephrase))
            }
        }

        var judged = false
        if intents.isNegativeFeedback, lastAnswer != nil {
            judged = true
            if let decision = countUnhelpful(at: now, askAgain: !intents.hasQuestion) { return decision }
        }

        if let id = intents.orderID ?? (awaitingOrderID ? configuration.orderIDPattern.wholeID(in: text) : nil) {
            awaitingOrderID = false
            pendingOrderID = id
            return .lookUpOrder(orderID: id)
        }
        if intents.asksOrderStatus {
            awaitingOrderID = true
            return .reply(text: BotReplies.askForOrderNumber(language), source: .intent(.orderStatus))
        }
        if intents.asksOpeningHours, let hours {
            lastAnswer = .intent(.openingHours)
            return .reply(text: BotReplies.openingHours(hours, at: now, language), source: .intent(.openingHours))
        }
        if intents.isThanks && !intents.hasQuestion {
            lastAnswer = nil
            return .reply(text: BotReplies.thanks(language), source: .intent(.thanks))
        }
        if intents.isGreeting && !intents.hasQuestion {
            return .reply(text: BotReplies.greeting(language), source: .intent(.greeting))
        }

        let matches = index.search(text, locale: locale, department: department, limit: 2)
        guard configuration.isConfident(matches), let best = matches.first else {
            return handingOff(.notConfident, at: now)
        }
        if best.entry.id == lastFAQEntryID {
            // Asked the same again: the answer did not help (counted once per message).
            if !judged {
                if let decision = countUnhelpful(at: now, askAgain: true) { return decision }
            }
            offeredPerson = true
            return .reply(text: BotReplies.rephrase(language), source: .intent(.rephrase))
        }
        let source = BotReplySource.faq(entryID: best.entry.id, score: best.score)
        lastFAQEntryID = best.entry.id
        lastAnswer = source
        return .reply(text: best.entry.answer, source: source)
    }

    /// The shopper's explicit feedback on the last answer (the 👍/👎 quick replies).
    public mutating func feedback(helpful: Bool, at now: Date) -> BotDecision {
        if let handOff { return handOff }
        if helpful {
            lastAnswer = nil
            return .reply(text: BotReplies.gladItHelped(language), source: .intent(.thanks))
        }
        if lastAnswer != nil, let decision = countUnhelpful(at: now, askAgain: true) { return decision }
        offeredPerson = true
        return .reply(text: BotReplies.rephrase(language), source: .intent(.rephrase))
    }

    /// The order system's answer to the last ``BotDecision/lookUpOrder(orderID:)``.
    public mutating func orderLookupFinished(_ result: OrderLookupResult, at now: Date) -> BotDecision {
        if let handOff { return handOff }
        let id = pendingOrderID ?? ""
        pendingOrderID = nil
        switch result {
        case .found(let status):
            lastAnswer = .intent(.orderStatus)
            return .reply(text: BotReplies.order(status, language), source: .intent(.orderStatus))
        case .notFound:
            awaitingOrderID = true
            offeredPerson = true
            return .reply(text: BotReplies.orderNotFound(id, language), source: .intent(.orderStatus))
        case .unavailable:
            offeredPerson = true
            return .reply(text: BotReplies.orderLookupUnavailable(language), source: .intent(.orderStatus))
        }
    }

    // MARK: -

    /// Counts the last answer as unhelpful: the hand-off if that was one too many, or `nil`.
    /// With `askAgain`, a rephrase prompt is what the caller will send next.
    private mutating func countUnhelpful(at now: Date, askAgain: Bool) -> BotDecision? {
        lastAnswer = nil
        unhelpfulAnswers += 1
        if unhelpfulAnswers >= configuration.unhelpfulLimit { return handingOff(.unhelpful, at: now) }
        if askAgain {
            offeredPerson = true
            return .reply(text: BotReplies.rephrase(language), source: .intent(.rephrase))
        }
        return nil
    }

    private mutating func handingOff(_ reason: HandOffReason, at now: Date) -> BotDecision {
        var closed: ClosedHours?
        if let hours, !hours.isOpen(at: now) { closed = ClosedHours(nextOpening: hours.nextOpening(after: now)) }
        let decision = BotDecision.handOff(reason, closedHours: closed)
        handOff = decision
        return decision
    }
}
