/// A queue of the desk and its promises: how fast a shopper hears from a person, how long a
/// shopper waits at most before being offered to leave a message.
public struct Department: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// Seconds within which a waiting shopper should hear from an agent: the SLA that alerts the
    /// agent, then the supervisor, then reassigns (default 30 s, the shop's promise).
    public var replyTargetSeconds: Double
    /// Seconds in the queue after which the shopper is offered to leave a message instead.
    public var maximumWaitSeconds: Double
    /// When people answer (nil: always): outside them the bot says when the desk opens, and a
    /// shopper asking for a person is queued for then or leaves a message (docs/desk.md, "Business hours").
    public var hours: BusinessHours?
    /// The shop's own bot, in place of the built-in one (nil: the built-in bot answers).
    public var externalBot: ExternalBot?

    public init(
        id: String, name: String, replyTargetSeconds: Double = 30, maximumWaitSeconds: Double = 300, hours: BusinessHours? = nil,
        externalBot: ExternalBot? = nil
    ) {
        self.externalBot = externalBot
        self.id = id
        self.name = name
        self.replyTargetSeconds = replyTargetSeconds
        self.maximumWaitSeconds = maximumWaitSeconds
        self.hours = hours
    }
}
