import ArgumentParser
import Foundation
import Histogram
import HummingbirdWSClient
import Logging
import ShowroomServer
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// `showroom-load`: a load test against a running Showroom server over its real protocols, latency
/// first. This version drives `/ws` chat (media publishers and viewers come next); see docs/load.md.
@main
struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "showroom-load",
        abstract: "Load-test a Showroom server: chatters over /ws; reports join time, delivery latency, loss, errors and the server's CPU and memory.",
        discussion: """
            Tokens are minted with the server's secret: SHOWROOM_SECRET, or --data-dir of a local server.
            Example (a server from `./tools/dev serve` on this machine):
              swift run showroom-load --data-dir .showroom --chatters 200 --rooms 20 --chat-rate 1 --duration 15
            """)

    @Option(help: "The server.") var url = "http://127.0.0.1:8080"
    @Option(help: "The server's data directory, to read its secret (when SHOWROOM_SECRET is not set).") var dataDir = ".showroom"
    @Option(help: "Chat connections (shoppers).") var chatters = 10
    @Option(help: "Rooms the chatters are spread over.") var rooms = 1
    @Option(help: "Messages per second each chatter sends.") var chatRate = 1.0
    @Option(help: "Seconds of sending, after everyone joined.") var duration = 10.0
    @Option(help: "Connections opened per second.") var ramp = 200.0
    @Flag(help: "Print the final report as JSON (keys in docs/load.md).") var json = false
    @Option(help: "Exit 1 when the chat delivery p99 exceeds this (ms).") var maxP99Ms: Double?
    @Option(help: "Exit 1 when the lost share of deliveries exceeds this (0–1).") var maxLoss: Double?

    func validate() throws {
        guard chatters > 0, rooms > 0, rooms <= chatters else { throw ValidationError("need 1 ≤ rooms ≤ chatters") }
        guard chatRate > 0, chatRate <= 20 else { throw ValidationError("--chat-rate is 0–20 (the server's limit is 20/s)") }
        guard duration > 0, ramp > 0 else { throw ValidationError("--duration and --ramp are positive") }
    }

    func run() async throws {
        let secret = try TokenAuthority.loadSecret(dataDirectory: dataDir)
        let authority = await TokenAuthority(secret: secret)
        guard let base = URL(string: url), let host = base.host else { throw ValidationError("bad --url") }
        let wsURL = "ws://\(host):\(base.port ?? 80)/ws"
        let server = ServerProbe(url: url)
        let before = await server.sample()
        let state = LoadState(chatters: chatters)
        let started = ContinuousClock.now

        // Progress, once a second, on stderr (stdout stays the report).
        let progress = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                state.progress(since: started)
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<chatters {
                let room = "load-\(i % rooms)"
                let token = (try? await authority.mint(identity: "load-\(i)", room: room, role: .shopper, ttl: 3_600)) ?? ""
                group.addTask { await Chatter(index: i, room: room, token: token, url: wsURL, rate: chatRate, state: state).run() }
                try? await Task.sleep(for: .seconds(1 / ramp))
            }
            // Everyone in (or failed), then `duration` seconds of sending, then a moment to drain.
            while state.joined.load(ordering: .relaxed) + state.failedJoins.load(ordering: .relaxed) < chatters {
                try? await Task.sleep(for: .milliseconds(50))
            }
            let joinedAt = await server.sample()
            state.sending.store(true, ordering: .relaxed)
            let sendStart = ContinuousClock.now
            try? await Task.sleep(for: .seconds(duration))
            state.stopSending.store(true, ordering: .relaxed)
            let sendEnd = ContinuousClock.now
            let during = await server.sample()
            try? await Task.sleep(for: .seconds(2))
            state.stop.store(true, ordering: .relaxed)
            group.cancelAll()
            progress.cancel()
            let report = state.report(
                sendSeconds: (sendEnd - sendStart).seconds, roomSize: Double(chatters) / Double(rooms), before: before, joined: joinedAt,
                during: during, chatters: chatters, rooms: rooms)
            if json {
                let data = try! JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .prettyPrinted])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(Self.table(report))
            }
            var failures: [String] = []
            if let maxP99Ms, let p99 = (report["chat_delivery_ms"] as? [String: Double])?["p99"], p99 > maxP99Ms {
                failures.append("chat delivery p99 \(p99) ms > \(maxP99Ms) ms")
            }
            if let maxLoss, let loss = report["chat_loss"] as? Double, loss > maxLoss {
                failures.append("chat loss \(loss) > \(maxLoss)")
            }
            if (report["chat_delivered"] as? Int ?? 0) == 0 { failures.append("nothing was delivered") }
            if !failures.isEmpty {
                FileHandle.standardError.write(Data(("showroom-load: FAILED: " + failures.joined(separator: "; ") + "\n").utf8))
                Foundation.exit(1)
            }
        }
    }

    static func table(_ r: [String: Any]) -> String {
        func row(_ name: String, _ key: String) -> String {
            let h = r[key] as? [String: Double] ?? [:]
            let label = name.padding(toLength: 27, withPad: " ", startingAt: 0)
            return label + String(format: "p50 %8.1f  p95 %8.1f  p99 %8.1f  max %8.1f", h["p50"] ?? 0, h["p95"] ?? 0, h["p99"] ?? 0, h["max"] ?? 0)
        }
        return """
            showroom-load: \(r["chatters"] ?? 0) chatters in \(r["rooms"] ?? 0) rooms, \(r["joined"] ?? 0) joined, \(r["join_failures"] ?? 0) failed
            \(row("join time (ms)", "join_ms"))
            \(row("chat send → ack (ms)", "chat_ack_ms"))
            \(row("chat send → delivery (ms)", "chat_delivery_ms"))
            chat: \(r["chat_sent"] ?? 0) sent, \(r["chat_acked"] ?? 0) acked, \(r["chat_delivered"] ?? 0) delivered (\(String(format: "%.0f", r["chat_delivered_per_second"] as? Double ?? 0))/s), loss \(r["chat_loss"] ?? 0)
            errors: \(r["errors"] ?? [:])
            server: CPU \(String(format: "%.2f", r["server_cpu_cores"] as? Double ?? 0)) cores while sending, RSS \(String(format: "%.1f", (r["server_rss_bytes"] as? Double ?? 0) / 1e6)) MB, \(String(format: "%.1f", (r["server_bytes_per_connection"] as? Double ?? 0) / 1e3)) KB per connection
            """
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

func monotonicMicros() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1_000
}

