import Foundation

extension BotTriage {
    /// ``receive(_:at:)``, and when that asks for an order's status, the lookup through `orders`
    /// and ``orderLookupFinished(_:at:)``: the one call a server makes per shopper message.
    /// The lookup is the only wait (see ``OrderStatusLookup`` on its time budget).
    public mutating func respond(to text: String, at now: Date, orders: some OrderStatusLookup) async -> BotDecision {
        let decision = receive(text, at: now)
        guard case .lookUpOrder(let id) = decision else { return decision }
        let result = await orders.status(ofOrder: id, locale: locale)
        return orderLookupFinished(result, at: now)
    }
}
