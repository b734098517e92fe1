/// What ``ConversionLedger/record(_:)`` did with a report.
public enum ConversionOutcome: Sendable, Hashable {
    /// Counted for this consultation and agent.
    case attributed(consultation: String, agent: String)
    /// Counted, for nobody: the report had no token.
    case unattributed
    /// Not counted: the token is forged or altered, or names another consultation than the report.
    case rejected(Rejection)
    /// Not counted again: the same kind and order id (or report id) was counted before.
    case duplicate

    public enum Rejection: String, Sendable, Hashable, Codable {
        /// The token does not verify under the server's key.
        case badToken
        /// The report names a consultation and the token another.
        case consultationMismatch
    }

    /// Whether the report was counted.
    public var isCounted: Bool {
        switch self {
        case .attributed, .unattributed: true
        case .rejected, .duplicate: false
        }
    }
}
