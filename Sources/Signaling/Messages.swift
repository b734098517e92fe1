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
        guard let data = text.data(using: .utf8),
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { throw SignalingError(.badMessage, "not a JSON object") }
        let ref = object["ref"] as? String
        guard let type = object["type"] as? String else { throw SignalingError(.badMessage, "no type") }
        func string(_ key: String, max: Int = 256) throws(SignalingError) -> String {
            guard let v = object[key] as? String, !v.isEmpty, v.utf8.count <= max else {
                throw SignalingError(.badMessage, "\(type): \(key) must be a non-empty string of at most \(max) bytes")
            }
            return v
        }
        func integer(_ key: String) throws(SignalingError) -> Int64? {
            guard let v = object[key] else { return nil }
            // JSON true/false also bridge to NSNumber; their class names say Boolean.
            guard !String(describing: Swift.type(of: v)).contains("Bool"), let n = v as? NSNumber, n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 9e15 else {
                throw SignalingError(.badMessage, "\(type): \(key) must be an integer")
            }
            return n.int64Value
        }
        let message: ClientMessage
        switch type {
        case "hello":
            message = .hello(version: Int(try integer("v") ?? 0), token: try string("token", max: 4_096))
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
        return (message, ref)
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
    case welcome(participant: Participant)
    case joined(room: String, participants: [Participant], lastSeq: Int64, readReceipts: [String: Int64], publishers: [String: String])
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
    /// Sent just before the server closes the connection.
    case closing(code: String, reason: String)

    public func json() -> String {
        var o: [String: Any]
        var ref: String?
        switch self {
        case .welcome(let p):
            o = ["type": "welcome", "v": protocolVersion, "participant": Self.object(p)]
        case .joined(let room, let participants, let lastSeq, let receipts, let publishers):
            o = [
                "type": "joined", "room": room, "participants": participants.map(Self.object), "lastSeq": lastSeq,
                "readReceipts": receipts, "publishers": publishers,
            ]
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
        case .closing(let code, let reason): o = ["type": "closing", "code": code, "reason": reason]
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

/// Why the server refused a message or closed a connection; `code` goes on the wire.
public struct SignalingError: CodedError {
    public static let domain = "signaling"
    public enum Code: String, Sendable, Hashable {
        case badMessage = "bad_message"
        case unauthorized
        case forbidden
        case unsupportedVersion = "unsupported_version"
        case notJoined = "not_joined"
        case alreadyJoined = "already_joined"
        case rateLimited = "rate_limited"
        case tooLarge = "too_large"
        case invalidContent = "invalid_content"
        case storage
        case media
        case notFound = "not_found"
        case conflict
        case timeout
        case slowConsumer = "slow_consumer"
        case policy
        case shuttingDown = "shutting_down"
    }
    public let code: Code
    public let detail: String
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
}
