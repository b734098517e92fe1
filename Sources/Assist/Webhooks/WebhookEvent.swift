import Foundation

/// One event to send to the shop's webhooks: the body every endpoint receives is
///
/// ```json
/// {"at":"2026-05-01T10:00:00Z","event":"consultation.assigned","id":"<event id>","payload":{…}}
/// ```
///
/// with `payload` the event's own JSON object (the consultation, the message, the conversion).
/// The `id` is the same on every retry, so a receiver can drop a delivery it already handled.
public struct WebhookEvent: Codable, Sendable, Hashable {
    /// A larger payload is refused (`too_large`): a webhook is a notification, not an export.
    public static let maximumPayloadSize = 64 * 1024

    public var id: String
    public var kind: WebhookEventKind
    public var at: Date
    /// The payload's JSON (an object), kept as bytes so every retry sends the same body.
    public var payload: Data

    /// `invalid_argument` for an empty or over-long id or a payload that is not a JSON object;
    /// `too_large` past ``maximumPayloadSize``.
    public init(id: String, kind: WebhookEventKind, at: Date, payload: Data) throws(AssistError) {
        guard !id.isEmpty, id.count <= 128 else { throw AssistError(.invalidArgument, "event id must have 1 to 128 characters") }
        guard payload.count <= Self.maximumPayloadSize else { throw AssistError(.tooLarge, "payload over \(Self.maximumPayloadSize) bytes") }
        guard (try? JSONSerialization.jsonObject(with: payload)) is [String: Any] else {
            throw AssistError(.invalidArgument, "payload must be a JSON object")
        }
        self.id = id
        self.kind = kind
        self.at = at
        self.payload = payload
    }

    /// An event whose payload is `value` encoded as JSON (sorted keys, ISO 8601 dates).
    public init(id: String, kind: WebhookEventKind, at: Date, encoding value: some Encodable) throws(AssistError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .iso8601
        let data: Data
        do {
            data = try encoder.encode(value)
        } catch {
            throw AssistError(.invalidArgument, "payload cannot be encoded: \(error)")
        }
        try self.init(id: id, kind: kind, at: at, payload: data)
    }

    /// The request body (above), byte for byte the same on every attempt.
    public var body: Data {
        var out = Data("{\"at\":\"".utf8)
        out += Data(Self.iso8601(at).utf8)
        out += Data("\",\"event\":\"\(kind.rawValue)\",\"id\":".utf8)
        out += Self.jsonString(id)
        out += Data(",\"payload\":".utf8)
        out += payload
        out += Data("}".utf8)
        return out
    }

    static func iso8601(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }

    static func jsonString(_ s: String) -> Data {
        (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8)
    }
}
