import Foundation

/// The token a product card or coupon carries in a consultation, so that the shop's later click,
/// add-to-cart and order reports are attributed to the consultation and the agent.
///
/// **Format.** `t1.<payload>.<mac>`: the payload is base64url (no padding) of the UTF-8 lines
/// `consultation`, `agent`, `department` (empty for none), the item (`p:<sku>` or `c:<code>`), the
/// nonce and the issue time (Unix seconds), joined by `\n`; the MAC is base64url of
/// HMAC-SHA256(key, `"t1." + payload`). Opaque to the shop: it passes the token back as it got it.
/// Every field is at most ``maximumFieldLength`` characters without control characters, so a token
/// is at most ``maximumLength`` characters; a longer string is refused before any decoding.
///
/// **Verifying** (``verify(_:key:)``) checks the length, the form and the MAC (constant time)
/// before it reads a field: a forged token, or one with any character changed (the MAC must be in
/// canonical base64url), is `invalid_argument`.
public struct TrackingToken: Codable, Sendable, Hashable {
    public static let maximumFieldLength = 64
    public static let maximumLength = 600
    static let prefix = "t1."

    public var consultation: String
    public var agent: String
    public var department: String?
    public var item: TrackedItem
    /// Random, so two cards of the same product in one consultation carry different tokens.
    public var nonce: String
    /// When it was minted: the time the card or coupon was sent (whole seconds).
    public var issued: Date

    /// A token for `item` sent by `agent` in `consultation` at `issued` (kept to whole seconds).
    /// `nonce` defaults to 12 random bytes in base64url.
    public init(
        consultation: String, agent: String, department: String?, item: TrackedItem, issued: Date, nonce: String = TrackingToken.randomNonce()
    ) {
        self.consultation = consultation
        self.agent = agent
        self.department = department
        self.item = item
        self.nonce = nonce
        self.issued = Date(timeIntervalSince1970: issued.timeIntervalSince1970.rounded(.down))
    }

    /// 12 random bytes in base64url (16 characters).
    public static func randomNonce() -> String {
        var g = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<12).map { _ in UInt8.random(in: 0...255, using: &g) })
    }

    /// `invalid_argument` for an empty consultation, agent or code, or any field over
    /// ``maximumFieldLength`` characters or with a control character.
    public func validate() throws(AssistError) {
        let fields = [("consultation", consultation), ("agent", agent), ("item", item.code), ("nonce", nonce)]
        for (name, value) in fields where value.isEmpty {
            throw AssistError(.invalidArgument, "token \(name) is empty")
        }
        for (name, value) in fields + [("department", department ?? "")] {
            guard value.count <= Self.maximumFieldLength, !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw AssistError(.invalidArgument, "token \(name) must be at most \(Self.maximumFieldLength) characters without control characters")
            }
        }
    }

    /// The signed string (mint). `invalid_argument` when a field breaks ``validate()``.
    public func signed(with key: TrackingKey) throws(AssistError) -> String {
        try validate()
        let lines = [consultation, agent, department ?? "", item.compact, nonce, String(Int64(issued.timeIntervalSince1970))]
        let head = Self.prefix + Base64URL.encode(Array(lines.joined(separator: "\n").utf8))
        guard let mac = HMACSHA256.mac(key: key.bytes, message: Array(head.utf8)) else {
            throw AssistError(.invalidArgument, "the token could not be signed")
        }
        return head + "." + Base64URL.encode(mac)
    }

    /// Reads a token the shop passed back; `invalid_argument` for anything but an unaltered token
    /// this key signed.
    public static func verify(_ token: String, key: TrackingKey) throws(AssistError) -> TrackingToken {
        let forged = AssistError(.invalidArgument, "not a valid tracking token")
        guard token.utf8.count <= maximumLength, token.hasPrefix(prefix), let dot = token.lastIndex(of: ".") else { throw forged }
        let head = token[..<dot]
        // The MAC must be in its one canonical form: base64 ignores the spare bits of the last
        // character, so without this check four spellings of one token would all verify.
        let macText = token[token.index(after: dot)...]
        guard head.count > prefix.count, let mac = Base64URL.decode(macText), mac.count == HMACSHA256.length,
            Base64URL.encode(mac) == macText, let expected = HMACSHA256.mac(key: key.bytes, message: Array(head.utf8)), HMACSHA256.constantTimeEqual(mac, expected)
        else { throw forged }
        guard let payload = Base64URL.decode(head.dropFirst(prefix.count)) else { throw forged }
        let lines = String(decoding: payload, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 6, let item = TrackedItem(compact: lines[3]), let seconds = Int64(lines[5]) else { throw forged }
        let t = TrackingToken(
            consultation: String(lines[0]), agent: String(lines[1]), department: lines[2].isEmpty ? nil : String(lines[2]), item: item,
            issued: Date(timeIntervalSince1970: TimeInterval(seconds)), nonce: String(lines[4]))
        try t.validate()
        return t
    }
}
