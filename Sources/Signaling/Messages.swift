import Chat
import Foundation
import ShowroomCore

/// The `/ws` protocol's version; a client says which one it speaks in `hello`.
public let protocolVersion = 1

/// Who is on the other end of a connection: its connection-unique id, the identity its token
/// names, and its role.
public struct Participant: Sendable, Equatable, Hashable {
    public var id: String
    public var identity: String
    public var role: String

    public init(id: String, identity: String, role: String) {
        self.id = id
        self.identity = identity
        self.role = role
    }
}

/// A message from a client. Every one is a JSON object with a `type`; `ref` (optional, any string)
/// comes back on the answer or error it causes. Documented in docs/protocol.md.
public enum ClientMessage: Sendable, Equatable {
    case hello(version: Int, token: String)
    /// A new token for this connection (same identity, room and role) before the current one expires.
    case refresh(token: String)
    case join(room: String, lastSeq: Int64?)
    case leave
    case send(id: String, content: ChatContent)
    case typing(Bool)
    case read(seq: Int64)
    case history(before: Int64?, limit: Int)
    case publish(sdp: String)
    case subscribe(sdp: String, quality: String, adaptive: Bool, source: String?)
    case setQuality(session: String, quality: String)
    case stop(session: String)
    /// The sender muted or unmuted its microphone or camera (media stays negotiated).
    case mute(kind: String, muted: Bool)
    case ping

    /// Parses one text frame; the error says what is wrong with it.
    public static func parse(_ text: String) throws(SignalingError) -> (message: ClientMessage, ref: String?) {
        let (ref, result) = decode(text)
        return (try result.get(), ref)
    }

    /// Parses one text frame, keeping its `ref` even when the rest is wrong: any JSON object with a
    /// string `ref` gets it back on the error it causes.
    public static func decode(_ text: String) -> (ref: String?, message: Result<ClientMessage, SignalingError>) {
        // JSONDecoder refuses nesting deeper than 512 levels (a thrown error, not a crash).
        guard let frame = try? decoder.decode(Frame.self, from: Data(text.utf8)) else {
            return (nil, .failure(SignalingError(.badMessage, "not a JSON object")))
        }
        return (frame.ref, frame.message)
    }

    private static let decoder = JSONDecoder()

