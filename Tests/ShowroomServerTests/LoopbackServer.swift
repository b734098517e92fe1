import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceLifecycle

/// An HTTP client of a live test server on 127.0.0.1.
///
/// Why not HummingbirdTesting's `.live` framework: it binds the server to `localhost`, and with
/// Debian's standard `/etc/hosts` (`::1` also named `localhost`) that is `::1` — while WebSocket
/// clients, aiortc, Chromium and the load tool connect to 127.0.0.1 and find nothing. Every live
/// server in these tests binds 127.0.0.1 explicitly (`ServerConfiguration.host`'s default) and this
/// client connects there; `DebianHostsTests` runs a few tests under such a hosts file to keep it so.
struct LoopbackClient: Sendable {
    struct Response: Sendable {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: ByteBuffer
    }

    /// A connection made when the server started (for a request sent at once); ``execute(uri:method:headers:body:_:)``
    /// opens its own.
    let client: TestClient
    let port: Int?

    @discardableResult
    func execute<Return>(
        uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil,
        _ check: (Response) async throws -> Return = { _ in () }
    ) async throws -> Return {
        // A connection per request, as a browser would open one when its kept-alive connection was
        // closed: the server closes connections idle for 30 s (or unanswered for 10 s), and the
        // longer tests (aiortc peers run 15–20 s) leave one idle that long.
        let connection = TestClient(host: "127.0.0.1", port: port ?? 0, configuration: .init(timeout: .seconds(20)))
        connection.connect()
        do {
            let response = try await connection.execute(
                TestClient.Request(uri, method: method, authority: "127.0.0.1:\(port ?? 0)", headers: headers, body: body))
            try? await connection.shutdown()
            return try await check(
                Response(status: response.head.status, headers: response.head.headerFields, body: response.body ?? ByteBuffer()))
        } catch {
            try? await connection.shutdown()
            throw error
        }
    }
}

/// Runs `app` (built to listen on 127.0.0.1, its port reported through `ports`) until `body`
/// returns, then shuts it down gracefully.
func withLoopbackServer<App: ApplicationProtocol & Service, Value: Sendable>(
    _ app: App, ports: AsyncStream<Int>, _ body: @Sendable (LoopbackClient) async throws -> Value
) async throws -> Value {
    try await withThrowingTaskGroup(of: Void.self) { group in
        let services = ServiceGroup(configuration: .init(services: [app], logger: app.logger))
        group.addTask { try await services.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        let client = TestClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(20)))
        client.connect()
        do {
            let value = try await body(LoopbackClient(client: client, port: port))
            // The server may have closed it already (unused for 10 s: ConnectionGuard).
            try? await client.shutdown()
            await services.triggerGracefulShutdown()
            return value
        } catch {
            try? await client.shutdown()
            await services.triggerGracefulShutdown()
            throw error
        }
    }
}

/// Runs a plain HTTP server on 127.0.0.1 with `router` (a webhook receiver, a shop's bot) until
/// `body` returns; `body` gets its client (and so its port).
func withLoopbackRouter<Value: Sendable>(
    _ router: Router<BasicRequestContext>, label: String, _ body: @Sendable (LoopbackClient) async throws -> Value
) async throws -> Value {
    let (ports, report) = AsyncStream.makeStream(of: Int.self)
    let app = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { report.yield($0.localAddress?.port ?? 0) }, logger: Logger(label: label))
    return try await withLoopbackServer(app, ports: ports, body)
}

