import ShowroomCore

/// Why the relay refused to open, steer or end a media session. The server maps each code to an
/// HTTP status (WHIP/WHEP) and a `/ws` error code in one table (`RelayError+Status.swift` in
/// ShowroomServer); the detail is the reason the client is told.
public struct RelayError: CodedError {
    public static let domain = "relay"
    public enum Code: String, Sendable, Hashable {
        /// The offer is not usable SDP, is over a size cap, or cannot be answered.
        case badOffer = "bad_offer"
        /// A broadcast publisher already holds the room.
        case roomBusy = "room_busy"
        /// Nothing is published in the room (or not the publication named).
        case nothingPublished = "nothing_published"
        /// No such session, or not one the caller may control.
        case notFound = "not_found"
        /// The relay (or the room) runs as much as it takes: sessions or renditions.
        case atCapacity = "at_capacity"
        /// The caller's identity holds as many sessions as it may.
        case overQuota = "over_quota"
        /// Something failed inside the relay (DTLS setup, a transcoder).
        case internalError = "internal"
    }
    public let code: Code
    public let detail: String
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
}
