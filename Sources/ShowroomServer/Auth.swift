import COpenSSL
import Foundation
import JWTKit
import ShowroomCore

/// What a token lets its bearer do.
public enum Role: String, Codable, Sendable, CaseIterable {
    /// Publishes media into a room (WHIP); may also watch it.
    case publisher
    /// Watches a room (WHEP) and may chat in it.
    case viewer
    /// A shopper in a consultation: chats, and may call (publish) and watch.
    case shopper
    /// A sales agent: chats, sends product cards and coupons, may call (publish) and watch. With
    /// the room ``DeskService/room`` ("desk"): the agent's workspace (docs/desk.md, "HTTP API").
    case agent
    /// The shop's administrator, with the room "desk": departments, agents, the FAQ and reports.
    /// No media.
    case admin
    /// A shop's external bot, with the room "desk": answers and hands off the consultations of
    /// the departments it serves (docs/desk.md, "External bot"). No media.
    case bot
    /// The shop's backend, with the room "desk": pushes the catalog and shopper events and reports
    /// conversions (docs/assist.md). No media, no chat.
    case shop

    /// Whether this role may send media into a room.
    public var canPublish: Bool { self != .viewer && self != .admin && self != .bot && self != .shop }
}

/// The claims of a Showroom access token: a JWT signed HS256 with the server's secret.
public struct AccessToken: JWTPayload, Equatable {
    /// The identity of the bearer.
    public var sub: SubjectClaim
    public var exp: ExpirationClaim
    /// The room this token is for.
    public var room: String
    public var role: Role
    /// For a shopper: `"vip"` when the shop says so (its backend mints the token); the desk's bot
    /// then hands a VIP to a person at once, ahead in the queue. Absent: a standard shopper.
    public var tier: String?
    /// ``redirectTicket`` for a ticket a node puts in a WHIP/WHEP redirect (``TokenAuthority/ticket(for:role:)``):
    /// taken from the redirected URL's query, and only there. Absent: an ordinary token.
    public var purpose: String?
    public static let redirectTicket = "redirect"
    /// ``nodePipe`` for a node's request to another node to pipe a room's media to it
    /// (``TokenAuthority/nodeToken(room:)``), taken by `POST /cluster/pipes` only.
    public static let nodePipe = "node-pipe"

    public init(identity: String, room: String, role: Role, expires: Date, tier: String? = nil, purpose: String? = nil) {
        sub = SubjectClaim(value: identity)
        exp = ExpirationClaim(value: expires)
        self.room = room
        self.role = role
        self.tier = tier
        self.purpose = purpose
    }

    public func verify(using algorithm: some JWTAlgorithm) throws {
        try exp.verifyNotExpired()
    }
}

/// Why a request was refused: `unauthorized` (401: no valid token) or `forbidden` (403: a valid
/// token for another room or role).
public struct AuthError: CodedError {
    public static let domain = "auth"
    public enum Code: String, Sendable { case unauthorized, forbidden }
    public let code: Code
    public let detail: String
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
}

/// Signs and checks access tokens with the server's secret.
public struct TokenAuthority: Sendable {
    private let keys: JWTKeyCollection
    /// What keys the media pipes between nodes (``NodePipeCipher``, with each pipe's token): a
    /// key of its own derived from the secret (HMAC-SHA256(secret, "showroom node pipes")), so
    /// that a node that checks the others' tokens shares it, and the token key is used for nothing else.
    public let nodePipeSecret: [UInt8]

    public init(secret: [UInt8]) async {
        var derived = [UInt8](repeating: 0, count: 32)
        let label = Array("showroom node pipes".utf8)
        // Fails only when OpenSSL cannot allocate: no key at all is better than a key of zeros.
        precondition(COpenSSL_hmacSHA256(secret, secret.count, label, label.count, &derived) == 1, "HMAC-SHA256 failed")
        nodePipeSecret = derived
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
    }

    /// The longest identity (token subject) taken, in UTF-8 bytes.
    public static let maximumIdentityBytes = 128

    /// Signs a token; refuses (``AuthError/Code/forbidden``) an identity or room that
    /// ``verify(_:)`` would not take.
    public func mint(identity: String, room: String, role: Role, ttl: TimeInterval, tier: String? = nil) async throws -> String {
        if let problem = Self.problem(identity: identity, room: room) { throw AuthError(.forbidden, problem) }
        guard tier == nil || tier == "vip" else { throw AuthError(.forbidden, "tier is vip or absent") }
        return try await keys.sign(AccessToken(identity: identity, room: room, role: role, expires: Date().addingTimeInterval(ttl), tier: tier))
    }

    /// How long a redirect ticket lasts: long enough to follow a redirect, short enough that one
    /// read from a log is of no use.
    public static let ticketSeconds: TimeInterval = 60

