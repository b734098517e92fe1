import Foundation
import Histogram
import HummingbirdWSClient
import Logging
import Synchronization
import WebRTCClient

/// p50/p95/p99/max in ms and the count, of a histogram in µs.
func summary(_ h: Histogram<UInt64>) -> [String: Double] {
    guard h.totalCount > 0 else { return ["p50": 0, "p95": 0, "p99": 0, "max": 0, "count": 0] }
    return [
        "p50": Double(h.valueAtPercentile(50)) / 1_000, "p95": Double(h.valueAtPercentile(95)) / 1_000,
        "p99": Double(h.valueAtPercentile(99)) / 1_000, "max": Double(h.max) / 1_000, "count": Double(h.totalCount),
    ]
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
    /// Deliveries owed: each acknowledged message, times the members of its room (the sender too).
    let expectedDeliveries = Atomic<Int>(0)
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

    /// The chat part of the progress line.
    var progress: String {
        let delivery = histograms.delivery
        let p99 = delivery.totalCount > 0 ? Double(delivery.valueAtPercentile(99)) / 1_000 : 0
        let p50 = delivery.totalCount > 0 ? Double(delivery.valueAtPercentile(50)) / 1_000 : 0
        return String(
            format: "chat joined %d/%d active %d sent %d delivered %d p50 %.1f p99 %.1f ms",
            joined.load(ordering: .relaxed), chatters, active.load(ordering: .relaxed), sent.load(ordering: .relaxed),
            delivered.load(ordering: .relaxed), p50, p99)
    }

    func report(
        sendSeconds: Double, before: ServerProbe.Sample?, joined joinedAt: ServerProbe.Sample?, during: ServerProbe.Sample?,
        chatters: Int, rooms: Int
    ) -> [String: Any] {
        let h = histograms
        let acked = self.acked.load(ordering: .relaxed), delivered = self.delivered.load(ordering: .relaxed)
        let expected = Double(expectedDeliveries.load(ordering: .relaxed))
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
            // RSS can fall while connections join (a warm server reuses memory freed after an earlier
            // run, glibc returns some): a growth below zero says nothing per connection, so it is 0.
            r["server_rss_before_bytes"] = before.rss
            r["server_rss_joined_bytes"] = joinedAt.rss
            r["server_bytes_per_connection"] = max(0, joinedAt.rss - before.rss) / Double(max(joined.load(ordering: .relaxed), 1))
        }
        return r
    }
}

/// One chat connection: hello, join, then messages at a steady rate while `sending`; it times its
/// join, each ack, and each delivery of every message in its room (send times travel in the text).
struct Chatter: Sendable {
    let index: Int
    let room: String
    /// Members of the room (this one included): what each acknowledged message is owed.
    let roomSize: Int
    let token: String
    let url: String
    let rate: Double
    let state: LoadState
    /// In a consultation: publish camera and microphone, and watch the other side's.
    var call: Call?

    func run() async {
        let opened = UInt64(monotonicMicros())
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
                        // Each chatter sends at its own random phase, as independent people do: all of them
                        // sending in the same instant would measure the server's queue for one burst.
                        let phase = Duration.milliseconds(Int.random(in: 0..<max(1, Int(1_000 / rate))))
                        var next = ContinuousClock.now + phase
                        var n = 0
                        while !state.stop.load(ordering: .relaxed) {
                            if ContinuousClock.now - lastPing > .seconds(10) {
                                lastPing = .now
                                try await outbound.write(.text(#"{"type":"ping"}"#))
                            }
                            guard state.sending.load(ordering: .relaxed), !state.stopSending.load(ordering: .relaxed) else {
                                try await Task.sleep(for: .milliseconds(50))
                                next = ContinuousClock.now + phase
                                continue
                            }
                            try await Task.sleep(until: next)
                            next += interval
                            n += 1
                            let id = "\(state.run)-\(index)-\(n)", now = UInt64(monotonicMicros())
                            box.value.withLock { $0.acksPending[id] = now }
                            state.sent.add(1, ordering: .relaxed)
                            try await outbound.write(.text(#"{"type":"send","id":"\#(id)","kind":"text","text":"t=\#(now)"}"#))
                        }
                    }
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message else { continue }
                        let now = UInt64(monotonicMicros())
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
                                state.expectedDeliveries.add(roomSize, ordering: .relaxed)
                                state.record(index) { _ = $0.ack.record(now &- sent) }
                            }
                        } else if text.contains(#""type":"welcome""#) {
                            try await outbound.write(.text(#"{"type":"join","room":"\#(room)"}"#))
                            if let call { await call.welcome(text) }
                        } else if text.contains(#""type":"joined""#) {
                            box.value.withLock { $0.joined = true }
                            state.joined.add(1, ordering: .relaxed)
                            state.active.add(1, ordering: .relaxed)
                            state.record(index) { _ = $0.join.record(now &- opened) }
                            if let call { try await call.joined(text, outbound: outbound) }
                        } else if let call, text.contains(#""type":"answer""#) || text.contains(#""type":"track""#) {
                            try await call.signal(text, outbound: outbound)
                        } else if call != nil, text.contains(#""ref":"sub""#) {
                            // not_found: the other side has not published yet; its `track` will come.
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
