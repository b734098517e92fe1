import Assist
import Foundation
import HTTPTypes
import Hummingbird
import Logging
@testable import ShowroomServer
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Agent assist through the real server: the shop pushes its catalog and a shopper's history,
/// an agent in a consultation reads the profile and recommendations, fills a script, is warned
/// and blocked by hints, sends a tracked card; the shopper's click and the shop's order count
/// for the consultation once, and what hostile callers get.
@Suite struct AssistFlowTests {
    static let catalogCSV = """
        sku,title,price,currency,category,stock,attr:colour
        SOFA-1,"Oslo sofa, grey",1299.00,EUR,sofas,4,grey
        SOFA-2,Oslo two-seat,999.00,EUR,sofas,7,grey
        SOFA-3,Bergen leather sofa,1899.00,EUR,sofas,0,brown
        CUSH-1,Cushion set,49.90,EUR,cushions,60,grey
        BROKEN-1,Broken price,twelve,EUR,sofas,1,grey
        THROW-1,Wool throw,79.00,EUR,textiles,25,grey
        ,No SKU,10.00,EUR,misc,1,grey

        """

    static func shop() async throws -> String { try await wsToken("desk", .shop, identity: "shop-backend") }
    static func admin() async throws -> String { try await wsToken("desk", .admin, identity: "owner") }

    /// A consultation of `shopper` in `room`, offered to `agent` (registered for sales, its
    /// workspace stream open: online) who accepts it: its id, and the stream (keep it open).
    static func consultation(
        _ desk: DeskClient, server: SignalingServer, shopper: String, room: String, agent: String
    ) async throws -> (String, DeskEventStream) {
        try await DeskFlowTests.addAgent(desk, agent, name: agent.capitalized, departments: ["sales"], capacity: 3)
        let agentToken = try await wsToken("desk", .agent, identity: agent)
        let workspace = try DeskEventStream(port: server.port, token: agentToken)
        _ = try await workspace.next("hello")
        let token = try await wsToken(room, .shopper, identity: shopper)
        let opened = try await desk.request(
            "POST", "/api/consultations", token: token, body: ["department": "sales", "name": "Sam Rivera", "context": ["sku": "SOFA-1"]])
        let id = try #require(opened.json["id"] as? String, "\(opened.text)")
        let client = SignalingClient(port: server.port)
        try await client.enter(token: token, room: room)
        client.send(["type": "send", "id": "p1", "kind": "text", "text": "I'd like to talk to a person please"])
        let offer = try await workspace.next("offer")
        #expect((offer["consultation"] as? [String: Any])?["id"] as? String == id)
        let accepted = try await desk.request("POST", "/api/desk/consultations/\(id)/accept", token: agentToken)
        #expect(accepted.status == 200, "\(accepted.text)")
        return (id, workspace)
    }

