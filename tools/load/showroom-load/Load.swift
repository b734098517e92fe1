import ArgumentParser
import Foundation
import Histogram
import Logging
import MediaCrypto
import NIOCore
import NIOPosix
import ShowroomServer
import Synchronization
import WebRTCClient

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `showroom-load`: a load test against a running Showroom server over its real protocols, latency
/// first. Two modes: ``Load`` (`media`, the default: WHIP publishers, WHEP viewers, 1:1 calls and
/// chatters) and ``DeskLoad`` (`desk`: the consultation desk). See docs/load.md.
@main
struct ShowroomLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "showroom-load",
        abstract: "Load-test a running Showroom server over its real protocols, latency first.",
        discussion: "Without a mode name, `media` runs: `showroom-load --publishers 1 --viewers 50` is `showroom-load media --publishers 1 --viewers 50`.",
        subcommands: [Load.self, DeskLoad.self],
        defaultSubcommand: Load.self)
}

/// The media and chat mode: WHIP publishers and WHEP viewers (the project's own ICE, DTLS-SRTP
/// client), 1:1 consultations over `/ws`, and `/ws` chatters.
struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "media",
        abstract: "Load-test a Showroom server: WHIP publishers, WHEP viewers and /ws chatters; reports join time, glass-to-glass latency, jitter, loss, freezes, chat delivery time, errors and the server's CPU and memory.",
        discussion: """
            Tokens are minted with the server's secret: SHOWROOM_SECRET, or --data-dir of a local server.
            Example (a server from `./tools/dev serve` on this machine):
              swift run -c release showroom-load --data-dir .showroom --publishers 1 --viewers 50 --chatters 20 --duration 15
            """)

    @Option(help: "The server.") var url = "http://127.0.0.1:8080"
    @Option(help: "The server's data directory, to read its secret (when SHOWROOM_SECRET is not set).") var dataDir = ".showroom"
    @Option(help: "WHIP publishers, one per room (VP8 640×360 30 fps ~560 kbit/s + Opus 40 kbit/s, pre-encoded and looped).") var publishers = 0
    @Option(help: "WHEP viewers, spread over the publishers' rooms.") var viewers = 0
    @Option(help: "What viewers ask for: source, medium or low.") var quality = "source"
    @Option(help: "Let the server move viewers between renditions (WHEP adaptive=1).") var adaptive = true
    @Option(help: "Send viewers' media through a showroom-netsim listening here (host:port; its --forward is the server's media port).") var via: String?
    @Option(help: "How WHEP viewers reach the relay: udp, or tcp (ICE-TCP, RFC 6544: a TCP connection to the relay's passive candidate).")
    var viewerTransport = "udp"
    @Option(help: "1:1 consultations over /ws: a shopper and an agent, each publishing video and audio, watching the other's, and chatting at --chat-rate.") var consultations = 0
    @Option(help: "Chat connections (shoppers).") var chatters = 0
    @Option(help: "Rooms; publishers take one each, chatters are spread over all.") var rooms = 1
    @Option(help: "Messages per second each chatter sends.") var chatRate = 1.0
    @Option(help: "Seconds of measuring, after everyone joined.") var duration = 10.0
    @Option(help: "Connections (WHIP/WHEP sessions and chatters) opened per second.") var ramp = 50.0
    @Option(help: "Event-loop threads for the media peers.") var threads = 1
    @Flag(help: "Print the final report as JSON (keys in docs/load.md).") var json = false
    @Option(help: "Exit 1 when glass-to-glass p99 or chat delivery p99 exceeds this (ms).") var maxP99Ms: Double?
    @Option(help: "Exit 1 when media packet loss or chat loss exceeds this (0–1).") var maxLoss: Double?

    func validate() throws {
        guard chatters >= 0, publishers >= 0, viewers >= 0, consultations >= 0, chatters + publishers + viewers + consultations > 0 else {
            throw ValidationError("nothing to do: give --publishers/--viewers, --consultations and/or --chatters")
        }
        guard rooms > 0, publishers <= rooms else { throw ValidationError("each WHIP publisher needs its own room: --rooms ≥ --publishers") }
        guard viewers == 0 || publishers > 0 else { throw ValidationError("viewers need a publisher (--publishers ≥ 1)") }
        guard ["source", "medium", "low"].contains(quality) else { throw ValidationError("--quality is source, medium or low") }
        guard chatRate > 0, chatRate <= 20 else { throw ValidationError("--chat-rate is 0–20 (the server's limit is 20/s)") }
        guard duration > 0, ramp > 0, threads > 0 else { throw ValidationError("--duration, --ramp and --threads are positive") }
    }

    func run() async throws {
        let secret = try TokenAuthority.loadSecret(dataDirectory: dataDir)
        let authority = await TokenAuthority(secret: secret)
        guard let base = URL(string: url), let host = base.host else { throw ValidationError("bad --url") }
        let wsURL = "ws://\(host):\(base.port ?? 80)/ws"
        guard ["udp", "tcp"].contains(viewerTransport) else { throw ValidationError("--viewer-transport is udp or tcp") }
        guard viewerTransport == "udp" || via == nil else { throw ValidationError("--via relays UDP: it cannot go with --viewer-transport tcp") }
        /// Viewer i's transport: over TCP from 127.0.0.(2 + i mod 250), as shoppers on many networks
        /// (the relay takes `tcpConnectionsPerAddress` from one address).
        func viewerTransportValue(_ i: Int) -> MediaPeer.Transport {
            guard viewerTransport == "tcp" else { return .udp }
            return .tcp(localAddress: try? SocketAddress(ipAddress: "127.0.0.\(2 + i % 250)", port: 0))
        }
        let viaAddress = try via.map { v -> SocketAddress in
            guard let colon = v.lastIndex(of: ":"), let port = Int(v[v.index(after: colon)...]) else { throw ValidationError("--via is host:port") }
            return try SocketAddress(ipAddress: String(v[..<colon]), port: port)
        }
        let server = ServerProbe(url: url)
        let before = await server.sample()
        let chat = LoadState(chatters: chatters + 2 * consultations)
        let media = MediaState()
        let started = ContinuousClock.now
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let certificate = try DTLSCertificate()
        let encoded = publishers + consultations > 0 ? try EncodedMedia() : nil
        let registry = PeerRegistry()
        let expectedPublishers = publishers + 2 * consultations, expectedViewers = viewers + 2 * consultations
        if let encoded {
            log(String(format: "showroom-load: media loop of %d frames, %.0f kbit/s of payload", encoded.video.count, encoded.payloadBitrate / 1_000))
        }
        let sessions = Mutex<[(WHIPSession, String)]>([])
        /// One WHIP/WHEP session, kept for the DELETE at the end; a failure is counted by kind.
        func open(_ endpoint: URL, token: String, role: MediaPeer.Role, via: SocketAddress?, transport: MediaPeer.Transport = .udp) async {
            do {
                let s = try await WHIPSession.open(
                    endpoint: endpoint, token: token, role: role, certificate: certificate, via: via, transport: transport, group: group,
                    state: media)
                sessions.withLock { $0.append((s, token)) }
                if !registry.add(s.peer, publishing: { if case .publisher = role { true } else { false } }()) { await s.peer.stop() }
            } catch {
                media.failed(error)
            }
        }
        let lastBytes = Mutex<(Int, ContinuousClock.Instant)>((0, .now))

        // Progress, once a second, on stderr (stdout stays the report).
        let progress = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                var line = String(format: "t=%4.0fs ", (ContinuousClock.now - started).seconds)
                if expectedViewers > 0 {
                    let totals = MediaTotals(await snapshots(registry.viewers), viewers: true)
                    let (bytes, at) = lastBytes.withLock { old in defer { old = (totals.sum.receivedBytes, .now) }; return old }
                    let g2g = media.histograms.withLock { $0.glassToGlass }
                    line += String(
                        format: "viewers joined %d/%d failed %d  rx %.1f Mbit/s  loss %.2f%%  g2g p50 %.0f p99 %.0f ms  ",
                        registry.viewers.count, expectedViewers,
                        media.failed.load(ordering: .relaxed),
                        Double(totals.sum.receivedBytes - bytes) * 8 / 1e6 / max((ContinuousClock.now - at).seconds, 0.001),
                        totals.sum.expectedPackets > 0 ? Double(totals.sum.lostPackets) / Double(totals.sum.expectedPackets) * 100 : 0,
                        g2g.totalCount > 0 ? Double(g2g.valueAtPercentile(50)) / 1_000 : 0, g2g.totalCount > 0 ? Double(g2g.valueAtPercentile(99)) / 1_000 : 0)
                }
                if chat.chatters > 0 { line += chat.progress }
                log(line + String(format: "  errors %d", (chat.errors.withLock { $0.values.reduce(0, +) }) + media.errors.withLock { $0.values.reduce(0, +) }))
            }
        }

        // Publishers first (viewers need them), then viewers and chatters at the ramp rate.
        for i in 0..<publishers {
            let room = "load-\(i)"
            let token = try await authority.mint(identity: "load-pub-\(i)", room: room, role: .publisher, ttl: 3_600)
            await open(base.appendingPathComponent("whip/\(room)"), token: token, role: .publisher(encoded!), via: nil)
            try? await Task.sleep(for: .seconds(1 / ramp))
        }
        await withTaskGroup(of: Void.self) { group2 in
            for i in 0..<chatters {
                let room = "load-\(i % rooms)"
                let token = (try? await authority.mint(identity: "load-\(i)", room: room, role: .shopper, ttl: 3_600)) ?? ""
                let size = chatters / rooms + (i % rooms < chatters % rooms ? 1 : 0)
                group2.addTask { await Chatter(index: i, room: room, roomSize: size, token: token, url: wsURL, rate: chatRate, state: chat).run() }
                try? await Task.sleep(for: .seconds(1 / ramp))
            }
            if let encoded, consultations > 0 {
                let setup = Call.Setup(
                    media: encoded, certificate: certificate, group: group, state: media, registry: registry, quality: quality, via: viaAddress)
                for k in 0..<consultations {
                    for (side, role) in [("shopper", Role.shopper), ("agent", Role.agent)] {
                        let room = "consult-\(k)", index = chatters + 2 * k + (role == .agent ? 1 : 0)
                        let token = (try? await authority.mint(identity: "\(room)-\(side)", room: room, role: role, ttl: 3_600)) ?? ""
                        var chatter = Chatter(index: index, room: room, roomSize: 2, token: token, url: wsURL, rate: chatRate, state: chat)
                        chatter.call = Call(setup)
                        group2.addTask { await chatter.run() }
                        try? await Task.sleep(for: .seconds(1 / ramp))
                    }
                }
            }
            for i in 0..<viewers {
                let room = "load-\(i % max(publishers, 1))"
                let token = (try? await authority.mint(identity: "load-view-\(i)", room: room, role: .viewer, ttl: 3_600)) ?? ""
                var endpoint = URLComponents(url: base.appendingPathComponent("whep/\(room)"), resolvingAgainstBaseURL: false)!
                endpoint.queryItems = [URLQueryItem(name: "quality", value: quality), URLQueryItem(name: "adaptive", value: adaptive ? "1" : "0")]
                await open(endpoint.url!, token: token, role: .viewer, via: viaAddress, transport: viewerTransportValue(i))
                try? await Task.sleep(for: .seconds(1 / ramp))
            }
            // Everyone in — chatters joined, viewers showing their first frame — or failed (media peers
            // get 15 s), then `duration` seconds of measuring.
            let deadline = ContinuousClock.now + .seconds(15)
            func settled() -> Bool {
                let watching = Int(media.histograms.withLock { $0.firstFrame.totalCount })
                return media.connected.load(ordering: .relaxed) + media.failed.load(ordering: .relaxed) >= expectedPublishers + expectedViewers
                    && watching + media.failed.load(ordering: .relaxed) >= expectedViewers
            }
            while chat.joined.load(ordering: .relaxed) + chat.failedJoins.load(ordering: .relaxed) < chat.chatters
                || (!settled() && ContinuousClock.now < deadline)
            {
                try? await Task.sleep(for: .milliseconds(50))
            }
            let peers = (p: registry.publishers, v: registry.viewers)
            let joinedAt = await server.sample()
            let viewersBefore = MediaTotals(await snapshots(peers.v), viewers: true)
            let publishersBefore = MediaTotals(await snapshots(peers.p), viewers: false)
            media.measuring.store(true, ordering: .relaxed)
            chat.sending.store(true, ordering: .relaxed)
            let windowStart = ContinuousClock.now
            try? await Task.sleep(for: .seconds(duration))
            chat.stopSending.store(true, ordering: .relaxed)
            media.measuring.store(false, ordering: .relaxed)
            let window = (ContinuousClock.now - windowStart).seconds
            let viewersDuring = MediaTotals(await snapshots(peers.v), viewers: true) - viewersBefore
            let publishersDuring = MediaTotals(await snapshots(peers.p), viewers: false) - publishersBefore
            let during = await server.sample()
            // Media stops before the signaling that owns it: a consultation's sessions end with its
            // WebSocket, and peers still sending then would only be counted as strangers.
            await registry.close()
            if chat.chatters > 0 { try? await Task.sleep(for: .seconds(2)) }  // late deliveries
            chat.stop.store(true, ordering: .relaxed)
            group2.cancelAll()
            progress.cancel()

            var report = chat.report(sendSeconds: window, before: before, joined: joinedAt, during: during, chatters: chat.chatters, rooms: rooms)
            report["errors"] = chat.errors.withLock { $0 }.merging(media.errors.withLock { $0 }, uniquingKeysWith: +)
            report["consultations"] = consultations
            if expectedPublishers + expectedViewers > 0 {
                report.merge(
                    mediaReport(
                        media, viewers: viewersDuring, publishers: publishersDuring, seconds: window, viewerCount: peers.v.count,
                        publisherCount: peers.p.count),
                    uniquingKeysWith: { $1 })
            }
            report["duration_s"] = window
            if json {
                let data = try! JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .prettyPrinted])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(Self.table(report))
            }
            let failures = thresholdFailures(
                report, chatters: chat.chatters, expectedViewers: expectedViewers, connectedViewers: peers.v.count,
                failedSessions: media.failed.load(ordering: .relaxed))

            for (s, token) in sessions.withLock({ $0 }) { await s.close(token: token) }
            try? await group.shutdownGracefully()
            if !failures.isEmpty {
                log("showroom-load: FAILED: " + failures.joined(separator: "; "))
                Foundation.exit(1)
            }
        }
    }

    /// Why the run fails: a threshold exceeded, or nothing measured where something should be.
    func thresholdFailures(_ report: [String: Any], chatters: Int, expectedViewers: Int, connectedViewers: Int, failedSessions: Int) -> [String] {
        var failures: [String] = []
        if let maxP99Ms {
            if chatters > 0, let p99 = (report["chat_delivery_ms"] as? [String: Double])?["p99"], p99 > maxP99Ms {
                failures.append("chat delivery p99 \(p99) ms > \(maxP99Ms) ms")
            }
            if expectedViewers > 0, let p99 = (report["glass_to_glass_ms"] as? [String: Double])?["p99"], p99 > maxP99Ms {
                failures.append("glass-to-glass p99 \(p99) ms > \(maxP99Ms) ms")
            }
        }
        if let maxLoss {
            if chatters > 0, let loss = report["chat_loss"] as? Double, loss > maxLoss { failures.append("chat loss \(loss) > \(maxLoss)") }
            if expectedViewers > 0, let loss = report["media_loss"] as? Double, loss > maxLoss { failures.append("media loss \(loss) > \(maxLoss)") }
        }
        if chatters > 0, (report["chat_delivered"] as? Int ?? 0) == 0 { failures.append("no chat message was delivered") }
        if expectedViewers > 0, (report["frames_rendered"] as? Int ?? 0) == 0 { failures.append("no video frame was rendered") }
        if connectedViewers < expectedViewers { failures.append("\(expectedViewers - connectedViewers) viewers had no media session") }
        if failedSessions > 0 { failures.append("\(failedSessions) media sessions failed") }
        return failures
    }

    func mediaReport(
        _ m: MediaState, viewers viewerTotals: MediaTotals, publishers publisherTotals: MediaTotals, seconds: Double, viewerCount: Int, publisherCount: Int
    ) -> [String: Any] {
        let h = m.histograms.withLock { $0 }
        let minutes = seconds / 60 * Double(max(viewerCount, 1))
        let kbps = viewerTotals.perViewerBytes.map { Double($0) * 8 / 1_000 / max(seconds, 0.001) }
        let v = viewerTotals.sum, p = publisherTotals.sum
        let jitter = viewerTotals.jitter
        return [
            "publishers": publishers, "viewers": viewers, "quality": quality, "adaptive": adaptive, "via": via ?? "", "viewerTransport": viewerTransport,
            "media_connected": m.connected.load(ordering: .relaxed), "media_failures": m.failed.load(ordering: .relaxed),
            "media_join_connected_ms": summary(h.connect), "media_join_first_media_ms": summary(h.firstMedia), "first_frame_ms": summary(h.firstFrame),
            "glass_to_glass_ms": summary(h.glassToGlass),
            "jitter_ms": ["mean": jitter.isEmpty ? 0 : jitter.reduce(0, +) / Double(jitter.count), "max": jitter.max() ?? 0],
            "media_loss": v.expectedPackets > 0 ? Double(max(v.lostPackets, 0)) / Double(v.expectedPackets) : 0,
            "packets_expected": Int(v.expectedPackets), "packets_lost": Int(max(v.lostPackets, 0)),
            "nacks_sent": v.nacksSent, "retransmissions_received": v.recoveredPackets, "plis_sent": v.plisSent,
            "reordered_packets": v.reorderedPackets, "duplicate_packets": v.duplicatePackets,
            "publisher_nacks_received": p.nacksReceived, "publisher_retransmissions_sent": p.retransmissionsSent,
            "publisher_plis_received": p.plisReceived,
            "frames_rendered": m.renderedWhileMeasuring.load(ordering: .relaxed), "frames_abandoned": v.abandonedFrames,
            "freezes": m.freezes.load(ordering: .relaxed), "freezes_per_minute": Double(m.freezes.load(ordering: .relaxed)) / max(minutes, 1e-9),
            "received_kbps": ["mean": kbps.isEmpty ? 0 : kbps.reduce(0, +) / Double(kbps.count), "min": kbps.min() ?? 0],
            "received_mbps_total": Double(v.receivedBytes) * 8 / 1e6 / max(seconds, 0.001),
            "sent_kbps_per_publisher": Double(p.sentBytes) * 8 / 1_000 / max(seconds, 0.001) / Double(max(publisherCount, 1)),
        ]
    }

    func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

    static func table(_ r: [String: Any]) -> String {
        func row(_ name: String, _ key: String) -> String {
            let h = r[key] as? [String: Double] ?? [:]
            let label = name.padding(toLength: 31, withPad: " ", startingAt: 0)
            return label + String(format: "p50 %8.1f  p95 %8.1f  p99 %8.1f  max %8.1f", h["p50"] ?? 0, h["p95"] ?? 0, h["p99"] ?? 0, h["max"] ?? 0)
        }
        func d(_ key: String) -> Double { r[key] as? Double ?? Double(r[key] as? Int ?? 0) }
        var lines: [String] = []
        if (r["viewers"] as? Int ?? 0) + (r["publishers"] as? Int ?? 0) + (r["consultations"] as? Int ?? 0) > 0 {
            let jitter = r["jitter_ms"] as? [String: Double] ?? [:], kbps = r["received_kbps"] as? [String: Double] ?? [:]
            lines += [
                "media: \(r["publishers"] ?? 0) publishers, \(r["viewers"] ?? 0) viewers, \(r["consultations"] ?? 0) consultations (\(r["quality"] ?? "")); \(r["media_connected"] ?? 0) peers connected, \(r["media_failures"] ?? 0) failed",
                row("offer → connected (ms)", "media_join_connected_ms"),
                row("offer → first media (ms)", "media_join_first_media_ms"),
                row("offer → first frame (ms)", "first_frame_ms"),
                row("glass-to-glass (ms)", "glass_to_glass_ms"),
                String(
                    format: "frames %d rendered, %d abandoned; freezes %d (%.2f per viewer-minute); jitter mean %.1f max %.1f ms",
                    Int(d("frames_rendered")), Int(d("frames_abandoned")), Int(d("freezes")), d("freezes_per_minute"), jitter["mean"] ?? 0, jitter["max"] ?? 0),
                String(
                    format: "packets %d expected, %d lost (%.3f%%), %d reordered, %d duplicates; NACKed %d, recovered %d, PLIs %d; publishers got %d NACKs, resent %d, %d PLIs",
                    Int(d("packets_expected")), Int(d("packets_lost")), d("media_loss") * 100, Int(d("reordered_packets")), Int(d("duplicate_packets")),
                    Int(d("nacks_sent")), Int(d("retransmissions_received")), Int(d("plis_sent")), Int(d("publisher_nacks_received")), Int(d("publisher_retransmissions_sent")), Int(d("publisher_plis_received"))),
                String(
                    format: "received %.0f kbit/s per viewer (min %.0f), %.1f Mbit/s in all; sent %.0f kbit/s per publisher",
                    kbps["mean"] ?? 0, kbps["min"] ?? 0, d("received_mbps_total"), d("sent_kbps_per_publisher")),
            ]
        }
        if (r["chatters"] as? Int ?? 0) > 0 {
            lines += [
                "chat: \(r["chatters"] ?? 0) chatters (consultations' included), \(r["joined"] ?? 0) joined, \(r["join_failures"] ?? 0) failed",
                row("join time (ms)", "join_ms"),
                row("chat send → ack (ms)", "chat_ack_ms"),
                row("chat send → delivery (ms)", "chat_delivery_ms"),
                "chat: \(r["chat_sent"] ?? 0) sent, \(r["chat_acked"] ?? 0) acked, \(r["chat_delivered"] ?? 0) delivered (\(String(format: "%.0f", d("chat_delivered_per_second")))/s), loss \(r["chat_loss"] ?? 0)",
            ]
        }
        lines += [
            "errors: \(r["errors"] ?? [:])",
            String(
                format: "server: CPU %.2f cores while measuring, RSS %.1f MB", d("server_cpu_cores"), d("server_rss_bytes") / 1e6),
        ]
        return lines.joined(separator: "\n")
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
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