/// The server's own figures, from its /metrics.
struct ServerProbe: Sendable {
    let url: String
    struct Sample: Sendable {
        var cpuSeconds: Double
        var rss: Double
        var at: ContinuousClock.Instant
    }

    func sample() async -> Sample? {
        guard let u = URL(string: url + "/metrics"), let (data, _) = try? await URLSession.shared.data(from: u) else { return nil }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        func value(_ name: String) -> Double? { lines.first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } }
        return Sample(cpuSeconds: value("process_cpu_seconds_total") ?? 0, rss: value("process_resident_memory_bytes") ?? 0, at: .now)
    }
}

/// What every chatter reports into (shared; histograms behind a lock, counters atomic).
final class LoadState: Sendable {
    let chatters: Int
    let joined = Atomic<Int>(0)
    let failedJoins = Atomic<Int>(0)
    let active = Atomic<Int>(0)
    let sent = Atomic<Int>(0)
    let acked = Atomic<Int>(0)
    let delivered = Atomic<Int>(0)
    let sending = Atomic<Bool>(false)
    let stopSending = Atomic<Bool>(false)
    let stop = Atomic<Bool>(false)
    typealias Histograms = (join: Histogram<UInt64>, ack: Histogram<UInt64>, delivery: Histogram<UInt64>)
    /// Latencies (µs), in shards so that thousands of chatters do not queue on one lock.
    final class Shard: Sendable {
        let value = Mutex<Histograms>((Histogram(highestTrackableValue: 60_000_000), Histogram(highestTrackableValue: 60_000_000), Histogram(highestTrackableValue: 60_000_000)))
    }
    let shards = (0..<32).map { _ in Shard() }
    /// Distinguishes this run's message ids from an earlier run's against the same server (the
    /// server would answer those as duplicates).
    let run = String(UInt32.random(in: 0...UInt32.max), radix: 36)

