import Desk
import Foundation
import Metrics
import Prometheus
import Relay
import Signaling
import Synchronization

/// What `GET /metrics` exposes, in the Prometheus text format: the relay's totals (read from
/// ``RelayServer/snapshot()`` at scrape time, so the media path pays nothing per packet), the
/// per-stage transcoding latency the relay records through swift-metrics, HTTP request metrics
/// (Hummingbird's `MetricsMiddleware`, once ``bootstrap()`` has run) and the process's CPU time and
/// resident memory. Every name is listed in docs/metrics.md.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    /// Hand this to swift-metrics users (the relay's ``RelayConfiguration/metricsFactory``).
    public let factory: PrometheusMetricsFactory
    private let exported = Mutex<[String: Double]>([:])

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Stage times run from tens of microseconds (Opus) to tens of milliseconds (a jitter-buffer wait).
        factory.durationHistogramBuckets[StageTimers.metricLabel] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(4), .milliseconds(8), .milliseconds(16), .milliseconds(32), .milliseconds(64), .milliseconds(128),
            .milliseconds(256),
        ]
        self.factory = factory
    }

    /// Makes this registry the process-wide swift-metrics backend (once per process: the CLI does it).
    public func bootstrap() { MetricsSystem.bootstrap(factory) }

    /// WebSocket connections open now, and closed ones by the code they were closed with.
    let connections = Atomic<Int>(0)
    let closes = Mutex<[String: Int]>([:])

    func connectionOpened() { connections.add(1, ordering: .relaxed) }
    func connectionClosed(code: String) {
        connections.subtract(1, ordering: .relaxed)
        closes.withLock { $0[code, default: 0] += 1 }
    }

    /// Brings the exported values up to date and renders them.
    public func render(relay: RelayServer?, hub: RoomHub? = nil, desk: DeskService? = nil) async -> String {
        if let relay { record(await relay.snapshot()) }
        if let hub { record(hub.snapshot()) }
        if let desk { record(await desk.metrics()) }
        registry.makeGauge(name: "showroom_ws_connections").set(Double(connections.load(ordering: .relaxed)))
        for (code, n) in closes.withLock({ $0 }) { advance("showroom_ws_closed_total", [("code", code)], to: n) }
        recordProcess()
        return registry.emitToString()
    }

    func record(_ s: RelaySnapshot) {
        registry.makeGauge(name: "showroom_relay_publishers").set(Double(s.publishers))
        for q in Quality.allCases {
            registry.makeGauge(name: "showroom_relay_viewers", labels: [("quality", q.rawValue)]).set(Double(s.viewers[q] ?? 0))
        }
        registry.makeGauge(name: "showroom_relay_renditions").set(Double(s.renditions))
        registry.makeGauge(name: "showroom_relay_loop_lag_seconds").set(s.loopLag)
        advance("showroom_relay_late_ticks_total", [], to: s.lateTicks)
        registry.makeGauge(name: "showroom_relay_loop_busy_ratio").set(s.loopBusy)
        advance("showroom_relay_adaptation_held_total", [], to: s.adaptationHeld)
        registry.makeGauge(name: "showroom_relay_pipes").set(Double(s.pipes))
        registry.makeGauge(name: "showroom_relay_node_pipes", labels: [("direction", "out")]).set(Double(s.nodePipesOut))
        registry.makeGauge(name: "showroom_relay_node_pipes", labels: [("direction", "in")]).set(Double(s.nodePipesIn))
        advance("showroom_relay_piped_packets_total", [], to: s.pipedPackets)
        let t = s.totals
        advance("showroom_relay_packets_total", [("direction", "in")], to: t.packetsIn)
        advance("showroom_relay_packets_total", [("direction", "out")], to: t.packetsOut)
        advance("showroom_relay_bytes_total", [("direction", "in")], to: t.bytesIn)
        advance("showroom_relay_bytes_total", [("direction", "out")], to: t.bytesOut)
        advance("showroom_relay_nacks_total", [], to: t.nacksIn)
        advance("showroom_relay_retransmissions_total", [], to: t.retransmitted)
        advance("showroom_relay_retransmissions_skipped_total", [], to: t.retransmissionsSkipped)
        advance("showroom_relay_retransmissions_over_budget_total", [], to: t.retransmissionsOverBudget)
        advance("showroom_relay_probes_total", [], to: t.probes)
        advance("showroom_relay_upstream_nacks_total", [], to: t.nacksOut)
        advance("showroom_relay_upstream_nacked_packets_total", [], to: t.upstreamNACKed)
        advance("showroom_relay_upstream_recovered_packets_total", [], to: t.recovered)
        advance("showroom_relay_keyframe_requests_total", [], to: t.keyFrameRequests)
        advance("showroom_relay_viewer_keyframe_requests_total", [], to: t.keyFrameRequestsIn)
        advance("showroom_relay_viewer_keyframe_requests_passed_on_total", [], to: t.keyFrameRequestsPassedOn)
        advance("showroom_relay_quality_changes_total", [], to: t.qualityChanges)
        advance("showroom_relay_temporal_skipped_packets_total", [], to: t.temporalSkipped)
        advance("showroom_relay_temporal_changes_total", [], to: t.temporalChanges)
        advance("showroom_relay_layer_held_packets_total", [], to: t.layerHeld)
        advance("showroom_relay_layer_switches_total", [], to: t.layerSwitches)
        advance("showroom_relay_layer_switch_wait_seconds_total", [], to: Double(t.layerSwitchWaitMicroseconds) / 1_000_000)
        advance("showroom_relay_publisher_layer_pauses_total", [], to: t.layerPauses)
        advance("showroom_relay_queue_bursts_drained_total", [], to: t.burstsDrained)
        advance("showroom_relay_retransmitted_again_packets_total", [], to: t.retransmittedAgain)
        for (reason, n) in s.dropped { advance("showroom_relay_dropped_total", [("reason", reason)], to: n) }
    }

    /// The desk: open consultations by status, transitions, the bot, agents' load, and the last
    /// hour's figures per department (``DeskReport``) as quantile gauges.
    func record(_ d: DeskMetrics) {
        for status in ConsultationStatus.allCases {
            registry.makeGauge(name: "showroom_desk_consultations", labels: [("status", status.rawValue)]).set(Double(d.open[status] ?? 0))
            advance("showroom_desk_transitions_total", [("to", status.rawValue)], to: d.moves[status] ?? 0)
        }
        advance("showroom_desk_bot_replies_total", [], to: d.botReplies)
        advance("showroom_desk_messages_dropped_total", [], to: d.droppedMessages)
        for reason in HandOffReason.allCases { advance("showroom_desk_handoffs_total", [("reason", reason.rawValue)], to: d.handOffs[reason] ?? 0) }
        for a in d.agents {
            registry.makeGauge(name: "showroom_desk_agent_load", labels: [("agent", a.id)]).set(Double(a.load))
            registry.makeGauge(name: "showroom_desk_agent_capacity", labels: [("agent", a.id)]).set(Double(a.capacity))
            registry.makeGauge(name: "showroom_desk_agent_online", labels: [("agent", a.id)]).set(Double(a.presence == .online ? 1 : 0))
        }
        for (department, f) in d.lastHour.departments {
            let series: [(String, DeskReport.Durations)] = [
                ("showroom_desk_bot_first_reply_seconds", f.botFirstReply), ("showroom_desk_wait_seconds", f.wait),
                ("showroom_desk_first_response_seconds", f.firstResponse), ("showroom_desk_handling_seconds", f.handling),
            ]
            for (name, durations) in series {
                for (q, v) in [("0.5", durations.p50), ("0.9", durations.p90), ("0.99", durations.p99)] {
                    registry.makeGauge(name: name, labels: [("department", department), ("quantile", q)]).set(v ?? 0)
                }
            }
            registry.makeGauge(name: "showroom_desk_sla_attainment", labels: [("department", department)]).set(f.slaAttainment ?? 1)
            registry.makeGauge(name: "showroom_desk_abandonment_rate", labels: [("department", department)]).set(f.abandonmentRate ?? 0)
            registry.makeGauge(name: "showroom_desk_csat", labels: [("department", department)]).set(f.csatMean ?? 0)
        }
    }

    func record(_ h: HubSnapshot) {
        registry.makeGauge(name: "showroom_chat_rooms").set(Double(h.rooms))
        registry.makeGauge(name: "showroom_chat_members").set(Double(h.members))
        advance("showroom_chat_messages_stored_total", [], to: h.stored)
        advance("showroom_chat_duplicates_total", [], to: h.duplicates)
        advance("showroom_chat_delivered_total", [], to: h.delivered)
        advance("showroom_chat_resumed_total", [], to: h.resumed)
        advance("showroom_chat_joins_total", [], to: h.joins)
        advance("showroom_chat_slow_consumers_total", [], to: h.slowConsumers)
        advance("showroom_chat_identity_rate_limited_total", [], to: h.identityRateLimited)
        advance("showroom_chat_room_busy_total", [], to: h.roomBusy)
        advance("showroom_chat_pruned_total", [], to: h.pruned)
        for (quota, n) in h.quotaRefusals { advance("showroom_ws_quota_refusals_total", [("quota", quota)], to: n) }
        registry.makeGauge(name: "showroom_ws_queued_bytes").set(Double(h.queuedBytes))
        registry.makeGauge(name: "showroom_ws_queued_bytes_peak").set(Double(h.queuedBytesPeak))
        advance("showroom_ws_over_budget_total", [], to: h.overBudget)
    }

    /// Counters move by the difference to the last value exported (Prometheus counters only grow).
    private func advance(_ name: String, _ labels: [(String, String)], to total: some BinaryInteger) {
        advance(name, labels, to: Double(total))
    }

    private func advance(_ name: String, _ labels: [(String, String)], to total: Double) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let delta = exported.withLock { last -> Double in
            let d = total - (last[key] ?? 0)
            if d > 0 { last[key] = total }
            return d
        }
        let counter = labels.isEmpty ? registry.makeCounter(name: name) : registry.makeCounter(name: name, labels: labels)
        if delta > 0 { counter.increment(by: delta) }
    }

    /// `process_cpu_seconds_total` and `process_resident_memory_bytes`, from /proc (Linux).
    private func recordProcess() {
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) {
                let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
                advance("process_cpu_seconds_total", [], to: (user + system) / max(ticks, 1))
            }
        }
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        {
            registry.makeGauge(name: "process_resident_memory_bytes").set(Double(pages * Int(sysconf(Int32(_SC_PAGESIZE)))))
        }
    }
}
