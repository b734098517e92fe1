import Foundation
import ShowroomCore

/// What a signaling connection may do, from its verified token.
public struct Grant: Sendable, Equatable {
    public var identity: String
    public var role: String
    /// The one room the token is for.
    public var room: String
    public var canPublish: Bool
    /// When the token expires: the connection ends then (`unauthorized`) unless it sends `refresh`
    /// with a newer token. Nil: never.
    public var expires: Date?
    /// TURN servers with credentials issued to this identity, sent in `welcome` (docs/reachability.md).
    public var iceServers: [ICEServer]

    public init(identity: String, role: String, room: String, canPublish: Bool, expires: Date? = nil, iceServers: [ICEServer] = []) {
        self.iceServers = iceServers
        self.identity = identity
        self.role = role
        self.room = room
        self.canPublish = canPublish
        self.expires = expires
    }
}
