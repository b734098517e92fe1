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
        let data = Data(text.utf8)
        // JSONSerialization refuses nesting deeper than 512 levels (a thrown error, not a crash).
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            return (nil, .failure(SignalingError(.badMessage, "not a JSON object")))
        }
        let ref = object["ref"] as? String
        do {
            return (ref, .success(try parse(object, data: data)))
        } catch {
            return (ref, .failure(error))
        }
    }

    private static func parse(_ object: [String: Any], data: Data) throws(SignalingError) -> ClientMessage {
        guard let type = object["type"] as? String else { throw SignalingError(.badMessage, "no type") }
        func string(_ key: String, max: Int = 256) throws(SignalingError) -> String {
            guard let v = object[key] as? String, !v.isEmpty, v.utf8.count <= max else {
                throw SignalingError(.badMessage, "\(type): \(key) must be a non-empty string of at most \(max) bytes")
            }
            return v
        }
        /// An integral JSON number of magnitude below 2^53 (exact in a Double, so no rounding
        /// surprise and no trap converting it).
        func integer(_ key: String) throws(SignalingError) -> Int64? {
            guard let v = object[key] else { return nil }
            // JSON true/false also bridge to NSNumber; their class names say Boolean.
            guard !String(describing: Swift.type(of: v)).contains("Bool"), let n = v as? NSNumber, n.doubleValue.isFinite,
                n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 9_007_199_254_740_992
            else {
                throw SignalingError(.badMessage, "\(type): \(key) must be an integer")
            }
            return Int64(n.doubleValue)
        }
        let message: ClientMessage
        switch type {
        case "hello":
            message = .hello(version: Int(try integer("v") ?? 0), token: try string("token", max: 4_096))
        case "refresh":
            message = .refresh(token: try string("token", max: 4_096))
        case "join":
            let room = try string("room", max: 64)
            guard room.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw SignalingError(.badMessage, "join: room names are letters, digits, - and _")
            }
            let last = try integer("lastSeq")
            if let last, last < 0 { throw SignalingError(.badMessage, "join: lastSeq is ≥ 0") }
            message = .join(room: room, lastSeq: last)
        case "leave": message = .leave
        case "send":
            let id = try string("id", max: 64)
            // A field of the wrong JSON type (or missing) is bad_message; a value that breaks a
            // content rule (a URL, a price, an expiry) is invalid_content, found by validate().
            do {
                message = .send(id: id, content: try ChatContent(json: data))
            } catch {
                throw SignalingError(.badMessage, "send: \(Self.describe(error))")
            }
        case "typing":
            guard let on = object["on"] as? Bool else { throw SignalingError(.badMessage, "typing: on must be true or false") }
            message = .typing(on)
        case "read":
            guard let seq = try integer("seq"), seq >= 0 else { throw SignalingError(.badMessage, "read: seq is an integer ≥ 0") }
            message = .read(seq: seq)
        case "history":
            let limit = Int(try integer("limit") ?? 50)
            guard (1...200).contains(limit) else { throw SignalingError(.badMessage, "history: limit is 1–200") }
            message = .history(before: try integer("before"), limit: limit)
        case "publish":
            message = .publish(sdp: try string("sdp", max: 65_536))
        case "subscribe":
            let quality = (object["quality"] as? String) ?? "source"
            guard ["source", "medium", "low"].contains(quality) else {
                throw SignalingError(.badMessage, "subscribe: quality is source, medium or low")
            }
            let source = object["source"] == nil ? nil : try string("source")
            message = .subscribe(sdp: try string("sdp", max: 65_536), quality: quality, adaptive: (object["adaptive"] as? Bool) ?? true, source: source)
        case "setQuality":
            let quality = try string("quality")
            guard ["source", "medium", "low"].contains(quality) else {
                throw SignalingError(.badMessage, "setQuality: quality is source, medium or low")
            }
            message = .setQuality(session: try string("session"), quality: quality)
        case "stop": message = .stop(session: try string("session"))
        case "mute":
            guard let kind = object["kind"] as? String, kind == "audio" || kind == "video", let muted = object["muted"] as? Bool else {
                throw SignalingError(.badMessage, "mute: kind is audio or video, muted true or false")
            }
            message = .mute(kind: kind, muted: muted)
        case "ping": message = .ping
        default: throw SignalingError(.badMessage, "unknown type \(type)")
        }
        return message
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
    /// `expires`: when the token expires (the connection is closed then, unless refreshed).
    case welcome(participant: Participant, expires: Date?, ref: String?)
    /// `firstSeq`: the oldest message still stored (0: none), so a client resuming from before it
    /// knows that retention deleted the ones in between.
    case joined(
        room: String, participants: [Participant], firstSeq: Int64, lastSeq: Int64, readReceipts: [String: Int64], publishers: [String: String],
        ref: String?)
    case refreshed(expires: Date?, ref: String?)
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
    case error(code: String, reason: String, ref: String?)
    case pong(ref: String?)
    /// Sent last before the server closes the connection; `ref` when a message caused it.
    case closing(code: String, reason: String, ref: String? = nil)

    public func json() -> String {
        var o: [String: Any]
        var ref: String?
        switch self {
        case .welcome(let p, let expires, let r):
            o = ["type": "welcome", "v": protocolVersion, "participant": Self.object(p)]
            if let expires { o["expires"] = expires.formatted(.iso8601) }
            ref = r
        case .joined(let room, let participants, let firstSeq, let lastSeq, let receipts, let publishers, let r):
            o = [
                "type": "joined", "room": room, "participants": participants.map(Self.object), "firstSeq": firstSeq, "lastSeq": lastSeq,
                "readReceipts": receipts, "publishers": publishers,
            ]
            ref = r
        case .refreshed(let expires, let r):
            o = ["type": "refreshed"]
            if let expires { o["expires"] = expires.formatted(.iso8601) }
            ref = r
        case .presence(let event, let p): o = ["type": "presence", "event": event, "participant": Self.object(p)]
        case .message(let m): o = Self.object(m)
        case .ack(let id, let seq, let duplicate, let r):
            o = ["type": "ack", "id": id, "seq": seq, "duplicate": duplicate]
            ref = r
        case .typing(let from, let on): o = ["type": "typing", "from": from, "on": on]
        case .mute(let participant, let kind, let muted): o = ["type": "mute", "participant": participant, "kind": kind, "muted": muted]
        case .read(let from, let seq): o = ["type": "read", "from": from, "seq": seq]
        case .history(let messages, let hasMore, let r):
            o = ["type": "history", "messages": messages.map(Self.object), "hasMore": hasMore]
            ref = r
        case .answer(let session, let sdp, let r):
            o = ["type": "answer", "session": session, "sdp": sdp]
            ref = r
        case .track(let event, let participant, let session): o = ["type": "track", "event": event, "participant": participant, "session": session]
        case .error(let code, let reason, let r):
            o = ["type": "error", "code": code, "reason": reason]
            ref = r
        case .pong(let r):
            o = ["type": "pong"]
            ref = r
        case .closing(let code, let reason, let r):
            o = ["type": "closing", "code": code, "reason": reason]
            ref = r
        }
        if let ref { o["ref"] = ref }
        let data = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func object(_ p: Participant) -> [String: Any] { ["id": p.id, "identity": p.identity, "role": p.role] }

    static func object(_ m: StoredMessage) -> [String: Any] {
        var o = m.content.jsonObject
        o["type"] = "message"
        o["seq"] = m.seq
        o["id"] = m.clientID
        o["from"] = m.sender
        o["role"] = m.senderRole
        o["sentAt"] = m.sentAt.formatted(.iso8601)
        return o
    }
}
