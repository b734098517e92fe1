import Foundation

/// A counted conversion, as stored (``AssistStore/recordConversion(_:)``): attributed ones carry
/// the token's consultation, agent, department and item; unattributed ones only the report.
public struct ConversionEvent: Codable, Sendable, Hashable {
    public var kind: ConversionKind
    public var consultation: String?
    public var agent: String?
    public var department: String?
    public var item: TrackedItem?
    public var orderID: String?
    public var reportID: String?
    public var amountMinor: Int64
    public var currency: String?
    public var at: Date

    public init(
        kind: ConversionKind, consultation: String?, agent: String?, department: String?, item: TrackedItem?, orderID: String?,
        reportID: String?, amountMinor: Int64, currency: String?, at: Date
    ) {
        self.kind = kind
        self.consultation = consultation
        self.agent = agent
        self.department = department
        self.item = item
        self.orderID = orderID
        self.reportID = reportID
        self.amountMinor = amountMinor
        self.currency = currency
        self.at = at
    }

    /// Whether it counts for a consultation and an agent.
    public var isAttributed: Bool { consultation != nil }

    /// Kind and order id (or report id): the key a repeat is recognized by.
    public var deduplicationKey: String? {
        guard let id = orderID ?? reportID else { return nil }
        return kind.rawValue + "|" + id
    }
}