    func record(_ chatter: Int, _ body: (inout Histograms) -> Void) { shards[chatter % shards.count].value.withLock { body(&$0) } }

    /// All shards merged.
    var histograms: Histograms {
        var all: Histograms = (Histogram(highestTrackableValue: 60_000_000), Histogram(highestTrackableValue: 60_000_000), Histogram(highestTrackableValue: 60_000_000))
        for shard in shards {
            shard.value.withLock { h in
                all.join.add(h.join)
                all.ack.add(h.ack)
                all.delivery.add(h.delivery)
            }
        }
        return all
    }
    let errors = Mutex<[String: Int]>([:])

    init(chatters: Int) { self.chatters = chatters }

    func error(_ kind: String) { errors.withLock { $0[kind, default: 0] += 1 } }

    func progress(since start: ContinuousClock.Instant) {
        let delivery = histograms.delivery
        let p99 = delivery.totalCount > 0 ? Double(delivery.valueAtPercentile(99)) / 1_000 : 0
        let p50 = delivery.totalCount > 0 ? Double(delivery.valueAtPercentile(50)) / 1_000 : 0
        let line = String(
            format: "t=%4.0fs joined %d/%d active %d sent %d delivered %d  delivery p50 %.1f p99 %.1f ms  errors %d\n",
            (ContinuousClock.now - start).seconds, joined.load(ordering: .relaxed), chatters, active.load(ordering: .relaxed),
            sent.load(ordering: .relaxed), delivered.load(ordering: .relaxed), p50, p99, errors.withLock { $0.values.reduce(0, +) })
        FileHandle.standardError.write(Data(line.utf8))
    }

    func report(
        sendSeconds: Double, roomSize: Double, before: ServerProbe.Sample?, joined joinedAt: ServerProbe.Sample?, during: ServerProbe.Sample?,
        chatters: Int, rooms: Int
    ) -> [String: Any] {
        func summary(_ h: Histogram<UInt64>) -> [String: Double] {
            guard h.totalCount > 0 else { return ["p50": 0, "p95": 0, "p99": 0, "max": 0, "count": 0] }
            return [
                "p50": Double(h.valueAtPercentile(50)) / 1_000, "p95": Double(h.valueAtPercentile(95)) / 1_000,
                "p99": Double(h.valueAtPercentile(99)) / 1_000, "max": Double(h.max) / 1_000, "count": Double(h.totalCount),
            ]
        }
        let h = histograms
        let acked = self.acked.load(ordering: .relaxed), delivered = self.delivered.load(ordering: .relaxed)
        // Every acknowledged message should reach every member of its room (the sender too).
        let expected = Double(acked) * roomSize
        var r: [String: Any] = [
            "chatters": chatters, "rooms": rooms, "joined": joined.load(ordering: .relaxed), "join_failures": failedJoins.load(ordering: .relaxed),
            "join_ms": summary(h.join), "chat_ack_ms": summary(h.ack), "chat_delivery_ms": summary(h.delivery),
            "chat_sent": sent.load(ordering: .relaxed), "chat_acked": acked, "chat_delivered": delivered,
            "chat_delivered_per_second": Double(delivered) / max(sendSeconds, 0.001),
            "chat_loss": expected > 0 ? max(0, 1 - Double(delivered) / expected) : 0,
            "errors": errors.withLock { $0 },
        ]
        if let joinedAt, let during {
            r["server_cpu_cores"] = (during.cpuSeconds - joinedAt.cpuSeconds) / max((during.at - joinedAt.at).seconds, 0.001)
            r["server_rss_bytes"] = during.rss
        }
        if let before, let joinedAt {
            r["server_bytes_per_connection"] = (joinedAt.rss - before.rss) / Double(max(joined.load(ordering: .relaxed), 1))
        }
        return r
    }
}

