import ShowroomCore

/// Why the desk refused something — a routing command, an admin change, a shopper's request. One
/// small set of codes for the whole desk, mapped once to HTTP statuses and `/ws` codes by the
/// server; the detail is the reason the client is told.
public struct DeskError: CodedError {
    public static let domain = "desk"
    public enum Code: String, Sendable, Hashable {
        /// A field breaks its rule (capacity 0, an empty name, a negative target).
        case invalidArgument = "invalid_argument"
        /// No such consultation, agent or department.
        case notFound = "not_found"
        /// Unknown department named by a consultation or an agent.
        case unknownDepartment = "unknown_department"
        /// The consultation moved on meanwhile (another agent took it, it was resolved).
        case conflict
        /// Not allowed in its status, or not for this agent (not offered to them, at capacity).
        case notAllowed = "not_allowed"
        /// The FAQ file or entry is not valid.
        case invalidFAQ = "invalid_faq"
    }
    public let code: Code
    public let detail: String
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
}
