import Foundation

/// A conversion as the shop reports it (the API, or the widget's tracked link for clicks).
public struct ConversionReport: Codable, Sendable, Hashable {
    public var kind: ConversionKind
    /// The tracking token the item carried; `nil` when the shop has none (the report is counted
    /// but attributed to nobody).
    public var token: String?
    /// The shop's order id: required for orders (1 to ``maximumIDLength`` characters), and the
    /// key that makes a repeated order report count once.
    public var orderID: String?
    /// Optional idempotency key for clicks and add-to-carts: the same kind and id again is a duplicate.
    public var reportID: String?
    /// The order's value in the currency's minor unit (cents); 0 for clicks. 0 … 10¹².
    public var amountMinor: Int64
    /// ISO 4217 code, three capital letters; required when ``amountMinor`` is above 0.
    public var currency: String?
    public var at: Date
    /// The consultation the caller says this belongs to; when given, it must be the token's.
    public var consultation: String?

    public static let maximumIDLength = 128
    public static let maximumAmountMinor: Int64 = 1_000_000_000_000

    public init(
        kind: ConversionKind, token: String?, orderID: String? = nil, reportID: String? = nil, amountMinor: Int64 = 0, currency: String? = nil,
        at: Date, consultation: String? = nil
    ) {
        self.kind = kind
        self.token = token
        self.orderID = orderID
        self.reportID = reportID
        self.amountMinor = amountMinor
        self.currency = currency
        self.at = at
        self.consultation = consultation
    }

    /// `invalid_argument` for an order without an order id, an amount out of range, an amount
    /// without a currency, or an over-long id.
    public func validate() throws(AssistError) {
        if kind == .order, orderID?.isEmpty ?? true { throw AssistError(.invalidArgument, "an order report needs orderId") }
        for id in [orderID, reportID, consultation].compactMap({ $0 }) where id.isEmpty || id.count > Self.maximumIDLength {
            throw AssistError(.invalidArgument, "ids must have 1 to \(Self.maximumIDLength) characters")
        }
        guard (0...Self.maximumAmountMinor).contains(amountMinor) else {
            throw AssistError(.invalidArgument, "amountMinor must be 0 to \(Self.maximumAmountMinor)")
        }
        if let currency {
            guard currency.utf8.count == 3, currency.utf8.allSatisfy({ (0x41...0x5A).contains($0) }) else {
                throw AssistError(.invalidArgument, "currency must be an ISO 4217 code like EUR")
            }
        } else if amountMinor > 0 {
            throw AssistError(.invalidArgument, "an amount needs a currency")
        }
        if let token, token.utf8.count > TrackingToken.maximumLength {
            throw AssistError(.invalidArgument, "token is longer than \(TrackingToken.maximumLength) characters")
        }
    }

    /// What makes a repeat a duplicate: kind and order id (or report id); `nil` when neither is given.
    var deduplicationKey: String? {
        guard let id = orderID ?? reportID else { return nil }
        return kind.rawValue + "|" + id
    }
}
