import ShowroomCore

/// The error every ``Assist`` type throws (scripts, catalog, shopper events, recommendations,
/// hints, conversions, webhooks): one small set of codes, so an HTTP handler maps each to one
/// status and a counter can label by it.
///
/// Compared by ``code`` only (see `CodedError`); ``detail`` is for a log line or an admin's
/// error message and never part of equality.
///
/// | code | meaning | HTTP |
/// |---|---|---|
/// | `invalid_argument` | a value out of its documented range or form | 400 |
/// | `invalid_import` | a catalog, script or rule file that cannot be read at all (rows with errors are reported, not thrown) | 422 |
/// | `too_large` | over a documented cap (catalog size, body length, rule count) | 413 |
/// | `not_found` | no such product, script, flow, rule, token, … | 404 |
/// | `conflict` | contradicts the current state (a duplicate short code) | 409 |
/// | `rate_limited` | faster than the caller's documented rate | 429 |
/// | `storage` | the store failed (a disk error, the database unreachable): nothing was changed | 503 |
/// | `unavailable` | in a cluster, this node's turn at the desk ended: nothing was changed; retry (another node has it) | 503 |
public struct AssistError: CodedError {
    public static let domain = "assist"

    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// A value out of its documented range or form.
        case invalidArgument = "invalid_argument"
        /// A file that cannot be read at all.
        case invalidImport = "invalid_import"
        /// Over a documented cap.
        case tooLarge = "too_large"
        /// The thing named does not exist.
        case notFound = "not_found"
        /// Contradicts the current state.
        case conflict
        /// Faster than the caller's documented rate.
        case rateLimited = "rate_limited"
        /// The store failed (disk, database); nothing was changed. Worth a retry later.
        case storage
        /// In a cluster: this node's turn at the desk (and assist) ended; nothing was changed.
        case unavailable
    }

    public let code: Code
    /// Human-readable detail, for logs and admin messages only: not part of equality.
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
}
