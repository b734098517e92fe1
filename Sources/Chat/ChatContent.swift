import Foundation
import ShowroomCore

/// What one chat message carries. On the wire and in the store it is one JSON object
/// (`Codable`: ``json()`` writes it, ``init(json:)`` reads it) whose `kind` says which other fields are present;
/// see docs/protocol.md.
public enum ChatContent: Sendable, Equatable {
    case text(String)
    case image(url: String, width: Int, height: Int, alt: String)
    /// A short product clip the widget plays inline: its URL, a poster image shown before it
    /// plays, its length in seconds and its frame size; checked like an image (http(s) URLs,
    /// bounded sizes) and at most ``maximumVideoSeconds`` long.
    case video(url: String, poster: String?, duration: Double, width: Int, height: Int)
    /// A product card; `price` is a decimal string ("129.90") so that no float ever rounds it.
    case product(sku: String, title: String, price: String, currency: String, imageURL: String?, link: String)
    /// A coupon; `discount` is "10%" or an amount in the coupon's currency ("5.00 EUR"); `expires`
    /// an ISO 8601 date or time, kept as sent (``CouponExpiry``).
    case coupon(code: String, discount: String, expires: CouponExpiry)
    /// Written by the server (someone joined, a call started); never accepted from a client.
    case system(String)

    public var kind: String {
        switch self {
        case .text: "text"
        case .image: "image"
        case .video: "video"
        case .product: "product"
        case .coupon: "coupon"
        case .system: "system"
        }
    }

    /// Limits a client's content must keep. Text is limited in characters (what a person sees)
    /// **and** in UTF-8 bytes (what the server stores and sends): one character (a grapheme
    /// cluster) can hold any number of combining marks, so a character count alone bounds nothing.
    public static let maximumTextLength = 4_000
    public static let maximumTextBytes = 16_384
    static let maximumFieldLength = 512
    /// A clip in the chat is a short one: two minutes at most, as in the catalog (longer ones belong on the product page).
    public static let maximumVideoSeconds = 120.0

    /// Checks what a client sent; the error says which rule it broke.
    public func validate() throws(ChatError) {
        /// At most `max` characters and `4 × max` bytes (or `bytes`): four bytes is the longest
        /// UTF-8 scalar, so ordinary text of `max` characters always fits.
        func field(_ name: String, _ value: String, max: Int = Self.maximumFieldLength, bytes: Int? = nil) throws(ChatError) {
            if value.isEmpty { throw ChatError(.invalidContent, "\(name) is empty") }
            let maxBytes = bytes ?? 4 * max
            if value.utf8.count > maxBytes { throw ChatError(.tooLong, "\(name) is longer than \(maxBytes) bytes (UTF-8)") }
            if value.count > max { throw ChatError(.tooLong, "\(name) is longer than \(max) characters") }
        }
        func url(_ name: String, _ value: String) throws(ChatError) {
            try field(name, value, max: 2_048)
            guard let u = URL(string: value), let scheme = u.scheme?.lowercased(), scheme == "https" || scheme == "http", u.host != nil else {
                throw ChatError(.invalidContent, "\(name) must be an http(s) URL")
            }
        }
        switch self {
        case .text(let t):
            try field("text", t, max: Self.maximumTextLength, bytes: Self.maximumTextBytes)
        case .image(let u, let w, let h, let alt):
            try url("url", u)
            guard (1...16_384).contains(w), (1...16_384).contains(h) else { throw ChatError(.invalidContent, "width and height are 1–16384") }
            if alt.utf8.count > 4 * Self.maximumFieldLength || alt.count > Self.maximumFieldLength { throw ChatError(.tooLong, "alt is too long") }
        case .video(let u, let poster, let duration, let w, let h):
            try url("url", u)
            if let poster { try url("poster", poster) }
            guard duration.isFinite, duration > 0, duration <= Self.maximumVideoSeconds else {
                throw ChatError(.invalidContent, "duration is more than 0 and at most \(Int(Self.maximumVideoSeconds)) seconds")
            }
            guard (1...16_384).contains(w), (1...16_384).contains(h) else { throw ChatError(.invalidContent, "width and height are 1–16384") }
        case .product(let sku, let title, let price, let currency, let image, let link):
            try field("sku", sku, max: 64)
            try field("title", title)
            guard price.wholeMatch(of: /[0-9]{1,9}(\.[0-9]{1,2})?/) != nil else {
                throw ChatError(.invalidContent, "price is a decimal like 129.90")
            }
            guard currency.wholeMatch(of: /[A-Z]{3}/) != nil else { throw ChatError(.invalidContent, "currency is an ISO 4217 code like EUR") }
            if let image { try url("image", image) }
            try url("link", link)
        case .coupon(let code, let discount, let expires):
            try field("code", code, max: 64)
            guard discount.wholeMatch(of: /[0-9]{1,3}%|[0-9]{1,9}(\.[0-9]{1,2})? [A-Z]{3}/) != nil else {
                throw ChatError(.invalidContent, "discount is like 10% or 5.00 EUR")
            }
            guard expires.date != nil else {
                throw ChatError(
                    .invalidContent, "expires is an ISO 8601 date (2027-01-31) or time with a zone (2026-12-31T23:59:59Z, fractions allowed)")
            }
        case .system:
            throw ChatError(.notAllowed, "system messages come from the server only")
        }
    }
}

