import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import ShowroomServer
import ShowroomTestSupport
import Synchronization
import Testing

/// A server whose data directory outlives it, so that it can be stopped and started again.
protocol ChaosServer: Sendable {
    var port: Mutex<Int> { get }
    var dataDirectory: String { get }
    func start() async throws
    /// Ends it (gracefully, or as a crash does) and starts it again on the same data.
    func restart() async throws
    func stop() async
}

/// In process, without a relay (chat only); the restart is a graceful stop — as a deploy does.
final class RestartableServer: ChaosServer {
    let dataDirectory: String
    let port = Mutex(0)
    private let running = Mutex<(ServiceGroup, Task<Void, Never>)?>(nil)

    init() { dataDirectory = ShowroomServerTests.temporaryDirectory() }

    func start() async throws {
        var config = ServerConfiguration()
        config.port = 0
        config.dataDirectory = dataDirectory
        let started = AsyncStream.makeStream(of: Int.self)
        let app = try ShowroomServer.application(
            configuration: config, auth: await TokenAuthority(secret: testSecret), logger: Logger(label: "chaos")
        ) { port in started.continuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: Logger(label: "chaos")))
        let task = Task { _ = try? await group.run() }
        running.withLock { $0 = (group, task) }
        for await p in started.stream {
            port.withLock { $0 = p }
            break
        }
    }

    func restart() async throws {
        await stop()
        try await start()
    }

    /// Graceful stop: connections get `closing` (shutting_down) and the process-like state ends.
    func stop() async {
        guard let (group, task) = running.withLock({ r in defer { r = nil }; return r }) else { return }
        await group.triggerGracefulShutdown()
        _ = await task.value
    }
}

/// The real `showroom` executable; the restart is SIGKILL — no goodbye, no flush — and a new
/// process on the same port and data directory.
final class KilledServer: ChaosServer {
    let dataDirectory = ShowroomServerTests.temporaryDirectory()
    let port: Mutex<Int>
    /// Killed and reaped when this goes, so a test that fails part-way leaves no server behind.
    private let process = Mutex<Subprocess?>(nil)

    /// Added to `serve`'s (`--database URL` for a cluster node).
    let arguments: [String]

    init(arguments: [String] = []) throws {
        port = Mutex(Int(try UDPSocket().port))  // free a moment ago (TCP shares the range)
        self.arguments = arguments
    }

    func start() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ShowroomCommandTests.executable), "build first: swift build")
        let port = self.port.withLock { $0 }
        var environment = ProcessInfo.processInfo.environment
        environment["SHOWROOM_SECRET"] = String(decoding: testSecret, as: UTF8.self)
        let p = try Subprocess(
            ShowroomCommandTests.executable,
            ["serve", "--port", "\(port)", "--media-port", "0", "--data-dir", dataDirectory, "--log-level", "warning"] + arguments,
            environment: environment)
        process.withLock { $0 = p }
        var up = false
        for _ in 0..<200 where !up {  // up to ~10 s to bind
            up = await ShowroomCommandTests.get("http://127.0.0.1:\(port)/healthz")?.0 == 200
            if !up { try await Task.sleep(for: .milliseconds(50)) }
        }
        try #require(up, "showroom did not start on \(port)")
    }

    func restart() async throws {
        await stop()
        try await start()
    }

    func stop() async {
        guard let p = process.withLock({ r in defer { r = nil }; return r }) else { return }
        await p.end(SIGKILL)
    }
}

/// Issue 4's chaos test: N clients each send M messages into one room while their connections
/// are cut at random moments (a clean close, a dropped connection, or right after a send before
/// its ack) and come back with resume; the server is restarted once in the middle — stopped
/// gracefully in one run, killed with SIGKILL in the other. Every client
/// must end up having received every acknowledged message exactly once, in seq order.
@Suite struct ChaosTests {
    struct Report: Sendable {
        var client: Int
        var acked: [String: Int64]
        var received: [Int64]
        var reconnects: Int
    }

    final class Progress: Sendable {
        let acked = Atomic<Int>(0)
        let restarted = Atomic<Bool>(false)
    }

