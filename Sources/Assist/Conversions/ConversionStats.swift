/// The conversion figures of one group (everything, a consultation, an agent, a department).
///
/// - ``consultations``: consultations that were sent at least one tracked item in the group (a
///   consultation with an attributed order counts too, even when its send is outside the window).
/// - ``convertedConsultations``: those with at least one attributed order.
/// - ``conversionRate``: converted ÷ consultations (0 when there are none).
/// - ``revenueMinor``: attributed orders' amounts by currency; ``revenuePerConsultation(currency:)``
///   divides by ``consultations``.
public struct ConversionStats: Codable, Sendable, Hashable {
    public var consultations = 0
    public var convertedConsultations = 0
    public var productCardsSent = 0
    public var couponsSent = 0
    public var clicks = 0
    public var addToCarts = 0
    public var orders = 0
    /// By ISO 4217 code, in minor units.
    public var revenueMinor: [String: Int64] = [:]

    public init() {}

    /// Cards and coupons sent.
    public var itemsSent: Int { productCardsSent + couponsSent }

    public var conversionRate: Double { consultations == 0 ? 0 : Double(convertedConsultations) / Double(consultations) }

    /// Revenue in `currency`'s minor units per consultation sent a tracked item (0 when none).
    public func revenuePerConsultation(currency: String) -> Double {
        consultations == 0 ? 0 : Double(revenueMinor[currency] ?? 0) / Double(consultations)
    }
}
