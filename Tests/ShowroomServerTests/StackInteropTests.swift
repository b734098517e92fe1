import Foundation
import ShowroomTestSupport
import Testing

/// Runs `command` in a fresh network namespace whose default route goes through a veth to a
/// second, empty namespace, both created and deleted here, with IPv6 off: the command's side holds
/// `lo` and `address`/24 (the other end is `.2`). Firefox gathers ICE candidates only on its
/// default route's interface — none in a namespace holding only `lo` (../shared/NOTES.md) — and
/// nothing leaves the two namespaces.
func inVethNamespace(_ command: [String], address: String = "10.99.9.1", timeout: TimeInterval) async throws -> String {
    let suffix = UInt32.random(in: 0...UInt32.max)
    let ns = "showroom-test-\(suffix)", far = "showroom-far-\(suffix)"
    let peerAddress = address.split(separator: ".").dropLast().joined(separator: ".") + ".2"
    func ip(_ args: [String]) async throws -> Subprocess.Termination? {
        try await Subprocess("ip", args).exit(within: .seconds(30))
    }
    let output: Result<String, any Error>
    do {
        for (name, args) in [
            ("namespace", ["netns", "add", ns]), ("far namespace", ["netns", "add", far]),
            ("lo", ["-n", ns, "link", "set", "lo", "up"]),
            ("veth", ["link", "add", "sr0", "netns", ns, "type", "veth", "peer", "name", "sr1", "netns", far]),
            ("address", ["-n", ns, "addr", "add", "\(address)/24", "dev", "sr0"]),
            ("far address", ["-n", far, "addr", "add", "\(peerAddress)/24", "dev", "sr1"]),
            ("veth up", ["-n", ns, "link", "set", "sr0", "up"]), ("far veth up", ["-n", far, "link", "set", "sr1", "up"]),
            ("default route", ["-n", ns, "route", "add", "default", "via", peerAddress]),
        ] {
            try #require(try await ip(args) == .exited(0), "cannot set up the \(name) (needs root and iproute2): ip \(args.joined(separator: " "))")
        }
        let sysctl = try await Subprocess(
            "ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]
        ).exit(within: .seconds(30))
        try #require(sysctl == .exited(0), "cannot turn IPv6 off in the namespace")
        output = .success(try await run(command, inNamespace: ns, timeout: timeout))
    } catch {
        output = .failure(error)
    }
    _ = try? await ip(["netns", "del", ns])
    _ = try? await ip(["netns", "del", far])
    return try output.get()
}

/// Issue 17 item 4: Chromium, Firefox ESR, aiortc and GStreamer's webrtcbin, each publishing (the
/// live page, WHIP) to the real `showroom` binary while all four watch (the live page, WHEP):
/// every viewer decodes 60 video frames and audio from every publisher (`peers/interop.py`; the
/// table in docs/reachability.md). Firefox has no WebDriver on Debian 12: its page
/// (`peers/firefox_peer.html`) reports getStats() by POSTing to a collector the script runs.
@Suite(.serialized) struct StackInteropTests {
    static let stacks = ["chromium", "firefox", "aiortc", "gstreamer"]

    @Test func everyStackPublishesToEveryStack() async throws {
        let python = repositoryRoot.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "run tools/dev setup: it creates .venv")
        for (path, package) in [("/usr/lib/chromium/chromium", "chromium"), ("/usr/bin/firefox-esr", "firefox-esr"), ("/usr/bin/gst-inspect-1.0", "gstreamer1.0-tools")] {
            try #require(FileManager.default.isExecutableFile(atPath: path), "run tools/dev setup: it installs \(package)")
        }
        let text = try await inVethNamespace(
            [python, repositoryRoot.appendingPathComponent("Tests/ShowroomServerTests/peers/interop.py").path,
             "--showroom", ShowroomCommandTests.executable, "--address", "10.99.9.1"],
            timeout: 300)
        let line = try #require(text.split(separator: "\n").last, "no output from peers/interop.py")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(text.suffix(3_000))")
        let rows = result["rows"] as? [String: Any] ?? [:]
        var table: [String] = []
        for publisher in Self.stacks {
            let row = try #require(rows[publisher] as? [String: Any], "no row for \(publisher): \(line.suffix(3_000))")
            let sent = row["publisher"] as? [String: Any] ?? [:]
            switch publisher {
            case "chromium": #expect(sent["state"] as? String == "connected" && sent["framesSent"] as? Int ?? 0 >= 30, "chromium publisher: \(sent)")
            case "firefox": #expect(sent["postStatus"] as? Int == 201 && sent["framesSent"] as? Int ?? 0 >= 30, "firefox publisher: \(sent)")
            default: #expect(sent["post_status"] as? Int == 201 && sent["delete_status"] as? Int == 200, "\(publisher) publisher: \(sent)")
            }
            let viewers = row["viewers"] as? [String: Any] ?? [:]
            for viewer in Self.stacks {
                let v = viewers[viewer] as? [String: Any] ?? [:]
                let frames = v["video_frames"] as? Int ?? 0, audio = v["audio"] as? Int ?? 0, size = v["size"] as? String
                #expect(frames >= 60 && audio > 0 && size != nil, "\(publisher) → \(viewer): \(frames) video frames, \(audio) audio \(v["audio_counts"] ?? ""), size \(size ?? "none"): \(v)")
                table.append("\(publisher) → \(viewer): \(frames) frames \(size ?? "?"), audio \(audio) \(v["audio_counts"] ?? "")")
            }
        }
        print("interop:\n" + table.joined(separator: "\n"))
    }
}
