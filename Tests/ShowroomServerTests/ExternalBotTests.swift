import Foundation
import HTTPTypes
import Hummingbird
import Logging
@testable import ShowroomServer
import Synchronization
import Testing

/// A department served by the shop's own bot: the desk signs and posts its events to the bot's
/// webhook (a receiver in this test), and the bot answers and hands off through the API.
@Suite struct ExternalBotTests {
    struct Hook: Sendable {
        var timestamp: String
        var signature: String
        var body: Data
        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
    }

    static let secret = "a-webhook-secret-of-at-least-32-bytes!"

    @Test func eventsGoOutSignedAndTheBotAnswersAndHandsOffThroughTheAPI() async throws {
        let hooks = Mutex<[Hook]>([])
        let receiver = Hummingbird.Router()
        receiver.post("hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let h = Hook(
                timestamp: request.headers[HTTPField.Name("X-Showroom-Timestamp")!] ?? "",
                signature: request.headers[HTTPField.Name("X-Showroom-Signature")!] ?? "", body: Data(buffer: body))
            hooks.withLock { $0.append(h) }
            return Response(status: .ok)
        }
        try await withLoopbackRouter(receiver, label: "hook") { hookClient in
            let hookPort = try #require(hookClient.port)
            let server = try await SignalingServer.start()
            let desk = DeskClient(port: server.port)
            let admin = try await wsToken("desk", .admin, identity: "owner")
            // Bad bot settings are refused with the reason.
            let short = try await desk.request(
                "PUT", "/api/admin/departments/concierge", token: admin,
                body: ["name": "Concierge", "replyTargetSeconds": 30, "maximumWaitSeconds": 300, "externalBot": ["url": "http://127.0.0.1:\(hookPort)/hook", "secret": "short"]])
            #expect(short.status == 400 && short.text.contains("secret"), "\(short.text)")
            let file = try await desk.request(
                "PUT", "/api/admin/departments/concierge", token: admin,
                body: ["name": "Concierge", "replyTargetSeconds": 30, "maximumWaitSeconds": 300, "externalBot": ["url": "file:///etc/passwd", "secret": Self.secret]])
            #expect(file.status == 400, "\(file.text)")
            let saved = try await desk.request(
                "PUT", "/api/admin/departments/concierge", token: admin,
                body: ["name": "Concierge", "replyTargetSeconds": 30, "maximumWaitSeconds": 300, "externalBot": ["url": "http://127.0.0.1:\(hookPort)/hook", "secret": Self.secret]])
            #expect(saved.status == 200, "\(saved.text)")

            // A consultation in the department, and a shopper's message: two signed events, in order.
            let sam = try await wsToken("vip-1", .shopper, identity: "sam")
            let id = try #require(
                try await desk.request("POST", "/api/consultations", token: sam, body: ["department": "concierge", "name": "Sam"]).json["id"] as? String)
            let shopper = SignalingClient(port: server.port)
            try await shopper.enter(token: sam, room: "vip-1")
            shopper.send(["type": "send", "id": "q", "kind": "text", "text": "How long does delivery take?"])
            // Delivery is at least once: an attempt that outlives the 5 s request timeout on a busy
            // machine is sent again (the same body), so the checks take each delivery once.
            #expect(await SignalingServer.eventually(seconds: 20) { hooks.withLock { Set($0.map(\.body)).count } >= 2 })
            var seen = Set<Data>()
            let got = hooks.withLock { $0 }.filter { seen.insert($0.body).inserted }
            #expect(got.map { $0.json["event"] as? String } == ["consultation.created", "message.created"])
            for h in got {
                #expect(h.signature == "sha256=" + WebhookSender.signature(secret: Self.secret, timestamp: h.timestamp, body: h.body))
                #expect(abs((Double(h.timestamp) ?? 0) - Date().timeIntervalSince1970) < 60)
            }
            #expect((got[0].json["payload"] as? [String: Any])?["id"] as? String == id)
            #expect((got[1].json["payload"] as? [String: Any])?["text"] as? String == "How long does delivery take?")
            // The built-in bot stays out of it.
            try await Task.sleep(for: .milliseconds(300))
            #expect(!DeskFlowTests.lines(shopper).contains { $0.role == "bot" }, "the built-in bot answered an external bot's consultation")

            // The bot answers and hands off; other tokens cannot.
            let bot = try await wsToken("desk", .bot, identity: "concierge-bot")
            #expect(try await desk.request("POST", "/api/bot/consultations/\(id)/reply", token: sam, body: ["text": "x"]).status == 403)
            #expect(try await desk.request("POST", "/api/bot/consultations/\(id)/reply", token: bot, body: ["text": ""]).status == 400)
            #expect(try await desk.request("POST", "/api/bot/consultations/\(id)/reply", token: bot, body: ["text": "Two to four days."]).status == 204)
            #expect(await DeskFlowTests.waitFor(shopper) { $0.contains { $0.role == "bot" && $0.text == "Two to four days." } })
            let handed = try await desk.request("POST", "/api/bot/consultations/\(id)/handoff", token: bot, body: ["reason": "asked_for_person"])
            #expect(handed.status == 200 && handed.json["status"] as? String == "queued", "\(handed.text)")
            #expect(handed.json["firstBotReply"] != nil)
            #expect(try await desk.request("POST", "/api/bot/consultations/\(id)/reply", token: bot, body: ["text": "late"]).status == 409)
            // A consultation of a department with the built-in bot is not the external bot's.
            let olga = try await wsToken("shop-2", .shopper, identity: "olga")
            let other = try #require(try await desk.request("POST", "/api/consultations", token: olga, body: ["department": "sales"]).json["id"] as? String)
            #expect(try await desk.request("POST", "/api/bot/consultations/\(other)/reply", token: bot, body: ["text": "hi"]).status == 403)
            await shopper.close()
            _ = await server.stop()
        }
    }
}
