import Foundation

/// A shop's own bot in place of the built-in one, for a department (Chatwoot's agent-bot shape):
/// the desk posts each new consultation and each shopper message to ``url`` as a signed webhook,
/// and the bot answers and hands off through the API (docs/desk.md, "External bot").
public struct ExternalBot: Codable, Sendable, Equatable, Hashable {
    /// Where the events go: `http` or `https`.
    public var url: String
    /// The HMAC-SHA256 key of the `X-Showroom-Signature` header; at least 32 bytes.
    public var secret: String

    public init(url: String, secret: String) {
        self.url = url
        self.secret = secret
    }

    public static let minimumSecretBytes = 32

    /// `invalid_argument` for a URL that is not http(s) with a host, or a short secret.
    public func validate() throws(DeskError) {
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https", u.host?.isEmpty == false,
            url.utf8.count <= 2_048
        else { throw DeskError(.invalidArgument, "externalBot.url must be an http(s) URL of at most 2,048 bytes") }
        guard secret.utf8.count >= Self.minimumSecretBytes, secret.utf8.count <= 256 else {
            throw DeskError(.invalidArgument, "externalBot.secret needs \(Self.minimumSecretBytes) to 256 bytes")
        }
    }
}
