import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Chat
import HummingbirdWebSocket
import PostgresStores
import Relay
import ShowroomCore
import ServiceLifecycle
import Signaling

/// Composition root: builds the HTTP application from a configuration. Later layers (relay,
/// signaling, chat) join here as services of the same group.
public enum ShowroomServer {
    /// The version reported by `/healthz` and `showroom --version`.
    public static let version = "0.1.0"

    /// The body of `GET /healthz`.
    public struct Health: ResponseEncodable, Sendable, Equatable, Decodable {
        public var status: String
        public var version: String
        /// In a cluster, this process's id (``ClusterMembership/instance``): a node checks that its
        /// `--node-url` reaches itself before it takes rooms.
        public var node: String?

        public init(status: String, version: String, node: String? = nil) {
            self.status = status
            self.version = version
            self.node = node
        }
    }

    /// The router with every route the server answers.
    public static func router(
        relay: RelayServer? = nil, auth: TokenAuthority? = nil, demoTokens: Bool = false, metrics: ServerMetrics? = nil,
        hub: RoomHub? = nil, desk: DeskService? = nil, assist: AssistService? = nil, turn: TURNCredentials? = nil,
        cluster: ClusterMembership? = nil, desks: DeskLeadership? = nil, pipes: NodePipes? = nil
    ) -> Router<BasicRequestContext> {
        let router = Router()
        // Request counts and durations through swift-metrics (a no-op until a backend is bootstrapped).
        router.add(middleware: MetricsMiddleware())
        // The web page (plain HTML/JS shipped as a resource of this target).
        if let web = Bundle.module.resourceURL?.appendingPathComponent("Web").path {
            router.add(middleware: FileMiddleware(web, searchForIndexHtml: true))
        }
        // WHIP/WHEP clients may live on another origin (a shop's page); nothing else is shared.
        router.add(middleware: MediaCORSMiddleware())
        let instance = cluster?.instance
        router.get("healthz") { _, _ in Health(status: "ok", version: version, node: instance) }
        // The agent console (/agent), the shopper widget (/shop), the desk's agent workspace
        // (/workspace) and supervisor overview (/supervisor), each one HTML page.
        for page in ["agent", "shop", "workspace", "supervisor"] {
            guard let url = Bundle.module.resourceURL?.appendingPathComponent("Web/\(page).html"),
                let html = try? Data(contentsOf: url)
            else { continue }
            router.get(RouterPath(stringLiteral: page)) { _, _ -> Response in
                Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: html)))
            }
        }
        if let metrics {
            router.get("metrics") { _, _ -> Response in
                let text = await metrics.render(relay: relay, hub: hub, desk: desks?.current?.desk ?? desk)
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: text)))
            }
        }
        if let relay, let auth { WHIPRoutes.add(to: router, relay: relay, auth: auth, turn: turn, cluster: cluster, pipes: pipes) }
        if let pipes { NodePipes.add(to: router, pipes: pipes) }
        if let desks {
            // A cluster: the desk's API is answered by the node whose turn it is (here or forwarded).
            router.add(middleware: DeskForwarding(leadership: desks))
        } else {
            if let desk, let auth { DeskRoutes.add(to: router, desk: desk, auth: auth) }
            if let assist, let desk, let auth { AssistRoutes.add(to: router, assist: assist, desk: desk, auth: auth) }
        }
        if demoTokens, let auth {
            // Only with `--demo`: tokens for any room and role, for the pages on this server — never
            // for another origin (no CORS here; a cross-site request is refused outright).
            router.get("demo-token") { request, _ -> String in
                // DNS rebinding: a page of another name that now resolves to 127.0.0.1 asks
                // "same-origin" with its own name in Host. The server listens on loopback, so the
                // name a page of its own uses is a loopback one.
                guard Self.isLoopbackAuthority(request.head.authority) else {
                    throw HTTPError(.forbidden, message: "demo tokens are only for pages opened as localhost, 127.0.0.1 or [::1]")
                }
                if request.headers[Self.secFetchSite].map({ $0 != "same-origin" && $0 != "none" }) == true
                    || request.headers[.origin].map({ origin in !Self.isSameOrigin(origin, host: request.head.authority) }) == true
                {
                    throw HTTPError(.forbidden, message: "demo tokens are for this server's own pages")
                }
                let room = request.uri.queryParameters.get("room") ?? "demo"
                guard WHIPRoutes.validRoom(room) else { throw HTTPError(.badRequest, message: "bad room name") }
                guard let role = request.uri.queryParameters.get("role").flatMap(Role.init(rawValue:)) else {
                    throw HTTPError(.badRequest, message: "role must be publisher, viewer, shopper, agent or admin")
                }
                // `identity`: who the page acts as (the demo's agents are `anna` and `ben`).
                let asked: String? = request.uri.queryParameters.get("identity")
                let identity = asked ?? "page-\(UInt32.random(in: 0...UInt32.max))"
                guard RoomName.isValid(identity) else { throw HTTPError(.badRequest, message: "identity: 1–64 letters, digits, - or _") }
                return try await auth.mint(identity: identity, room: room, role: role, ttl: 3_600)
            }
        }
        return router
    }

    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!

    /// Whether a request's Host names this machine's loopback (`localhost`, `127.x.y.z`, `[::1]`),
    /// with or without a port.
    static func isLoopbackAuthority(_ authority: String?) -> Bool {
        guard var host = authority?.lowercased() else { return false }
        if host.hasPrefix("[") {
            guard let end = host.firstIndex(of: "]") else { return false }
            return host[host.index(after: host.startIndex)..<end] == "::1"
        }
        if let colon = host.firstIndex(of: ":") { host = String(host[..<colon]) }
        if host == "localhost" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Whether an `Origin` header names this server itself (scheme aside): `http://HOST` for the
    /// request's `Host`.
    static func isSameOrigin(_ origin: String, host: String?) -> Bool {
        guard let host else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    /// A node URL without its trailing slash (`http://a:8080/` → `http://a:8080`).
    static func trimmedURL(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()) : url }

    /// Builds the application; `onServerRunning` receives the bound port (useful with port 0).
    public static func application(
        configuration: ServerConfiguration, relay: RelayServer? = nil, auth: TokenAuthority? = nil, metrics: ServerMetrics? = nil,
        logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws(ServerError) -> some ApplicationProtocol {
        try configuration.validate()
        let dataDirectory = try configuration.prepareDataDirectory()
        logger.info(
            "showroom configuration",
            metadata: [
                "host": .string(configuration.host), "port": .stringConvertible(configuration.port),
                "dataDirectory": .string(dataDirectory), "logLevel": .string(configuration.logLevel.rawValue),
                "version": .string(version), "durableChat": .stringConvertible(configuration.durableChat),
                "retentionDays": .string(configuration.chatRetention.days.map(String.init) ?? "none"),
                "retentionMessages": .string(configuration.chatRetention.messagesPerRoom.map(String.init) ?? "none"),
            ])
        // Every store: SQLite files in the data directory, or the shared PostgreSQL database.
        let stores = try StoreLocation.open(configuration, dataDirectory: dataDirectory, logger: logger)
        // The chat of every room.
        let store: any ChatStore
        do { store = try stores.chatStore() } catch { throw ServerError(.storage, error.description) }
        let hub = RoomHub(store: store, limits: configuration.signaling)
        // Several nodes on one database, this one with media: rooms are placed on nodes, and WHIP
        // and WHEP for a room of another node are redirected there.
        let cluster: ClusterMembership?
        if case .postgres(let database) = stores, let relay {
            do {
                cluster = ClusterMembership(
                    registry: try PostgresNodeRegistry(database: database), relay: relay, url: configuration.nodeURL.map(Self.trimmedURL),
                    deadAfter: configuration.nodeDeadAfterSeconds, interval: configuration.heartbeatInterval,
                    mediaAddress: relay.configuration.announceIPs.first ?? "", logger: logger)
            } catch {
                throw ServerError(.storage, "cluster: \(error.description)")
            }
        } else {
            cluster = nil
        }
        let media: (any MediaNegotiator)? = relay.map { RelayMedia(relay: $0, cluster: cluster) }
        let secret: [UInt8]?
        do { secret = auth == nil ? nil : try TokenAuthority.loadSecret(dataDirectory: dataDirectory) } catch {
            throw ServerError(.invalidConfiguration, "assist: the server's secret: \(error)")
        }
        // The desk (consultations, bot, queue, routing) and agent assist (catalog, profiles,
        // recommendations, scripts, hints, conversions, webhooks): on a node of its own, here for
        // good; in a cluster, on one node at a time (``DeskLeadership``), the others forwarding.
        var desk: DeskService?
        var assist: AssistService?
        var desks: DeskLeadership?
        if let auth, let secret {
            if let cluster, case .postgres(let database) = stores {
                let demo = configuration.demo
                let registry: PostgresNodeRegistry
                do { registry = try PostgresNodeRegistry(database: database) } catch { throw ServerError(.storage, "cluster: \(error.description)") }
                desks = DeskLeadership(registry: registry, cluster: cluster, hub: hub, logger: logger) {
                    let desk = try DeskService.open(stores: stores, demo: demo, hub: hub, auth: auth, followsRooms: false, logger: logger)
                    let assist = try AssistService.open(
                        stores: stores, secret: secret, demo: demo, desk: desk, hub: hub, followsRooms: false, logger: logger)
                    let routes = Router()
                    DeskRoutes.add(to: routes, desk: desk, auth: auth)
                    AssistRoutes.add(to: routes, assist: assist, desk: desk, auth: auth)
                    return DeskLeadership.Term(desk: desk, assist: assist, responder: routes.buildResponder())
                }
            } else {
                let opened = try DeskService.open(stores: stores, demo: configuration.demo, hub: hub, auth: auth, logger: logger)
                desk = opened
                assist = try AssistService.open(stores: stores, secret: secret, demo: configuration.demo, desk: opened, hub: hub, logger: logger)
            }
        }
        // Media between nodes: viewers served where they land from a pipe of the room's node.
        var pipes: NodePipes?
        if let cluster, let relay, let auth {
            pipes = NodePipes(relay: relay, auth: auth, cluster: cluster, host: cluster.mediaAddress)
        }
        // No WebSocket-level pings: the protocol's own ping (every 10 s, 30 s idle timeout) keeps a
        // socket alive and proves the client is there, and per-socket ping timers cost memory.
        let wsConfiguration = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: .init(idleTimeout: .seconds(Int64(configuration.httpIdleTimeoutSeconds))),
            ws: WebSocketServerConfiguration(maxFrameSize: SignalingConnection.maximumFrame, autoPing: .disabled))
        let connectionGuard = ConnectionGuard(
            maximumConnections: configuration.maximumConnections, firstRequestDeadline: .seconds(Int64(configuration.firstRequestDeadlineSeconds)))
        return Application(
            router: router(
                relay: relay, auth: auth, demoTokens: configuration.demo, metrics: metrics, hub: hub, desk: desk, assist: assist,
                turn: configuration.turn, cluster: cluster, desks: desks, pipes: pipes),
            server: HTTPServerBuilder { responder in
                connectionGuard.wrap(HTTP1WebSocketUpgradeChannel(responder: responder, configuration: wsConfiguration) { request, channel, logger in
                // `/ws` (signaling and chat) upgrades; everything else is plain HTTP.
                guard let auth, request.path?.split(separator: "?").first == "/ws" else { return .dontUpgrade }
                return .upgrade([:]) { inbound, outbound, _ in
                    // The channel: the outbox is written on its loop, and closed under a writer
                    // stuck on backpressure.
                    await SignalingConnection.run(
                        inbound: inbound, outbound: outbound, channel: channel, hub: hub, media: media,
                        auth: auth, turn: configuration.turn, metrics: metrics, address: channel.remoteAddress?.ipAddress ?? "", logger: logger)
                }
                })
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "showroom"),
            services: [
                ChatRetention(hub: hub, policy: configuration.chatRetention, interval: configuration.chatRetentionInterval, logger: logger),
                SharedChatFeed(hub: hub),
            ] + (cluster.map { [$0] } ?? []) + (pipes.map { [$0] } ?? []) + (desks.map { [$0] } ?? []) + (desk.map { [DeskLifecycle(desk: $0)] } ?? [])
                + (assist.map { [AssistLifecycle(assist: $0)] } ?? []),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                cluster?.listening(at: "http://\(configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host):\(port)")
                await onServerRunning(port)
            },
            logger: logger)
    }

    /// Builds and runs the server until SIGINT or SIGTERM, then shuts down gracefully.
    public static func run(configuration: ServerConfiguration, logger: Logger) async throws {
        try configuration.validate()
        let dataDirectory = try configuration.prepareDataDirectory()
        let auth = await TokenAuthority(secret: try TokenAuthority.loadSecret(dataDirectory: dataDirectory))
        let metrics = ServerMetrics()
        metrics.bootstrap()
        var relayConfiguration = configuration.relay
        relayConfiguration.metricsFactory = metrics.factory
        let relay = try await RelayServer.start(configuration: relayConfiguration, logger: logger)
        let app = try application(configuration: configuration, relay: relay, auth: auth, metrics: metrics, logger: logger) { port in
            logger.info("showroom listening", metadata: ["url": .string("http://\(configuration.host):\(port)")])
        }
        // The relay first: the group stops services in reverse order, so HTTP (WHIP, WHEP, /ws)
        // stops before the media does.
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: RelayLifecycle(relay: relay)), .init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        logger.info("showroom stopped")
    }
}
