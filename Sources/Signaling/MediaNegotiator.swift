/// The media side of signaling: the relay, behind a protocol so that this layer does not know it.
/// Every refusal is a ``SignalingError`` with the reason (the relay's own, mapped in one table).
public protocol MediaNegotiator: Sendable {
    /// Answers a publisher's offer; `identity` (the token's subject) is who the relay counts the
    /// session against.
    func publish(room: String, identity: String, offer: String) async throws(SignalingError) -> (session: String, answer: String)
    /// Answers a subscriber's offer (the subscriber offers, as in WHEP) for publisher `source`.
    func subscribe(room: String, identity: String, offer: String, quality: String, adaptive: Bool, source: String?) async throws(SignalingError)
        -> (session: String, answer: String)
    /// Moves a subscription to another rendition: `not_found` if there is no such subscription,
    /// `media` if the relay cannot start that rendition (the reason says why).
    func setQuality(session: String, room: String, quality: String) async throws(SignalingError)
    func stop(session: String, room: String) async -> Bool
    /// In a cluster, the URL of the node `room`'s media lives on when it is another node (placing
    /// the room first if it has no live node); nil when it is served here. `storage` when the
    /// cluster's registry cannot say.
    func home(of room: String) async throws(SignalingError) -> String?
}

extension MediaNegotiator {
    /// One node: every room's media is here.
    public func home(of room: String) async throws(SignalingError) -> String? { nil }
}
