import COpenSSL
import Desk
import Foundation
import Logging

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Delivers the desk's events to external bots (``ExternalBot``), one at a time, in order, from a
/// bounded queue. Each POST carries a JSON body and
/// `X-Showroom-Timestamp: <unix seconds>` and `X-Showroom-Signature: sha256=<hex>`, the
/// HMAC-SHA256 of `"<timestamp>.<body>"` under the bot's secret (the receiver recomputes it and
/// rejects old timestamps: replay). A delivery is tried three times (5 s timeout each, 1 s and 2 s
/// apart) and then dropped and counted; past ``maximumQueued`` waiting events the newest is dropped
/// and counted — a bot that is down costs the desk a bounded queue, never a stall.
actor WebhookSender {
    static let maximumQueued = 1_000
    static let attempts = 3

    struct Delivery: Sendable {
        var bot: ExternalBot
        var body: Data
    }

    private var queue: [Delivery] = []
    private var running = false
    private let logger: Logger
    private let session: URLSession
    private(set) var delivered = 0
    private(set) var failed = 0
    private(set) var dropped = 0

    init(logger: Logger) {
        self.logger = logger
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 5
        session = URLSession(configuration: configuration)
    }

    /// Queues `event` with `payload` for `bot`.
    func send(_ event: String, _ payload: some Encodable & Sendable, to bot: ExternalBot) {
        guard queue.count < Self.maximumQueued else {
            dropped += 1
            return
        }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        guard let body = try? encoder.encode(Envelope(event: event, id: UUID().uuidString.lowercased(), payload: payload)) else { return }
        queue.append(Delivery(bot: bot, body: body))
        if !running {
            running = true
            Task { await self.drain() }
        }
    }

    struct Envelope<P: Encodable>: Encodable {
        var event: String
        var id: String
        var payload: P
    }

    private func drain() async {
        while !queue.isEmpty {
            let d = queue.removeFirst()
            var ok = false
            for attempt in 0..<Self.attempts where !ok {
                if attempt > 0 { try? await Task.sleep(for: .seconds(attempt)) }
                ok = await post(d)
            }
            if ok { delivered += 1 } else {
                failed += 1
                logger.warning("desk: webhook not delivered", metadata: ["url": .string(d.bot.url)])
            }
        }
        running = false
    }

    private func post(_ d: Delivery) async -> Bool {
        guard let url = URL(string: d.bot.url) else { return false }
        let timestamp = String(Int(Date().timeIntervalSince1970))
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = d.body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(timestamp, forHTTPHeaderField: "X-Showroom-Timestamp")
        request.setValue("sha256=" + Self.signature(secret: d.bot.secret, timestamp: timestamp, body: d.body), forHTTPHeaderField: "X-Showroom-Signature")
        guard let (_, response) = try? await session.dataCancellingSafely(for: request), let status = (response as? HTTPURLResponse)?.statusCode else {
            return false
        }
        return (200..<300).contains(status)
    }

    /// Hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
    static func signature(secret: String, timestamp: String, body: Data) -> String {
        let key = Array(secret.utf8)
        let message = Array((timestamp + ".").utf8) + Array(body)
        var out = [UInt8](repeating: 0, count: 32)
        _ = key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in COpenSSL_hmacSHA256(k.baseAddress, k.count, m.baseAddress, m.count, &out) }
        }
        return out.map { String(format: "%02x", $0) }.joined()
    }
}