    /// One client of the room `chaos`: sends `perClient` messages (ids `c<i>-<j>`) and takes in
    /// the room's `total`, cutting its connection at random (a clean close, a dropped connection,
    /// a send left without its ack) and resuming from the last seq it got, with every send not yet
    /// acknowledged sent again under its id. It enters on the first of `nodes()` (their ports, read
    /// at each connection: a server restarted in process has a new one), and moves to the next
    /// whenever one does not let it in within 3 s (a server restarting, or dead). Counts each
    /// first acknowledgement in `progress.acked`.
    static func client(
        _ i: Int, token: String, perClient: Int, total: Int, nodes: @Sendable () -> [Int], progress: Progress
    ) async throws -> Report {
        var rng = SeededRandom(seed: UInt64(100 + i))
        var acked: [String: Int64] = [:]
        var received: [Int64] = []
        var reconnects = 0
        var next = 0
        var node = 0
        let deadline = ContinuousClock.now + .seconds(120)
        func lastSeq() -> Int64 { received.last ?? 0 }
        // Until everything is sent and acknowledged, and every message of the room has arrived.
        while acked.count < perClient || lastSeq() < Int64(total) {
            guard ContinuousClock.now < deadline else { break }
            let ports = nodes()
            let c = SignalingClient(port: ports[node % ports.count])
            guard (try? await c.enter(token: token, room: "chaos", lastSeq: lastSeq(), seconds: 3)) != nil else {
                await c.abort()
                node = (node + 1) % ports.count
                try await Task.sleep(for: .milliseconds(50))  // the server is restarting: try again
                continue
            }
            reconnects += 1
            // What was sent but never acknowledged goes again, with the same ids.
            for j in 0..<next where acked["c\(i)-\(j)"] == nil {
                c.send(["type": "send", "id": "c\(i)-\(j)", "kind": "text", "text": "message \(j) of client \(i)"])
            }
            var alive = true
            while alive {
                if next < perClient {
                    c.send(["type": "send", "id": "c\(i)-\(next)", "kind": "text", "text": "message \(next) of client \(i)"])
                    next += 1
                }
                // Take in what has arrived: messages in order, acks.
                try await Task.sleep(for: .milliseconds(Int(rng.next() % 8)))
                for m in c.drain() {
                    switch m["type"] as? String {
                    case "message":
                        if let seq = m["seq"] as? Int64 { received.append(seq) }
                    case "ack":
                        if let id = m["id"] as? String, let seq = m["seq"] as? Int64, acked[id] == nil {
                            acked[id] = seq
                            progress.acked.add(1, ordering: .relaxed)
                        }
                    case "closing": alive = false
                    default: break
                    }
                }
                if c.isClosed { alive = false }
                if acked.count == perClient && lastSeq() >= Int64(total) { break }
                // A random cut: a clean close, a dropped connection, or a send left without its ack.
                let dice = rng.next() % 100
                if dice < 4 {
                    await c.close()
                    alive = false
                } else if dice < 8 {
                    await c.abort()
                    alive = false
                } else if dice < 11, next < perClient {
                    c.send(["type": "send", "id": "c\(i)-\(next)", "kind": "text", "text": "message \(next) of client \(i)"])
                    next += 1
                    await c.abort()
                    alive = false
                }
            }
            if !c.isClosed { await c.close() }
        }
        return Report(client: i, acked: acked, received: received, reconnects: reconnects)
    }

    @Test(arguments: ["graceful stop", "SIGKILL"])
    func noAcknowledgedMessageIsLostOrDoubledThroughCutsAndARestart(restart: String) async throws {
        let clients = 6, perClient = 40
        let server: any ChaosServer = restart == "SIGKILL" ? try KilledServer() : RestartableServer()
        defer { try? FileManager.default.removeItem(atPath: server.dataDirectory) }
        try await server.start()
        let authority = await TokenAuthority(secret: testSecret)
        let progress = Progress()

        let reports = try await withThrowingTaskGroup(of: Report.self) { group in
            for i in 0..<clients {
                let token = try await authority.mint(identity: "client-\(i)", room: "chaos", role: .shopper, ttl: 600)
                group.addTask {
                    try await Self.client(i, token: token, perClient: perClient, total: clients * perClient, nodes: { [server.port.withLock { $0 }] }, progress: progress)
                }
            }
            // The restart: once about half the messages are acknowledged.
            group.addTask {
                while progress.acked.load(ordering: .relaxed) < clients * perClient / 2 { try await Task.sleep(for: .milliseconds(10)) }
                try await server.restart()
                progress.restarted.store(true, ordering: .relaxed)
                return Report(client: -1, acked: [:], received: [], reconnects: 0)
            }
            var all: [Report] = []
            for try await r in group where r.client >= 0 { all.append(r) }
            return all
        }
        let didRestart = progress.restarted.load(ordering: .relaxed)
        #expect(didRestart)
        let total = Int64(clients * perClient)
        // Every message was acknowledged once, with its own seq; together they are 1…total.
        let ackedSeqs = reports.flatMap(\.acked.values).sorted()
        #expect(ackedSeqs == Array(1...total), "acknowledged seqs")
        for r in reports {
            #expect(r.acked.count == perClient, "client \(r.client) acked \(r.acked.count)")
            // Received: exactly once each, in order, nothing missing.
            #expect(r.received == Array(1...total), "client \(r.client): \(r.received.count) received, \(Set(r.received).count) distinct")
        }
        print("chaos (\(restart)): \(clients) clients × \(perClient) messages, one restart, reconnects \(reports.map(\.reconnects)); 0 lost, 0 duplicated")
        await server.stop()
    }
}
