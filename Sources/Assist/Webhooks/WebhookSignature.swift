import Foundation

/// The signature of an outgoing webhook: the same scheme as the desk's external-bot webhooks
/// (ShowroomServer's `WebhookSender`), so a shop verifies both one way.
///
/// ```
/// X-Showroom-Timestamp: <unix seconds>
/// X-Showroom-Signature: sha256=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<body>")>
/// ```
///
/// The receiver recomputes the HMAC over the raw body bytes, compares in constant time, and
/// rejects a timestamp too far from its clock (a replay).
public enum WebhookSignature {
    public static let signatureHeader = "X-Showroom-Signature"
    public static let timestampHeader = "X-Showroom-Timestamp"
    /// ``verify(signature:secret:timestamp:body:now:tolerance:)``'s default: five minutes either way.
    public static let defaultTolerance: TimeInterval = 300

    /// The header value `sha256=<hex>` for `body` sent at `timestamp` (Unix seconds as written in
    /// the timestamp header); `sha256=` alone in the (out-of-memory) case where OpenSSL fails,
    /// which no receiver accepts.
    public static func sign(secret: String, timestamp: String, body: some Collection<UInt8>) -> String {
        "sha256=" + (mac(secret: secret, timestamp: timestamp, body: body).map(HMACSHA256.hex) ?? "")
    }

    static func mac(secret: String, timestamp: String, body: some Collection<UInt8>) -> [UInt8]? {
        HMACSHA256.mac(key: Array(secret.utf8), message: Array((timestamp + ".").utf8) + Array(body))
    }

    /// Both headers for `body` sent at `now`.
    public static func headers(secret: String, body: some Collection<UInt8>, now: Date) -> [(name: String, value: String)] {
        let timestamp = String(Int64(now.timeIntervalSince1970.rounded(.down)))
        return [(timestampHeader, timestamp), (signatureHeader, sign(secret: secret, timestamp: timestamp, body: body))]
    }

    /// Whether `signature` (the header's value) is the signature of `body` at `timestamp` under
    /// `secret`, compared in constant time; with `now`, also that the timestamp is within
    /// `tolerance` seconds of it.
    public static func verify(
        signature: String, secret: String, timestamp: String, body: some Collection<UInt8>, now: Date? = nil,
        tolerance: TimeInterval = defaultTolerance
    ) -> Bool {
        if let now {
            guard let seconds = Int64(timestamp), abs(now.timeIntervalSince1970 - Double(seconds)) <= tolerance else { return false }
        }
        guard let expected = mac(secret: secret, timestamp: timestamp, body: body) else { return false }
        return HMACSHA256.constantTimeEqual(Array(signature.utf8), Array(("sha256=" + HMACSHA256.hex(expected)).utf8))
    }
}
