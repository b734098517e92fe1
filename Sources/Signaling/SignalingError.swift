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
        /// In a cluster, the room's media lives on another node (``SignalingError/node``): reconnect
        /// there and ask again (docs/cluster.md, "Media over /ws").
        case elsewhere
    }
    public let code: Code
    public let detail: String
    /// With ``Code/elsewhere``: the URL of the node to reconnect to (`http://HOST:PORT`).
    public let node: String?
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
        node = nil
    }

    /// The room's media lives on `node`: ``Code/elsewhere``.
    public static func elsewhere(room: String, node: String) -> SignalingError { SignalingError(room: room, node: node) }

    private init(room: String, node: String) {
        code = .elsewhere
        detail = "room \(room)'s media is on node \(node): reconnect there and ask again"
        self.node = node
    }
}
