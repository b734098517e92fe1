import ArgumentParser
import Desk
import Foundation
import Histogram
import NIOCore
import NIOPosix
import ShowroomServer
import Synchronization
import WebRTCClient

#if canImport(Glibc)
import Glibc
#endif

/// `showroom-load desk`: the consultation desk under load over its real API — shoppers arriving
/// (Poisson) who ask the bot an FAQ question or ask for a person, agents who accept offers, chat
/// and resolve, shoppers who give up. Reports the bot's, the queue's, the assignment's and the
/// chat's latencies, the outcomes and the peak of open consultations. See docs/load.md, "Desk".
struct DeskLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "desk",
        abstract: "Load-test the consultation desk: shoppers, the bot, the queue, agents.",
        discussion: """
            Agents (<agent-prefix>-0 …) are registered through the admin API, serving sales and support, and hold workspace streams. Shoppers arrive at --rate a second for --duration seconds; then open consultations get up to --drain seconds to end, and what is still open is closed by its shopper. Tokens are minted with the server's secret (SHOWROOM_SECRET, or --data-dir of a local server).

            Example: showroom-load desk --data-dir .showroom --agents 20 --capacity 5 --rate 4 --duration 60
            """)

    @Option(help: "The server.") var url = "http://127.0.0.1:8080"
    @Option(help: "The server's data directory, to read its secret (when SHOWROOM_SECRET is not set).") var dataDir = ".showroom"
    @Option(help: "Simulated agents.") var agents = 10
    @Option(help: "Consultations each agent holds at once (1–15: one /ws connection each; the server takes 16 per identity).") var capacity = 3
    @Option(help: "Shoppers arriving per second (Poisson).") var rate = 1.0
    @Option(help: "Stop arrivals after this many shoppers (default: no limit).") var shoppers: Int?
    @Option(help: "Seconds of arrivals.") var duration = 30.0
    @Option(help: "Seconds from the first arrival before latencies are recorded (counts start at once).") var warmup = 0.0
    @Option(help: "Seconds after the last arrival for open consultations to end before their shoppers close them.") var drain = 60.0
    @Option(help: "Share of shoppers (0–1) who ask the bot a question from the sample FAQ; the rest ask for a person.") var botShare = 0.5
    @Option(help: "Mean seconds an agent takes before each reply (uniform ±50%).") var think = 2.0
    @Option(help: "Mean seconds a shopper takes before answering an agent (uniform ±50%).") var shopperThink = 3.0
    @Option(help: "Mean seconds an agent holds a consultation, assigned → resolve (exponential).") var handling = 20.0
    @Option(help: "Seconds a shopper waits after the hand-off for an agent's first message before closing the chat.") var patience = 60.0
    @Option(help: "Mean seconds a shopper reads the bot's answer before closing the chat (uniform ±50%).") var read = 2.0
    @Option(help: "Mean seconds an agent takes to accept an offer (0: at once; offers lapse after 20 s).") var acceptDelay = 0.0
    @Option(help: "Open consultations at most; an arrival past it is skipped and counted.") var maxOpen = 6_000
    @Option(help: "WebSocket handshakes in flight at most (the server takes 1,000 connections before hello).") var handshakes = 100
    @Option(help: "Pooled HTTP connections for API requests (each agent's event stream has its own).") var httpConnections = 32
    @Option(help: "Agent ids are <prefix>-0, <prefix>-1, … (registered or updated at start).") var agentPrefix = "load-agent"
    @Option(help: "Seed of the run's random draws (default: random).") var seed: UInt64?
    @Flag(help: "Print the final report as JSON (keys in docs/load.md).") var json = false
    @Option(help: "Exit 1 when the bot's first reply p99 exceeds this (ms).") var maxBotP99Ms: Double?
    @Option(help: "Exit 1 when the assignment latency p99 exceeds this (ms).") var maxAssignmentP99Ms: Double?
    @Option(help: "Exit 1 when the agent → shopper chat latency p99 exceeds this (ms).") var maxChatP99Ms: Double?

    /// The server's `/ws` bounds the load must stay inside (docs/limits.md, docs/protocol.md "Limits").
    static let serverConnections = 10_000, serverPendingHello = 1_000, connectionsPerIdentity = 16, sendsPerIdentity = 20.0

    func validate() throws {
        guard agents >= 1, agents <= 2_000 else { throw ValidationError("--agents is 1–2,000") }
        guard (1..<Self.connectionsPerIdentity).contains(capacity) else {
            throw ValidationError("--capacity is 1–15: an agent holds a /ws connection per consultation and the server takes 16 per identity (one spare for a room closing while the next opens)")
        }
        guard maxOpen >= 1, maxOpen + agents * capacity <= Self.serverConnections - 500 else {
            throw ValidationError("--max-open + agents × capacity must stay under the server's 10,000 /ws connections (with 500 spare): \(maxOpen) + \(agents * capacity)")
        }
        guard handshakes >= 1, handshakes <= Self.serverPendingHello / 2 else { throw ValidationError("--handshakes is 1–500 (the server takes 1,000 before hello)") }
        guard httpConnections >= 1, httpConnections <= 512 else { throw ValidationError("--http-connections is 1–512") }
        guard rate > 0, duration > 0, warmup >= 0, warmup < duration, drain >= 0 else {
            throw ValidationError("--rate and --duration are positive; --warmup is 0 up to --duration; --drain ≥ 0")
        }
        guard (0...1).contains(botShare) else { throw ValidationError("--bot-share is 0–1") }
        guard think > 0, shopperThink > 0, handling > 0, patience > 0, read >= 0, acceptDelay >= 0, acceptDelay < 10 else {
            throw ValidationError("--think, --shopper-think, --handling and --patience are positive; --read ≥ 0; --accept-delay is 0–10 (offers lapse after 20 s)")
        }
        // An agent sends at most one message per consultation per half think time: keep its
        // consultations together under the server's 20 sends a second per identity.
        guard Double(capacity) / (think / 2) <= Self.sendsPerIdentity * 0.75 else {
            throw ValidationError("--capacity \(capacity) with --think \(think) could send more than 15 messages a second per agent (the server takes 20): raise --think to \(Double(capacity) / 7.5)")
        }
        guard shoppers.map({ $0 >= 1 }) ?? true else { throw ValidationError("--shoppers is at least 1") }
        guard agentPrefix.utf8.count <= 100, agentPrefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw ValidationError("--agent-prefix: at most 100 ASCII letters, digits, - or _")
        }
    }

    func run() async throws {
        let secret = try TokenAuthority.loadSecret(dataDirectory: dataDir)
        let auth = await TokenAuthority(secret: secret)
        guard let base = URL(string: url), let host = base.host else { throw ValidationError("bad --url") }
        let port = base.port ?? 80
        let http = DeskHTTPClient(host: host, port: port, group: MultiThreadedEventLoopGroup.singleton, maximumConnections: httpConnections)
        let state = DeskLoadState()
        let random = DeskRandom(seed: seed ?? UInt64.random(in: 0...UInt64.max))
        let questions = try FAQ.sample().entries.compactMap { e -> DeskRun.Question? in
            guard let d = e.department, let l = e.locale else { return nil }
            return DeskRun.Question(text: e.question, department: d, locale: l)
        }
        let run = DeskRun(
            http: http, auth: auth, wsURL: "ws://\(host):\(port)/ws", state: state, random: random,
            scenario: .init(
                botShare: botShare, think: think, shopperThink: shopperThink, handling: handling, patience: patience, read: read,
                acceptDelay: acceptDelay, maximumOpen: maxOpen),
            questions: questions, handshakes: AsyncLimiter(handshakes))

        // Setup: the departments are there, the agents registered and online.
        let admin = try await auth.mint(identity: "showroom-load", room: "desk", role: .admin, ttl: 3_600)
        let departments = try await http.request(.GET, "/api/admin/departments", token: admin)
        guard departments.status == 200 else { throw DeskLoadFailure("GET /api/admin/departments: \(departments.status) \(departments.reason)") }
        let known = Set(((try? JSONSerialization.jsonObject(with: Data(buffer: departments.body))) as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
        guard known.isSuperset(of: ["sales", "support"]) else {
            throw DeskLoadFailure("the server's desk has departments \(known.sorted()); the load needs sales and support (the default ones)")
        }
        let ids = (0..<agents).map { "\(agentPrefix)-\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, id) in ids.enumerated() {
                if n >= 16 { try await group.next() }
                group.addTask {
                    let r = try await http.request(
                        .PUT, "/api/admin/agents/\(id)", token: admin,
                        json: ["id": id, "name": "Agent \(id)", "departments": ["sales", "support"], "skills": [], "capacity": capacity, "supervisor": false])
                    guard r.status == 200 else { throw DeskLoadFailure("PUT /api/admin/agents/\(id): \(r.status) \(r.reason)") }
                }
            }
            try await group.waitForAll()
        }
        let runStart = Date()
        let started = ContinuousClock.now
        final class Counter: Sendable { let value = Atomic<Int>(0) }
        let counter = Counter()
        let desk = ids.map { DeskAgent(id: $0, run: run, capacity: capacity) }
        let agentTasks = desk.map { agent in Task { await agent.go { counter.value.add(1, ordering: .relaxed) } } }
        let setupDeadline = ContinuousClock.now + .seconds(30)
        while counter.value.load(ordering: .relaxed) < agents, ContinuousClock.now < setupDeadline { try await Task.sleep(for: .milliseconds(50)) }
        guard counter.value.load(ordering: .relaxed) == agents else {
            for a in desk { a.stop() }
            let errors = state.errorSamples.withLock { $0 }
            throw DeskLoadFailure("only \(counter.value.load(ordering: .relaxed)) of \(agents) agents' workspace streams opened within 30 s: \(errors)")
        }
        log(String(format: "showroom-load desk: %d agents online (capacity %d) after %.1f s; shoppers at %.2f/s for %.0f s", agents, capacity, (ContinuousClock.now - started).seconds, rate, duration))

        let probe = ServerProbe(url: url)
        var windowStart = await probe.sample(), toolStart = Self.cpuSeconds()
        let progress = Task {
            let t0 = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                log(String(format: "t=%4.0fs ", (ContinuousClock.now - t0).seconds) + Self.progress(state))
            }
        }

        // Arrivals: a Poisson process at `rate`, each shopper its own task; those arriving after
        // the warm-up are measured.
        state.measuring.store(warmup == 0, ordering: .relaxed)
        let launched = DoneFlag()
        let arrivals = Task {
            await withTaskGroup(of: Void.self) { group in
                let begin = ContinuousClock.now
                var next = begin, index = 0
                while ContinuousClock.now - begin < .seconds(duration), shoppers.map({ index < $0 }) ?? true {
                    try? await Task.sleep(until: next)
                    let shopper = DeskShopper(index: index, run: run)
                    group.addTask { await shopper.go() }
                    index += 1
                    next += .seconds(random.exponential(mean: 1 / rate))
                }
                launched.value.store(true, ordering: .relaxed)
            }
        }
        // Arrivals end at --duration (or after --shoppers); latencies are recorded until then.
        let arrivalsEnd = ContinuousClock.now + .seconds(duration)
        if warmup > 0 {
            try await Task.sleep(for: .seconds(warmup))
            windowStart = await probe.sample()
            toolStart = Self.cpuSeconds()
        }
        state.measuring.store(true, ordering: .relaxed)
        while ContinuousClock.now < arrivalsEnd, !launched.value.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(100)) }
        state.measuring.store(false, ordering: .relaxed)
        let windowEnd = await probe.sample(), toolEnd = Self.cpuSeconds()

        // Drain: open consultations end on their own (resolved, abandoned), then the rest is closed.
        let drainDeadline = ContinuousClock.now + .seconds(drain)
        while state.liveCount > 0, ContinuousClock.now < drainDeadline { try await Task.sleep(for: .milliseconds(100)) }
        state.closing.store(true, ordering: .relaxed)
        let closeDeadline = ContinuousClock.now + .seconds(30)
        while state.liveCount > 0 && ContinuousClock.now < closeDeadline {
            state.endOfRun()
            try await Task.sleep(for: .seconds(1))
        }
        let stillOpen = state.liveCount
        _ = await Self.within(.seconds(15)) { await arrivals.value }
        for a in desk { a.stop() }
        _ = await Self.within(.seconds(15)) { for t in agentTasks { await t.value } }
        progress.cancel()

        // The server's own account of the run's consultations (created from runStart on).
        var serverReport: [String: Any] = [:]
        let from = ISO8601DateFormatter().string(from: runStart.addingTimeInterval(-1))
        let to = ISO8601DateFormatter().string(from: Date().addingTimeInterval(2))
        if let r = try? await http.request(.GET, "/api/reports/desk?from=\(from)&to=\(to)", token: admin) {
            if r.status == 200, let overall = r.json["overall"] as? [String: Any] {
                serverReport = overall
            } else {
                state.error("GET /api/reports/desk \(r.status)", r.reason)
            }
        }
        let endSample = await probe.sample()
        http.shutdown()

        var report = self.report(state, serverReport: serverReport, stillOpen: stillOpen)
        if let a = windowStart, let b = windowEnd {
            report["server_cpu_cores"] = (b.cpuSeconds - a.cpuSeconds) / max((b.at - a.at).seconds, 0.001)
            report["tool_cpu_cores"] = (toolEnd - toolStart) / max((b.at - a.at).seconds, 0.001)
        }
        report["server_rss_bytes"] = endSample?.rss ?? windowEnd?.rss ?? 0
        if json {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(Self.table(report))
        }
        let failures = self.failures(report)
        if !failures.isEmpty {
            log("showroom-load desk: FAILED: " + failures.joined(separator: "; "))
            Foundation.exit(1)
        }
    }

    // MARK: Report

    func report(_ s: DeskLoadState, serverReport: [String: Any], stillOpen: Int) -> [String: Any] {
        let h = s.histograms.withLock { $0 }
        let outcomes = s.outcomes.withLock { $0 }
        let open = s.open.withLock { $0 }
        var r: [String: Any] = [
            "mode": "desk", "agents": agents, "capacity": capacity, "rate_per_s": rate, "duration_s": duration, "warmup_s": warmup,
            "bot_share": botShare, "think_s": think, "shopper_think_s": shopperThink, "handling_s": handling, "patience_s": patience,
            "read_s": read, "accept_delay_s": acceptDelay,
            "created": s.created.load(ordering: .relaxed), "handed_off": s.handedOff.load(ordering: .relaxed),
            "open_failures": s.openFailures.load(ordering: .relaxed), "skipped_at_bound": s.skippedAtBound.load(ordering: .relaxed),
            "open_at_end": stillOpen,
            "peak_open": open.peak, "peak_queued": open.peakQueued, "peak_with_agent": open.peakWithAgent,
            "peak_agent_rooms": open.peakAgentRooms,
            "bot_first_reply_ms": Self.summary(h.botFirstReply), "hand_off_ms": Self.summary(h.handOff),
            "queue_wait_ms": Self.summary(h.queueWait), "queue_to_assigned_ms": Self.summary(h.queueToAssigned), "first_response_ms": Self.summary(h.firstResponse),
            "assignment_ms": Self.summary(h.assignment), "chat_agent_to_shopper_ms": Self.summary(h.chatToShopper),
            "chat_shopper_to_agent_ms": Self.summary(h.chatToAgent), "open_ms": Self.summary(h.open), "join_ms": Self.summary(h.join),
            "accept_ms": Self.summary(h.accept), "resolve_ms": Self.summary(h.resolve), "agent_join_ms": Self.summary(h.agentJoin),
            "offers": s.offers.load(ordering: .relaxed), "accepted": s.accepted.load(ordering: .relaxed),
            "offers_withdrawn": s.offersWithdrawn.load(ordering: .relaxed), "revoked": s.revoked.load(ordering: .relaxed),
            "overdue_notices": s.overdue.load(ordering: .relaxed), "leftovers_resolved": s.leftovers.load(ordering: .relaxed),
            "assignment_samples_skipped": s.assignmentSkipped.load(ordering: .relaxed),
            "queue_notices": s.queueNotices.load(ordering: .relaxed), "queue_notice_bytes": s.queueNoticeBytes.load(ordering: .relaxed),
            "position_messages": s.positionMessages.load(ordering: .relaxed),
            "races": s.races.withLock { $0 }, "errors": s.errors.withLock { $0 }, "error_samples": s.errorSamples.withLock { $0 },
        ]
        for o in DeskOutcome.allCases { r[o.rawValue] = outcomes[o] ?? 0 }
        if !serverReport.isEmpty {
            var server: [String: Any] = [:]
            for key in ["created", "answeredByBotOnly", "handedOff", "resolved", "abandoned", "missed", "open"] { server[key] = serverReport[key] }
            for key in ["botFirstReply", "wait", "firstResponse", "handling"] {
                if let d = serverReport[key] as? [String: Any] { server[key + "_s"] = d.filter { ["count", "p50", "p90", "p99", "max"].contains($0.key) } }
            }
            r["server_report"] = server
        }
        return r
    }

    /// p50/p90/p99/max in ms and the count, of a histogram in µs (the percentiles the brief and
    /// the desk's own report use).
    static func summary(_ h: Histogram<UInt64>) -> [String: Double] {
        guard h.totalCount > 0 else { return ["p50": 0, "p90": 0, "p99": 0, "max": 0, "count": 0] }
        return [
            "p50": Double(h.valueAtPercentile(50)) / 1_000, "p90": Double(h.valueAtPercentile(90)) / 1_000,
            "p99": Double(h.valueAtPercentile(99)) / 1_000, "max": Double(h.max) / 1_000, "count": Double(h.totalCount),
        ]
    }

    /// Why the run fails: a server error, a consultation left open, a threshold exceeded, or
    /// counts that do not add up.
    func failures(_ r: [String: Any]) -> [String] {
        var out: [String] = []
        let errors = r["errors"] as? [String: Int] ?? [:], samples = r["error_samples"] as? [String: String] ?? [:]
        for (kind, n) in errors.sorted(by: { $0.key < $1.key }) { out.append("\(kind) ×\(n): \(samples[kind] ?? "")") }
        func int(_ k: String) -> Int { r[k] as? Int ?? 0 }
        let ended = DeskOutcome.allCases.map { int($0.rawValue) }.reduce(0, +)
        if ended != int("created") { out.append("\(int("created")) consultations created but \(ended) ended") }
        if int("open_at_end") > 0 { out.append("\(int("open_at_end")) consultations still open at the end") }
        if let server = r["server_report"] as? [String: Any], let open = server["open"] as? Int, open > 0 {
            out.append("the server reports \(open) of the run's consultations still open")
        }
        if int("created") == 0 { out.append("no consultation was created") }
        func p99(_ key: String) -> Double { (r[key] as? [String: Double])?["p99"] ?? 0 }
        if let m = maxBotP99Ms, p99("bot_first_reply_ms") > m { out.append("bot first reply p99 \(p99("bot_first_reply_ms")) ms > \(m) ms") }
        if let m = maxAssignmentP99Ms, p99("assignment_ms") > m { out.append("assignment p99 \(p99("assignment_ms")) ms > \(m) ms") }
        if let m = maxChatP99Ms, p99("chat_agent_to_shopper_ms") > m { out.append("chat p99 \(p99("chat_agent_to_shopper_ms")) ms > \(m) ms") }
        return out
    }

    static func progress(_ s: DeskLoadState) -> String {
        let o = s.open.withLock { $0 }
        let outcomes = s.outcomes.withLock { $0 }
        let (bot, assignment, chat) = s.histograms.withLock { ($0.botFirstReply, $0.assignment, $0.chatToShopper) }
        func p99(_ h: Histogram<UInt64>) -> Double { h.totalCount > 0 ? Double(h.valueAtPercentile(99)) / 1_000 : 0 }
        return String(
            format: "open %d (peak %d): bot %d queued %d agent %d; created %d bot-only %d resolved %d abandoned %d; p99 bot %.0f assign %.0f chat %.1f ms; errors %d",
            o.live, o.peak, o.byPhase[.withBot] ?? 0, o.byPhase[.queued] ?? 0, o.byPhase[.withAgent] ?? 0,
            s.created.load(ordering: .relaxed), outcomes[.botOnly] ?? 0, outcomes[.resolved] ?? 0, outcomes[.abandoned] ?? 0,
            p99(bot), p99(assignment), p99(chat), s.errors.withLock { $0.values.reduce(0, +) })
    }

    static func table(_ r: [String: Any]) -> String {
        func row(_ name: String, _ key: String) -> String {
            let h = r[key] as? [String: Double] ?? [:]
            return name.padding(toLength: 34, withPad: " ", startingAt: 0)
                + String(
                    format: "p50 %8.1f  p90 %8.1f  p99 %8.1f  max %8.1f  (%d)", h["p50"] ?? 0, h["p90"] ?? 0, h["p99"] ?? 0, h["max"] ?? 0,
                    Int(h["count"] ?? 0))
        }
        func v(_ k: String) -> String { "\(r[k] ?? 0)" }
        var lines = [
            "desk: \(v("agents")) agents × \(v("capacity")), shoppers at \(v("rate_per_s"))/s for \(v("duration_s")) s (bot share \(v("bot_share")))",
            "consultations: \(v("created")) created — \(v("bot_only")) bot only, \(v("handed_off")) handed off: \(v("resolved")) resolved, \(v("abandoned")) abandoned; \(v("closed_at_end")) closed at the end, \(v("failed")) failed; \(v("open_failures")) not opened, \(v("skipped_at_bound")) skipped at --max-open",
            "peak open \(v("peak_open")) (queued \(v("peak_queued")), with an agent \(v("peak_with_agent"))); agents' rooms at most \(v("peak_agent_rooms"))",
            row("bot first reply (ms)", "bot_first_reply_ms"),
            row("ask for a person → hand-off (ms)", "hand_off_ms"),
            row("queue wait (ms)", "queue_wait_ms"),
            row("hand-off → agent joined (ms)", "queue_to_assigned_ms"),
            row("first response (ms)", "first_response_ms"),
            row("assignment after a resolve (ms)", "assignment_ms"),
            row("chat agent → shopper (ms)", "chat_agent_to_shopper_ms"),
            row("chat shopper → agent (ms)", "chat_shopper_to_agent_ms"),
            row("open (POST) (ms)", "open_ms"),
            row("shopper join (ms)", "join_ms"),
            row("accept (ms)", "accept_ms"),
            row("resolve (ms)", "resolve_ms"),
            row("assigned → agent joined (ms)", "agent_join_ms"),
            "offers \(v("offers")), accepted \(v("accepted")), withdrawn \(v("offers_withdrawn")), revoked \(v("revoked")); queue notices \(v("queue_notices")) (\(v("queue_notice_bytes")) bytes); position messages \(v("position_messages"))",
            "races: \(r["races"] ?? [:])",
            "errors: \(r["errors"] ?? [:])",
        ]
        if let samples = r["error_samples"] as? [String: String], !samples.isEmpty {
            lines += samples.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }
        }
        if let server = r["server_report"] { lines.append("server's report: \(server)") }
        lines.append(
            String(
                format: "server: CPU %.2f cores while shoppers arrived, RSS %.1f MB; tool CPU %.2f cores", r["server_cpu_cores"] as? Double ?? 0,
                (r["server_rss_bytes"] as? Double ?? 0) / 1e6, r["tool_cpu_cores"] as? Double ?? 0))
        return lines.joined(separator: "\n")
    }

    func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

    /// This process's user + system CPU seconds.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// Waits for `body` at most `limit` (past it the body goes on; the process ends soon after).
    static func within(_ limit: Duration, _ body: @escaping @Sendable () async -> Void) async -> Bool {
        let finished = DoneFlag()
        let task = Task {
            await body()
            finished.value.store(true, ordering: .relaxed)
        }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if finished.value.load(ordering: .relaxed) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        _ = task
        return false
    }
}

/// A setup step the server refused: its `status code: reason`.
struct DeskLoadFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
