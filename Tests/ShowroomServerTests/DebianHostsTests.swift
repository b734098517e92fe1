import Foundation
import ShowroomTestSupport
import Testing

/// Debian 12's own `/etc/hosts` names both 127.0.0.1 and ::1 `localhost`. With it, every live test
/// failed once (servers bound `localhost` = ::1; clients and peers went to 127.0.0.1). This runs a
/// `/ws` test and an aiortc interop test again in a private mount namespace whose `/etc/hosts` is
/// Debian's (`unshare -m`, a bind mount: the machine's own file is untouched).
@Suite struct DebianHostsTests {
    static let hosts = """
        127.0.0.1\tlocalhost
        ::1\t\tlocalhost ip6-localhost ip6-loopback
        ff02::1\t\tip6-allnodes
        ff02::2\t\tip6-allrouters

        """
    static let filter = "SignalingTests/helloWithAValidTokenComesFirst|HostileClientTests/aViewerCannotEndTheBroadcast|WHIPTests/aiortcPublisherToAiortcViewer"

    @Test(.enabled(if: ProcessInfo.processInfo.environment["SHOWROOM_UNDER_DEBIAN_HOSTS"] == nil))
    func liveTestsPassWithDebiansHostsFile() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("hosts-\(UInt32.random(in: 0...UInt32.max))")
        try Self.hosts.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        // This process is the test bundle; run it again, filtered, inside the namespace.
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        var environment = ProcessInfo.processInfo.environment
        environment["SHOWROOM_UNDER_DEBIAN_HOSTS"] = "1"
        let process = try Subprocess(
            "/usr/bin/unshare",
            [
                "--mount", "--", "/bin/sh", "-c",
                "mount --bind \"$0\" /etc/hosts && getent ahosts localhost | head -1 >&2 && exec \"$1\" --testing-library swift-testing --filter \"$2\" 2>&1",
                file.path, bundle, Self.filter,
            ],
            environment: environment, output: .capture, errors: .capture)
        let ended = await process.exit(within: .seconds(600))
        let text = process.errors() + process.output()
        #expect(ended == .exited(0), "\(text.suffix(3_000))")
        #expect(text.contains("::1"), "localhost resolved to ::1 first in the namespace: \(text.prefix(500))")
        #expect(text.contains("Test run with 3 tests") && text.contains("passed after"), "\(text.suffix(1_000))")
    }
}
