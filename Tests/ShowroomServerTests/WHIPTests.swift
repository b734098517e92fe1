import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Relay
import ShowroomServer
import ShowroomTestSupport
import Testing

let testSecret = Array("test-secret-test-secret-test-secret!".utf8)

func token(_ room: String, _ role: Role, ttl: TimeInterval = 600, secret: [UInt8] = testSecret) async throws -> String {
    try await TokenAuthority(secret: secret).mint(identity: "tester", room: room, role: role, ttl: ttl)
}

func sdpHeaders(_ token: String) -> HTTPFields {
    [.contentType: "application/sdp", .authorization: "Bearer \(token)"]
}

/// Starts a relay on a free UDP port and an HTTP server on a free TCP port, both on 127.0.0.1;
/// `configure` may change the server's settings (the relay's among them) first.
func withLiveServer(
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: @Sendable (LoopbackClient, RelayServer) async throws -> Void
) async throws {
    let metrics = ServerMetrics()
    var config = ServerConfiguration()
    config.port = 0
    config.relay.mediaPort = 0
    configure(&config)
    var relayConfig = config.relay
    relayConfig.metricsFactory = metrics.factory
    let relay = try await RelayServer.start(configuration: relayConfig, logger: Logger(label: "test"))
    config.dataDirectory = ShowroomServerTests.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: config.dataDirectory) }
    let auth = await TokenAuthority(secret: testSecret)
    let (ports, reportPort) = AsyncStream.makeStream(of: Int.self)
    let app = try ShowroomServer.application(
        configuration: config, relay: relay, auth: auth, metrics: metrics, logger: Logger(label: "test")
    ) { reportPort.yield($0) }
    do {
        try await withLoopbackServer(app, ports: ports) { client in try await body(client, relay) }
    } catch {
        await relay.stop()
        throw error
    }
    await relay.stop()
}

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func fixtureOffer(_ name: String) throws -> String {
    try String(contentsOf: repositoryRoot.appendingPathComponent("Tests/RelayTests/Fixtures/\(name)"), encoding: .utf8)
}

/// An aiortc publisher and viewer (`peers/whip_whep.py`, or another script there), run against a live server.
final class AiortcPeers {
    let process: Subprocess

    init(port: Int, room: String, script: String = "whip_whep.py", arguments: [String]) async throws {
        let python = repositoryRoot.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "run tools/dev setup: it creates .venv with aiortc")
        process = try Subprocess(
            python,
            [
                repositoryRoot.appendingPathComponent("Tests/ShowroomServerTests/peers/\(script)").path,
                "--url", "http://127.0.0.1:\(port)", "--room", room,
                "--publisher-token", try await token(room, .publisher), "--viewer-token", try await token(room, .viewer),
            ] + arguments,
            output: .capture, errors: .capture)
    }

    /// Waits (at most `limit` seconds) for the peers to finish and returns their JSON report.
    func result(limit: TimeInterval = 60, while poll: () async -> Void = {}) async throws -> (fields: [String: Any], line: String) {
        let deadline = ContinuousClock.now + .seconds(limit)
        while process.isRunning && ContinuousClock.now < deadline {
            await poll()
            try await Task.sleep(for: .milliseconds(50))
        }
        await process.end()
        let line = try #require(
            process.output().split(separator: "\n").last, "no output from the peers; they said: \(process.errors().suffix(3_000))"
        ).description
        return (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:], line)
    }
}

