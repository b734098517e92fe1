import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
@testable import ShowroomServer
import ShowroomCore
import Testing

/// TURN credentials (the TURN REST API scheme coturn's `use-auth-secret` checks) and where clients
/// get them: WHIP/WHEP `Link` headers (RFC 9725 §4.6), `GET /ice-servers/{room}`, `/ws` `welcome`.
/// That coturn itself takes them, and refuses expired and forged ones, is `TURNRelayTests`.
@Suite struct TURNCredentialTests {
    static let secret = "north-wind-turn-secret"
    static let urls = ["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"]

    /// The password is base64(HMAC-SHA1(secret, "<expiry>:<identity>")): values computed
    /// independently with Python's `hmac` module.
    @Test func credentialsFollowTheTURNRESTScheme() throws {
        let turn = try TURNCredentials(urls: Self.urls, secret: Self.secret, lifetime: 86_400)
        let servers = turn.iceServers(for: "alice", now: Date(timeIntervalSince1970: 1_700_000_000.9))
        #expect(servers == [ICEServer(urls: Self.urls, username: "1700086400:alice", credential: "jj3Da71S/DXBVrUDd8AShS6RIu4=")])
        // An identity with a space, a quote and a non-ASCII letter: percent-encoded, so that the user
        // name is printable ASCII (a STUN USERNAME and a Link header quoted-string take it as is).
        let odd = turn.iceServers(for: "sam o\"brien\u{e9}", now: Date(timeIntervalSince1970: 1_700_000_000))
        #expect(odd.first?.username == "1700086400:sam%20o%22brien%C3%A9")
        #expect(odd.first?.credential == "Jmqqg0yJEO4m3bcOi1A4p2b4boc=")
        // A different secret, a different password.
        let other = try TURNCredentials(urls: Self.urls, secret: Self.secret + "x", lifetime: 86_400)
        #expect(other.iceServers(for: "alice", now: Date(timeIntervalSince1970: 1_700_000_000)).first?.credential != "jj3Da71S/DXBVrUDd8AShS6RIu4=")
    }

    @Test func badConfigurationIsRefusedWithItsReason() {
        let bad: [([String], String, Int)] = [
            ([], Self.secret, 3_600),  // a secret without a server
            (["stun:127.0.0.1:3478"], Self.secret, 3_600),  // not TURN
            (["turn:127.0.0.1:3478> ; rel=\"x"], Self.secret, 3_600),  // would break the Link header
            (["turn:127.0.0.1:3478\r\nSet-Cookie: a=b"], Self.secret, 3_600),  // header injection
            (Self.urls, "short", 3_600),  // a guessable secret
            (Self.urls, Self.secret, 10),  // lifetime too short
            (Self.urls, Self.secret, 10_000_000),  // lifetime too long
        ]
        for (urls, secret, lifetime) in bad {
            #expect(throws: ServerError(.invalidConfiguration, "")) { try TURNCredentials(urls: urls, secret: secret, lifetime: lifetime) }
        }
        #expect(throws: Never.self) { try TURNCredentials(urls: ["turns:turn.shop.example:443?transport=tcp"], secret: Self.secret, lifetime: 60) }
    }

