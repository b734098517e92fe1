import Foundation
import Hummingbird
import Logging
import Relay
import ServiceLifecycle
import ShowroomServer
import Synchronization
import Testing

/// A token for `/ws` tests with an identity of the test's choosing (the shared `token` helper
/// names everyone "tester", and identities have quotas now).
func wsToken(_ room: String, _ role: Role, identity: String, ttl: TimeInterval = 600) async throws -> String {
    try await TokenAuthority(secret: testSecret).mint(identity: identity, room: room, role: role, ttl: ttl)
}

/// A live server in this process, in a `ServiceGroup` as `showroom serve` runs it, with the
/// configuration a test chooses, `/metrics`, optionally a relay; it can be stopped gracefully and
/// the stop timed.
final class SignalingServer: Sendable {
    let port: Int
    let dataDirectory: String
    let relay: RelayServer?
    private let group: ServiceGroup
    private let done: Done

    final class Done: Sendable { let value = Atomic(false) }

    private init(port: Int, dataDirectory: String, relay: RelayServer?, group: ServiceGroup, done: Done) {
        self.port = port
        self.dataDirectory = dataDirectory
        self.relay = relay
        self.group = group
        self.done = done
    }

    static func start(
        relay withRelay: Bool = false, relayConfiguration: (inout RelayConfiguration) -> Void = { _ in },
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> SignalingServer {
        let metrics = ServerMetrics()
        var relay: RelayServer?
        if withRelay {
            var relayConfig = RelayConfiguration()
            relayConfig.mediaPort = 0
            relayConfig.metricsFactory = metrics.factory
            relayConfiguration(&relayConfig)
            relay = try await RelayServer.start(configuration: relayConfig, logger: Logger(label: "test"))
        }
        var config = ServerConfiguration()
        config.port = 0
        config.dataDirectory = ShowroomServerTests.temporaryDirectory()
        configure(&config)
        let started = AsyncStream.makeStream(of: Int.self)
        let app = try ShowroomServer.application(
            configuration: config, relay: relay, auth: await TokenAuthority(secret: testSecret), metrics: metrics,
            logger: Logger(label: "test")
        ) { port in started.continuation.yield(port) }
        let services: [any Service] = (relay.map { [RelayLifecycle(relay: $0)] } ?? []) + [app]
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [], logger: Logger(label: "test")))
        let done = Done()
        Task {
            _ = try? await group.run()
            done.value.store(true, ordering: .relaxed)
        }
        var port = 0
        for await p in started.stream {
            port = p
            break
        }
        return SignalingServer(port: port, dataDirectory: config.dataDirectory, relay: relay, group: group, done: done)
    }

    /// `GET /metrics`.
    func metrics() async -> String { await ShowroomCommandTests.get("http://127.0.0.1:\(port)/metrics")?.1 ?? "" }

    /// One sample of `/metrics` (a series with its labels as written, e.g. `name{code="x"}`).
    func sample(_ series: String) async -> Double? { WHIPTests.sample(await metrics(), series) }

    /// Polls `condition` every 20 ms until it holds or `seconds` pass; true if it held.
    static func eventually(seconds: Double, _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }

    /// Starts a graceful shutdown and waits at most `seconds` for it to finish; returns how long it
    /// took, or nil if it had not finished by then (the server is then left to finish on its own).
    func stop(within seconds: Double = 30, keepingData: Bool = false) async -> Duration? {
        let start = ContinuousClock.now
        await group.triggerGracefulShutdown()
        let finished = await Self.eventually(seconds: seconds) { done.value.load(ordering: .relaxed) }
        await relay?.stop()
        if !keepingData { try? FileManager.default.removeItem(atPath: dataDirectory) }
        return finished ? ContinuousClock.now - start : nil
    }
}
