import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A throw-away PostgreSQL cluster for the tests: `initdb` in a temporary directory and
/// `pg_ctl start` on a free loopback port, as an unprivileged user (CI runs as root and `initdb`
/// refuses root: then as the `postgres` user Debian's package creates, through `runuser`). Every
/// cluster is stopped (`pg_ctl stop -m immediate`) and its directory removed when the test process
/// exits (a process that crashes leaves them: `pkill -f showroom-pg-` and `rm -rf /tmp/showroom-pg-*`). ``shared()`` is one
/// per test process, started on first use, where every test takes a database of its own
/// (``freshDatabase()``); a test that stops and starts the server takes one of its own (``start()``).
///
/// Needs Debian's `postgresql` package (`tools/dev setup` installs it).
public actor PostgresTestCluster {
    public let port: Int
    public let directory: String
    private var databases = 0

    private static let started = Mutex<Task<PostgresTestCluster, any Error>?>(nil)
    /// The command lines that stop every cluster started, for the exit hook.
    private static let stopCommands = Mutex<[String]>([])

    /// The process's cluster, started on the first call.
    public static func shared() async throws -> PostgresTestCluster {
        let task = started.withLock { task in
            if let task { return task }
            let new = Task { try await PostgresTestCluster.start() }
            task = new
            return new
        }
        return try await task.value
    }

    private init(port: Int, directory: String) {
        self.port = port
        self.directory = directory
    }

    /// A new, empty database: its `postgres://` URL.
    public func freshDatabase() async throws -> String {
        databases += 1
        let name = "t\(databases)_\(UInt32.random(in: 0...UInt32.max))"
        try await Self.run(Self.binary("psql"), ["-h", "127.0.0.1", "-p", String(port), "-U", "showroom", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE DATABASE \(name)"], asOwner: false)
        return url(database: name)
    }

    /// The URL of `database` in this cluster (user `showroom`, no password: trust on loopback).
    public nonisolated func url(database: String) -> String { "postgres://showroom@127.0.0.1:\(port)/\(database)?sslmode=disable" }

    /// Runs `sql` in `database` with psql; its output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") async throws -> String {
        try await Self.run(Self.binary("psql"), ["-h", "127.0.0.1", "-p", String(port), "-U", "showroom", "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql], asOwner: false)
    }

    /// Stops the server (fast: `-m immediate`, like a crash); ``startAgain()`` brings it back on the
    /// same port with the same data.
    public func stop() async throws {
        try await Self.run(Self.binary("pg_ctl"), ["-D", directory + "/data", "-m", "immediate", "-w", "stop"], asOwner: true)
    }

    public func startAgain() async throws {
        try await Self.startServer(directory: directory, port: port)
    }

    /// A new cluster of the caller's own.
    public static func start() async throws -> PostgresTestCluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("showroom-pg-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 {
            // The data directory must belong to the user the server runs as.
            guard let pw = getpwnam("postgres") else { throw ClusterError("no postgres user: install Debian's postgresql package") }
            chown(directory, pw.pointee.pw_uid, pw.pointee.pw_gid)
        }
        try await run(binary("initdb"), ["-D", directory + "/data", "-A", "trust", "-U", "showroom", "-E", "UTF8", "--no-sync"], asOwner: true)
        let port = try freePort()
        try await startServer(directory: directory, port: port)
        let stop = owner(try binary("pg_ctl"), ["-D", directory + "/data", "-m", "immediate", "stop"]).map { "'\($0)'" }.joined(separator: " ")
        let first = stopCommands.withLock { commands in
            // Stopped, then its directory removed (a run leaves nothing in /tmp).
            commands.append(stop + " >/dev/null 2>&1; rm -rf '\(directory)'")
            return commands.count == 1
        }
        if first {
            atexit {
                for command in PostgresTestCluster.stopCommands.withLock({ $0 }) { _ = system(command) }
            }
        }
        return PostgresTestCluster(port: port, directory: directory)
    }

    private static func startServer(directory: String, port: Int) async throws {
        // fsync off: a test cluster need not survive a power loss, and it makes commits cheap.
        try await run(
            binary("pg_ctl"),
            [
                "-D", directory + "/data", "-l", directory + "/log", "-w", "-t", "60", "-o",
                "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                "start",
            ], asOwner: true)
    }

    /// A PostgreSQL program of the newest installed version.
    static func binary(_ name: String) throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let v = versions.last, FileManager.default.isExecutableFile(atPath: "\(root)/\(v)/bin/\(name)") else {
            throw ClusterError("no \(name) under \(root): install Debian's postgresql package (tools/dev setup)")
        }
        return "\(root)/\(v)/bin/\(name)"
    }

    /// The command line that runs `executable` as the cluster's owner.
    private static func owner(_ executable: String, _ arguments: [String]) -> [String] {
        getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", executable] + arguments : [executable] + arguments
    }

    @discardableResult
    private static func run(_ executable: String, _ arguments: [String], asOwner: Bool) async throws -> String {
        let line = asOwner ? owner(executable, arguments) : [executable] + arguments
        let p = try Subprocess(line[0], Array(line.dropFirst()), output: .capture, errors: .capture)
        guard let end = await p.exit(within: .seconds(90)) else { throw ClusterError("\(line.joined(separator: " ")): did not finish in 90 s") }
        guard end == .exited(0) else { throw ClusterError("\(line.joined(separator: " ")): \(end): \(p.errors()) \(p.output())") }
        return p.output()
    }

    /// A loopback TCP port free a moment ago.
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClusterError("socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw ClusterError("bind: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    public struct ClusterError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}
