import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Relay
import ShowroomServer
import Testing

func token(_ room: String, _ role: Role, identity: String, ttl: TimeInterval = 600) async throws -> String {
    try await TokenAuthority(secret: testSecret).mint(identity: identity, room: room, role: role, ttl: ttl)
}

/// WHIP/WHEP as an attacker holding an ordinary token uses them: every attack here worked once.
@Suite struct HostileClientTests {
    static let publisherOffer = { try! fixtureOffer("aiortc-publisher-offer.sdp") }()
    static let viewerOffer = { try! fixtureOffer("aiortc-viewer-offer.sdp") }()

    /// POSTs an offer; the status, the Location and the body.
    static func post(
        _ client: LoopbackClient, _ uri: String, token: String, offer: String, headers extra: HTTPFields = [:]
    ) async throws -> (status: HTTPResponse.Status, location: String?, body: String, headers: HTTPFields) {
        var headers = sdpHeaders(token)
        headers.append(contentsOf: extra)
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: offer)) { r in
            (r.status, r.headers[.location], String(buffer: r.body), r.headers)
        }
    }

    static func delete(_ client: LoopbackClient, _ uri: String, token: String) async throws -> HTTPResponse.Status {
        try await client.execute(uri: uri, method: .delete, headers: [.authorization: "Bearer \(token)"]) { $0.status }
    }

    /// The review's attack: the publisher's session id is in every viewer's answer (`a=msid`), and
    /// `DELETE /whep/{room}/{that id}` with a viewer token ended the broadcast.
    @Test func aViewerCannotEndTheBroadcast() async throws {
        let publisher = try await token("live", .publisher, identity: "merchant")
        let viewer = try await token("live", .viewer, identity: "shopper-1")
        let otherPublisher = try await token("live", .publisher, identity: "someone-else")
        try await withLiveServer { client, relay in
            let published = try await Self.post(client, "/whip/live", token: publisher, offer: Self.publisherOffer)
            #expect(published.status == .created)
            let watched = try await Self.post(client, "/whep/live", token: viewer, offer: Self.viewerOffer)
            #expect(watched.status == .created)
            // What a viewer sees of the publisher: its public session id, in the msid of the answer.
            let msid = try #require(watched.body.split(separator: "\r\n").first { $0.hasPrefix("a=msid:") })
            let publicID = try #require(msid.split(separator: "-").last.map(String.init))
            let publicationID = try #require(await relay.statistics().first { $0.publishing }?.id)
            #expect(publicID == publicationID)
            for uri in ["/whep/live/\(publicID)", "/whip/live/\(publicID)"] {
                let status = try await Self.delete(client, uri, token: viewer)
                #expect(status == .notFound || status == .forbidden, "\(uri): \(status)")
            }
            // The publisher's own Location, but another identity's token, or through the wrong endpoint.
            let location = try #require(published.location)
            #expect(!location.contains(publicID), "the Location is not the id others see")
            #expect(try await Self.delete(client, location, token: otherPublisher) == .notFound)
            #expect(try await Self.delete(client, location.replacingOccurrences(of: "/whip/", with: "/whep/"), token: publisher) == .notFound)
            #expect(await relay.statistics().contains { $0.publishing }, "the broadcast is still on")
            // Its owner ends it.
            #expect(try await Self.delete(client, location, token: publisher) == .ok)
            #expect(await relay.statistics().contains { $0.publishing } == false)
        }
    }

    /// One SDP offer with thousands of formats: refused with 400 and the reason, and meanwhile the
    /// relay's loop (which forwards every room's media) keeps answering.
    @Test func anOfferBombIsRefusedWithoutStallingTheRelay() async throws {
        var pts: [String] = []
        for i in 0..<16_000 { pts.append(String(i % 128)) }
        let bomb = String(
            ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF " + pts.joined(separator: " ") + "\r\n")
                .prefix(60_000))
        let publisher = try await token("bomb", .publisher, identity: "p")
        try await withLiveServer { client, relay in
            let clock = ContinuousClock()
            let started = clock.now
            async let answers: [HTTPResponse.Status] = withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<8 { group.addTask { try await Self.post(client, "/whip/bomb", token: publisher, offer: bomb).status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            // The loop answers while the bombs are being handled.
            var slowest = Duration.zero
            for _ in 0..<20 {
                let t = clock.now
                _ = await relay.snapshot()
                slowest = max(slowest, clock.now - t)
            }
            let statuses = try await answers
            #expect(statuses == Array(repeating: .badRequest, count: 8))
            // Generous: a debug build on two cores shared with the rest of the suite. Before, the
            // loop parsed such offers itself — 2 s each in a release build, 8 of them in a row.
            #expect(slowest < .seconds(5), "the relay's loop took \(slowest) to answer")
            #expect(clock.now - started < .seconds(20))
            let reason = try await client.execute(uri: "/whip/bomb", method: .post, headers: sdpHeaders(publisher), body: ByteBuffer(string: bomb)) {
                String(buffer: $0.body)
            }
            #expect(reason.contains("at most 128"), "\(reason)")
        }
    }

    /// A browser page on another origin reads the Location of the session it created (so that it
    /// can DELETE it): the header is exposed on the 201 itself, not only on the preflight.
    @Test func aCrossOriginPlayerCanReadItsLocation() async throws {
        let publisher = try await token("cors", .publisher, identity: "p")
        try await withLiveServer { client, _ in
            let r = try await Self.post(client, "/whip/cors", token: publisher, offer: Self.publisherOffer, headers: [.origin: "https://shop.example"])
            #expect(r.status == .created)
            #expect(r.headers[.accessControlAllowOrigin] == "*")
            #expect(r.headers[.accessControlExposeHeaders]?.lowercased().contains("location") == true, "\(r.headers)")
        }
    }

    /// `/demo-token` minted agent tokens for any page the user visited (it was on whenever the
    /// server listened on loopback, and served with `Access-Control-Allow-Origin: *`).
    @Test func demoTokensOnlyWithTheFlagAndOnlyForTheServersOwnPages() async throws {
        try await withLiveServer { client, _ in
            try await client.execute(uri: "/demo-token?room=r&role=agent", method: .get) { #expect($0.status == .notFound) }
        }
        try await withLiveServer(configure: { $0.demo = true }) { client, _ in
            // A page of this server fetches without Origin (same-origin GET) and with Sec-Fetch-Site.
            try await client.execute(uri: "/demo-token?room=r&role=agent", method: .get, headers: [HTTPField.Name("Sec-Fetch-Site")!: "same-origin"]) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.accessControlAllowOrigin] == nil)
                #expect(String(buffer: r.body).split(separator: ".").count == 3)  // a JWT
            }
            let crossSite: [HTTPFields] = [[.origin: "https://evil.example"], [HTTPField.Name("Sec-Fetch-Site")!: "cross-site"]]
            for headers in crossSite {
                try await client.execute(uri: "/demo-token?room=r&role=agent", method: .get, headers: headers) { r in
                    #expect(r.status == .forbidden)
                    #expect(r.headers[.accessControlAllowOrigin] == nil)
                }
            }
        }
        var exposed = ServerConfiguration()
        exposed.host = "0.0.0.0"
        exposed.demo = true
        #expect(throws: ServerError(.invalidConfiguration, "")) { try exposed.validate() }
    }

    /// One viewer token opened 3,007 WHEP sessions in 5 s, all accepted: now 429 past the
    /// identity's share, with the reason; another identity still gets in. (Another identity is
    /// tried as soon as the flood is refused, not after it: none of these sessions ever connects,
    /// so the relay ends each 30 s after it opened, and on a busy CI machine the whole flood once
    /// took longer than that — the publisher was gone by its end.)
    /// Twice the identity's share: 30 once took over 40 s on a loaded CI machine, long enough for
    /// the first sessions to end and free their places mid-flood.
    static let flood = 2 * RelayLimits().sessionsPerIdentity

    @Test func aFloodOfSessionsFromOneTokenIsRefused() async throws {
        let publisher = try await token("flood", .publisher, identity: "merchant")
        let greedy = try await token("flood", .viewer, identity: "greedy")
        let other = try await token("flood", .viewer, identity: "someone")
        try await withLiveServer { client, relay in
            #expect(try await Self.post(client, "/whip/flood", token: publisher, offer: Self.publisherOffer).status == .created)
            let limit = RelayLimits().sessionsPerIdentity
            var statuses: [HTTPResponse.Status] = []
            var reason = ""
            for _ in 0..<Self.flood {
                let r = try await Self.post(client, "/whep/flood", token: greedy, offer: Self.viewerOffer)
                statuses.append(r.status)
                if r.status == .tooManyRequests {
                    if reason.isEmpty {
                        #expect(try await Self.post(client, "/whep/flood", token: other, offer: Self.viewerOffer).status == .created)
                        #expect(await relay.sessionCount() == 1 + limit + 1)
                    }
                    reason = r.body
                }
            }
            // The attack: never more than the identity's share. Every other open is refused —
            // with 429 and the reason while its sessions hold their places; in a CI rehearsal where
            // the flood took 45 s, 2 of 8 refusals were another status (not recorded then: the
            // statuses are printed now).
            #expect(statuses.filter { $0 == .created }.count == limit, "\(statuses)")
            #expect(statuses.filter { $0 != .created }.allSatisfy { (400..<600).contains($0.code) }, "\(statuses)")
            #expect(statuses.filter { $0 == .tooManyRequests }.count >= 1, "\(statuses)")
            #expect(reason.contains("\(limit)"), "\(reason)")
        }
    }

    /// Viewers of one room could take every rendition of the relay (by asking, or by faking loss so
    /// that adaptation moves them down) and starve other rooms: a room runs at most its share.
    @Test func oneRoomCannotTakeEveryRendition() async throws {
        try await withLiveServer(configure: { $0.relay.limits.renditionsPerRoom = 1 }) { client, _ in
            for room in ["a", "b"] {
                let p = try await token(room, .publisher, identity: "merchant-\(room)")
                #expect(try await Self.post(client, "/whip/\(room)", token: p, offer: Self.publisherOffer).status == .created)
            }
            let a = try await token("a", .viewer, identity: "va"), b = try await token("b", .viewer, identity: "vb")
            #expect(try await Self.post(client, "/whep/a?quality=low", token: a, offer: Self.viewerOffer).status == .created)
            let refused = try await Self.post(client, "/whep/a?quality=medium", token: a, offer: Self.viewerOffer)
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.body.contains("room a"), "\(refused.body)")
            #expect(try await Self.post(client, "/whep/b?quality=medium", token: b, offer: Self.viewerOffer).status == .created)
        }
    }
}