extension ChatContent: Decodable {
    enum Key: String, CodingKey { case kind, text, url, width, height, alt, poster, duration, sku, title, price, currency, image, link, code, discount, expires }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "text": self = .text(try c.decode(String.self, forKey: .text))
        case "image":
            self = .image(
                url: try c.decode(String.self, forKey: .url), width: try c.decode(Int.self, forKey: .width),
                height: try c.decode(Int.self, forKey: .height), alt: try c.decodeIfPresent(String.self, forKey: .alt) ?? "")
        case "video":
            self = .video(
                url: try c.decode(String.self, forKey: .url), poster: try c.decodeIfPresent(String.self, forKey: .poster),
                duration: try c.decode(Double.self, forKey: .duration), width: try c.decode(Int.self, forKey: .width),
                height: try c.decode(Int.self, forKey: .height))
        case "product":
            self = .product(
                sku: try c.decode(String.self, forKey: .sku), title: try c.decode(String.self, forKey: .title),
                price: try c.decode(String.self, forKey: .price), currency: try c.decode(String.self, forKey: .currency),
                imageURL: try c.decodeIfPresent(String.self, forKey: .image), link: try c.decode(String.self, forKey: .link))
        case "coupon":
            self = .coupon(
                code: try c.decode(String.self, forKey: .code), discount: try c.decode(String.self, forKey: .discount),
                expires: CouponExpiry(text: try c.decode(String.self, forKey: .expires)))
        case "system": self = .system(try c.decode(String.self, forKey: .text))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "unknown message kind \(other)")
        }
    }

    /// Reads content back from its JSON (extra keys, such as a wire message's `type`, are ignored).
    public init(json: Data) throws {
        self = try Self.decoder.decode(ChatContent.self, from: json)
    }

    /// What a store reads back: the stored JSON, or — when this server cannot read it (a `kind`
    /// a newer node wrote during a rolling upgrade, a damaged row) — a ``system`` line saying so,
    /// in its place. The message keeps its seq: rooms deliver in seq order, and one unreadable
    /// row must neither block its room's pages nor leave a gap members wait on.
    public static func stored(json: Data) -> ChatContent {
        (try? ChatContent(json: json)) ?? .system(unreadable)
    }

    /// The line an unreadable stored message is shown as.
    public static let unreadable = "A message this server cannot show (written by a newer version)."

    private static let decoder = JSONDecoder()

    /// The content's JSON — the one encoding, on the wire (inside a `message`) and in the store:
    /// `kind` and the fields of that kind, keys sorted; a coupon's `expires` as it was sent.
    /// Throws only for a value JSON cannot hold (a non-finite clip duration, which ``validate()``
    /// refuses).
    public func json() throws -> String {
        String(decoding: try Self.encoder.encode(self), as: UTF8.self)
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// Its string fields, for sizing it (``StoredMessage/storedSize``).
    var strings: [String] {
        switch self {
        case .text(let t), .system(let t): [t]
        case .image(let url, _, _, let alt): [url, alt]
        case .video(let url, let poster, _, _, _): [url] + (poster.map { [$0] } ?? [])
        case .product(let sku, let title, let price, let currency, let image, let link): [sku, title, price, currency, link] + (image.map { [$0] } ?? [])
        case .coupon(let code, let discount, let expires): [code, discount, expires.text]
        }
    }
}

