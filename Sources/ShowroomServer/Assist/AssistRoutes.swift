import Assist
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Agent assist's HTTP API (docs/assist.md, "HTTP API"). The shop's backend (role `shop`) pushes
/// the catalog and shopper events and reports conversions; agents (role `agent`, room "desk")
/// read the open consultation's profile, recommendations, scripts, flow and hints and send
/// tracked product cards and clips; admins manage scripts, flows, hint rules and webhooks;
/// supervisors and admins read the conversion report. Every token names the room "desk", except
/// the shopper's click report (the consultation's room).
enum AssistRoutes {
    /// A catalog file may be large (100,000 products is ~20 MB of CSV); everything else is small.
    static let maximumCatalogBody = CatalogImport.maximumBodyBytes
    static let maximumEventsBody = 8 << 20
    static let maximumBody = 1 << 20

    static func add(to router: Hummingbird.Router<BasicRequestContext>, assist: AssistService, desk: DeskService, auth: TokenAuthority) {
        // MARK: The shop's backend
        for (method, replace) in [(HTTPRequest.Method.put, true), (.post, false)] {
            router.on("api/shop/catalog", method: method) { request, context -> Response in
                try await DeskRoutes.authorize(request, auth: auth, role: .shop, room: DeskService.room)
                let format = try catalogFormat(request)
                let body = try await request.body.collect(upTo: maximumCatalogBody)
                // Parsed here, on the request's task: seconds for a large file, and not on the actor.
                let started = ContinuousClock.now
                let parsed = try await run { () async throws(AssistError) in try CatalogImport(Data(buffer: body), format: format) }
                let parse = ContinuousClock.now - started
                let report = try await run { () async throws(AssistError) in
                    try await assist.importCatalog(
                        parsed, replace: replace, parseSeconds: Double(parse.components.seconds) + Double(parse.components.attoseconds) / 1e18)
                }
                return try DeskRoutes.json(report)
            }
        }
        router.patch("api/shop/stock") { request, context -> Response in
            try await DeskRoutes.authorize(request, auth: auth, role: .shop, room: DeskService.room)
            let updates = try await DeskRoutes.decode([StockUpdate].self, request, context, limit: maximumBody)
            try await run { () async throws(AssistError) in try await assist.setStock(updates) }
            return Response(status: .noContent)
        }
        router.get("api/shop/catalog/:sku") { request, context -> Response in
            try await readerOfCatalog(request, auth: auth)
            let sku = try context.parameters.require("sku")
            return try DeskRoutes.json(try await run { () async throws(AssistError) in try await assist.product(sku: sku) })
        }
        router.get("api/shop/catalog") { request, context -> Response in
            try await readerOfCatalog(request, auth: auth)
            let limit = request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 50
            return try DeskRoutes.json(await assist.products(category: request.uri.queryParameters.get("category"), limit: limit))
        }
        router.post("api/shop/events") { request, context -> Response in
            try await DeskRoutes.authorize(request, auth: auth, role: .shop, room: DeskService.room)
            let body = try await DeskRoutes.decode(EventsRequest.self, request, context, limit: maximumEventsBody)
            let n = try await run { () async throws(AssistError) in try await assist.record(body.events) }
            return try DeskRoutes.json(["recorded": n])
        }
        router.post("api/shop/conversions") { request, context -> Response in
            try await DeskRoutes.authorize(request, auth: auth, role: .shop, room: DeskService.room)
            let body = try await DeskRoutes.decode(ConversionRequest.self, request, context, limit: maximumBody)
            let report = ConversionReport(
                kind: body.kind, token: body.token, orderID: body.orderId, reportID: body.reportId, amountMinor: body.amountMinor ?? 0,
                currency: body.currency, at: try body.time(), consultation: body.consultation)
            return try DeskRoutes.json(try await run { () async throws(AssistError) in try await assist.conversion(report) })
        }

        // MARK: The shopper's widget: a tracked card's click
        router.post("api/track/click") { request, context -> Response in
            let token = try await DeskRoutes.authorize(request, auth: auth, role: .shopper, room: nil)
            let body = try await DeskRoutes.decode(ClickRequest.self, request, context, limit: 8 * 1_024)
            let outcome = try await run { () async throws(AssistError) in
                try await assist.click(token: body.token, shopper: token.sub.value, room: token.room)
            }
            return try DeskRoutes.json(outcome)
        }

        // MARK: Agents, in an open consultation
        router.get("api/assist/scripts") { request, context -> Response in
            let agent = try await agentToken(request, auth: auth)
            let q = request.uri.queryParameters.get("q") ?? ""
            let id = request.uri.queryParameters.get("consultation")
            return try DeskRoutes.json(try await run { () async throws(AssistError) in
                try await assist.searchScripts(String(q.prefix(200)), consultation: id.map { String($0) }, agent: agent)
            })
        }
        router.post("api/assist/consultations/:id/render") { request, context -> Response in
            let agent = try await agentToken(request, auth: auth)
            let id = try context.parameters.require("id")
            let body = try await DeskRoutes.decode(RenderRequest.self, request, context, limit: maximumBody)
            return try DeskRoutes.json(try await run { () async throws(AssistError) in
                try await assist.render(shortCode: body.shortCode, consultation: id, agent: agent, product: body.sku)
            })
        }
        router.get("api/assist/consultations/:id/shopper") { request, context -> Response in
            let agent = try await agentToken(request, auth: auth)
            let id = try context.parameters.require("id")
            return try DeskRoutes.json(try await run { () async throws(AssistError) in try await assist.shopper(consultation: id, agent: agent) })
        }
        router.get("api/assist/consultations/:id/recommendations") { request, context -> Response in
            let agent = try await agentToken(request, auth: auth)
            let id = try context.parameters.require("id")
            let limit = request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 8
            return try DeskRoutes.json(try await run { () async throws(AssistError) in
                try await assist.recommendations(consultation: id, agent: agent, limit: limit)
            })
        }
        router.post("api/assist/consultations/:id/hints") { request, context -> Response in
            let agent = try await agentToken(request, auth: auth)
            let id = try context.parameters.require("id")
            let body = try await DeskRoutes.decodeOptional(HintsRequest.self, request, limit: 32 * 1_024)
            return try DeskRoutes.json(try await run { () async throws(AssistError) in
                try await assist.hints(consultation: id, agent: agent, draft: body?.draft)
            })
        }
        router.get("api/assist/consultations/:id/flow") { request, context -> Response in
            let agent = try await agentToken(request, auth: auth)
            let id = try context.parameters.require("id")
            let flow = try await run { () async throws(AssistError) in try await assist.flow(consultation: id, agent: agent) }
            guard let flow else { return Response(status: .noContent) }
            return try DeskRoutes.json(flow)
        }
        router.post("api/assist/consultations/:id/flow") { request, context -> Response in
            let agent = try await agentToken(request, auth: auth)
            let id = try context.parameters.require("id")
            let body = try await DeskRoutes.decodeOptional(FlowRequest.self, request, limit: maximumBody)
            return try DeskRoutes.json(try await run { () async throws(AssistError) in
                try await assist.moveFlow(consultation: id, agent: agent, to: body?.step, back: body?.back ?? false)
            })
        }
        router.post("api/assist/consultations/:id/send-product") { request, context -> Response in
            let agent = try await agentToken(request, auth: auth)
            let id = try context.parameters.require("id")
            let body = try await DeskRoutes.decode(SendRequest.self, request, context, limit: maximumBody)
            let base = linkBase(request)
            let m = try await run { () async throws(AssistError) in
                try await assist.sendProduct(body.sku, consultation: id, agent: agent, linkBase: base)
            }
            return try DeskRoutes.json(["seq": m.seq], status: .created)
        }
        router.post("api/assist/consultations/:id/send-coupon") { request, context -> Response in
            let agent = try await agentToken(request, auth: auth)
            let id = try context.parameters.require("id")
            let body = try await DeskRoutes.decode(CouponRequest.self, request, context, limit: maximumBody)
            let m = try await run { () async throws(AssistError) in
                try await assist.sendCoupon(code: body.code, description: body.description ?? "", consultation: id, agent: agent)
            }
            return try DeskRoutes.json(["seq": m.seq], status: .created)
        }
        router.post("api/assist/consultations/:id/send-video") { request, context -> Response in
            let agent = try await agentToken(request, auth: auth)
            let id = try context.parameters.require("id")
            let body = try await DeskRoutes.decode(SendRequest.self, request, context, limit: maximumBody)
            let m = try await run { () async throws(AssistError) in
                try await assist.sendVideo(body.sku, index: body.index ?? 0, consultation: id, agent: agent)
            }
            return try DeskRoutes.json(["seq": m.seq], status: .created)
        }

        // MARK: Admins: scripts and flows, hint rules, webhooks
        router.get("api/admin/scripts") { request, _ -> Response in
            try await DeskRoutes.authorize(request, auth: auth, role: .admin, room: DeskService.room)
            return try DeskRoutes.json(await assist.scriptFile())
        }
        router.put("api/admin/scripts") { request, _ -> Response in
            try await DeskRoutes.authorize(request, auth: auth, role: .admin, room: DeskService.room)
            let body = try await request.body.collect(upTo: maximumBody)
            return try DeskRoutes.json(try await run { () async throws(AssistError) in try await assist.importScripts(Data(buffer: body)) })
        }
        router.put("api/admin/scripts/:id") { request, context -> Response in
            try await DeskRoutes.authorize(request, auth: auth, role: .admin, room: DeskService.room)
            let id = try context.parameters.require("id")
            let script = try await DeskRoutes.decode(Script.self, request, id: id, limit: maximumBody)
            return try DeskRoutes.json(try await run { () async throws(AssistError) in try await assist.save(script: script) })
        }
        router.delete("api/admin/scripts/:id") { request, context -> Response in
            try await DeskRoutes.authorize(request, auth: auth, role: .admin, room: DeskService.room)
            let id = try context.parameters.require("id")
            try await run { () async throws(AssistError) in try await assist.deleteScript(id: id) }
            return Response(status: .noContent)
        }
        router.get("api/admin/hints") { request, _ -> Response in
            try await DeskRoutes.authorize(request, auth: auth, role: .admin, room: DeskService.room)
            return try DeskRoutes.json(await assist.hintRules())
        }
        router.put("api/admin/hints") { request, _ -> Response in
            try await DeskRoutes.authorize(request, auth: auth, role: .admin, room: DeskService.room)
            let body = try await request.body.collect(upTo: maximumBody)
            return try DeskRoutes.json(try await run { () async throws(AssistError) in try await assist.replaceHintRules(Data(buffer: body)) })
        }
        router.get("api/admin/webhooks") { request, _ -> Response in
            try await DeskRoutes.authorizeReader(request, auth: auth, desk: desk)
            return try DeskRoutes.json(await assist.webhooks.status())
        }
        router.put("api/admin/webhooks/:id") { request, context -> Response in
            try await DeskRoutes.authorize(request, auth: auth, role: .admin, room: DeskService.room)
            let id = try context.parameters.require("id")
            let endpoint = try await DeskRoutes.decode(WebhookEndpoint.self, request, id: id, limit: maximumBody)
            return try DeskRoutes.json(try await run { () async throws(AssistError) in try await assist.webhooks.save(endpoint) })
        }
        router.delete("api/admin/webhooks/:id") { request, context -> Response in
            try await DeskRoutes.authorize(request, auth: auth, role: .admin, room: DeskService.room)
            let id = try context.parameters.require("id")
            try await run { () async throws(AssistError) in try await assist.webhooks.delete(id) }
            return Response(status: .noContent)
        }
        router.post("api/admin/webhooks/:id/resume") { request, context -> Response in
            try await DeskRoutes.authorize(request, auth: auth, role: .admin, room: DeskService.room)
            let id = try context.parameters.require("id")
            try await run { () async throws(AssistError) in try await assist.webhooks.resume(id) }
            return Response(status: .noContent)
        }

        // MARK: Reports (supervisors and admins)
        router.get("api/reports/conversions") { request, _ -> Response in
            try await DeskRoutes.authorizeReader(request, auth: auth, desk: desk)
            let to = try DeskRoutes.date(request, "to") ?? Date()
            let from = try DeskRoutes.date(request, "from") ?? to.addingTimeInterval(-7 * 86_400)
            guard from < to, to.timeIntervalSince(from) <= 366 * 86_400 else {
                throw HTTPError(.badRequest, message: "invalid_argument: from must be before to, at most 366 days apart")
            }
            return try DeskRoutes.json(try await assist.conversionReport(from: from, to: to))
        }
        router.get("api/reports/hints") { request, _ -> Response in
            try await DeskRoutes.authorizeReader(request, auth: auth, desk: desk)
            return try DeskRoutes.json(await assist.hintCounts())
        }
    }

