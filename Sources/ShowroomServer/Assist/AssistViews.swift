import Assist
import Desk
import Foundation

// The JSON shapes of the assist API (docs/assist.md, "HTTP API"): what the routes answer, built
// from the `Assist` module's values.

/// The answer to a catalog import: how many products were taken, the rows left out with their
/// line and reason, and how long it took.
public struct CatalogImportReport: Codable, Sendable {
    public var imported: Int
    /// Products in the catalog after the import.
    public var total: Int
    public var issues: [CatalogImportIssue]
    public var ignoredColumns: [String]
    public var seconds: Double
}

/// Who the shopper of a consultation is, for the workspace's profile panel.
public struct ShopperPanel: Codable, Sendable {
    public var shopper: String
    public var name: String
    public var profile: ShopperProfile
    /// The profile's tags plus the desk's ("returning to the desk").
    public var tags: [String]
    /// Lifetime value, one formatted amount per currency.
    public var lifetimeValue: [String]
    public var pastConsultations: [ConsultationView]
    /// The product the consultation started from, if the catalog has it.
    public var product: Product?
}

/// One recommended product with its score and reasons.
public struct RecommendationView: Codable, Sendable {
    public var product: Product
    public var price: String
    public var score: Double
    public var signals: Recommendation.Signals
    public var reasons: [String]

    init(_ r: Recommendation) {
        product = r.product
        price = Currency.format(r.product.priceMinor, r.product.currency)
        score = r.score
        signals = r.signals
        reasons = r.reasons
    }
}

/// A script filled in for a consultation: the text to put in the composer and what is missing.
public struct RenderedReply: Codable, Sendable {
    public var script: Script
    public var text: String
    /// Unknown or empty variables (the workspace shows them before sending).
    public var flags: [TemplateFlag]
}

/// A consultation's guided flow and where it stands.
public struct FlowView: Codable, Sendable, Equatable {
    public var flow: GuidedFlow
    public var progress: FlowProgress
}

/// The `message.created` webhook's payload: which message, not its text (the shop reads the
/// room's history if it needs it; a webhook carries no chat content).
struct MessageEvent: Codable, Sendable {
    var consultation: String
    var room: String
    var seq: Int64
    var sender: String
    var role: String
    var kind: String
    var at: Date
}

/// What happened to a conversion report: `attributed` (with the consultation and agent),
/// `unattributed`, `rejected` (with why) or `duplicate`.
public struct ConversionAnswer: Codable, Sendable, Equatable {
    public var outcome: String
    public var consultation: String?
    public var agent: String?
    public var reason: String?

    init(_ o: ConversionOutcome) {
        switch o {
        case .attributed(let c, let a): outcome = "attributed"; consultation = c; agent = a
        case .unattributed: outcome = "unattributed"
        case .rejected(let why): outcome = "rejected"; reason = why.rawValue
        case .duplicate: outcome = "duplicate"
        }
    }
}

/// The conversion report (`GET /api/reports/conversions`): conversions by consultation, agent
/// and department beside the desk's own report (first response, CSAT) for the same window.
public struct ConversionReportView: Codable, Sendable {
    public var from: Date
    public var to: Date
    public var conversions: ConversionSummary
    public var desk: DeskReport
}