    @Test func theShopsCatalogAndEventsMakeTheAgentsProfileAndRecommendations() async throws {
        let server = try await SignalingServer.start()
        let desk = DeskClient(port: server.port)
        let shop = try await Self.shop()

        // Only the shop's token pushes the catalog.
        let agentToken = try await wsToken("desk", .agent, identity: "anna")
        let refused = try await desk.request("PUT", "/api/shop/catalog", token: agentToken, raw: Data(Self.catalogCSV.utf8))
        #expect(refused.status == 403, "\(refused.text)")

        // A CSV with two bad rows: the rest is imported, the bad ones reported by line.
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(server.port)/api/shop/catalog")!)
        request.httpMethod = "PUT"
        request.setValue("Bearer \(shop)", forHTTPHeaderField: "Authorization")
        request.setValue("text/csv", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(Self.catalogCSV.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        let report = (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        #expect((response as? HTTPURLResponse)?.statusCode == 200, "\(String(decoding: data, as: UTF8.self))")
        #expect(report["imported"] as? Int == 5 && report["total"] as? Int == 5, "\(report)")
        let lines = ((report["issues"] as? [[String: Any]]) ?? []).compactMap { $0["line"] as? Int }.sorted()
        #expect(lines == [6, 8], "\(report)")

        // Events: an unknown SKU refuses the whole batch; then Sam's history.
        let now = Date()
        func event(_ kind: String, _ sku: String, minutesAgo: Double, order: String? = nil) -> [String: Any] {
            var e: [String: Any] = ["shopper": "sam", "kind": kind, "sku": sku, "time": Int64((now.timeIntervalSince1970 - minutesAgo * 60) * 1000)]
            if let order { e["orderId"] = order }
            return e
        }
        let unknown = try await desk.request("POST", "/api/shop/events", token: shop, body: ["events": [event("viewed", "SOFA-1", minutesAgo: 5), event("viewed", "NOPE-9", minutesAgo: 4)]])
        #expect(unknown.status == 404 && unknown.text.contains("NOPE-9"), "\(unknown.text)")
        let history: [[String: Any]] = [
            event("purchased", "THROW-1", minutesAgo: 60 * 24 * 30, order: "A-1"), event("viewed", "SOFA-3", minutesAgo: 30),
            event("viewed", "SOFA-2", minutesAgo: 20), event("added_to_cart", "CUSH-1", minutesAgo: 10),
        ]
        let recorded = try await desk.request("POST", "/api/shop/events", token: shop, body: ["events": history])
        #expect(recorded.status == 200 && recorded.json["recorded"] as? Int == 4, "\(recorded.status) \(recorded.text)")
        // Others bought SOFA-1 with CUSH-1: a co-purchase.
        for i in 0..<3 {
            let other: [[String: Any]] = [
                ["shopper": "o\(i)", "kind": "purchased", "sku": "SOFA-2", "time": Int64(now.timeIntervalSince1970 * 1000) - 1000, "orderId": "B-\(i)"],
                ["shopper": "o\(i)", "kind": "purchased", "sku": "THROW-1", "time": Int64(now.timeIntervalSince1970 * 1000) - 1000, "orderId": "B-\(i)"],
            ]
            #expect(try await desk.request("POST", "/api/shop/events", token: shop, body: ["events": other]).status == 200)
        }

        let (id, workspace) = try await Self.consultation(desk, server: server, shopper: "sam", room: "assist-1", agent: "anna")
        defer { workspace.close() }
        let profile = try await desk.request("GET", "/api/assist/consultations/\(id)/shopper", token: agentToken)
        #expect(profile.status == 200, "\(profile.text)")
        let p = profile.json["profile"] as? [String: Any] ?? [:]
        #expect((p["recentViews"] as? [[String: Any]])?.first?["sku"] as? String == "SOFA-2", "\(profile.text)")
        #expect((p["cart"] as? [[String: Any]])?.map { $0["sku"] as? String } == ["CUSH-1"], "\(profile.text)")
        #expect((p["orders"] as? [Any])?.count == 1, "\(profile.text)")
        #expect((profile.json["lifetimeValue"] as? [String])?.first?.contains("79") == true, "\(profile.text)")

        // Another agent (not holding it, not a supervisor) sees nothing of it.
        let ben = try await wsToken("desk", .agent, identity: "ben")
        #expect(try await desk.request("GET", "/api/assist/consultations/\(id)/shopper", token: ben).status == 404)

        let recs = try await desk.request("GET", "/api/assist/consultations/\(id)/recommendations", token: agentToken)
        #expect(recs.status == 200, "\(recs.text)")
        let skus = recs.array.compactMap { ($0["product"] as? [String: Any])?["sku"] as? String }
        #expect(!skus.isEmpty && !skus.contains("SOFA-3"), "out of stock is never recommended: \(skus)")
        #expect(!skus.contains("THROW-1"), "already bought: \(skus)")
        #expect(skus.first == "SOFA-1", "the consultation's product first: \(skus)")
        _ = await server.stop()
    }

    @Test func scriptsHintsTrackedCardsAndConversionsCountOnce() async throws {
        let server = try await SignalingServer.start(configure: { $0.demo = true })
        let desk = DeskClient(port: server.port)
        let anna = try await wsToken("desk", .agent, identity: "anna")
        let (id, workspace) = try await Self.consultation(desk, server: server, shopper: "demo-sam", room: "assist-2", agent: "anna")
        defer { workspace.close() }

        // `/hi` filled from the consultation; `/order` flags the order id Sam has not named… Sam
        // has orders in the demo, so `{{order.id}}` is filled; an unknown variable is flagged.
        let picker = try await desk.request("GET", "/api/assist/scripts?q=h&consultation=\(id)", token: anna)
        #expect(picker.array.first?["shortCode"] as? String == "hi", "short-code prefix first: \(picker.text)")
        let hi = try await desk.request("POST", "/api/assist/consultations/\(id)/render", token: anna, body: ["shortCode": "hi"])
        #expect(hi.status == 200, "\(hi.text)")
        #expect((hi.json["text"] as? String)?.hasPrefix("Hi Sam, I'm Anna from") == true, "\(hi.text)")
        #expect((hi.json["flags"] as? [Any])?.isEmpty == true, "\(hi.text)")
        let admin = try await Self.admin()
        let saved = try await desk.request(
            "PUT", "/api/admin/scripts/typo", token: admin, body: ["shortCode": "typo", "title": "Typo", "body": "Hi {{shoper.name}}"])
        #expect(saved.status == 200, "\(saved.text)")
        let typo = try await desk.request("POST", "/api/assist/consultations/\(id)/render", token: anna, body: ["shortCode": "typo"])
        #expect((typo.json["flags"] as? [[String: Any]])?.first?["kind"] as? String == "unknownVariable", "\(typo.text)")

        // Hints: a banned word blocks; a risky one warns with the better wording.
        let cheap = try await desk.request("POST", "/api/assist/consultations/\(id)/hints", token: anna, body: ["draft": "This is our cheapest sofa"])
        #expect(cheap.array.contains { $0["ruleID"] as? String == "no-cheap" && $0["severity"] as? String == "block" }, "\(cheap.text)")
        let promise = try await desk.request("POST", "/api/assist/consultations/\(id)/hints", token: anna, body: ["draft": "I guarantee it fits"])
        #expect(promise.array.contains { $0["ruleID"] as? String == "no-guarantee" && $0["suggestion"] != nil }, "\(promise.text)")
        // An out-of-stock product mentioned in the draft.
        let stock = try await desk.request("POST", "/api/assist/consultations/\(id)/hints", token: anna, body: ["draft": "What about SOFA-3?"])
        #expect(stock.array.contains { $0["kind"] as? String == "outOfStock" }, "\(stock.text)")
        let counts = try await desk.request("GET", "/api/reports/hints", token: admin)
        #expect(counts.status == 200 && counts.text.contains("no-cheap"), "\(counts.text)")

        // A tracked card into the room; the shopper's click counts once, for this consultation.
        let agentClient = SignalingClient(port: server.port)
        let roomToken = try await wsToken("assist-2", .agent, identity: "anna")
        try await agentClient.enter(token: roomToken, room: "assist-2")
        let sent = try await desk.request("POST", "/api/assist/consultations/\(id)/send-product", token: anna, body: ["sku": "SOFA-2"])
        #expect(sent.status == 201, "\(sent.text)")
        #expect(await SignalingServer.eventually(seconds: 10) { agentClient.all("message").contains { $0["kind"] as? String == "product" } })
        let card = try #require(agentClient.all("message").first { $0["kind"] as? String == "product" })
        let link = try #require(card["link"] as? String)
        let ref = try #require(URLComponents(string: link)?.queryItems?.first { $0.name == "showroom_ref" }?.value, "\(link)")
        let sam = try await wsToken("assist-2", .shopper, identity: "demo-sam")
        let click = try await desk.request("POST", "/api/track/click", token: sam, body: ["token": ref])
        #expect(click.json["outcome"] as? String == "attributed" && click.json["agent"] as? String == "anna", "\(click.text)")
        #expect(try await desk.request("POST", "/api/track/click", token: sam, body: ["token": ref]).json["outcome"] as? String == "duplicate")
        // The same card's token from another shopper's page: not theirs.
        let eve = try await wsToken("assist-9", .shopper, identity: "eve")
        #expect(try await desk.request("POST", "/api/track/click", token: eve, body: ["token": ref]).json["outcome"] as? String == "rejected")
        // An altered token is rejected; a click without one is refused (the widget always has one).
        var altered = Array(ref)
        altered[altered.count / 2] = altered[altered.count / 2] == "A" ? "B" : "A"
        #expect(try await desk.request("POST", "/api/track/click", token: sam, body: ["token": String(altered)]).json["outcome"] as? String == "rejected")

        // The shop's order with the token, reported twice: counted once; one without a token: nobody's.
        let shop = try await Self.shop()
        let order: [String: Any] = ["kind": "order", "token": ref, "orderId": "O-77", "amountMinor": 99_900, "currency": "EUR"]
        #expect(try await desk.request("POST", "/api/shop/conversions", token: shop, body: order).json["outcome"] as? String == "attributed")
        #expect(try await desk.request("POST", "/api/shop/conversions", token: shop, body: order).json["outcome"] as? String == "duplicate")
        let anonymous = try await desk.request(
            "POST", "/api/shop/conversions", token: shop, body: ["kind": "order", "orderId": "O-78", "amountMinor": 1_000, "currency": "EUR"])
        #expect(anonymous.json["outcome"] as? String == "unattributed", "\(anonymous.text)")
        let noID = try await desk.request("POST", "/api/shop/conversions", token: shop, body: ["kind": "order", "amountMinor": 1_000, "currency": "EUR"])
        #expect(noID.status == 400, "\(noID.text)")

        let report = try await desk.request("GET", "/api/reports/conversions", token: admin)
        #expect(report.status == 200, "\(report.text)")
        let conversions = report.json["conversions"] as? [String: Any] ?? [:]
        let byAgent = (conversions["byAgent"] as? [String: Any])?["anna"] as? [String: Any] ?? [:]
        #expect(byAgent["orders"] as? Int == 1 && byAgent["clicks"] as? Int == 1, "\(report.text)")
        #expect((byAgent["revenueMinor"] as? [String: Any])?["EUR"] as? Int == 99_900, "\(report.text)")
        #expect(report.json["desk"] != nil)

        // Once resolved, the consultation takes no more cards (a card sent into the room later
        // would credit Anna and this consultation for the next one's sales) and no hint state.
        #expect(try await desk.request("POST", "/api/desk/consultations/\(id)/resolve", token: anna).status == 200)
        let late = try await desk.request("POST", "/api/assist/consultations/\(id)/send-product", token: anna, body: ["sku": "SOFA-2"])
        #expect(late.status == 409, "\(late.text)")
        #expect(try await desk.request("POST", "/api/assist/consultations/\(id)/hints", token: anna, body: ["draft": "x"]).status == 409)
        let after = try await desk.request("GET", "/api/reports/conversions", token: admin)
        #expect(((after.json["conversions"] as? [String: Any])?["byAgent"] as? [String: Any])?["anna"].map { ($0 as? [String: Any])?["productCardsSent"] as? Int } == 1)
        _ = await server.stop()
    }

    @Test func badInputGetsClearErrorsAndChangesNothing() async throws {
        let server = try await SignalingServer.start()
        let desk = DeskClient(port: server.port)
        let shop = try await Self.shop()
        let ok = try await desk.request(
            "POST", "/api/shop/catalog", token: shop, body: ["products": [["sku": "A-1", "title": "A", "price": "1.00", "currency": "EUR", "stock": 1]]])
        #expect(ok.status == 200, "\(ok.text)")
        // Not JSON, not a catalog: 422 and the catalog unchanged.
        var r = URLRequest(url: URL(string: "http://127.0.0.1:\(server.port)/api/shop/catalog")!)
        r.httpMethod = "PUT"
        r.setValue("Bearer \(shop)", forHTTPHeaderField: "Authorization")
        r.setValue("application/json", forHTTPHeaderField: "Content-Type")
        r.httpBody = Data("{not json".utf8)
        let (_, bad) = try await URLSession.shared.data(for: r)
        #expect((bad as? HTTPURLResponse)?.statusCode == 422)
        // Over the body cap: 413, nothing read into the catalog.
        r.httpBody = Data(count: AssistRoutes.maximumCatalogBody + 1)
        let (_, big) = try await URLSession.shared.data(for: r)
        #expect((big as? HTTPURLResponse)?.statusCode == 413)
        r.setValue("application/xml", forHTTPHeaderField: "Content-Type")
        r.httpBody = Data("<x/>".utf8)
        let (_, xml) = try await URLSession.shared.data(for: r)
        #expect((xml as? HTTPURLResponse)?.statusCode == 415)
        let a = try await desk.request("GET", "/api/shop/catalog/A-1", token: shop)
        #expect(a.status == 200 && a.json["sku"] as? String == "A-1", "\(a.text)")
        #expect(try await desk.request("GET", "/api/shop/catalog/NOPE", token: shop).status == 404)
        // Stock for an unknown SKU: 404, nothing changed.
        let stock = try await desk.request("PATCH", "/api/shop/stock", token: shop, body: [["sku": "A-1", "stock": 0], ["sku": "NOPE", "stock": 3]])
        #expect(stock.status == 404, "\(stock.text)")
        #expect(try await desk.request("GET", "/api/shop/catalog/A-1", token: shop).json["stock"] as? Int == 1)
        // Scripts: a file with one bad script changes nothing.
        let admin = try await Self.admin()
        let before = try await desk.request("GET", "/api/admin/scripts", token: admin)
        let badFile = try await desk.request(
            "PUT", "/api/admin/scripts", token: admin,
            body: ["version": 1, "scripts": [["id": "a", "shortCode": "ok", "title": "OK", "body": "fine"], ["id": "b", "shortCode": "Not Valid", "title": "X", "body": "y"]]])
        #expect(badFile.status == 400 || badFile.status == 422, "\(badFile.text)")
        #expect(try await desk.request("GET", "/api/admin/scripts", token: admin).data == before.data)
        // Hint rules that do not compile: nothing changes.
        let badRules = try await desk.request("PUT", "/api/admin/hints", token: admin, body: ["version": 1, "rules": [["id": "x", "kind": "phrase", "message": "no terms"]]])
        #expect(badRules.status == 400 || badRules.status == 422, "\(badRules.text)")
        // Someone else's consultation, a shopper's token on the agent API.
        let shopper = try await wsToken("r", .shopper, identity: "x")
        #expect(try await desk.request("GET", "/api/assist/consultations/c-nope/shopper", token: shopper).status == 403)
        #expect(try await desk.request("GET", "/api/assist/consultations/c-nope/shopper", token: try await wsToken("desk", .agent, identity: "a")).status == 404)
        _ = await server.stop()
    }

    /// The shop's webhook: consultation events arrive signed (the receiver checks the HMAC), a
    /// failing receiver is retried on the schedule, and one that keeps failing is paused and
    /// resumed by an admin, its deliveries kept.
    @Test func webhooksAreSignedRetriedPausedAndResumed() async throws {
        struct Hook: Sendable {
            var timestamp: String
            var signature: String
            var body: Data
        }
        let hooks = Mutex<[Hook]>([])
        let failing = Atomic<Int>(0)  // answer 500 this many more times
        let receiver = Hummingbird.Router()
        receiver.post("hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            hooks.withLock {
                $0.append(Hook(
                    timestamp: request.headers[HTTPField.Name("X-Showroom-Timestamp")!] ?? "",
                    signature: request.headers[HTTPField.Name("X-Showroom-Signature")!] ?? "", body: Data(buffer: body)))
            }
            if failing.load(ordering: .relaxed) > 0 {
                failing.subtract(1, ordering: .relaxed)
                return Response(status: .internalServerError)
            }
            return Response(status: .ok)
        }
        try await withLoopbackRouter(receiver, label: "hook") { hookClient in
            let port = try #require(hookClient.port)
            let directory = ShowroomServerTests.temporaryDirectory()
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let store = try SQLiteAssistStore(path: directory + "/assist.sqlite")
            var configuration = WebhookOutbox.Configuration()
            configuration.retryDelays = [0.2, 0.2, 0.2]
            configuration.maximumAttempts = 3
            configuration.pauseAfterConsecutiveFailures = 3
            let webhooks = try ShopWebhooks(store: store, configuration: configuration, clock: { Date() }, logger: Logger(label: "test"))
            let secret = "a-webhook-secret-of-at-least-32-bytes!"
            _ = try await webhooks.save(WebhookEndpoint(id: "shop", url: "http://127.0.0.1:\(port)/hook", secret: secret, events: []))
            let sender = Task { await webhooks.run() }
            defer { sender.cancel() }

            // Delivered and signed.
            // Delivery is at least once: an attempt that outlives the request timeout on a busy
            // machine is sent again, so the checks count by event and wait for the outbox to empty.
            func bodies(_ event: String) -> [Data] {
                hooks.withLock { $0.map(\.body).filter { String(decoding: $0, as: UTF8.self).contains("\"event\":\"\(event)\"") } }
            }
            func settled() async -> Bool { await webhooks.status().first?.pending == 0 }
            await webhooks.publish("consultation.created", ["id": "c-1"])
            #expect(await SignalingServer.eventually(seconds: 20) { await settled() && hooks.withLock { !$0.isEmpty } })
            let first = try #require(hooks.withLock { $0.first })
            #expect(WebhookSignature.verify(signature: first.signature, secret: secret, timestamp: first.timestamp, body: Array(first.body), now: Date()))
            #expect(String(decoding: first.body, as: UTF8.self).contains("\"event\":\"consultation.created\""))

            // Two failures, then success: three attempts of the same body.
            failing.store(2, ordering: .relaxed)
            await webhooks.publish("consultation.resolved", ["id": "c-1"])
            #expect(await SignalingServer.eventually(seconds: 20) { await settled() && bodies("consultation.resolved").count >= 3 })
            let retried = bodies("consultation.resolved")
            #expect(retried.count >= 3 && Set(retried).count == 1, "every retry sends the same body (\(retried.count) attempts)")

            // Failing for good: paused after three consecutive failures; resumed, it delivers.
            failing.store(1_000, ordering: .relaxed)
            await webhooks.publish("consultation.rated", ["id": "c-1"])
            await webhooks.publish("consultation.queued", ["id": "c-2"])
            #expect(await SignalingServer.eventually(seconds: 10) { await webhooks.status().first?.endpoint.paused == true })
            let status = await webhooks.status()
            #expect(status.first?.endpoint.secret != secret, "the secret is never shown")
            #expect(status.first.map { !$0.log.isEmpty } == true)
            // A restart keeps the endpoint paused and its waiting delivery.
            let reopened = try ShopWebhooks(store: try SQLiteAssistStore(path: directory + "/assist.sqlite"), configuration: configuration, clock: { Date() }, logger: Logger(label: "test"))
            #expect(await reopened.status().first?.endpoint.paused == true)
            failing.store(0, ordering: .relaxed)
            let before = hooks.withLock { $0.count }
            try await webhooks.resume("shop")
            // The delivery that waited while paused goes out.
            #expect(await SignalingServer.eventually(seconds: 10) {
                hooks.withLock { $0.dropFirst(before).contains { String(decoding: $0.body, as: UTF8.self).contains("consultation.queued") } }
            })
        }
    }

