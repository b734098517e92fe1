import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PostgresStores
import Relay
import ShowroomCore

/// WHIP (RFC 9725) and WHEP endpoints: an SDP offer in, `201 Created` with the answer and a
/// `Location` for the session out; `DELETE` on the location ends it. With TURN configured, the
/// answer names the TURN servers and this identity's credentials in `Link` headers
/// ([RFC 9725 §4.6](https://www.rfc-editor.org/rfc/rfc9725#section-4.6)), and
/// `GET /ice-servers/{room}` hands them out as JSON before the offer is made — a browser needs
/// them when it creates its peer connection, before it has an answer to read headers from.
enum WHIPRoutes {
    /// Largest SDP offer accepted (a few tracks take a few kilobytes).
    static let maxOfferBytes = 64 * 1_024

    static let link = HTTPField.Name("Link")!

    /// What `GET /ice-servers/{room}` answers: `{"iceServers":[{"urls":[…],"username":…,"credential":…}]}`,
    /// an empty list when no TURN server is configured.
    struct ICEServers: ResponseEncodable {
        var iceServers: [ICEServer]
    }

    static func add(
        to router: Router<BasicRequestContext>, relay: RelayServer, auth: TokenAuthority, turn: TURNCredentials? = nil,
        cluster: ClusterMembership? = nil, pipes: NodePipes? = nil
    ) {
        router.post("whip/:room") { request, context in
            try await open(request, context, relay: relay, auth: auth, turn: turn, cluster: cluster, publishing: true)
        }
        router.post("whep/:room") { request, context in
            try await open(request, context, relay: relay, auth: auth, turn: turn, cluster: cluster, pipes: pipes, publishing: false)
        }
        // Any token for the room (every role may watch) gets credentials in its own identity.
        router.get("ice-servers/:room") { request, context -> ICEServers in
            let room = try context.parameters.require("room")
            guard validRoom(room) else { throw HTTPError(.badRequest, message: RoomName.rule) }
            let token = try await authorize(request, auth: auth, room: room, role: .viewer)
            return ICEServers(iceServers: turn?.iceServers(for: token.sub.value, now: Date()) ?? [])
        }
        for kind in ["whip", "whep"] {
            router.delete("\(kind)/:room/:session") { request, context -> Response in
                let room = try context.parameters.require("room"), resource = try context.parameters.require("session")
                let token = try await authorize(request, auth: auth, room: room, role: kind == "whip" ? .publisher : .viewer)
                // Only the identity that opened the session ends it, through the endpoint that made it.
                do throws(RelayError) {
                    try await relay.close(room: room, resource: resource, publishing: kind == "whip", identity: token.sub.value)
                } catch {
                    throw HTTPError(error.httpStatus, message: error.detail)
                }
                return Response(status: .ok)
            }
            // Trickle ICE and ICE restarts by PATCH (RFC 9725 §4.3) are not supported: all our
            // candidates are in the answer, and an ICE-lite server needs none of the client's.
            router.patch("\(kind)/:room/:session") { _, _ -> Response in
                var headers = HTTPFields()
                headers[.allow] = "DELETE, OPTIONS"
                return Response(status: .methodNotAllowed, headers: headers)
            }
        }
    }

    static func validRoom(_ room: String) -> Bool { RoomName.isValid(room) }

    /// The room's node when it is another one (nil: this node's, or no node is live yet, so it is
    /// served here); `503 storage` when the database cannot say.
    static func home(of room: String, cluster: ClusterMembership?) async throws -> String? {
        do { return try await cluster?.elsewhere(room) } catch {
            throw HTTPError(.serviceUnavailable, message: "storage: where room \(room) lives is unknown now (\(error.description)); retry shortly")
        }
    }

    /// In a cluster, a room's publishers are on one node: a WHIP offer that reached another — and
    /// a WHEP offer that this node cannot serve from a pipe (``NodePipes``) — gets
    /// `307 Temporary Redirect` to the same path and query on the room's node
    /// ([RFC 9725 §4.5](https://www.rfc-editor.org/rfc/rfc9725#section-4.5): clients follow a 307,
    /// which keeps the method and the body).
    ///
    /// The redirect's URL carries a ticket (`ticket=`: ``TokenAuthority/ticket(for:role:)``, 60 s,
    /// this room and role only) in place of the `Authorization` header, which browsers drop when a
    /// redirect leads to another origin (`ClusterBrowserTests` saw Chromium send none).
    static func redirect(_ request: Request, to home: String, token: AccessToken, role: Role, auth: TokenAuthority) async throws -> Response {
        let ticket = try await auth.ticket(for: token, role: role)
        // The query as sent, without a ticket of its own (one redirect's ticket is not carried on).
        let query = (request.uri.query ?? "").split(separator: "&").filter { !$0.hasPrefix("ticket=") && $0 != "ticket" }
        var headers = HTTPFields()
        headers[.location] = home + request.uri.path + "?" + (query + ["ticket=\(ticket)"]).joined(separator: "&")
        return Response(status: .temporaryRedirect, headers: headers)
    }

