import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import NIOCore
import Relay
import ShowroomServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a client gets before it has proved anything, and tokens the server itself would never
/// sign (found by the hardening review; each test failed before its fix).
@Suite struct UnauthenticatedClientTests {
    /// A token signed with the server's secret but naming no identity (a shop backend's bug) once
    /// escaped every per-identity quota: the relay skipped its checks for an empty identity.
    /// Such a token is refused (401) wherever it is shown, and the server signs none.
    @Test func aTokenWithoutAnIdentityIsRefused() async throws {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: testSecret), digestAlgorithm: .sha256)
        let anonymous = try await keys.sign(AccessToken(identity: "", room: "anon", role: .viewer, expires: Date().addingTimeInterval(600)))
        let nonASCIIRoom = try await keys.sign(AccessToken(identity: "sam", room: "caf\u{E9}", role: .viewer, expires: Date().addingTimeInterval(600)))
        let publisher = try await token("anon", .publisher, identity: "merchant")
        try await withLiveServer { client, _ in
            #expect(try await HostileClientTests.post(client, "/whip/anon", token: publisher, offer: HostileClientTests.publisherOffer).status == .created)
            for _ in 0..<3 {
                let status = try await HostileClientTests.post(client, "/whep/anon", token: anonymous, offer: HostileClientTests.viewerOffer).status
                #expect(status == .unauthorized)
            }
        }
        let authority = await TokenAuthority(secret: testSecret)
        await #expect(throws: AuthError.self) { _ = try await authority.verify(anonymous) }
        await #expect(throws: AuthError.self) { _ = try await authority.verify(nonASCIIRoom) }
        await #expect(throws: AuthError.self) { _ = try await authority.mint(identity: "", room: "r", role: .viewer, ttl: 60) }
        await #expect(throws: AuthError.self) { _ = try await authority.mint(identity: "sam", room: "caf\u{E9}", role: .viewer, ttl: 60) }
        await #expect(throws: AuthError.self) {
            _ = try await authority.mint(identity: String(repeating: "x", count: 129), room: "r", role: .viewer, ttl: 60)
        }
    }

    /// `/demo-token` trusted `Host`, so DNS rebinding got tokens: a page on
    /// `http://rebind.example:PORT` whose name now resolves to 127.0.0.1 fetches it "same-origin"
    /// with its own name in Host. Only a loopback Host is answered.
    @Test func demoTokensAreNotHandedToARebindingOrigin() async throws {
        try await withLiveServer(configure: { $0.demo = true }) { client, _ in
            let port = client.port ?? 0
            let rebound = try await client.client.execute(
                TestClient.Request(
                    "/demo-token?room=r&role=agent", method: .get, authority: "rebind.example:\(port)",
                    headers: [HTTPField.Name("Sec-Fetch-Site")!: "same-origin", .origin: "http://rebind.example:\(port)"])
            ).head.status
            #expect(rebound == .forbidden, "a page of another name got a demo token (\(rebound))")
            for host in ["127.0.0.1:\(port)", "localhost:\(port)"] {
                let own = try await client.client.execute(
                    TestClient.Request(
                        "/demo-token?room=r&role=agent", method: .get, authority: host,
                        headers: [HTTPField.Name("Sec-Fetch-Site")!: "same-origin", .origin: "http://\(host)"])
                ).head.status
                #expect(own == .ok, "the server's own page (\(host)) got \(own)")
            }
        }
    }

    /// A client that connects and sends half a request line once held a socket (and a channel)
    /// forever. Closed after the first-request deadline (10 s).
    @Test func anIdleHTTPConnectionIsClosed() async throws {
        try await withLiveServer { client, _ in
            let connection = try RawTCPConnection(port: client.port ?? 0)
            try await connection.write(Array("GET /healthz HTTP/1.1\r\n".utf8))
            let opened = ContinuousClock.now
            let closedAfter = await connection.readUntilClosed(within: .seconds(20)).map { _ in ContinuousClock.now - opened }
            let after = try #require(closedAfter, "an HTTP connection that never completed a request was still open after 20 s")
            #expect(after >= .seconds(9), "closed after \(after), before the 10 s a slow client is given")
        }
    }

    /// Unauthenticated sockets once took `/ws` slots from token holders: `connectionsPerServer`
    /// counted connections before `hello`, and four silent sockets locked out a server of four.
    /// Pending connections have a pool of their own.
    @Test func silentUnauthenticatedSocketsDoNotLockOutTokenHolders() async throws {
        let server = try await SignalingServer.start(configure: { $0.signaling.connectionsPerServer = 4 })
        var squatters: [RawWebSocketClient] = []
        for _ in 0..<4 { squatters.append(try await RawWebSocketClient(port: server.port, receiveBuffer: 65_536)) }
        let shopper = SignalingClient(port: server.port)
        shopper.send(["type": "hello", "v": 1, "token": try await wsToken("shop", .shopper, identity: "real-shopper")])
        let welcome = try? await shopper.next("welcome", seconds: 15)
        #expect(welcome != nil, "a token holder was refused while anonymous sockets held every slot: \(shopper.all("closing"))")
        await shopper.close()
        squatters.removeAll()
        _ = await server.stop()
    }
}