    /// A ticket for following a WHIP/WHEP redirect to another node of a cluster: the same
    /// identity, room and `role` as `token`, for ``ticketSeconds``, marked ``AccessToken/redirectTicket``.
    /// Browsers (and most HTTP clients) drop the `Authorization` header when a redirect leads to
    /// another origin, so the ticket travels in the redirect's URL instead.
    public func ticket(for token: AccessToken, role: Role) async throws -> String {
        try await keys.sign(
            AccessToken(
                identity: token.sub.value, room: token.room, role: role, expires: Date().addingTimeInterval(Self.ticketSeconds),
                purpose: AccessToken.redirectTicket))
    }

    /// How long a node's token for another node lasts: one request.
    public static let nodeTokenSeconds: TimeInterval = 30

    /// A token a node of a cluster sends another to ask for `room`'s media (``NodePipes``): only
    /// nodes hold the secret that signs it, and it is marked ``AccessToken/nodePipe``.
    public func nodeToken(room: String) async throws -> String {
        try await keys.sign(
            AccessToken(
                identity: "node", room: room, role: .viewer, expires: Date().addingTimeInterval(Self.nodeTokenSeconds),
                purpose: AccessToken.nodePipe))
    }

    /// Checks an `Authorization` header value for `room` and `role` (`.publisher`: may send media;
    /// `.viewer`: may watch — every role may).
    public func authorize(_ header: String?, room: String, role: Role, purpose: String? = nil) async throws(AuthError) -> AccessToken {
        guard let header, header.lowercased().hasPrefix("bearer ") else {
            throw AuthError(.unauthorized, "an Authorization: Bearer token is required")
        }
        let token = try await verify(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces), purpose: purpose)
        guard token.room == room else { throw AuthError(.forbidden, "the token is for room \(token.room), not \(room)") }
        guard role == .viewer || token.role.canPublish else {
            throw AuthError(.forbidden, "a \(token.role.rawValue) token cannot act as \(role.rawValue)")
        }
        return token
    }

    /// Checks a bare token (as sent in the WebSocket `hello`): signature and expiry. Spaces and
    /// tabs around it are ignored, as in an `Authorization` header. A token made for one purpose
    /// (a redirect's ticket, a node's request) is taken only where that `purpose` is asked for,
    /// and an ordinary one only where none is.
    public func verify(_ token: String, purpose: String? = nil) async throws(AuthError) -> AccessToken {
        let claims: AccessToken
        do {
            claims = try await keys.verify(token.trimmingCharacters(in: .whitespaces), as: AccessToken.self)
        } catch {
            throw AuthError(.unauthorized, "the token is invalid or expired")
        }
        // Every quota is per identity and per room: a token without one (an empty subject was
        // once exempt from the relay's identity quota) or with a room of two spellings is refused.
        if let problem = Self.problem(identity: claims.sub.value, room: claims.room) { throw AuthError(.unauthorized, problem) }
        guard claims.purpose == purpose else {
            throw AuthError(.unauthorized, purpose.map { "this needs a \($0) token" } ?? "a \(claims.purpose ?? "") token is taken only where it was made for")
        }
        return claims
    }

    /// Why a token's identity or room cannot be taken, or nil.
    static func problem(identity: String, room: String) -> String? {
        if identity.isEmpty { return "the token names no identity (sub)" }
        if identity.utf8.count > maximumIdentityBytes { return "the token's identity is longer than \(maximumIdentityBytes) bytes" }
        if !RoomName.isValid(room) { return "the token's room: \(RoomName.rule)" }
        return nil
    }

    /// The shortest secret taken: HS256 keys of fewer than 32 bytes (256 bits) are guessable
    /// (RFC 7518 §3.2 requires at least the hash's size).
    public static let minimumSecretLength = 32

    /// The server's secret: `SHOWROOM_SECRET` if set, else `<data dir>/secret`, created once with
    /// 32 random bytes and mode 0600 when it does not exist. A secret shorter than
    /// ``minimumSecretLength`` is refused with the reason — never silently replaced, which would
    /// invalidate every token issued with it.
    public static func loadSecret(dataDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [UInt8] {
        if let s = environment["SHOWROOM_SECRET"], !s.isEmpty {
            guard s.utf8.count >= minimumSecretLength else {
                throw ServerError(
                    .invalidConfiguration,
                    "SHOWROOM_SECRET has \(s.utf8.count) bytes; it needs at least \(minimumSecretLength) (e.g. `openssl rand -base64 48`)")
            }
            return Array(s.utf8)
        }
        let path = URL(fileURLWithPath: dataDirectory).appendingPathComponent("secret").path
        if let existing = FileManager.default.contents(atPath: path) {
            guard existing.count >= minimumSecretLength else {
                throw ServerError(
                    .invalidConfiguration,
                    "\(path) holds \(existing.count) bytes; a secret needs at least \(minimumSecretLength). Replace it yourself (tokens issued with it stop working) or set SHOWROOM_SECRET")
            }
            return Array(existing)
        }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var bytes = [UInt8](repeating: 0, count: minimumSecretLength)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
            throw ServerError(.invalidConfiguration, "cannot create \(path)")
        }
        return bytes
    }
}
