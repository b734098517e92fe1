import Foundation

/// A shop's webhook: where events go, how they are signed, which ones, and whether it is paused.
public struct WebhookEndpoint: Codable, Sendable, Hashable, Identifiable {
    /// `[A-Za-z0-9._-]{1,64}`.
    public var id: String
    /// `http` or `https` with a host, at most 2,048 bytes.
    public var url: String
    /// The HMAC-SHA256 key of ``WebhookSignature``: 32 to 256 bytes.
    public var secret: String
    /// The events sent; empty for all.
    public var events: Set<WebhookEventKind>
    /// A paused endpoint gets nothing until resumed; its deliveries wait (``WebhookOutbox``).
    public var paused: Bool
    /// Why it was paused ("10 failed attempts in a row", "paused by an admin").
    public var pausedReason: String?
    public var pausedAt: Date?

    public static let minimumSecretBytes = 32

    public init(
        id: String, url: String, secret: String, events: Set<WebhookEventKind> = [], paused: Bool = false, pausedReason: String? = nil,
        pausedAt: Date? = nil
    ) {
        self.id = id
        self.url = url
        self.secret = secret
        self.events = events
        self.paused = paused
        self.pausedReason = pausedReason
        self.pausedAt = pausedAt
    }

    /// Whether `kind` passes the event filter.
    public func wants(_ kind: WebhookEventKind) -> Bool { events.isEmpty || events.contains(kind) }

    /// `invalid_argument` for a bad id, URL or secret.
    public func validate() throws(AssistError) {
        guard Script.isValidID(id) else { throw AssistError(.invalidArgument, "webhook id must be 1 to 64 letters, digits, '.', '_' or '-'") }
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https", u.host?.isEmpty == false,
            url.utf8.count <= 2_048
        else { throw AssistError(.invalidArgument, "webhook url must be an http(s) URL of at most 2,048 bytes") }
        guard secret.utf8.count >= Self.minimumSecretBytes, secret.utf8.count <= 256 else {
            throw AssistError(.invalidArgument, "webhook secret needs \(Self.minimumSecretBytes) to 256 bytes")
        }
    }

    /// The endpoint without its secret, for the supervisor view and logs.
    public var redacted: WebhookEndpoint {
        var e = self
        e.secret = ""
        return e
    }
}