    // MARK: Request bodies

    struct EventsRequest: Decodable { var events: [ShopperEvent] }
    struct ClickRequest: Decodable { var token: String }
    /// A conversion as the shop reports it (docs/assist.md, "Conversions"); `at` defaults to now.
    struct ConversionRequest: Decodable {
        var kind: ConversionKind
        var token: String?
        var orderId: String?
        var reportId: String?
        var amountMinor: Int64?
        var currency: String?
        /// ISO 8601 (`2026-12-01T10:00:00Z`); now when absent.
        var at: String?
        var consultation: String?

        func time() throws -> Date {
            guard let at else { return Date() }
            guard let d = try? Date(at, strategy: .iso8601) else {
                throw HTTPError(.badRequest, message: "invalid_argument: at must be an ISO 8601 date-time (2026-12-01T10:00:00Z)")
            }
            return d
        }
    }
    struct CouponRequest: Decodable {
        var code: String
        var description: String?
    }
    struct RenderRequest: Decodable {
        var shortCode: String
        var sku: String?
    }
    struct HintsRequest: Decodable { var draft: String? }
    struct FlowRequest: Decodable {
        var step: String?
        var back: Bool?
    }
    struct SendRequest: Decodable {
        var sku: String
        var index: Int?
    }

    // MARK: Helpers

