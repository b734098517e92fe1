import MediaPipeline
import MediaWire

/// The relay's timers — periodic RTCP reports, DTLS retransmissions, consent expiry, deferred
/// rendition changes — and the figures it shows (`/metrics`, per-session statistics).
extension RelayState {
    /// Timers, every ``RelayState/tickInterval`` from the worker's handler; `lag` is how late this
    /// tick ran (the loop was busy, or its thread waited for a core), shown on `/metrics`.
    func tick(now: MediaTime, ntp: UInt64 = NTPTime.now(), lag: MediaTime = .zero) -> [OutgoingDatagram] {
        loopLag = lag
        if lag > Self.lateTick { lateTicks += 1 }
        loopLoad.tick(now: now)
        var out = deferred
        deferred = []
        if now - lastTransportFeedback >= Self.transportFeedbackInterval {
            lastTransportFeedback = now
            for publication in publications.values {
                if publication.transportSequenceExtensionID != nil, let o = publication.transportFeedback() { out.append(o) }
                if publication.isSimulcast { out += publication.selectLayers(now: now) }
                out += publication.passOnKeyFrameRequests(now: now)
                out += publication.nackAgain(now: now)
            }
        }
        if now - lastReports >= Self.reportInterval {
            let seconds = Double((now - lastReports).microseconds) / 1e6
            lastReports = now
            for s in sessions.values where s.isConnected {
                // To a publisher, a receiver report and REMB; to a subscriber, sender reports —
                // unless a round-trip probe's report is out (its echo is the probe's measure).
                if s.subscription?.roundTripProbe.holdsReports == true { continue }
                if let o = s.publication?.report(now: now, intervalSeconds: seconds) ?? s.subscription?.report(ntp: ntp, now: now) {
                    out.append(o)
                }
            }
            measureMirrors(now: now, intervalSeconds: seconds)
            sweepMirrors(now: now)
            keepNodePipes(now: now)
        }
        for s in Array(sessions.values) {
            if s.ice.consentExpired(now: now) || (s.ice.selected == nil && now - s.created > ICELiteAgent.consentTimeout) {
                close(id: s.id, reason: "consent expired")
                continue
            }
            if let t = s.dtls.timeoutMicroseconds, t == 0, let address = s.ice.selected {
                out += s.dtls.handleTimeout().map { OutgoingDatagram(bytes: $0, to: address) }
                if case .failed(let e) = s.dtls.state { close(id: s.id, reason: "dtls: \(e.description)") }
            }
        }
        if !qualityPending.isEmpty { out += applyPendingQualityChanges(now: now) }
        if !resendPending.isEmpty { out += answerDeferredNACKs(now: now) }
        out += takeNodeOutbox()
        if !roundTripProbing.isEmpty { out += runRoundTripProbes(now: now, ntp: ntp) }
        return out
    }

    /// Totals for metrics.
    func snapshot() -> RelaySnapshot {
        var totals = closedTotals
        var out = RelaySnapshot()
        for s in sessions.values {
            totals.add(s.stats)
            if s.publication != nil { out.publishers += 1 }
            if let subscription = s.subscription { out.viewers[subscription.quality, default: 0] += 1 }
        }
        out.totals = totals
        out.renditions = renditionCount
        out.loopLag = Double(loopLag.microseconds) / 1e6
        out.lateTicks = lateTicks
        out.loopBusy = loopLoad.busyFraction
        out.adaptationHeld = adaptationHeld
        out.pipes = piping.reduce(0) { $0 + $1.pipes.count { $0.worker >= 0 } }
        out.nodePipesOut = nodePipes.values.count(where: \.isOrigin)
        out.nodePipesIn = nodePipes.count - out.nodePipesOut
        out.pipedPackets = pipedPackets
        out.dropped = dropped
        return out
    }

    /// Per-session figures for logs and metrics.
    func statistics() -> [SessionStatistics] {
        sessions.values.map { s in
            var streams: [MediaKind: StreamStatistics] = [:]
            if let publication = s.publication {
                for kind in MediaKind.allCases {
                    guard let ssrc = publication.ssrc[kind], let r = publication.receiveStats[ssrc] else { continue }
                    streams[kind] = StreamStatistics(
                        packets: r.received, bytes: r.bytes, lost: Int(r.cumulativeLost), jitterMilliseconds: r.jitterMilliseconds,
                        roundTripMilliseconds: nil)
                }
            }
            if let subscription = s.subscription {
                for kind in MediaKind.allCases {
                    guard let st = subscription.slots[kind]?.stats else { continue }
                    streams[kind] = StreamStatistics(
                        packets: Int(st.packets), bytes: Int(st.octets), lost: Int(st.cumulativeLost),
                        jitterMilliseconds: st.jitterMilliseconds, roundTripMilliseconds: st.roundTripTime)
                }
            }
            return SessionStatistics(
                id: s.id, room: s.room, publishing: s.publication != nil, streams: streams, nacks: s.stats.nacksIn,
                nackedPackets: s.stats.nackedPackets, retransmitted: s.stats.retransmitted, retransmissionsSkipped: s.stats.retransmissionsSkipped,
                watching: s.subscription?.source, keyFrameRequests: s.stats.keyFrameRequests, quality: s.subscription?.quality ?? .source,
                qualityChanges: s.stats.qualityChanges)
        }
    }
}