    /// One client frame, read with `Decodable`: its `ref` (when it is a string) and the message or
    /// what is wrong with it — kept apart so that a wrong field still gets its `ref` back.
    private struct Frame: Decodable {
        var ref: String?
        var message: Result<ClientMessage, SignalingError>

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: FieldKey.self)
            ref = try? c.decodeIfPresent(String.self, forKey: FieldKey("ref"))
            do throws(SignalingError) {
                message = .success(try ClientMessage(fields: Fields(container: c), decoder: decoder))
            } catch {
                message = .failure(error)
            }
        }
    }

    /// Any key of a client frame.
    private struct FieldKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// A frame's fields, each read as the type the protocol gives it; a missing or mistyped one
    /// is `bad_message` naming the field.
    private struct Fields {
        let container: KeyedDecodingContainer<FieldKey>
        var type = ""

        func has(_ key: String) -> Bool { container.contains(FieldKey(key)) }

        func string(_ key: String, max: Int = 256) throws(SignalingError) -> String {
            guard let v = try? container.decode(String.self, forKey: FieldKey(key)), !v.isEmpty, v.utf8.count <= max else {
                throw SignalingError(.badMessage, "\(type): \(key) must be a non-empty string of at most \(max) bytes")
            }
            return v
        }

        /// An integral JSON number of magnitude below 2^53 (exact in a Double, so no rounding
        /// surprise and no trap converting it); nil when absent.
        func integer(_ key: String) throws(SignalingError) -> Int64? {
            guard has(key) else { return nil }
            guard let v = try? container.decode(Int64.self, forKey: FieldKey(key)), v.magnitude < 9_007_199_254_740_992 else {
                throw SignalingError(.badMessage, "\(type): \(key) must be an integer")
            }
            return v
        }

        /// Nil when absent; otherwise true or false, or `bad_message`.
        func bool(_ key: String) throws(SignalingError) -> Bool? {
            guard has(key) else { return nil }
            guard let v = try? container.decode(Bool.self, forKey: FieldKey(key)) else {
                throw SignalingError(.badMessage, "\(type): \(key) must be true or false")
            }
            return v
        }
    }

    private init(fields f: Fields, decoder: any Decoder) throws(SignalingError) {
        var f = f
        guard let type = try? f.container.decode(String.self, forKey: FieldKey("type")) else { throw SignalingError(.badMessage, "no type") }
        f.type = type
        switch type {
        case "hello":
            self = .hello(version: Int(try f.integer("v") ?? 0), token: try f.string("token", max: 4_096))
        case "refresh":
            self = .refresh(token: try f.string("token", max: 4_096))
        case "join":
            let room = try f.string("room", max: 64)
            guard room.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw SignalingError(.badMessage, "join: room names are letters, digits, - and _")
            }
            let last = try f.integer("lastSeq")
            if let last, last < 0 { throw SignalingError(.badMessage, "join: lastSeq is ≥ 0") }
            self = .join(room: room, lastSeq: last)
        case "leave": self = .leave
        case "send":
            let id = try f.string("id", max: 64)
            // A field of the wrong JSON type (or missing) is bad_message; a value that breaks a
            // content rule (a URL, a price, an expiry) is invalid_content, found by validate().
            do {
                self = .send(id: id, content: try ChatContent(from: decoder))
            } catch {
                throw SignalingError(.badMessage, "send: \(Self.describe(error))")
            }
        case "typing":
            guard let on = try? f.bool("on") else { throw SignalingError(.badMessage, "typing: on must be true or false") }
            self = .typing(on)
        case "read":
            guard let seq = try f.integer("seq"), seq >= 0 else { throw SignalingError(.badMessage, "read: seq is an integer ≥ 0") }
            self = .read(seq: seq)
        case "history":
            let limit = Int(try f.integer("limit") ?? 50)
            guard (1...200).contains(limit) else { throw SignalingError(.badMessage, "history: limit is 1–200") }
            self = .history(before: try f.integer("before"), limit: limit)
        case "publish":
            self = .publish(sdp: try f.string("sdp", max: 65_536))
        case "subscribe":
            let quality = (try? f.container.decode(String.self, forKey: FieldKey("quality"))) ?? "source"
            guard ["source", "medium", "low"].contains(quality) else {
                throw SignalingError(.badMessage, "subscribe: quality is source, medium or low")
            }
            let source = f.has("source") ? try f.string("source") : nil
            let adaptive = try f.bool("adaptive") ?? true
            self = .subscribe(sdp: try f.string("sdp", max: 65_536), quality: quality, adaptive: adaptive, source: source)
        case "setQuality":
            let quality = try f.string("quality")
            guard ["source", "medium", "low"].contains(quality) else {
                throw SignalingError(.badMessage, "setQuality: quality is source, medium or low")
            }
            self = .setQuality(session: try f.string("session"), quality: quality)
        case "stop": self = .stop(session: try f.string("session"))
        case "mute":
            guard let kind = try? f.container.decode(String.self, forKey: FieldKey("kind")), kind == "audio" || kind == "video",
                let muted = try? f.container.decode(Bool.self, forKey: FieldKey("muted"))
            else {
                throw SignalingError(.badMessage, "mute: kind is audio or video, muted true or false")
            }
            self = .mute(kind: kind, muted: muted)
        case "ping": self = .ping
        default: throw SignalingError(.badMessage, "unknown type \(type)")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "\(key.stringValue) is missing"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c): "\(c.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case DecodingError.dataCorrupted(let c): c.debugDescription
        default: "\(error)"
        }
    }
}

/// A message to a client, encoded as one JSON text frame.
public enum ServerMessage: Sendable, Equatable {
    /// `expires`: when the token expires (the connection is closed then, unless refreshed);
    /// `iceServers`: TURN servers with credentials for this identity (absent when none are configured).
    case welcome(participant: Participant, expires: Date?, iceServers: [ICEServer] = [], ref: String?)
    /// `firstSeq`: the oldest message still stored (0: none), so a client resuming from before it
    /// knows that retention deleted the ones in between.
    case joined(
        room: String, participants: [Participant], firstSeq: Int64, lastSeq: Int64, readReceipts: [String: Int64], publishers: [String: String],
        ref: String?)
    /// `iceServers`: fresh TURN credentials for the calls the connection starts from now on.
    case refreshed(expires: Date?, iceServers: [ICEServer] = [], ref: String?)
    case presence(event: String, participant: Participant)
    case message(StoredMessage)
    case ack(id: String, seq: Int64, duplicate: Bool, ref: String?)
    case typing(from: String, on: Bool)
    case mute(participant: String, kind: String, muted: Bool)
    case read(from: String, seq: Int64)
    case history(messages: [StoredMessage], hasMore: Bool, ref: String?)
    case answer(session: String, sdp: String, ref: String?)
    /// A participant started (or stopped) publishing: `session` is what `subscribe` needs nothing
    /// of today (one publisher per room), and what `stop` names.
    case track(event: String, participant: String, session: String)
    /// `node`: with the code `elsewhere`, where to reconnect.
    case error(code: String, reason: String, ref: String?, node: String? = nil)
    case pong(ref: String?)
    /// Sent last before the server closes the connection; `ref` when a message caused it.
    case closing(code: String, reason: String, ref: String? = nil)