    /// CSV (`text/csv`) or JSON (anything else that says json); 415 otherwise.
    static func catalogFormat(_ request: Request) throws -> CatalogImport.Format {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        if type.hasPrefix("text/csv") { return .csv }
        if type.contains("json") { return .json }
        throw HTTPError(.unsupportedMediaType, message: "invalid_argument: send the catalog as text/csv or application/json")
    }

    /// The catalog is read by the shop and by agents.
    static func readerOfCatalog(_ request: Request, auth: TokenAuthority) async throws {
        let token = try await DeskRoutes.bearer(request, auth: auth)
        guard token.room == DeskService.room, token.role == .shop || token.role == .agent || token.role == .admin else {
            throw HTTPError(.forbidden, message: "not_allowed: the catalog is for the shop, its agents and admins")
        }
    }

    static func agentToken(_ request: Request, auth: TokenAuthority) async throws -> String {
        try await DeskRoutes.authorize(request, auth: auth, role: .agent, room: DeskService.room).sub.value
    }

    /// Where a product without a page of its own links to: this server's demo shop page, named by
    /// the request's Host (the page the workspace was loaded from).
    static func linkBase(_ request: Request) -> String {
        let host = request.head.authority ?? "127.0.0.1"
        let safe = host.allSatisfy { $0.isLetter || $0.isNumber || ".-:[]".contains($0) } ? host : "127.0.0.1"
        return "http://" + safe
    }

    @discardableResult
    static func run<T>(_ body: () async throws(AssistError) -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw HTTPError(error.httpStatus, message: "\(error.code.rawValue): \(error.detail)")
        }
    }
}