    /// A webhook goes to the URL the admin set and nowhere else: an endpoint answering with a
    /// redirect gets no second request at the address it names; the attempt fails with the 3xx.
    @Test func aWebhookDoesNotFollowARedirect() async throws {
        let elsewhere = Atomic<Int>(0), asked = Atomic<Int>(0)
        let receiver = Hummingbird.Router()
        receiver.post("hook") { _, _ -> Response in
            asked.add(1, ordering: .relaxed)
            return Response(status: .temporaryRedirect, headers: [.location: "/elsewhere"])
        }
        receiver.post("elsewhere") { _, _ -> Response in
            elsewhere.add(1, ordering: .relaxed)
            return Response(status: .ok)
        }
        try await withLoopbackRouter(receiver, label: "hook") { hookClient in
            let port = try #require(hookClient.port)
            let directory = ShowroomServerTests.temporaryDirectory()
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var configuration = WebhookOutbox.Configuration()
            configuration.retryDelays = [0.2]
            configuration.maximumAttempts = 1
            let webhooks = try ShopWebhooks(
                store: try SQLiteAssistStore(path: directory + "/assist.sqlite"), configuration: configuration, clock: { Date() }, logger: Logger(label: "test"))
            _ = try await webhooks.save(WebhookEndpoint(id: "shop", url: "http://127.0.0.1:\(port)/hook", secret: "a-webhook-secret-of-at-least-32-bytes!", events: []))
            let sender = Task { await webhooks.run() }
            await webhooks.publish("consultation.created", ["id": "c-1"])
            #expect(await SignalingServer.eventually(seconds: 20) { await webhooks.status().first?.pending == 0 && asked.load(ordering: .relaxed) >= 1 })
            #expect(elsewhere.load(ordering: .relaxed) == 0, "the redirect was followed")
            #expect(await webhooks.status().first?.log.contains { $0.status == 307 } == true)
            sender.cancel()
            _ = await sender.value
        }
    }
}
