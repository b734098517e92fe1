import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Relay
import ServiceLifecycle
import ShowroomCore

/// Media between the nodes of a cluster, the HTTP half (the relay carries the media:
/// ``NodePipe``, RelayState+NodePipes.swift). A viewer's WHEP offer for a room whose publisher is
/// on another node is served where it lands: this node asks the room's node once, with
/// `POST /cluster/pipes`, to pipe the publication here, and fans it out to all its viewers of the
/// room. The room's node sends each packet once per node, not per viewer. docs/cluster.md,
/// "Media between nodes".
///
/// The request carries a ``TokenAuthority/nodeToken(room:)`` (only nodes hold the secret that
/// signs it); the pipe's datagrams are encrypted and authenticated under a key both nodes derive
/// from that secret and the pipe's token (``NodePipeCipher``), which never crosses the wire.
public struct NodePipes: Service {
    let relay: RelayServer
    let auth: TokenAuthority
    let cluster: ClusterMembership
    var secret: [UInt8] { auth.nodePipeSecret }
    /// This node's media address, given to the room's node as where to send (an IP literal).
    let host: String
    /// How long a request to the room's node may take.
    static let requestTimeout: TimeAmount = .seconds(3)
    /// The largest request body `POST /cluster/pipes` reads, and the largest answer read back.
    static let maximumBody = 4_096

    /// How often viewers waiting for another node's next publisher make this node ask again.
    static let followInterval: Duration = .seconds(1)

    /// Viewers here of a room whose publisher is on another node follow the room's next publisher
    /// as that node's own viewers do: while they wait (their mirror ended — the publisher left, or
    /// its node died), this node asks the room's node now — perhaps another one, the room placed
    /// again — every second until it pipes one.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.followInterval)
                for room in await relay.roomsAwaitingNodePublisher() {
                    guard let home = try? await cluster.elsewhere(room) else { continue }
                    try? await relay.followNodePublisher(room: room, origin: origin(room: room, node: home))
                }
            }
        }
    }

    /// The room's node at `node` (its URL) as the relay asks it for a pipe.
    func origin(room: String, node: String) -> NodeOrigin {
        let (auth, host) = (auth, host)
        return NodeOrigin(secret: secret) { token, port in
            var request = HTTPClientRequest(url: node + "/cluster/pipes")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Authorization", value: "Bearer " + (try await auth.nodeToken(room: room)))
            let body = try JSONEncoder().encode(NodePipeRequest(room: room, source: nil, token: token, host: host, port: port))
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await HTTPClient.shared.execute(request, timeout: Self.requestTimeout)
            let answer = try await response.body.collect(upTo: Self.maximumBody)
            guard response.status == .ok else {
                let reason = String(buffer: answer)
                throw RelayError(
                    response.status == .notFound ? .nothingPublished : .internalError,
                    "the room's node \(node) answered \(response.status.code): \(reason.prefix(200))")
            }
            return try JSONDecoder().decode(NodePipeOffer.self, from: Data(buffer: answer))
        }
    }

    /// `POST /cluster/pipes`: another node asks this one for a room's media (``NodePipeRequest`` →
    /// ``NodePipeOffer``). 401 without a valid token, 403 for a token that is not a node's or is
    /// for another room, 400 for a malformed request, 404 when nothing is published in the room
    /// here.
    static func add(to router: Router<BasicRequestContext>, pipes: NodePipes) {
        router.post("cluster/pipes") { request, _ -> Response in
            let token: AccessToken
            do throws(AuthError) {
                guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
                    throw AuthError(.unauthorized, "an Authorization: Bearer token is required")
                }
                token = try await pipes.auth.verify(String(header.dropFirst(7)), purpose: AccessToken.nodePipe)
            } catch {
                throw HTTPError(.unauthorized, message: error.detail)
            }
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: maximumBody) } catch is NIOTooManyBytesError {
                throw HTTPError(.contentTooLarge, message: "a pipe request is at most \(maximumBody) bytes")
            }
            guard let asked = try? JSONDecoder().decode(NodePipeRequest.self, from: Data(buffer: body)) else {
                throw HTTPError(.badRequest, message: "the body must be a pipe request: room, token, host, port")
            }
            guard asked.room == token.room, RoomName.isValid(asked.room) else {
                throw HTTPError(.forbidden, message: "the token is for room \(token.room), not \(asked.room)")
            }
            let offer: NodePipeOffer
            do throws(RelayError) { offer = try await pipes.relay.pipe(toNode: asked, secret: pipes.secret) } catch {
                throw HTTPError(error.httpStatus, message: error.detail)
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(offer))))
        }
    }
}
