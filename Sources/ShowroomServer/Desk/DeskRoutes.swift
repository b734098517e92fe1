import Desk
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import ShowroomCore

/// The desk's HTTP API (docs/desk.md, "HTTP API"): shoppers open and follow their consultation,
/// agents work from a stream of notices and a handful of commands, admins configure departments,
/// agents and the FAQ. Every request carries a Bearer token; desk-wide tokens name the room
/// ``DeskService/room``.
enum DeskRoutes {
    /// Request bodies are small JSON documents; an FAQ file is the largest.
    static let maximumBody = 64 * 1_024
    static let maximumFAQBody = 1 << 20
    /// A comment line on an idle workspace stream, so that proxies and the client see it is alive.
    static let keepAlive: Duration = .seconds(15)

    static func add(to router: Hummingbird.Router<BasicRequestContext>, desk: DeskService, auth: TokenAuthority) {
        // Shoppers: a token for the consultation's room.
        router.post("api/consultations") { request, context -> Response in
            let token = try await authorize(request, auth: auth, role: .shopper, room: nil)
            let body = try await decode(OpenRequest.self, request, context, limit: maximumBody)
            let view = try await run { () async throws(DeskError) in
                try await desk.open(
                    shopper: token.sub.value, room: token.room, name: body.name ?? "", department: body.department,
                    context: body.context ?? ConsultationContext(), priority: token.tier == "vip" ? DeskService.vipPriority : 0)
            }
            return try json(view, status: .created)
        }
        router.get("api/consultations/:id") { request, context -> Response in
            let (identity, role) = try await deskViewer(request, auth: auth)
            let id = try context.parameters.require("id")
            let viewer: DeskService.Viewer =
                switch role {
                case .shopper: .shopper(identity ?? "")
                case .agent: .agent(identity ?? "")
                default: .admin
                }
            return try json(try await run { () async throws(DeskError) in try await desk.consultation(id, viewer: viewer) })
        }
        router.post("api/consultations/:id/leave-message") { request, context -> Response in
            let token = try await authorize(request, auth: auth, role: .shopper, room: nil)
            let id = try context.parameters.require("id")
            return try json(try await run { () async throws(DeskError) in try await desk.leaveMessage(id, shopper: token.sub.value) })
        }
        router.post("api/consultations/:id/close") { request, context -> Response in
            let token = try await authorize(request, auth: auth, role: .shopper, room: nil)
            let id = try context.parameters.require("id")
            return try json(try await run { () async throws(DeskError) in try await desk.close(id, shopper: token.sub.value) })
        }
        router.post("api/consultations/:id/rating") { request, context -> Response in
            let token = try await authorize(request, auth: auth, role: .shopper, room: nil)
            let id = try context.parameters.require("id")
            let body = try await decode(RatingRequest.self, request, context, limit: maximumBody)
            try await run { () async throws(DeskError) in try await desk.rate(id, shopper: token.sub.value, score: body.score) }
            return Response(status: .noContent)
        }

        // Agents: an agent token for the room "desk".
        router.get("api/desk/events") { request, _ -> Response in
            let token = try await authorize(request, auth: auth, role: .agent, room: DeskService.room)
            let notices = try await run { () async throws(DeskError) in try await desk.connect(agent: token.sub.value) }
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                body: ResponseBody { writer in
                    let encoder = JSONEncoder()
                    encoder.dateEncodingStrategy = .iso8601
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        let (lines, sink) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(DeskService.streamBuffer))
                        group.addTask {
                            for await n in notices {
                                let data = (try? encoder.encode(n)) ?? Data()
                                sink.yield("event: \(n.type.rawValue)\ndata: \(String(decoding: data, as: UTF8.self))\n\n")
                            }
                            sink.finish()
                        }
                        group.addTask {
                            while !Task.isCancelled {
                                try await Task.sleep(for: keepAlive)
                                sink.yield(": keep-alive\n\n")
                            }
                        }
                        // The server stopping ends the stream (the workspace reconnects to the next one).
                        try await withGracefulShutdownHandler {
                            for await line in lines { try await writer.write(ByteBuffer(string: line)) }
                        } onGracefulShutdown: {
                            sink.finish()
                        }
                        group.cancelAll()
                    }
                    try await writer.finish(nil)
                })
        }
        router.post("api/desk/presence") { request, context -> Response in
            let token = try await authorize(request, auth: auth, role: .agent, room: DeskService.room)
            let body = try await decode(PresenceRequest.self, request, context, limit: maximumBody)
            await desk.setPresence(agent: token.sub.value, body.presence)
            return Response(status: .noContent)
        }
        router.get("api/desk/queue/:department") { request, context -> Response in
            let token = try await authorize(request, auth: auth, role: .agent, room: DeskService.room)
            let department = try context.parameters.require("department")
            let serves = await desk.serves(token.sub.value, department: department)
            let supervises = await desk.isSupervisor(token.sub.value)
            guard serves || supervises else {
                throw HTTPError(.forbidden, message: "not_allowed: \(token.sub.value) does not serve \(department)")
            }
            return try json(await desk.queue(department))
        }
        router.get("api/desk/messages/:department") { request, context -> Response in
            let token = try await authorize(request, auth: auth, role: .agent, room: DeskService.room)
            let department = try context.parameters.require("department")
            let serves = await desk.serves(token.sub.value, department: department)
            let supervises = await desk.isSupervisor(token.sub.value)
            guard serves || supervises else {
                throw HTTPError(.forbidden, message: "not_allowed: \(token.sub.value) does not serve \(department)")
            }
            return try json(await desk.leftMessages(department))
        }
        router.get("api/desk/overview") { request, _ -> Response in
            try await authorizeReader(request, auth: auth, desk: desk)
            return try json(await desk.overview())
        }
        // Reports: admins, and supervisors (an agent token for "desk" of a supervisor).
        router.get("api/reports/desk") { request, _ -> Response in
            try await authorizeReader(request, auth: auth, desk: desk)
            let now = Date()
            let from = try date(request, "from") ?? now.addingTimeInterval(-86_400)
            let to = try date(request, "to") ?? now
            return try json(try await run { () async throws(DeskError) in try await desk.report(from: from, to: to) })
        }
        router.get("api/reports/forecast") { request, _ -> Response in
            try await authorizeReader(request, auth: auth, desk: desk)
            let department: String = request.uri.queryParameters.get("department") ?? "sales"
            let daysText: String = request.uri.queryParameters.get("days") ?? "7"
            guard let days = Int(daysText), (1...28).contains(days) else { throw HTTPError(.badRequest, message: "invalid_argument: days is 1 to 28") }
            let zoneName: String = request.uri.queryParameters.get("tz") ?? "UTC"
            guard let zone = TimeZone(identifier: zoneName) else { throw HTTPError(.badRequest, message: "invalid_argument: no time zone \(zoneName)") }
            return try json(try await run { () async throws(DeskError) in try await desk.forecast(department: department, days: days, timeZone: zone) })
        }
        router.post("api/desk/consultations/:id/:command") { request, context -> Response in
            let token = try await authorize(request, auth: auth, role: .agent, room: DeskService.room)
            let id = try context.parameters.require("id"), command = try context.parameters.require("command")
            let agent = token.sub.value
            let body = try await decodeOptional(CommandRequest.self, request, limit: maximumBody)
            try await run { () async throws(DeskError) in
                switch command {
                case "accept": try await desk.accept(id, agent: agent)
                case "decline": try await desk.decline(id, agent: agent)
                case "pick": try await desk.pick(id, agent: agent)
                case "resolve": try await desk.resolve(id, agent: agent)
                case "hold": try await desk.hold(id, agent: agent, on: true)
                case "resume": try await desk.hold(id, agent: agent, on: false)
                case "requeue": try await desk.requeue(id, agent: agent, department: body?.department, note: body?.note)
                case "transfer":
                    guard let to = body?.agent else { throw DeskError(.invalidArgument, "transfer needs {\"agent\": …}") }
                    try await desk.transfer(id, from: agent, to: to, note: body?.note)
                default: throw DeskError(.notFound, "no command \(command)")
                }
            }
            return try json(try await run { () async throws(DeskError) in try await desk.consultation(id, viewer: .admin) })
        }

        // External bots: a bot token for the room "desk" (docs/desk.md, "External bot").
        router.post("api/bot/consultations/:id/reply") { request, context -> Response in
            let token = try await authorize(request, auth: auth, role: .bot, room: DeskService.room)
            let id = try context.parameters.require("id")
            let body = try await decode(BotReplyRequest.self, request, context, limit: maximumBody)
            try await run { () async throws(DeskError) in try await desk.botReply(id, bot: token.sub.value, text: body.text) }
            return Response(status: .noContent)
        }
        router.post("api/bot/consultations/:id/handoff") { request, context -> Response in
            try await authorize(request, auth: auth, role: .bot, room: DeskService.room)
            let id = try context.parameters.require("id")
            let body = try await decodeOptional(BotHandOffRequest.self, request, limit: maximumBody)
            try await run { () async throws(DeskError) in try await desk.botHandOff(id, reason: body?.reason ?? .notConfident) }
            return try json(try await run { () async throws(DeskError) in try await desk.consultation(id, viewer: .admin) })
        }

        // Admins: an admin token for the room "desk".
        router.get("api/admin/departments") { request, _ -> Response in
            try await authorize(request, auth: auth, role: .admin, room: DeskService.room)
            return try json(await desk.departments())
        }
        router.put("api/admin/departments/:id") { request, context -> Response in
            try await authorize(request, auth: auth, role: .admin, room: DeskService.room)
            let d = try await decode(Department.self, request, id: try context.parameters.require("id"), limit: maximumBody)
            try await run { () async throws(DeskError) in try await desk.save(department: d) }
            return try json(d)
        }
        router.get("api/admin/agents") { request, _ -> Response in
            try await authorize(request, auth: auth, role: .admin, room: DeskService.room)
            return try json(await desk.agents())
        }
        router.put("api/admin/agents/:id") { request, context -> Response in
            try await authorize(request, auth: auth, role: .admin, room: DeskService.room)
            let a = try await decode(AgentProfile.self, request, id: try context.parameters.require("id"), limit: maximumBody)
            try await run { () async throws(DeskError) in try await desk.save(agent: a) }
            return try json(a)
        }
        router.get("api/admin/faq") { request, _ -> Response in
            try await authorize(request, auth: auth, role: .admin, room: DeskService.room)
            return try json(await desk.currentFAQ())
        }
        router.put("api/admin/faq") { request, _ -> Response in
            try await authorize(request, auth: auth, role: .admin, room: DeskService.room)
            let data = try await request.body.collect(upTo: maximumFAQBody)
            try await run { () async throws(DeskError) in
                let faq = try FAQ(json: Data(buffer: data))
                try await desk.replace(faq: faq)
            }
            return Response(status: .noContent)
        }
    }

    // MARK: Bodies

    struct OpenRequest: Decodable {
        var department: String?
        var name: String?
        var context: ConsultationContext?
    }
    struct RatingRequest: Decodable { var score: Int }
    struct BotReplyRequest: Decodable { var text: String }
    struct BotHandOffRequest: Decodable { var reason: HandOffReason? }
    struct PresenceRequest: Decodable { var presence: AgentPresence }
    struct CommandRequest: Decodable {
        var department: String?
        var agent: String?
        /// For the next agent (transfer, requeue).
        var note: String?
    }

    // MARK: Helpers

    /// 401 without a valid token; 403 for another role, or (with `room`) another room.
    @discardableResult
    static func authorize(_ request: Request, auth: TokenAuthority, role: Role, room: String?) async throws -> AccessToken {
        let token = try await bearer(request, auth: auth)
        if let room, token.room != room { throw HTTPError(.forbidden, message: "the token is for room \(token.room), not \(room)") }
        guard token.role == role else { throw HTTPError(.forbidden, message: "a \(token.role.rawValue) token cannot do this; it needs \(role.rawValue)") }
        return token
    }

    /// Reports are for admins and supervisors (tokens for "desk").
    static func authorizeReader(_ request: Request, auth: TokenAuthority, desk: DeskService) async throws {
        let token = try await bearer(request, auth: auth)
        let supervises = await desk.isSupervisor(token.sub.value)
        guard token.room == DeskService.room, token.role == .admin || (token.role == .agent && supervises) else {
            throw HTTPError(.forbidden, message: "not_allowed: reports are for supervisors and admins")
        }
    }

    /// An ISO 8601 date from the query, nil when absent, 400 when malformed.
    static func date(_ request: Request, _ name: String) throws -> Date? {
        guard let text: String = request.uri.queryParameters.get(name) else { return nil }
        guard let d = try? Date(text, strategy: .iso8601) else {
            throw HTTPError(.badRequest, message: "invalid_argument: \(name) must be an ISO 8601 date-time (2026-12-01T00:00:00Z)")
        }
        return d
    }

    /// Who reads a consultation: its shopper (shopper token), or an agent or admin (token for
    /// "desk"; an admin sees all, nil).
    static func deskViewer(_ request: Request, auth: TokenAuthority) async throws -> (String?, Role) {
        let token = try await bearer(request, auth: auth)
        switch token.role {
        case .shopper: return (token.sub.value, .shopper)
        case .agent where token.room == DeskService.room: return (token.sub.value, .agent)
        case .admin where token.room == DeskService.room: return (nil, .admin)
        default: throw HTTPError(.forbidden, message: "a \(token.role.rawValue) token cannot read consultations")
        }
    }

    /// The request's Bearer token, checked (401 with the reason otherwise).
    static func bearer(_ request: Request, auth: TokenAuthority) async throws -> AccessToken {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: "an Authorization: Bearer token is required")
        }
        do {
            return try await auth.verify(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        } catch {
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: error.detail)
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: BasicRequestContext, limit: Int) async throws -> T {
        let buffer = try await request.body.collect(upTo: limit)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: buffer))
        } catch {
            throw HTTPError(.badRequest, message: "invalid_argument: the body is not a valid \(T.self) (\(Self.describe(error)))")
        }
    }

    /// A JSON object for a resource named by the path: its `id` is the path's (one in the body is
    /// replaced), then decoded as `T`.
    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, id: String, limit: Int) async throws -> T {
        let buffer = try await request.body.collect(upTo: limit)
        do {
            guard var object = try JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] else {
                throw HTTPError(.badRequest, message: "invalid_argument: the body must be a JSON object")
            }
            object["id"] = id
            return try JSONDecoder().decode(T.self, from: try JSONSerialization.data(withJSONObject: object))
        } catch let e as HTTPError {
            throw e
        } catch {
            throw HTTPError(.badRequest, message: "invalid_argument: the body is not a valid \(T.self) (\(Self.describe(error)))")
        }
    }

    /// A decoding error as a reason a client can act on: the field and what was wrong.
    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "\(key.stringValue) is missing"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            "\(c.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case DecodingError.dataCorrupted(let c): "\(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
        default: "not JSON"
        }
    }

    /// As ``decode(_:_:_:limit:)``, but an empty body is nil.
    static func decodeOptional<T: Decodable>(_ type: T.Type, _ request: Request, limit: Int) async throws -> T? {
        let buffer = try await request.body.collect(upTo: limit)
        if buffer.readableBytes == 0 { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: buffer))
        } catch {
            throw HTTPError(.badRequest, message: "invalid_argument: the body is not a valid \(T.self)")
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// Runs a desk call; a ``DeskError`` becomes its HTTP status with `code: reason`.
    @discardableResult
    static func run<T>(_ body: () async throws(DeskError) -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw HTTPError(error.httpStatus, message: "\(error.code.rawValue): \(error.detail)")
        }
    }
}
