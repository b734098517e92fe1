import Foundation
import MediaCrypto
import ShowroomCore

/// Time-limited TURN credentials for a TURN server that shares a secret with Showroom — coturn's
/// `use-auth-secret` / `static-auth-secret`, the "TURN REST API" scheme
/// ([draft-uberti-behave-turn-rest-00 §2.2](https://datatracker.ietf.org/doc/html/draft-uberti-behave-turn-rest-00#section-2.2)):
///
///     username = "<expiry, seconds since 1970>:<identity>"
///     password = base64(HMAC-SHA1(secret, username))
///
/// The TURN server recomputes the password from the user name and refuses a user name whose
/// expiry has passed, so Showroom and the TURN server share nothing but the secret and a clock.
/// A credential is issued to a token's identity; it stops working `lifetime` after it was issued
/// (an allocation is refreshed with it, so it bounds how long a call through TURN can last too).
public struct TURNCredentials: Sendable {
    /// `turn:` or `turns:` URIs (RFC 7065) handed to clients, e.g. `turn:turn.shop.example:3478?transport=udp`,
    /// `turn:turn.shop.example:3478?transport=tcp`, `turns:turn.shop.example:443?transport=tcp`.
    public let urls: [String]
    private let secret: [UInt8]
    /// How long an issued credential works, in seconds.
    public let lifetime: Int

    /// Longest TURN URI taken; a user name is at most 513 bytes (RFC 8489 §14.3), which an
    /// expiry, a colon and a percent-encoded identity of at most 128 bytes stay under.
    static let maximumURLBytes = 512

    /// Checks every URL and the secret and says which one is wrong.
    public init(urls: [String], secret: String, lifetime: Int) throws(ServerError) {
        guard !urls.isEmpty else { throw ServerError(.invalidConfiguration, "--turn-secret needs at least one --turn-url") }
        for url in urls {
            let lower = url.lowercased()
            guard lower.hasPrefix("turn:") || lower.hasPrefix("turns:") else {
                throw ServerError(.invalidConfiguration, "TURN URL \(url) does not start with turn: or turns: (RFC 7065)")
            }
            guard url.utf8.count <= Self.maximumURLBytes, url.utf8.allSatisfy({ (0x21...0x7e).contains($0) && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") }) else {
                throw ServerError(.invalidConfiguration, "TURN URL \(url) must be printable ASCII without spaces or <> and at most \(Self.maximumURLBytes) bytes")
            }
        }
        guard secret.utf8.count >= 16 else {
            throw ServerError(.invalidConfiguration, "the TURN secret has \(secret.utf8.count) bytes; use at least 16 (e.g. `openssl rand -hex 32`)")
        }
        guard (60...604_800).contains(lifetime) else {
            throw ServerError(.invalidConfiguration, "TURN credential lifetime \(lifetime) s is not 60–604800 (a week)")
        }
        self.urls = urls
        self.secret = Array(secret.utf8)
        self.lifetime = lifetime
    }

    /// The ICE servers for `identity`, valid until `now + lifetime`.
    public func iceServers(for identity: String, now: Date) -> [ICEServer] {
        let expiry = Int(now.timeIntervalSince1970.rounded(.down)) + lifetime
        let username = Self.username(identity: identity, expiry: expiry)
        return [ICEServer(urls: urls, username: username, credential: Self.password(username: username, secret: secret))]
    }

    /// `"<expiry>:<identity>"`, the identity percent-encoded outside printable ASCII and for `%`,
    /// `"` and `\` — so that the user name is valid in a STUN USERNAME and in a `Link` header's
    /// quoted string whatever a shop puts in its tokens.
    static func username(identity: String, expiry: Int) -> String {
        var out = "\(expiry):"
        for byte in identity.utf8 {
            if (0x21...0x7e).contains(byte), byte != UInt8(ascii: "%"), byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
                out.append(Character(Unicode.Scalar(byte)))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// base64(HMAC-SHA1(secret, username)).
    static func password(username: String, secret: [UInt8]) -> String {
        Data(HMACSHA1.digest(key: secret, Array(username.utf8))).base64EncodedString()
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