    /// RFC 9725 §4.6: one `Link` per URL, rel="ice-server", the credential as quoted strings.
    @Test func linkHeaderValues() {
        let server = ICEServer(urls: ["turn:a:3478?transport=udp", "turns:a:443?transport=tcp"], username: "17:a\"b\\c", credential: "pw=")
        #expect(server.linkValues == [
            #"<turn:a:3478?transport=udp>; rel="ice-server"; username="17:a\"b\\c"; credential="pw="; credential-type="password""#,
            #"<turns:a:443?transport=tcp>; rel="ice-server"; username="17:a\"b\\c"; credential="pw="; credential-type="password""#,
        ])
        #expect(ICEServer(urls: ["stun:a:3478"]).linkValues == [#"<stun:a:3478>; rel="ice-server""#])
    }

    /// Every place a client gets its ICE servers, with credentials in the token's own identity
    /// that check out against the secret; nothing when TURN is not configured.
    @Test func whipWhepIceServersAndWelcomeHandOutCredentials() async throws {
        let turn = try TURNCredentials(urls: Self.urls, secret: Self.secret, lifetime: 600)
        @Sendable func check(_ server: ICEServer?, identity: String) {
            guard let server, let username = server.username else { Issue.record("no credential"); return }
            #expect(server.urls == Self.urls)
            let parts = username.split(separator: ":", maxSplits: 1)
            #expect(parts.count == 2 && parts[1] == identity[...], "\(username)")
            let expiry = Double(parts.first ?? "") ?? 0
            #expect(abs(expiry - Date().addingTimeInterval(600).timeIntervalSince1970) < 30, "\(username)")
            #expect(server.credential == TURNCredentials.password(username: username, secret: Array(Self.secret.utf8)))
        }
        try await withLiveServer(configure: { $0.turn = turn }) { client, _ in
            let publisher = try await token("turn-room", .publisher, identity: "pat")
            // WHIP: a Link header per URL on the 201, readable from another origin.
            let r = try await HostileClientTests.post(
                client, "/whip/turn-room", token: publisher, offer: HostileClientTests.publisherOffer, headers: [.origin: "https://shop.example"])
            #expect(r.status == .created)
            let links = r.headers[values: WHIPRoutes.link]
            #expect(links.count == 2, "\(r.headers)")
            #expect(links.allSatisfy { $0.contains(#"rel="ice-server""#) && $0.contains(#"username=""#) && $0.contains(#"credential-type="password""#) })
            #expect(r.headers[.accessControlExposeHeaders]?.contains("Link") == true)
            // GET /ice-servers/{room}: 401 without a token, 403 with another room's, JSON with one.
            try await client.execute(uri: "/ice-servers/turn-room", method: .get) { #expect($0.status == .unauthorized) }
            let other = try await token("elsewhere", .viewer, identity: "vic")
            try await client.execute(uri: "/ice-servers/turn-room", method: .get, headers: [.authorization: "Bearer \(other)"]) {
                #expect($0.status == .forbidden)
            }
            let viewer = try await token("turn-room", .viewer, identity: "vic")
            let servers = try await client.execute(uri: "/ice-servers/turn-room", method: .get, headers: [.authorization: "Bearer \(viewer)"]) { r in
                #expect(r.status == .ok)
                return try JSONDecoder().decode([String: [ICEServer]].self, from: Data(buffer: r.body))["iceServers"] ?? []
            }
            #expect(servers.count == 1)
            check(servers.first, identity: "vic")
            // /ws: welcome carries them.
            let ws = SignalingClient(port: try #require(client.port))
            ws.send(["type": "hello", "v": 1, "token": try await token("turn-room", .shopper, identity: "sam")])
            let welcome = try await ws.next("welcome")
            let list = try #require(welcome["iceServers"] as? [any Sendable])
            let json = try JSONSerialization.data(withJSONObject: list.map { $0 as Any })
            let decoded = try JSONDecoder().decode([ICEServer].self, from: json)
            check(decoded.first, identity: "sam")
            await ws.close()
        }
        // Without TURN: no Link headers, an empty list, no iceServers in welcome.
        try await withLiveServer { client, _ in
            let publisher = try await token("plain", .publisher, identity: "pat")
            let r = try await HostileClientTests.post(client, "/whip/plain", token: publisher, offer: HostileClientTests.publisherOffer)
            #expect(r.status == .created && r.headers[values: WHIPRoutes.link].isEmpty)
            let viewer = try await token("plain", .viewer, identity: "vic")
            try await client.execute(uri: "/ice-servers/plain", method: .get, headers: [.authorization: "Bearer \(viewer)"]) {
                #expect(String(buffer: $0.body) == #"{"iceServers":[]}"#)
            }
            let ws = SignalingClient(port: try #require(client.port))
            ws.send(["type": "hello", "v": 1, "token": try await token("plain", .shopper, identity: "sam")])
            #expect(try await ws.next("welcome")["iceServers"] == nil)
            await ws.close()
        }
    }
}

/// Issue 17, TURN: a real coturn (started by the test, in the test's lo-only namespace, sharing a
/// secret with the server) takes the credentials the server issues — over UDP and TCP — and
/// refuses expired, forged and tampered ones; Chromium forced to `iceTransportPolicy: "relay"`
/// goes live and watches through it; where only TCP to coturn gets through (nftables drops UDP to
/// coturn and the relay, and TCP to the relay's ICE-TCP), Chromium with the default policy still
/// publishes and plays, through TURN over TCP; an aiortc viewer's
/// glass-to-glass latency directly and through TURN over UDP and TCP (`peers/turn_relay.py`).
@Suite(.serialized) struct TURNRelayTests {
    @Test func browsersReachTheRelayThroughCoturn() async throws {
        let python = repositoryRoot.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "run tools/dev setup: it creates .venv")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/lib/chromium/chromium"), "run tools/dev setup: it installs chromium")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/turnserver"), "run tools/dev setup: it installs coturn")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft"), "run tools/dev setup: it installs nftables")
        let text = try await inLoopbackNamespace(
            [python, repositoryRoot.appendingPathComponent("Tests/ShowroomServerTests/peers/turn_relay.py").path,
             "--showroom", ShowroomCommandTests.executable],
            timeout: 240)
        let line = try #require(text.split(separator: "\n").last, "no output from peers/turn_relay.py")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(text.suffix(2_000))")
        print("TURN through coturn: \(line)")

        // 1. coturn takes what the server issues and nothing else.
        let credentials = result["credentials"] as? [String: Any] ?? [:]
        for transport in ["udp", "tcp"] {
            let outcome = credentials["issued_\(transport)"] as? String ?? ""
            let port = Int(outcome.split(separator: " ").last ?? "") ?? 0
            #expect(outcome.hasPrefix("ok") && (20_000...20_999).contains(port), "allocation over \(transport): \(outcome)")
        }
        for refused in ["expired", "forged", "tampered"] {
            #expect(credentials[refused] as? String == "401", "\(refused) credential: \(credentials[refused] ?? "nil")")
        }
        #expect(credentials["identity"] as? String == "vic")
        #expect(credentials["lifetime_s"] as? Int == 86_400)

        // 2. and 3. Chromium through coturn, forced and with UDP blocked.
        for (step, relayProtocol) in [("forced_relay", "udp"), ("blocked", "tcp")] {
            let pages = result[step] as? [String: Any] ?? [:]
            let publisher = pages["publisher"] as? [String: Any] ?? [:], viewer = pages["viewer"] as? [String: Any] ?? [:]
            #expect(publisher["state"] as? String == "connected" && publisher["error"] as? String == "", "\(step) publisher: \(publisher)")
            #expect(publisher["framesSent"] as? Int ?? 0 >= 30, "\(step) publisher: \(publisher)")
            #expect(viewer["framesDecoded"] as? Int ?? 0 >= 60 && viewer["audioPacketsReceived"] as? Int ?? 0 > 0, "\(step) viewer: \(viewer)")
            for (side, stats) in [("publisher", publisher), ("viewer", viewer)] {
                #expect(stats["candidateType"] as? String == "relay", "\(step) \(side) did not go through TURN: \(stats)")
                #expect(stats["relayProtocol"] as? String == relayProtocol, "\(step) \(side) reached coturn over \(stats["relayProtocol"] ?? "?")")
            }
        }
        #expect(result["udp_blocked"] as? Bool == true, "the nftables rule did not block UDP to the relay")

        // 4. Glass-to-glass through TURN: frames flow, through the relay candidate, without freezes.
        for step in ["latency_direct", "latency_udp", "latency_tcp"] {
            let run = result[step] as? [String: Any] ?? [:]
            #expect(run["video_frames"] as? Int ?? 0 >= 100, "\(step): \(run)")
            #expect(run["frames_with_capture_time"] as? Int ?? 0 >= 100, "\(step): \(run)")
            #expect(run["viewer_candidate"] as? String == (step == "latency_direct" ? "host" : "relay"), "\(step): \(run)")
        }
    }
}
