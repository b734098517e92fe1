import Foundation
import Testing

/// The CI smoke run of `showroom-load` (issue 6, chat part): 10 chatters in 2 rooms for 5 s
/// against a live server, with thresholds; the tool must exit 0 and report every documented key.
@Suite struct LoadToolTests {
    /// Waits without blocking a thread: the server under test runs on the same cooperative pool.
    static func waitForExit(_ process: Process, seconds: Double) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    @Test func smokeRunPassesItsThresholdsAndReportsTheDocumentedKeys() async throws {
        let executable = repositoryRoot.appendingPathComponent(".build/debug/showroom-load").path
        try #require(FileManager.default.isExecutableFile(atPath: executable), "swift build first: it makes showroom-load")
        try await withLiveServer { client, _ in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = [
                "--url", "http://127.0.0.1:\(try #require(client.port))", "--chatters", "10", "--rooms", "2", "--chat-rate", "2",
                "--duration", "5", "--json", "--max-p99-ms", "1000", "--max-loss", "0.01",
            ]
            var environment = ProcessInfo.processInfo.environment
            environment["SHOWROOM_SECRET"] = String(decoding: testSecret, as: UTF8.self)
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            try await Self.waitForExit(process, seconds: 60)
            let data = output.fileHandleForReading.readDataToEndOfFile()
            #expect(process.terminationStatus == 0)
            let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(String(decoding: data, as: UTF8.self))")
            for key in ["chatters", "rooms", "joined", "join_failures", "join_ms", "chat_ack_ms", "chat_delivery_ms", "chat_sent", "chat_acked",
                        "chat_delivered", "chat_delivered_per_second", "chat_loss", "errors", "server_cpu_cores", "server_rss_bytes"] {
                #expect(report[key] != nil, "missing \(key)")
            }
            #expect(report["joined"] as? Int == 10)
            let acked = report["chat_acked"] as? Int ?? 0
            #expect(acked >= 80, "acked \(acked)")  // 10 chatters × 2/s × 5 s = 100
            // Rooms of 5: every acknowledged message delivered to 5 members.
            #expect(report["chat_delivered"] as? Int ?? 0 >= acked * 5)
            print("showroom-load smoke run: \(String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\n", with: " "))")
        }
    }

    /// A threshold that cannot be met makes it exit 1: CI and operators can gate on it.
    @Test func anUnmetThresholdExitsNonZero() async throws {
        let executable = repositoryRoot.appendingPathComponent(".build/debug/showroom-load").path
        try #require(FileManager.default.isExecutableFile(atPath: executable))
        try await withLiveServer { client, _ in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["--url", "http://127.0.0.1:\(try #require(client.port))", "--chatters", "2", "--duration", "1", "--max-p99-ms", "0.001"]
            var environment = ProcessInfo.processInfo.environment
            environment["SHOWROOM_SECRET"] = String(decoding: testSecret, as: UTF8.self)
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            let errors = Pipe()
            process.standardError = errors
            try process.run()
            try await Self.waitForExit(process, seconds: 60)
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus == 1)
            #expect(text.contains("FAILED: chat delivery p99"))
        }
    }
}