/// One chat connection: hello, join, then messages at a steady rate while `sending`; it times its
/// join, each ack, and each delivery of every message in its room (send times travel in the text).
struct Chatter: Sendable {
    let index: Int
    let room: String
    let token: String
    let url: String
    let rate: Double
    let state: LoadState

    func run() async {
        let opened = monotonicMicros()
        final class Outcome: Sendable {
            let value = Mutex<(joined: Bool, acksPending: [String: UInt64])>((false, [:]))
        }
        let box = Outcome()
        do {
            try await WebSocketClient.connect(url: url, logger: Logger(label: "showroom-load")) { inbound, outbound, _ in
                try await outbound.write(.text(#"{"type":"hello","v":1,"token":"\#(token)"}"#))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        // Keep-alive, and the messages once everyone has joined.
                        var lastPing = ContinuousClock.now
                        let interval = Duration.seconds(1 / rate)
                        var next = ContinuousClock.now + .milliseconds(Int.random(in: 0..<max(1, Int(1_000 / rate))))
                        var n = 0
                        while !state.stop.load(ordering: .relaxed) {
                            if ContinuousClock.now - lastPing > .seconds(10) {
                                lastPing = .now
                                try await outbound.write(.text(#"{"type":"ping"}"#))
                            }
                            guard state.sending.load(ordering: .relaxed), !state.stopSending.load(ordering: .relaxed) else {
                                try await Task.sleep(for: .milliseconds(50))
                                next = ContinuousClock.now
                                continue
                            }
                            try await Task.sleep(until: next)
                            next += interval
                            n += 1
                            let id = "\(state.run)-\(index)-\(n)", now = monotonicMicros()
                            box.value.withLock { $0.acksPending[id] = now }
                            state.sent.add(1, ordering: .relaxed)
                            try await outbound.write(.text(#"{"type":"send","id":"\#(id)","kind":"text","text":"t=\#(now)"}"#))
                        }
                    }
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message else { continue }
                        let now = monotonicMicros()
                        if text.contains(#""type":"message""#) {
                            if let r = text.range(of: "t="), let end = text[r.upperBound...].firstIndex(of: "\""), let sent = UInt64(text[r.upperBound..<end]) {
                                state.delivered.add(1, ordering: .relaxed)
                                state.record(index) { _ = $0.delivery.record(now &- sent) }
                            }
                        } else if text.contains(#""type":"ack""#) {
                            if let r = text.range(of: #""id":""#), let end = text[r.upperBound...].firstIndex(of: "\""),
                                let sent = box.value.withLock({ $0.acksPending.removeValue(forKey: String(text[r.upperBound..<end])) })
                            {
                                state.acked.add(1, ordering: .relaxed)
                                state.record(index) { _ = $0.ack.record(now &- sent) }
                            }
                        } else if text.contains(#""type":"welcome""#) {
                            try await outbound.write(.text(#"{"type":"join","room":"\#(room)"}"#))
                        } else if text.contains(#""type":"joined""#) {
                            box.value.withLock { $0.joined = true }
                            state.joined.add(1, ordering: .relaxed)
                            state.active.add(1, ordering: .relaxed)
                            state.record(index) { _ = $0.join.record(now &- opened) }
                        } else if text.contains(#""type":"error""#) || text.contains(#""type":"closing""#) {
                            let code = text.range(of: #""code":""#).flatMap { r in text[r.upperBound...].firstIndex(of: "\"").map { String(text[r.upperBound..<$0]) } }
                            state.error(code ?? "unknown")
                        }
                        if state.stop.load(ordering: .relaxed) { break }
                    }
                    group.cancelAll()
                }
            }
        } catch {
            if !state.stop.load(ordering: .relaxed) { state.error("connect") }  // not the end of the run cancelling it
        }
        if box.value.withLock({ $0.joined }) { state.active.subtract(1, ordering: .relaxed) } else { state.failedJoins.add(1, ordering: .relaxed) }
    }
}
