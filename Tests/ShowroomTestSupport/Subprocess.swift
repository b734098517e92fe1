import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process a test starts, waits for without blocking a thread, and always ends.
///
/// Why not Foundation's `Process`: the tests run on Swift's cooperative pool, which has one thread
/// per core (two on CI). `waitUntilExit()` or `readDataToEndOfFile()` on a child that runs for
/// seconds holds one of them, and two at once stop every other test in the process — servers
/// under test then miss their clients' `hello` (seen in CI: eight `/ws` tests timed out at once
/// while an aiortc run and the Debian-hosts re-run were being waited for). Its pipes are also
/// inherited by children spawned on other threads meanwhile, so a read to EOF can wait on an
/// unrelated process, and a `showroom serve` left behind by a failing test kept the test
/// runner's own output pipe open and hung CI. And its `run()` crashes now and then while listing
/// `/proc/self/fd` (swift-corelibs-foundation#5472, Swift 6.3.1).
///
/// Here: `posix_spawn` with every descriptor above 2 closed in the child
/// (`posix_spawn_file_actions_addclosefrom_np`), standard input from `/dev/null`, standard output
/// and error to `/dev/null` or to a file read after the fact (never to this process's own), the
/// signal mask cleared and default dispositions restored (the test runner blocks signals that the
/// child must receive), in a process group of its own; waiting polls `waitpid(WNOHANG)` between
/// `Task.sleep`s; `deinit` kills the group and reaps the child, so a test that fails part-way
/// leaves nothing behind.
public final class Subprocess: Sendable {
    /// Where one of the child's output streams goes.
    public enum Stream: Sendable {
        case discard
        /// To a temporary file, read with `output()` / `errors()` and removed with the process.
        case capture
    }

    /// How the child ended.
    public enum Termination: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        public var description: String {
            switch self {
            case .exited(let code): "exit status \(code)"
            case .signaled(let signal): "signal \(signal)"
            }
        }
    }

    public let pid: pid_t
    private let outputPath: String?
    private let errorsPath: String?
    private let ended = Mutex<Termination?>(nil)

    /// Starts `executable` (a path, or a name looked up in `PATH`) with `arguments`.
    /// - Parameter environment: the child's whole environment; this process's when nil.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        output: Stream = .discard, errors: Stream = .discard
    ) throws {
        guard let path = Self.which(executable) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "\(executable) is not installed: run tools/dev setup (or swift build)"])
        }
        let stem = FileManager.default.temporaryDirectory.appendingPathComponent("showroom-child-\(UInt64.random(in: 0...UInt64.max))").path
        outputPath = output == .capture ? stem + ".out" : nil
        errorsPath = errors == .capture ? stem + ".err" : nil

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errorsPath ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard let closeFrom = Self.closeFrom, closeFrom(&actions, 3) == 0 else { throw POSIXError(.ENOSYS) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)  // a group of its own, led by it: ended as one
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let environment = environment ?? ProcessInfo.processInfo.environment
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EINVAL) }
        self.pid = pid
    }

    deinit {
        kill(-pid, SIGKILL)  // the child and anything it started and left behind
        if isRunning {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}  // SIGKILL: at once
        }
        for path in [outputPath, errorsPath].compactMap({ $0 }) { unlink(path) }
    }

    /// Whether the child still runs (reaps it when it has ended).
    public var isRunning: Bool { termination == nil }

    /// How the child ended, or nil while it runs.
    public var termination: Termination? {
        ended.withLock { ended in
            if ended == nil {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
                    ended = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
                }
            }
            return ended
        }
    }

    /// Sends `signal` to a child that still runs.
    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits for the child to end, at most `limit`, without holding a thread; nil if it still runs.
    @discardableResult
    public func exit(within limit: Duration) async -> Termination? {
        let deadline = ContinuousClock.now + limit
        while true {
            if let termination { return termination }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Ends the child: `signal` first, SIGKILL if it still runs after `grace`; then SIGKILL to
    /// whatever it started and left running (its process group).
    @discardableResult
    public func end(_ signal: Int32 = SIGKILL, grace: Duration = .seconds(5)) async -> Termination {
        self.signal(signal)
        if await exit(within: grace) == nil { self.signal(SIGKILL) }
        while true {
            if let ended = await exit(within: .seconds(60)) {
                kill(-pid, SIGKILL)
                return ended
            }
        }
    }

    /// What the child wrote to standard output so far (`output: .capture`).
    public func output() -> String { Self.read(outputPath) }

    /// What the child wrote to standard error so far (`errors: .capture`).
    public func errors() -> String { Self.read(errorsPath) }

    private static func read(_ path: String?) -> String {
        guard let path, let data = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// `executable` itself when it is a path, else the first match in `PATH`.
    public static func which(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        let dirs: [String] = path + ["/usr/sbin", "/sbin"]
        return dirs.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// glibc ≥ 2.34 has it; its header declares it only under `_GNU_SOURCE`, so Swift does not
    /// import it.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np").map {
            unsafeBitCast($0, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
        }
}
