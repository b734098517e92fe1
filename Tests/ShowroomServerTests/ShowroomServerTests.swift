import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ShowroomServer
import ShowroomTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite struct ShowroomServerTests {
    static func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("showroom-test-\(UInt64.random(in: 0...UInt64.max))").path
    }

    @Test func healthzAnswersOnALiveServer() async throws {
        var config = ServerConfiguration()
        config.port = 0
        config.dataDirectory = ShowroomServerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: config.dataDirectory) }
        let (ports, reportPort) = AsyncStream.makeStream(of: Int.self)
        let app = try ShowroomServer.application(configuration: config, logger: Logger(label: "test")) { reportPort.yield($0) }
        try await withLoopbackServer(app, ports: ports) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                let health = try JSONDecoder().decode(ShowroomServer.Health.self, from: Data(buffer: response.body))
                #expect(health == ShowroomServer.Health(status: "ok", version: ShowroomServer.version))
            }
            try await client.execute(uri: "/nope", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test func createsThePrivateDataDirectory() throws {
        var config = ServerConfiguration()
        config.dataDirectory = ShowroomServerTests.temporaryDirectory() + "/nested/data"
        defer { try? FileManager.default.removeItem(atPath: config.dataDirectory) }
        let path = try config.prepareDataDirectory()
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        #expect(try config.prepareDataDirectory() == path)  // idempotent
    }

    @Test func rejectsBadConfiguration() throws {
        var config = ServerConfiguration()
        config.port = 70_000
        #expect(throws: ServerError(.invalidConfiguration, "")) { try config.validate() }
        let file = ShowroomServerTests.temporaryDirectory()
        FileManager.default.createFile(atPath: file, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: file) }
        var onAFile = ServerConfiguration()
        onAFile.dataDirectory = file
        #expect(throws: ServerError(.invalidConfiguration, "")) { try onAFile.prepareDataDirectory() }
    }
}