extension ChatContent: Encodable {
    /// `kind` and the fields of that kind (an absent poster or image is left out), into the
    /// encoder's keyed container: a wire `message` adds its own keys beside them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(kind, forKey: .kind)
        switch self {
        case .text(let t), .system(let t): try c.encode(t, forKey: .text)
        case .image(let url, let w, let h, let alt):
            try c.encode(url, forKey: .url)
            try c.encode(w, forKey: .width)
            try c.encode(h, forKey: .height)
            try c.encode(alt, forKey: .alt)
        case .video(let url, let poster, let duration, let w, let h):
            try c.encode(url, forKey: .url)
            try c.encodeIfPresent(poster, forKey: .poster)
            try c.encode(duration, forKey: .duration)
            try c.encode(w, forKey: .width)
            try c.encode(h, forKey: .height)
        case .product(let sku, let title, let price, let currency, let image, let link):
            try c.encode(sku, forKey: .sku)
            try c.encode(title, forKey: .title)
            try c.encode(price, forKey: .price)
            try c.encode(currency, forKey: .currency)
            try c.encodeIfPresent(image, forKey: .image)
            try c.encode(link, forKey: .link)
        case .coupon(let code, let discount, let expires):
            try c.encode(code, forKey: .code)
            try c.encode(discount, forKey: .discount)
            try c.encode(expires.text, forKey: .expires)
        }
    }
}

/// A message as stored: its place in the room (`seq`, from 1, no gaps), who sent it and the
/// sender's own id for it (`clientID`, which makes a retried send idempotent).
public struct StoredMessage: Sendable, Equatable {
    public var room: String
    public var seq: Int64
    public var clientID: String
    public var sender: String
    public var senderRole: String
    public var content: ChatContent
    public var sentAt: Date

    public init(room: String, seq: Int64, clientID: String, sender: String, senderRole: String, content: ChatContent, sentAt: Date) {
        self.room = room
        self.seq = seq
        self.clientID = clientID
        self.sender = sender
        self.senderRole = senderRole
        self.content = content
        self.sentAt = sentAt
    }

    /// At least what it takes as a `message` frame on the wire, for paging by bytes: its strings
    /// as JSON escapes them (`"`, `\`, `\n`, `\t`, … take 2 bytes, other control characters 6)
    /// plus an allowance for the keys, numbers and punctuation around them.
    public var storedSize: Int {
        func escaped(_ s: String) -> Int {
            s.utf8.reduce(s.utf8.count) { n, c in
                switch c {
                case 0x22, 0x5C, 0x08, 0x09, 0x0A, 0x0C, 0x0D: n + 1
                case ..<0x20: n + 5
                default: n
                }
            }
        }
        var size = 256 + escaped(clientID) + escaped(sender) + escaped(senderRole)
        for v in content.strings { size += escaped(v) }
        return size
    }

    /// A page as every store reads one: messages from `next` (nil at the end) until `limit`, or
    /// until the next would take the page past `maxBytes` by ``storedSize`` — the first always
    /// comes, however large, so a page never comes back empty while messages remain.
    public static func page(limit: Int, maxBytes: Int, _ next: () throws -> StoredMessage?) rethrows -> [StoredMessage] {
        var out: [StoredMessage] = []
        var bytes = 0
        while out.count < limit, let m = try next() {
            if !out.isEmpty && bytes + m.storedSize > maxBytes { break }
            bytes += m.storedSize
            out.append(m)
        }
        return out
    }
}

/// Why a chat operation was refused; the code goes on the wire.
public struct ChatError: CodedError {
    public static let domain = "chat"
    public enum Code: String, Sendable, Hashable {
        case invalidContent = "invalid_content"
        case tooLong = "too_long"
        case notAllowed = "not_allowed"
        case storage = "storage"
    }
    public let code: Code
    public let detail: String
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
}