    /// 401 for a missing, forged or expired token, 403 for one of another room or role: before the
    /// body is read or anything else happens. With `ticket`, a request without an `Authorization`
    /// header may bring a redirect ticket in its query instead (``redirect(_:room:token:role:auth:cluster:)``),
    /// and only such a ticket.
    @discardableResult
    static func authorize(_ request: Request, auth: TokenAuthority, room: String, role: Role, ticket: Bool = false) async throws -> AccessToken {
        do throws(AuthError) {
            if ticket, request.headers[.authorization] == nil, let value = request.uri.queryParameters.get("ticket") {
                return try await auth.authorize("Bearer " + value, room: room, role: role, purpose: AccessToken.redirectTicket)
            }
            return try await auth.authorize(request.headers[.authorization], room: room, role: role)
        } catch {
            switch error.code {
            case .unauthorized:
                var headers = HTTPFields()
                headers[.wwwAuthenticate] = "Bearer"
                throw HTTPError(.unauthorized, headers: headers, message: error.detail)
            case .forbidden:
                throw HTTPError(.forbidden, message: error.detail)
            }
        }
    }

    static func open(
        _ request: Request, _ context: BasicRequestContext, relay: RelayServer, auth: TokenAuthority, turn: TURNCredentials?,
        cluster: ClusterMembership? = nil, pipes: NodePipes? = nil, publishing: Bool
    ) async throws -> Response {
        let room = try context.parameters.require("room")
        guard validRoom(room) else { throw HTTPError(.badRequest, message: RoomName.rule) }
        let role: Role = publishing ? .publisher : .viewer
        let token = try await authorize(request, auth: auth, room: room, role: role, ticket: cluster != nil)
        let home = try await home(of: room, cluster: cluster)
        // A publisher goes to the room's node; a viewer is served here from a pipe, when there is one.
        if let home, publishing || pipes == nil { return try await redirect(request, to: home, token: token, role: role, auth: auth) }
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/sdp") == true else {
            throw HTTPError(.unsupportedMediaType, message: "the offer must be sent as application/sdp")
        }
        let body = request.body
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: maxOfferBytes)
        } catch is NIOTooManyBytesError {
            throw HTTPError(.contentTooLarge, message: "SDP offers are limited to \(maxOfferBytes) bytes")
        }
        let offer = String(buffer: buffer)
        let kind = publishing ? "whip" : "whep"
        let qualityName = request.uri.queryParameters.get("quality") ?? "source"
        guard let quality = Quality(rawValue: qualityName), publishing == false || quality == .source else {
            throw HTTPError(.badRequest, message: "quality must be source, medium or low (and only watching can ask for one)")
        }
        let adaptiveName = request.uri.queryParameters.get("adaptive") ?? "1"
        guard let adaptive = ["1": true, "true": true, "0": false, "false": false][adaptiveName] else {
            throw HTTPError(.badRequest, message: "adaptive must be 1 or 0 (true or false)")
        }
        let origin = home.flatMap { home in pipes?.origin(room: room, node: home) }
        let session: OpenedSession
        do throws(RelayError) {
            session = try await relay.open(
                room: room, identity: token.sub.value, publishing: publishing, quality: quality, adaptive: adaptive, origin: origin, offer: offer)
        } catch {
            // The room's node has nothing to pipe, or could not be asked: the viewer asks it itself.
            if let home, origin != nil, error.code == .nothingPublished || error.code == .internalError {
                return try await redirect(request, to: home, token: token, role: role, auth: auth)
            }
            throw HTTPError(error.httpStatus, message: error.detail)
        }
        do {
            var headers = HTTPFields()
            headers[.contentType] = "application/sdp"
            // In a cluster the session's URL names this node: a client that reached it through a
            // redirect deletes it here, not on the node it first asked.
            headers[.location] = (cluster?.verifiedURL ?? "") + "/\(kind)/\(room)/\(session.resource)"
            for server in turn?.iceServers(for: token.sub.value, now: Date()) ?? [] {
                for value in server.linkValues { headers.append(HTTPField(name: link, value: value)) }
            }
            return Response(status: .created, headers: headers, body: .init(byteBuffer: ByteBuffer(string: session.answer)))
        }
    }
}
