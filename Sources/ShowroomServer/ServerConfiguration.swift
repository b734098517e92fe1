import Chat
import Foundation
import Logging
import PostgresStores
import Relay
import ShowroomCore
import Signaling

/// What `showroom serve` runs with. Defaults are the embedded ones: loopback only, data beside
/// the working directory.
public struct ServerConfiguration: Sendable {
    /// Address the HTTP server binds (default 127.0.0.1: nothing is exposed unless asked).
    public var host: String = "127.0.0.1"
    /// HTTP port; 0 asks the kernel for a free one.
    public var port: Int = 8080
    /// Where the server keeps its state (secret, chat database in later versions).
    public var dataDirectory: String = "./.showroom"
    public var logLevel: Logger.Level = .info
    /// The UDP media plane (port, announced address).
    public var relay = RelayConfiguration()
    /// Demo mode (`--demo`): `GET /demo-token` hands this server's own pages tokens for any room
    /// and role, so that the demo runs without setup. Never on a server others can reach.
    public var demo = false
    /// `--durable`: SQLite `synchronous = FULL` for the chat store, so that an acknowledged message
    /// survives power loss too (an fsync per message); the default, `NORMAL`, survives the process
    /// crashing or being killed (docs/protocol.md).
    public var durableChat = false
    /// `--retention-days`, `--retention-messages`: chat older than this many days, and beyond this
    /// many messages per room, is deleted (nil: kept), at start and every `chatRetentionInterval`.
    public var retentionDays: Int?
    public var retentionMessagesPerRoom: Int?
    public var chatRetentionInterval: Duration = .seconds(3_600)
    var chatRetention: RetentionPolicy { RetentionPolicy(days: retentionDays, messagesPerRoom: retentionMessagesPerRoom) }
    /// The quotas and budgets of `/ws` (docs/protocol.md, "Limits").
    public var signaling = SignalingLimits()
    /// TCP connections open at once, HTTP and `/ws` together (docs/limits.md): room for every
    /// `/ws` slot, the pending ones and plain HTTP requests.
    public var maximumConnections = 20_000
    /// A connection the server has not answered within this many seconds of opening (nothing, or
    /// half a request sent) is closed.
    public var firstRequestDeadlineSeconds = 10
    /// A kept-alive HTTP connection idle this many seconds between requests is closed.
    public var httpIdleTimeoutSeconds = 30
    /// `--turn-url` (repeatable) with `--turn-secret` or `SHOWROOM_TURN_SECRET`, and `--turn-ttl`:
    /// a TURN server (coturn with `use-auth-secret`) whose time-limited credentials the server
    /// hands to clients (docs/reachability.md). Nil: no TURN, clients get no ICE servers.
    public var turn: TURNCredentials?
    /// `--database` or `SHOWROOM_DATABASE_URL`: a `postgres://` URL (``PostgresStores/PostgresLocation``)
    /// that every store uses instead of the data directory's SQLite files, so that several nodes
    /// share one desk and one chat (docs/cluster.md). Nil: SQLite (the embedded default).
    public var databaseURL: String?
    /// `--node-url` or `SHOWROOM_NODE_URL`: with `databaseURL`, the URL other nodes send this
    /// node's rooms' WHIP/WHEP clients (and the desk's API, while this node runs the desk) to (`http://10.0.0.11:8080`); nil: `http://HOST:PORT` as
    /// bound (refused for a wildcard `--host`, which names no address to send anyone to).
    public var nodeURL: String?
    /// A node whose last heartbeat is older than this is dead: its rooms are placed again at their
    /// next use (docs/cluster.md).
    public var nodeDeadAfterSeconds: Double = 10
    /// How often a node reports its heartbeat and load.
    public var heartbeatInterval: Duration = .seconds(2)

    public init() {}

    /// True when the HTTP server is reachable from this machine only.
    public var isLoopback: Bool { host == "127.0.0.1" || host == "::1" || host == "localhost" }

    /// Checks the values a user can get wrong and says which one.
    public func validate() throws(ServerError) {
        guard (0...65_535).contains(port) else { throw ServerError(.invalidConfiguration, "port \(port) is not 0–65535") }
        guard !host.isEmpty else { throw ServerError(.invalidConfiguration, "host is empty") }
        guard !dataDirectory.isEmpty else { throw ServerError(.invalidConfiguration, "data directory is empty") }
        guard !demo || isLoopback else {
            throw ServerError(.invalidConfiguration, "--demo hands out tokens to anyone who can reach the server: only on 127.0.0.1 or ::1")
        }
        guard (0...65_535).contains(relay.mediaPort) else {
            throw ServerError(.invalidConfiguration, "media port \(relay.mediaPort) is not 0–65535")
        }
        guard (1...64).contains(relay.mediaThreads) else {
            throw ServerError(.invalidConfiguration, "media threads \(relay.mediaThreads) is not 1–64")
        }
        guard relay.mediaPort == 0 || relay.mediaPort + relay.mediaThreads - 1 <= 65_535 else {
            throw ServerError(
                .invalidConfiguration, "media ports \(relay.mediaPort)–\(relay.mediaPort + relay.mediaThreads - 1) do not fit below 65536")
        }
        if let days = retentionDays, days < 1 { throw ServerError(.invalidConfiguration, "retention days \(days) is not ≥ 1") }
        if let n = retentionMessagesPerRoom, n < 1 {
            throw ServerError(.invalidConfiguration, "retention messages \(n) is not ≥ 1")
        }
        if let problem = relay.announceProblem { throw ServerError(.invalidConfiguration, problem) }
        if let databaseURL {
            do { _ = try PostgresLocation(url: databaseURL) } catch { throw ServerError(.invalidConfiguration, "--database: \(error.description)") }
        }
        if let nodeURL {
            guard databaseURL != nil else { throw ServerError(.invalidConfiguration, "--node-url needs --database (a cluster shares one)") }
            guard let c = URLComponents(string: nodeURL), ["http", "https"].contains(c.scheme ?? ""), c.host?.isEmpty == false,
                c.path.isEmpty || c.path == "/", c.query == nil, c.user == nil
            else { throw ServerError(.invalidConfiguration, "--node-url is http(s)://HOST[:PORT], with no path: \(nodeURL)") }
        } else if databaseURL != nil, ["0.0.0.0", "::", "[::]"].contains(host) {
            throw ServerError(.invalidConfiguration, "with --database and a wildcard --host, --node-url names the address other nodes send clients to")
        }
        guard nodeDeadAfterSeconds.isFinite, nodeDeadAfterSeconds >= 1 else {
            throw ServerError(.invalidConfiguration, "a node's dead-after time is at least 1 s")
        }
    }

    /// Creates the data directory (mode 0700) if it does not exist and returns its absolute path.
    public func prepareDataDirectory() throws(ServerError) -> String {
        let url = URL(fileURLWithPath: dataDirectory).standardizedFileURL
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw ServerError(.invalidConfiguration, "data directory \(url.path) is a file")
            }
            return url.path
        }
        do {
            try FileManager.default.createDirectory(
                at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ServerError(.invalidConfiguration, "cannot create data directory \(url.path): \(error)")
        }
        return url.path
    }
}

/// Why the server could not start or serve; compared by code.
public struct ServerError: CodedError {
    public static let domain = "server"
    public enum Code: String, Sendable, Hashable {
        case invalidConfiguration
        /// The chat database in the data directory cannot be opened.
        case storage
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

}
