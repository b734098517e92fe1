/// A shop's order system, as the bot asks it "where is order 12345?". Injected: the server gives
/// the bot the shop's implementation (an HTTP call to the shop), tests give a table.
///
/// The bot's first reply has a budget (p99 < 1 s after the shopper's message, docs/desk.md): an
/// implementation must give up well within it — say after 500 ms — and answer
/// ``OrderLookupResult/unavailable``.
public protocol OrderStatusLookup: Sendable {
    /// The status of order `id` as the shop knows it.
    /// - Parameters:
    ///   - id: as found in the message by ``OrderIDPattern`` (not checked further).
    ///   - locale: the shopper's locale, for ``OrderStatus/detail``'s language.
    func status(ofOrder id: String, locale: String?) async -> OrderLookupResult
}

/// What the order system said.
public enum OrderLookupResult: Sendable, Hashable {
    case found(OrderStatus)
    /// No such order (or not this shopper's).
    case notFound
    /// The order system did not answer in time, or failed.
    case unavailable
}

/// Where one order stands, as the bot tells the shopper.
public struct OrderStatus: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        case received, processing, shipped, delivered, cancelled, returned
    }

    public var orderID: String
    public var state: State
    /// Said after the state as it is: a carrier and tracking number, an expected date. In the
    /// shopper's language (the lookup is given the locale).
    public var detail: String?

    public init(orderID: String, state: State, detail: String? = nil) {
        self.orderID = orderID
        self.state = state
        self.detail = detail
    }
}
