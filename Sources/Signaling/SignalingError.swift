import ShowroomCore

/// Why the server refused a message or closed a connection; `code` goes on the wire (the table in
/// docs/protocol.md lists every code, when it is sent and what happens to the connection).
public struct SignalingError: CodedError {
    public static let domain = "signaling"
    public enum Code: String, Sendable, Hashable {
        case badMessage = "bad_message"
        case unauthorized
        case forbidden
        case unsupportedVersion = "unsupported_version"
        case notJoined = "not_joined"
        case alreadyJoined = "already_joined"
        case rateLimited = "rate_limited"
        case tooLarge = "too_large"
        case invalidContent = "invalid_content"
        case storage
        case media
        case notFound = "not_found"
        case conflict
        /// The caller's identity or connection holds as many of something as it may (connections
        /// of one identity, media sessions of one connection).
        case overQuota = "over_quota"
        /// The server or the room holds as many as it takes (connections, members); retry later.
        case atCapacity = "at_capacity"
        case timeout
        case slowConsumer = "slow_consumer"
        case policy
        case shuttingDown = "shutting_down"
    }
    public let code: Code
    public let detail: String
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
}
