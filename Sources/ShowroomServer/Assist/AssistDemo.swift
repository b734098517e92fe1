import Assist
import Foundation

/// The demo's shop (`--demo`, into an empty catalog): the catalog, scripts and flows and hint
/// rules in `Demo/` (the documented JSON formats, so a shop can start from them), and a history
/// of shopper events made relative to the start — the shopper `demo-sam` (the index page's widget
/// link) with views, a cart and two orders, and thirty other shoppers whose orders make the
/// co-purchase counts (sofa with cushions and a throw, dining table with chairs, …).
enum AssistDemo {
    static func file(_ name: String) throws(AssistError) -> Data {
        guard let url = Bundle.module.url(forResource: "Demo/\(name)", withExtension: nil), let data = try? Data(contentsOf: url) else {
            throw AssistError(.notFound, "the demo's \(name) is missing from the build")
        }
        return data
    }

    /// Orders other shoppers placed: what sells together.
    static let baskets: [[String]] = [
        ["SOFA-1", "CUSH-1", "THROW-1"], ["SOFA-1", "CUSH-1"], ["SOFA-2", "CUSH-1", "RUG-1"], ["SOFA-4", "CUSH-2"],
        ["TABLE-1", "CHAIR-3"], ["TABLE-1", "CHAIR-3", "LAMP-2"], ["SOFA-5", "RUG-2", "CUSH-3"], ["CHAIR-1", "THROW-1"],
        ["SOFA-1", "RUG-1", "TABLE-2"], ["LAMP-1", "TABLE-2"],
    ]

    static func events(now: Date) -> [ShopperEvent] {
        let minute: TimeInterval = 60, day: TimeInterval = 86_400
        var events: [ShopperEvent] = [
            ShopperEvent(shopper: "demo-sam", kind: .purchased, sku: "TABLE-1", at: now - 90 * day, orderId: "A-1001", priceMinor: 89_900, currency: "EUR"),
            ShopperEvent(shopper: "demo-sam", kind: .purchased, sku: "CHAIR-3", at: now - 90 * day, orderId: "A-1001", quantity: 4, priceMinor: 12_900, currency: "EUR"),
            ShopperEvent(shopper: "demo-sam", kind: .purchased, sku: "LAMP-2", at: now - 20 * day, orderId: "A-1187", priceMinor: 8_900, currency: "EUR"),
            ShopperEvent(shopper: "demo-sam", kind: .viewed, sku: "SOFA-3", at: now - 2 * day),
            ShopperEvent(shopper: "demo-sam", kind: .viewed, sku: "SOFA-2", at: now - 40 * minute),
            ShopperEvent(shopper: "demo-sam", kind: .viewed, sku: "SOFA-1", at: now - 12 * minute),
            ShopperEvent(shopper: "demo-sam", kind: .addedToCart, sku: "CUSH-2", at: now - 10 * minute),
        ]
        for i in 0..<30 {
            let basket = baskets[i % baskets.count]
            let when = now - Double(i + 1) * day
            for sku in basket {
                events.append(ShopperEvent(shopper: "demo-shopper-\(i)", kind: .viewed, sku: sku, at: when - 600))
                events.append(ShopperEvent(shopper: "demo-shopper-\(i)", kind: .purchased, sku: sku, at: when, orderId: "D-\(2000 + i)"))
            }
        }
        return events
    }
}
