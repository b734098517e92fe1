import ShowroomCore

/// The error every ``Desk`` type throws: one small set of codes the whole desk shares (the bot,
/// the queue, routing, the store and the admin API), so that an HTTP handler maps each to one
/// status and a counter can label by it.
///
/// Compared by ``code`` only (see `CodedError`); ``detail`` is for a log line or an admin's error
/// message and never part of equality.
///
/// | code | meaning | HTTP (suggested) |
/// |---|---|---|
/// | `invalid_faq` | an FAQ file or entry breaks a rule of docs/desk.md ("Bot") | 422 |
/// | `unknown_department` | a department the shop does not have | 422 |
/// | `invalid_argument` | any other value out of its documented range or form | 400 |
/// | `not_found` | no such consultation, agent, entry, … | 404 |
/// | `conflict` | the request contradicts the current state (a move ``ConsultationStatus`` forbids, a duplicate id) | 409 |
/// | `not_allowed` | the caller may not do this (role, ownership) | 403 |
/// | `storage` | the store failed (a disk error, the database unreachable): nothing was changed | 503 |
/// | `unavailable` | in a cluster, the desk's node could not be reached (it is changing, or down) | 503 |
public struct DeskError: CodedError {
    public static let domain = "desk"

    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// An FAQ file or entry breaks a rule of the format (docs/desk.md, "Bot").
        case invalidFAQ = "invalid_faq"
        /// A department the shop does not have.
        case unknownDepartment = "unknown_department"
        /// Any other value out of its documented range or form.
        case invalidArgument = "invalid_argument"
        /// The thing named does not exist.
        case notFound = "not_found"
        /// The request contradicts the current state.
        case conflict
        /// The caller may not do this.
        case notAllowed = "not_allowed"
        /// The store failed (disk, database); nothing was changed. Worth a retry later.
        case storage
        /// In a cluster: the node running the desk could not be reached — none holds it for a
        /// moment (one died, the next is starting), or the request to it failed. A request that
        /// failed on its way may or may not have been carried out; retry in a moment.
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