/// The real `showroom` executable: serves, and stops cleanly on SIGINT and SIGTERM.
@Suite struct ShowroomCommandTests {
    static var executable: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/showroom").path
    }

    /// `GET url` (http://127.0.0.1:PORT/…) on a connection of its own, answered within `limit`
    /// or nil: status and body. Not URLSession: a CI run hung for good in a `/healthz` poll after
    /// the chaos test's SIGKILL (URLSession.shared's answer never came, no timeout fired), and with
    /// it every later caller.
    static func get(_ url: String, within limit: Duration = .seconds(10)) async -> (Int, String)? {
        guard let u = URL(string: url), u.host == "127.0.0.1", let port = u.port, let c = try? RawTCPConnection(port: port) else { return nil }
        let deadline = ContinuousClock.now + limit
        let target = (u.path.isEmpty ? "/" : u.path) + (u.query.map { "?" + $0 } ?? "")
        let request = "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n"
        guard (try? await c.write(Array(request.utf8), within: limit)) != nil else { return nil }
        var bytes: [UInt8] = []
        reading: while true {
            switch await c.read(upTo: 65_536, until: deadline) {
            case .bytes(let b): bytes += b
            case .closed: break reading
            case .timedOut: return nil
            }
        }
        guard let end = bytes.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).lowercased()
        let statusLine = head.split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        var body = Array(bytes[end.upperBound...])
        if head.contains("transfer-encoding: chunked") {
            // Chunk sizes in hex, each line ended by CRLF; a size of 0 ends the body.
            var decoded: [UInt8] = []
            var rest = body[...]
            while let line = rest.firstRange(of: [13, 10]), let size = Int(String(decoding: rest[..<line.lowerBound], as: UTF8.self), radix: 16), size > 0 {
                let start = line.upperBound
                guard rest.endIndex - start >= size else { return nil }
                decoded += rest[start..<(start + size)]
                rest = rest[(start + size)...].dropFirst(2)
            }
            body = decoded
        }
        return (status, String(decoding: body, as: UTF8.self))
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func servesThenStopsOnSignal(_ signal: Int32) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.executable), "build first: swift build")
        let port = try UDPSocket().port  // a port number free a moment ago (TCP and UDP share the range)
        let dataDir = ShowroomServerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        // Media on free ports: the two signals' cases run at once, and a media port's TCP listener
        // (ICE-TCP) cannot be bound twice.
        let process = try Subprocess(
            Self.executable, ["serve", "--port", "\(port)", "--media-port", "0", "--data-dir", dataDir, "--log-level", "warning"])
        var health: (Int, String)?
        for _ in 0..<100 where health == nil {  // up to ~10 s for the server to bind
            health = await Self.get("http://127.0.0.1:\(port)/healthz")
            if health == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(health?.0 == 200)
        #expect(health?.1.contains("\"ok\"") == true)
        #expect(await process.end(signal, grace: .seconds(10)) == .exited(0))
        #expect(FileManager.default.fileExists(atPath: dataDir))
    }

    @Test func rejectsABadPortWithAMessage() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.executable))
        let process = try Subprocess(Self.executable, ["serve", "--port", "99999", "--data-dir", ShowroomServerTests.temporaryDirectory()], errors: .capture)
        let ended = await process.exit(within: .seconds(60))
        #expect(ended != nil && ended != .exited(0))
        #expect(process.errors().contains("port 99999"))
    }

    @Test func tokenCommandMintsATokenTheServerAccepts() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.executable))
        let dataDir = ShowroomServerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        var environment = ProcessInfo.processInfo.environment
        environment["SHOWROOM_SECRET"] = nil
        let process = try Subprocess(
            Self.executable, ["token", "--room", "shoes", "--identity", "ada", "--role", "publisher", "--ttl", "60", "--data-dir", dataDir],
            environment: environment, output: .capture)
        #expect(await process.exit(within: .seconds(60)) == .exited(0))
        let jwt = process.output().trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(jwt.split(separator: ".").count == 3)
        // The secret was created once, private, and verifies the token.
        let secretPath = dataDir + "/secret"
        let mode = (try FileManager.default.attributesOfItem(atPath: secretPath)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        let secret = try TokenAuthority.loadSecret(dataDirectory: dataDir, environment: [:])
        let token = try await TokenAuthority(secret: secret).authorize("Bearer \(jwt)", room: "shoes", role: .publisher)
        #expect(token.sub.value == "ada")
        #expect(try TokenAuthority.loadSecret(dataDirectory: dataDir, environment: [:]) == secret)  // not regenerated
        let strong = String(repeating: "k", count: 32)
        #expect(try TokenAuthority.loadSecret(dataDirectory: dataDir, environment: ["SHOWROOM_SECRET": strong]) == Array(strong.utf8))
    }

    /// A short secret is one an attacker can guess, and silently replacing a short secret file
    /// invalidated every token issued with it: both are refused with the reason instead.
    @Test func shortSecretsAreRefusedAndNeverReplaced() throws {
        #expect(throws: ServerError(.invalidConfiguration, "")) {
            try TokenAuthority.loadSecret(dataDirectory: ShowroomServerTests.temporaryDirectory(), environment: ["SHOWROOM_SECRET": "env"])
        }
        let dataDir = ShowroomServerTests.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let short = Data("only-sixteen-byt".utf8)
        FileManager.default.createFile(atPath: dataDir + "/secret", contents: short, attributes: [.posixPermissions: 0o600])
        do {
            _ = try TokenAuthority.loadSecret(dataDirectory: dataDir, environment: [:])
            Issue.record("a 16-byte secret file was accepted")
        } catch let error as ServerError {
            #expect(error.code == .invalidConfiguration)
            #expect(error.detail.contains("32"), "\(error)")
        }
        #expect(FileManager.default.contents(atPath: dataDir + "/secret") == short, "the file is left as it was")
    }
}
