import ArgumentParser
import Foundation
import Logging
import ShowroomServer

#if canImport(Glibc)
import Glibc
#endif

@main
struct Showroom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "showroom",
        abstract: "Video shopping server: live product demos, consultations with chat and video.",
        discussion: """
            `showroom` alone runs `showroom serve`. Its flags: --host (default 127.0.0.1), --port (default 8080), \
            --media-port (default 40000), --announce-ip (default 127.0.0.1), --data-dir (default ./.showroom), \
            --log-level (default info), --demo (tokens for this server's own pages), --durable, --retention-days, --retention-messages, --no-ice-tcp, --turn-url, --turn-secret, --turn-ttl; \
            `showroom serve --help` explains each.
            """,
        version: ShowroomServer.version,
        subcommands: [Serve.self, Token.self],
        defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server on its embedded defaults: HTTP on 127.0.0.1:8080, state in ./.showroom.",
        discussion: "Stops cleanly on SIGINT (Ctrl-C) or SIGTERM. GET /healthz answers when it is up.")

    @Option(help: "Address to bind the HTTP server to. Keep 127.0.0.1 unless a proxy or peers on other hosts need it.")
    var host = "127.0.0.1"

    @Option(help: "HTTP port (0 picks a free one and logs it).")
    var port = 8080

    @Option(help: "UDP port for WebRTC media (STUN, DTLS, SRTP) of the first media thread; thread i listens on this port + i. 0 picks free ones.")
    var mediaPort = 40_000

    @Option(help: "Media threads (event loops that forward media), each with its own UDP port; a room's sessions share one. Default: one per core.")
    var mediaThreads: Int?

    @Option(help: "Address announced in SDP candidates; give it twice for one IPv4 and one IPv6 address (the first is preferred). The server never guesses it from its interfaces; set it to a public address when peers are not on this host. Media sockets bind a loopback address as is, any other on its family's wildcard.")
    var announceIp: [String] = ["127.0.0.1"]

    @Option(help: "Directory for the server's state; created with mode 0700 if missing.")
    var dataDir = "./.showroom"

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Flag(help: "Demo mode: this server's own pages get tokens for any room and role from GET /demo-token, so the demo runs without setup. Only on a loopback --host; never in production.")
    var demo = false

    @Flag(help: "Sync the chat database on every message (SQLite synchronous=FULL): an acknowledged message then survives power loss, not only a crash.")
    var durable = false

    @Option(help: "Delete chat messages older than this many days (default: keep them).")
    var retentionDays: Int?

    @Option(help: "Keep at most this many chat messages per room, deleting the oldest (default: all).")
    var retentionMessages: Int?

    @Flag(inversion: .prefixedNo, help: "ICE over TCP (RFC 6544): each media thread also listens on TCP at its UDP port's number and offers a passive TCP candidate, so peers on networks that block UDP connect; peers that have both use UDP.")
    var iceTcp = true

    @Option(help: "A TURN server clients may relay through (repeatable), e.g. turn:turn.shop.example:3478?transport=udp, turn:…?transport=tcp, turns:turn.shop.example:443?transport=tcp. Needs --turn-secret (docs/reachability.md).")
    var turnUrl: [String] = []

    @Option(help: "The secret shared with the TURN server (coturn's static-auth-secret); SHOWROOM_TURN_SECRET is read when this is absent — prefer it, command lines are visible to every user of the machine.")
    var turnSecret: String?

    @Option(help: "Seconds a TURN credential handed to a client works (60–604800); a call through TURN cannot outlast it.")
    var turnTtl = 86_400

    @Option(help: "A PostgreSQL database every store uses instead of the data directory's SQLite files, so that several nodes share one chat and one desk: postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=disable|prefer|require|verify-full]. SHOWROOM_DATABASE_URL is read when this is absent — prefer it, command lines are visible to every user of the machine (docs/cluster.md).")
    var database: String?

    @Option(help: "With --database: the URL other nodes send this node's rooms' WHIP/WHEP clients to, and forward the desk's API to when this node runs the desk, e.g. http://10.0.0.11:8080 (SHOWROOM_NODE_URL; default http://HOST:PORT as bound, which needs a --host that is an address). It must reach this node from the others: a node takes rooms and the desk only once GET <url>/healthz answers with its own id.")
    var nodeUrl: String?

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("unknown log level '\(logLevel)'")
        }
        // A parent (a test runner, some supervisors) may hand us a blocked SIGINT/SIGTERM mask;
        // the graceful shutdown below depends on receiving them.
        #if canImport(Glibc)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        #endif
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var config = ServerConfiguration()
        config.host = host
        config.port = port
        config.dataDirectory = dataDir
        config.relay.mediaPort = mediaPort
        config.relay.mediaThreads = mediaThreads ?? min(ProcessInfo.processInfo.activeProcessorCount, 64)
        config.relay.announceIPs = announceIp
        config.relay.iceTCP = iceTcp
        config.logLevel = level
        config.demo = demo
        config.durableChat = durable
        config.retentionDays = retentionDays
        config.retentionMessagesPerRoom = retentionMessages
        config.databaseURL = database ?? ProcessInfo.processInfo.environment["SHOWROOM_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        config.nodeURL = nodeUrl ?? ProcessInfo.processInfo.environment["SHOWROOM_NODE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        let secret = turnSecret ?? ProcessInfo.processInfo.environment["SHOWROOM_TURN_SECRET"].flatMap { $0.isEmpty ? nil : $0 }
        switch (turnUrl.isEmpty, secret) {
        case (true, nil): break
        case (false, nil): throw ValidationError("--turn-url needs --turn-secret or SHOWROOM_TURN_SECRET")
        case (true, _?): throw ValidationError("--turn-secret needs at least one --turn-url")
        case (false, let secret?):
            do { config.turn = try TURNCredentials(urls: turnUrl, secret: secret, lifetime: turnTtl) } catch {
                throw ValidationError(error.description)
            }
        }
        let logger = Logger(label: "showroom")
        do {
            try await ShowroomServer.run(configuration: config, logger: logger)
        } catch let error as ServerError {
            throw ValidationError(error.description)
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print an access token (JWT, HS256) for the server that uses this data directory.",
        discussion: "The secret is SHOWROOM_SECRET if set, else <data-dir>/secret (created on first use, mode 0600).")

    @Option(help: "The room the token is for (letters, digits, - or _).")
    var room: String

    @Option(help: "Who the bearer is (shown in logs).")
    var identity: String

    @Option(help: "publisher (go live and watch), viewer (watch and chat), shopper or agent (consultations: chat, call, watch), admin (with --room desk: the desk's admin API), bot (an external bot), shop (the shop's backend: catalog, shopper events, conversions). An agent's workspace token is --role agent --room desk.")
    var role: String

    @Option(help: "Seconds until the token expires.")
    var ttl: Int = 3_600

    @Flag(help: "A VIP shopper: the desk's bot hands them to a person at once, ahead in the queue.")
    var vip = false

    @Option(help: "The server's data directory, where its secret lives.")
    var dataDir = "./.showroom"

    func run() async throws {
        guard let role = Role(rawValue: role) else { throw ValidationError("role must be one of " + Role.allCases.map(\.rawValue).joined(separator: ", ")) }
        guard ttl > 0 else { throw ValidationError("ttl must be positive") }
        let secret = try TokenAuthority.loadSecret(dataDirectory: dataDir)
        let authority = await TokenAuthority(secret: secret)
        let token = try await authority.mint(identity: identity, room: room, role: role, ttl: TimeInterval(ttl), tier: vip ? "vip" : nil)
        FileHandle.standardOutput.write(Data((token + "\n").utf8))
    }
}