    /// The message as one JSON text frame: keys sorted, slashes unescaped, absent optionals left out.
    public func json() -> String {
        String(decoding: (try? Self.encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
}

extension ServerMessage: Encodable {
    private enum Key: String, CodingKey {
        case type, v, participant, expires, room, participants, firstSeq, lastSeq, readReceipts, publishers, event, id, seq, duplicate, from, on
        case kind, muted, messages, hasMore, session, sdp, code, reason, ref, iceServers, node
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        var ref: String?
        func expiry(_ date: Date?) throws { try c.encodeIfPresent(date?.formatted(.iso8601), forKey: .expires) }
        switch self {
        case .welcome(let p, let expires, let iceServers, let r):
            try c.encode("welcome", forKey: .type)
            try c.encode(protocolVersion, forKey: .v)
            try c.encode(p, forKey: .participant)
            try expiry(expires)
            if !iceServers.isEmpty { try c.encode(iceServers, forKey: .iceServers) }
            ref = r
        case .joined(let room, let participants, let firstSeq, let lastSeq, let receipts, let publishers, let r):
            try c.encode("joined", forKey: .type)
            try c.encode(room, forKey: .room)
            try c.encode(participants, forKey: .participants)
            try c.encode(firstSeq, forKey: .firstSeq)
            try c.encode(lastSeq, forKey: .lastSeq)
            try c.encode(receipts, forKey: .readReceipts)
            try c.encode(publishers, forKey: .publishers)
            ref = r
        case .refreshed(let expires, let iceServers, let r):
            try c.encode("refreshed", forKey: .type)
            if !iceServers.isEmpty { try c.encode(iceServers, forKey: .iceServers) }
            try expiry(expires)
            ref = r
        case .presence(let event, let p):
            try c.encode("presence", forKey: .type)
            try c.encode(event, forKey: .event)
            try c.encode(p, forKey: .participant)
        case .message(let m):
            try WireMessage(m).encode(to: encoder)
        case .ack(let id, let seq, let duplicate, let r):
            try c.encode("ack", forKey: .type)
            try c.encode(id, forKey: .id)
            try c.encode(seq, forKey: .seq)
            try c.encode(duplicate, forKey: .duplicate)
            ref = r
        case .typing(let from, let on):
            try c.encode("typing", forKey: .type)
            try c.encode(from, forKey: .from)
            try c.encode(on, forKey: .on)
        case .mute(let participant, let kind, let muted):
            try c.encode("mute", forKey: .type)
            try c.encode(participant, forKey: .participant)
            try c.encode(kind, forKey: .kind)
            try c.encode(muted, forKey: .muted)
        case .read(let from, let seq):
            try c.encode("read", forKey: .type)
            try c.encode(from, forKey: .from)
            try c.encode(seq, forKey: .seq)
        case .history(let messages, let hasMore, let r):
            try c.encode("history", forKey: .type)
            try c.encode(messages.map(WireMessage.init), forKey: .messages)
            try c.encode(hasMore, forKey: .hasMore)
            ref = r
        case .answer(let session, let sdp, let r):
            try c.encode("answer", forKey: .type)
            try c.encode(session, forKey: .session)
            try c.encode(sdp, forKey: .sdp)
            ref = r
        case .track(let event, let participant, let session):
            try c.encode("track", forKey: .type)
            try c.encode(event, forKey: .event)
            try c.encode(participant, forKey: .participant)
            try c.encode(session, forKey: .session)
        case .error(let code, let reason, let r, let node):
            try c.encode("error", forKey: .type)
            try c.encode(code, forKey: .code)
            try c.encode(reason, forKey: .reason)
            try c.encodeIfPresent(node, forKey: .node)
            ref = r
        case .pong(let r):
            try c.encode("pong", forKey: .type)
            ref = r
        case .closing(let code, let reason, let r):
            try c.encode("closing", forKey: .type)
            try c.encode(code, forKey: .code)
            try c.encode(reason, forKey: .reason)
            ref = r
        }
        try c.encodeIfPresent(ref, forKey: .ref)
    }
}

extension Participant: Encodable {}

/// A stored chat message as the wire shows it (`message`, and each entry of `history`): its
/// content's fields with `type`, `seq`, `id` (the sender's), `from`, `role` and `sentAt` beside them.
struct WireMessage: Encodable {
    var message: StoredMessage
    init(_ message: StoredMessage) { self.message = message }

    private enum Key: String, CodingKey { case type, seq, id, from, role, sentAt }

    func encode(to encoder: any Encoder) throws {
        try message.content.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode("message", forKey: .type)
        try c.encode(message.seq, forKey: .seq)
        try c.encode(message.clientID, forKey: .id)
        try c.encode(message.sender, forKey: .from)
        try c.encode(message.senderRole, forKey: .role)
        try c.encode(message.sentAt.formatted(.iso8601), forKey: .sentAt)
    }
}
