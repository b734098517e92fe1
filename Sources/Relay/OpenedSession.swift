/// A session the relay opened: its public id (what a viewer names as `source`, what `/ws` shows in
/// `track`), the control capability for its WHIP/WHEP `Location`, and the SDP answer.
public struct OpenedSession: Sendable, Equatable {
    public var id: String
    /// Random, told only to the peer that opened the session; ``id`` cannot be used in its place.
    public var resource: String
    public var answer: String
}
