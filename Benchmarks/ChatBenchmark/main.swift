import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import ShowroomServer
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `swift run -c release ChatBenchmark [connections] [room size] [messages/s per room] [seconds]`
///
/// Starts the release `showroom` binary (build it first: `swift build -c release --product showroom`)
/// on a fresh data directory, then, from this process:
/// 1. opens `connections` WebSocket connections (hello + join; rooms of `room size`) and reads the
///    server's resident memory from /metrics before and after: memory per idle connection;
/// 2. has one member of every room send `rate` messages a second for `seconds`; every message is
///    stored (SQLite, WAL) and delivered to every member, the sender included. Reports delivered
///    messages per second and send → deliver latency percentiles (client and server share the
///    machine's monotonic clock) of the messages sent in that window. Sending stops at the window's
///    end and the clients keep reading for a drain period before they close: closing 10,000
///    connections at once keeps this process busy for about a second, and messages still in flight
///    then would measure the benchmark's own teardown (until 2026-12-02 they did: that was the
///    "10,000-connection tail").
///
/// `STAGE=upgrade` or `STAGE=hello` stops each connection after the WebSocket upgrade or after the
/// `welcome` (no join) and counts it as open: what each step of a connection costs in memory.
let args = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let stage = ProcessInfo.processInfo.environment["STAGE"] ?? "join"
let connections = args.count > 0 ? args[0] : 10_000
let roomSize = args.count > 1 ? args[1] : 10
let ratePerRoom = args.count > 2 ? args[2] : 4
let seconds = args.count > 3 ? args[3] : 10
let rooms = max(1, connections / roomSize)

func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

// MARK: The server, as its own process.

let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("showroom").path
guard FileManager.default.isExecutableFile(atPath: binary) else {
    print("build the server first: swift build -c release --product showroom")
    exit(1)
}
let secret = "chat-benchmark-secret-chat-benchmark!"
let dataDirectory = NSTemporaryDirectory() + "showroom-chatbench-\(getpid())"
let port = 18_090
let server = Process()
server.executableURL = URL(fileURLWithPath: binary)
server.arguments = ["serve", "--port", "\(port)", "--media-port", "0", "--data-dir", dataDirectory, "--log-level", "error"]
var environment = ProcessInfo.processInfo.environment
environment["SHOWROOM_SECRET"] = secret
server.environment = environment
try server.run()
/// Ends the server (also on the way out of every exit below).
func finish(_ code: Int32) -> Never {
    kill(server.processIdentifier, SIGKILL)
    try? FileManager.default.removeItem(atPath: dataDirectory)
    exit(code)
}
signal(SIGINT) { _ in exit(130) }

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif


/// Prints at once (stdout to a pipe is otherwise buffered until exit).
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

func metric(_ name: String) async -> Double? {
    guard let (data, _) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!) else { return nil }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(name + " ") }
        .flatMap { Double($0.split(separator: " ").last ?? "") }
}

var up = false
for _ in 0..<200 where !up {
    up = await metric("process_resident_memory_bytes") != nil
    if !up { usleep(50_000) }
}
guard up else {
    say("the server did not start")
    finish(1)
}

// MARK: Clients

let authority = await TokenAuthority(secret: Array(secret.utf8))
final class Results: Sendable {
    let joined = Atomic<Int>(0)
    let delivered = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    /// 0: not yet, 1: sending, 2: the window is over (senders stop; readers keep reading).
    let phase = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
    /// Latencies in µs, and (send time in ms since the sending phase began, latency in µs): where in
    /// time the tail is. Appended as messages arrive (an uncontended lock is ~50 ns).
    let samples = Mutex<(latencies: [UInt32], timeline: [(UInt32, UInt32)])>(([], []))
    let sendEpoch = Atomic<UInt64>(0)
}
let results = Results()
let logger = Logger(label: "chatbench")