@Suite struct WHIPTests {
    /// The value of one sample line of a Prometheus text exposition.
    static func sample(_ text: String, _ series: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func tokensAreCheckedBeforeAnythingHappens() async throws {
        let offer = ByteBuffer(string: try fixtureOffer("aiortc-publisher-offer.sdp"))
        let cases: [(String?, HTTPResponse.Status)] = [
            (nil, .unauthorized),
            ("not-a-jwt", .unauthorized),
            (try await token("demo", .publisher, secret: Array("another-secret-another-secret-!!".utf8)), .unauthorized),  // forged
            (try await token("demo", .publisher, ttl: -60), .unauthorized),  // expired
            (try await token("other", .publisher), .forbidden),
            (try await token("demo", .viewer), .forbidden),  // a viewer cannot publish
        ]
        try await withLiveServer { client, relay in
            for (bearer, status) in cases {
                var headers: HTTPFields = [.contentType: "application/sdp"]
                if let bearer { headers[.authorization] = "Bearer \(bearer)" }
                try await client.execute(uri: "/whip/demo", method: .post, headers: headers, body: offer) { r in
                    #expect(r.status == status)
                    if status == .unauthorized { #expect(r.headers[.wwwAuthenticate] == "Bearer") }
                }
            }
            #expect(await relay.sessionCount() == 0)
        }
    }

    @Test func publishAnswersWithCreatedLocationAndAnICELiteAnswer() async throws {
        let offer = try fixtureOffer("aiortc-publisher-offer.sdp")
        let publisher = try await token("demo", .publisher)
        try await withLiveServer { client, relay in
            let location = try await client.execute(uri: "/whip/demo", method: .post, headers: sdpHeaders(publisher), body: ByteBuffer(string: offer)) { r in
                #expect(r.status == .created)
                #expect(r.headers[.contentType] == "application/sdp")
                let answer = String(buffer: r.body)
                #expect(answer.contains("a=ice-lite"))
                #expect(answer.contains("a=setup:passive"))
                #expect(answer.contains("a=fingerprint:sha-256 \(relay.fingerprint)"))
                #expect(answer.contains("typ host"))
                #expect(answer.contains("127.0.0.1 \(relay.port) typ host"))
                return try #require(r.headers[.location])
            }
            #expect(location.hasPrefix("/whip/demo/"))
            #expect(await relay.sessionCount() == 1)
            // A second publisher in the same room is refused; the first stays.
            try await client.execute(uri: "/whip/demo", method: .post, headers: sdpHeaders(publisher), body: ByteBuffer(string: offer)) { r in
                #expect(r.status == .conflict)
            }
            let auth: HTTPFields = [.authorization: "Bearer \(publisher)"]
            try await client.execute(uri: location, method: .patch, headers: auth) { r in #expect(r.status == .methodNotAllowed) }
            try await client.execute(uri: location, method: .delete) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: location, method: .delete, headers: auth) { r in #expect(r.status == .ok) }
            try await client.execute(uri: location, method: .delete, headers: auth) { r in #expect(r.status == .notFound) }
            #expect(await relay.sessionCount() == 0)
        }
    }

    @Test func badRequestsGetA4xxWithAReasonAndChangeNothing() async throws {
        let offer = try fixtureOffer("aiortc-publisher-offer.sdp")
        let publisher = try await token("demo", .publisher)
        let sdp = sdpHeaders(publisher)
        try await withLiveServer { client, relay in
            try await client.execute(uri: "/whip/demo", method: .post, headers: [.contentType: "text/plain", .authorization: "Bearer \(publisher)"], body: ByteBuffer(string: offer)) { r in
                #expect(r.status == .unsupportedMediaType)
            }
            try await client.execute(uri: "/whip/demo", method: .post, headers: sdp, body: ByteBuffer(string: "hello")) { r in
                #expect(r.status == .badRequest)
                #expect(String(buffer: r.body).contains("SDP"))
            }
            let big = String(repeating: "a=x\r\n", count: 20_000)
            try await client.execute(uri: "/whip/demo", method: .post, headers: sdp, body: ByteBuffer(string: "v=0\r\n" + big)) { r in
                #expect(r.status == .contentTooLarge)
            }
            let h264Only = offer.replacingOccurrences(of: "VP8/90000", with: "H265/90000").replacingOccurrences(of: "opus/48000/2", with: "L16/48000/2")
            try await client.execute(uri: "/whip/demo", method: .post, headers: sdp, body: ByteBuffer(string: h264Only)) { r in
                #expect(r.status == .badRequest)
                #expect(String(buffer: r.body).contains("noCommonCodec"))
            }
            try await client.execute(uri: "/whip/bad%20room", method: .post, headers: sdp, body: ByteBuffer(string: offer)) { r in
                #expect(r.status == .badRequest)
            }
            try await client.execute(uri: "/whip/demo?quality=low", method: .post, headers: sdp, body: ByteBuffer(string: offer)) { r in
                #expect(r.status == .badRequest)  // only watching can ask for a rendition
            }
            let viewer = sdpHeaders(try await token("demo", .viewer))
            try await client.execute(uri: "/whep/demo?adaptive=maybe", method: .post, headers: viewer, body: ByteBuffer(string: offer)) { r in
                #expect(r.status == .badRequest)
                #expect(String(buffer: r.body).contains("adaptive"))
            }
            let emptyViewer = sdpHeaders(try await token("empty", .viewer))
            try await client.execute(uri: "/whep/empty", method: .post, headers: emptyViewer, body: ByteBuffer(string: try fixtureOffer("aiortc-viewer-offer.sdp"))) { r in
                #expect(r.status == .notFound)
            }
            #expect(await relay.sessionCount() == 0)
        }
    }

    @Test func corsPreflightAllowsAnotherOrigin() async throws {
        try await withLiveServer { client, _ in
            let headers: HTTPFields = [
                .origin: "https://shop.example", .accessControlRequestMethod: "POST",
                .accessControlRequestHeaders: "content-type, authorization",
            ]
            try await client.execute(uri: "/whip/demo", method: .options, headers: headers) { r in
                #expect(r.status == .noContent || r.status == .ok)
                #expect(r.headers[.accessControlAllowOrigin] == "*")
                #expect(r.headers[.accessControlAllowMethods]?.contains("POST") == true)
            }
        }
    }

    /// (b) of the interop list: an aiortc publisher (WHIP) and an aiortc viewer (WHEP) through the
    /// relay on loopback; the viewer must decode at least 60 video frames and receive audio — as
    /// the source (aiortc's 640×480) or a transcoded rendition (`?quality=`). Without adaptation
    /// (`adaptive=0`): the three cases run at once with their transcoders on two cores, and in a CI
    /// run an aiortc viewer starved of CPU reported loss and was moved to `low` mid-run (decoded
    /// 640×480 then 320×180); adaptation has tests of its own (AdaptationTests, WeakNetworkTests).
    @Test(arguments: [("source", "640x480"), ("medium", "640x360"), ("low", "320x180")])
    func aiortcPublisherToAiortcViewer(quality: String, size: String) async throws {
        try await withLiveServer { client, relay in
            let peers = try await AiortcPeers(
                port: try #require(client.port), room: "interop", arguments: ["--seconds", "15", "--quality", quality, "--adaptive", "0"])
            let (result, line) = try await peers.result()
            #expect(result["whip_status"] as? Int == 201)
            #expect(result["whep_status"] as? Int == 201)
            let video = result["video_frames"] as? Int ?? 0, audio = result["audio_frames"] as? Int ?? 0
            #expect(video >= 60, "viewer decoded \(video) video frames")
            #expect(audio >= 50, "viewer received \(audio) audio frames")
            #expect(result["video_sizes"] as? [String] == [size], "decoded sizes: \(line)")
            #expect(result["whep_delete"] as? Int == 200)
            #expect(result["whip_delete"] as? Int == 200)
            #expect(await relay.sessionCount() == 0)
            print("aiortc → showroom (\(quality)) → aiortc: \(line)")
            // What went through shows in /metrics: packets both ways; a rendition's stage times.
            try await client.execute(uri: "/metrics", method: .get) { r in
                #expect(r.status == .ok)
                let text = String(buffer: r.body)
                let packetsOut = Self.sample(text, #"showroom_relay_packets_total{direction="out"}"#) ?? 0
                #expect(packetsOut > 100, "\(text.prefix(2_000))")
                #expect(Self.sample(text, "process_resident_memory_bytes") ?? 0 > 1_000_000)
                if quality != "source" {
                    let encodes = Self.sample(text, #"showroom_transcode_stage_seconds_count{stage="encode",kind="video",quality="\#(quality)"}"#) ?? 0
                    #expect(encodes >= 60, "\(text.prefix(4_000))")
                }
            }
        }
    }

    /// A viewer moved from the source to the `low` rendition mid-stream keeps decoding: its RTP
    /// streams continue (rewritten sequence numbers and timestamps) and a key frame of the new
    /// size arrives.
    @Test func aViewerMovesBetweenRenditionsWithoutBreaking() async throws {
        try await withLiveServer { client, relay in
            let peers = try await AiortcPeers(
                port: try #require(client.port), room: "switch", arguments: ["--seconds", "40", "--video-frames", "150", "--until-sizes", "2"])
            // Once the viewer has had ~60 video packets of the source, move it to `low`; the peers
            // stop once both sizes have decoded 30 frames (so a poll delayed by a busy machine
            // cannot end the run before the move shows), or after 40 s.
            var moved = false
            let (result, line) = try await peers.result {
                if !moved, let viewer = await relay.statistics().first(where: { !$0.publishing }),
                    (viewer.streams[.video]?.packets ?? 0) > 60
                {
                    moved = (try? await relay.setQuality(id: viewer.id, room: "switch", quality: .low)) != nil
                }
            }
            #expect(moved)
            #expect(result["video_sizes"] as? [String] == ["320x180", "640x480"], "sizes: \(line)")
            #expect((result["video_frames"] as? Int ?? 0) >= 150, "frames: \(line)")
            print("source → low mid-stream: \(line)")
        }
    }
}
