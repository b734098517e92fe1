/// The variables a script body may use as `{{name}}` (docs/assist.md, "Scripts and guided
/// flows"). The server fills them from the consultation; a placeholder naming anything else is
/// flagged ``TemplateFlag/Kind/unknownVariable`` before the reply is sent.
public enum ScriptVariable: String, CaseIterable, Sendable, Hashable, Codable {
    /// The shopper's display name ("Sam Rivera").
    case shopperName = "shopper.name"
    /// The first word of the shopper's name ("Sam").
    case shopperFirstName = "shopper.firstName"
    /// The shopper's e-mail address, when the shop passed it.
    case shopperEmail = "shopper.email"
    /// The title of the product the consultation is about (or the one the agent picked).
    case productTitle = "product.title"
    /// Its price, formatted for the shopper's locale ("€ 1.299,00").
    case productPrice = "product.price"
    /// Its SKU.
    case productSKU = "product.sku"
    /// Its page on the shop.
    case productURL = "product.url"
    /// The agent's display name.
    case agentName = "agent.name"
    /// The order the consultation is about, when one was named.
    case orderID = "order.id"
    /// That order's status as the shop reported it.
    case orderStatus = "order.status"
    /// The shop's name.
    case shopName = "shop.name"
    /// The consultation's id.
    case consultationID = "consultation.id"
    /// The consultation's department's name.
    case departmentName = "department.name"
    /// The code of the coupon the reply attaches.
    case couponCode = "coupon.code"

    /// Every documented name, for a quick membership test.
    public static let names: Set<String> = Set(allCases.map(\.rawValue))
}