@Sendable func client(index: Int, token: String, room: String, sender: Bool) async {
    do {
        try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/ws", logger: logger) { inbound, outbound, _ in
            if stage == "upgrade" {
                results.joined.add(1, ordering: .relaxed)
                for try await _ in inbound where results.stop.load(ordering: .relaxed) { break }
                return
            }
            try await outbound.write(.text(#"{"type":"hello","v":1,"token":"\#(token)"}"#))
            try await withThrowingTaskGroup(of: Void.self) { group in
                // The protocol's keep-alive: a ping every 10 s (the server closes sockets quiet for 30 s).
                group.addTask {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0..<10_000)))
                    while !results.stop.load(ordering: .relaxed) {
                        try await outbound.write(.text(#"{"type":"ping"}"#))
                        try await Task.sleep(for: .seconds(10))
                    }
                }
                if sender {
                    group.addTask {
                        while results.phase.load(ordering: .relaxed) == 0 {
                            if results.stop.load(ordering: .relaxed) { return }
                            try await Task.sleep(for: .milliseconds(20))
                        }
                        let interval = Duration.nanoseconds(1_000_000_000 / ratePerRoom)
                        var next = ContinuousClock.now + .milliseconds(Int.random(in: 0..<1_000) / ratePerRoom)
                        var n = 0
                        while results.phase.load(ordering: .relaxed) == 1 {
                            try await Task.sleep(until: next)
                            next += interval
                            if results.phase.load(ordering: .relaxed) != 1 { break }
                            n += 1
                            try await outbound.write(.text(#"{"type":"send","id":"\#(index)-\#(n)","kind":"text","text":"t=\#(monotonicNanos())"}"#))
                        }
                    }
                }
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message else { continue }
                    if text.hasPrefix(#"{"from""#) || text.contains(#""type":"message""#) {
                        if let r = text.range(of: "t="), let end = text[r.upperBound...].firstIndex(of: "\"") {
                            if let sent = UInt64(text[r.upperBound..<end]) {
                                let latency = UInt32(min((monotonicNanos() &- sent) / 1_000, UInt64(UInt32.max)))
                                let epoch = results.sendEpoch.load(ordering: .relaxed)
                                results.samples.withLock {
                                    $0.latencies.append(latency)
                                    if sent > epoch { $0.timeline.append((UInt32((sent - epoch) / 1_000_000), latency)) }
                                }
                                results.delivered.add(1, ordering: .relaxed)
                            }
                        }
                    } else if text.contains(#""type":"welcome""#) {
                        if stage == "hello" { results.joined.add(1, ordering: .relaxed); continue }
                        try await outbound.write(.text(#"{"type":"join","room":"\#(room)"}"#))
                    } else if text.contains(#""type":"joined""#) {
                        results.joined.add(1, ordering: .relaxed)
                    } else if text.contains(#""type":"closing""#) {
                        results.failed.add(1, ordering: .relaxed)
                    }
                    if results.stop.load(ordering: .relaxed) { break }
                }
                group.cancelAll()
            }
        }
    } catch {
        results.failed.add(1, ordering: .relaxed)
    }
}

let before = await metric("process_resident_memory_bytes") ?? 0
say("ChatBenchmark: \(connections) connections in \(rooms) rooms of \(roomSize), \(ratePerRoom) msg/s per room for \(seconds) s")
let opening = ContinuousClock.now
let tasks = Task {
    await withTaskGroup(of: Void.self) { group in
        for i in 0..<(rooms * roomSize) {
            let room = "bench-\(i / roomSize)"
            let token = try! await authority.mint(identity: "u\(i)", room: room, role: .shopper, ttl: 3_600)
            group.addTask { await client(index: i, token: token, room: room, sender: i % roomSize == 0) }
            if i % 200 == 199 { try? await Task.sleep(for: .milliseconds(20)) }  // a steady ramp, not a SYN flood
        }
    }
}
while results.joined.load(ordering: .relaxed) + results.failed.load(ordering: .relaxed) < rooms * roomSize {
    try await Task.sleep(for: .milliseconds(100))
    if ContinuousClock.now - opening > .seconds(120) { break }
}
let opened = ContinuousClock.now - opening
try await Task.sleep(for: .seconds(2))  // let the allocator settle
let after = await metric("process_resident_memory_bytes") ?? 0
let joined = results.joined.load(ordering: .relaxed)
say(String(format: "idle: %d joined (%d failed) in %.1f s; server RSS %.1f → %.1f MB: %.1f KB per connection",
             joined, results.failed.load(ordering: .relaxed), Double(opened.components.seconds) + Double(opened.components.attoseconds) / 1e18,
             before / 1e6, after / 1e6, (after - before) / Double(max(joined, 1)) / 1_000))

// MARK: Throughput with persistence

let cpuBefore = await metric("process_cpu_seconds_total") ?? 0
results.sendEpoch.store(monotonicNanos(), ordering: .relaxed)
results.phase.store(1, ordering: .relaxed)
let sendStart = ContinuousClock.now
let deliveredBefore = results.delivered.load(ordering: .relaxed)
try await Task.sleep(for: .seconds(seconds))
let deliveredDuring = results.delivered.load(ordering: .relaxed) - deliveredBefore
let elapsed = ContinuousClock.now - sendStart
results.phase.store(2, ordering: .relaxed)
let cpuAfter = await metric("process_cpu_seconds_total") ?? 0
try await Task.sleep(for: .seconds(2))  // drain: what was sent in the window is delivered and counted
results.stop.store(true, ordering: .relaxed)
try await Task.sleep(for: .seconds(2))
tasks.cancel()
let all = results.samples.withLock { $0.latencies }.sorted()
func p(_ q: Double) -> Double { all.isEmpty ? 0 : Double(all[min(all.count - 1, Int(q * Double(all.count - 1)))]) / 1_000 }
let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
say(String(format: "throughput: %.0f delivered msg/s (offered %d), server CPU %.2f cores", Double(deliveredDuring) / wall,
             rooms * ratePerRoom * roomSize, (cpuAfter - cpuBefore) / wall))
say(String(format: "send → deliver latency ms: p50 %.1f  p95 %.1f  p99 %.1f  max %.1f  (%d samples)", p(0.5), p(0.95), p(0.99), p(1), all.count))
// Where in time the tail is: the 100 ms windows of send time holding a delivery over 50 ms.
let windows = Dictionary(grouping: results.samples.withLock { $0.timeline }, by: { $0.0 / 100 })
let slow = windows.keys.sorted().compactMap { w -> String? in
    let latencies = windows[w]!.map(\.1)
    let worst = latencies.max() ?? 0
    guard worst > 50_000 else { return nil }
    return String(format: "%.1f s: max %d ms (%d of %d over 50 ms)", Double(w) / 10, worst / 1_000,
                  latencies.filter { $0 > 50_000 }.count, latencies.count)
}
say("100-ms windows of send time with a delivery over 50 ms: \(slow.count) of \(windows.count)" + (slow.isEmpty ? "" : ": " + slow.joined(separator: ", ")))
finish(0)
