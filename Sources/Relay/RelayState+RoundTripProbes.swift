import MediaPipeline
import MediaWire

/// Round-trip probes (``RoundTripProbe``) for subscribers without transport-wide feedback: started
/// when their adaptation wants a move up (``QualityController/takeProbeRequest()``), the copies
/// and the closing sender report sent from the tick, judged by the receiver report that echoes it.
extension RelayState {
    /// Starts a probe for `target`: copies at the rate that brings what the subscriber gets to
    /// the target's need with margin. None without an RTX stream or a cache to copy from (the
    /// next is an interval on); a subscriber whose reports have given no round trip by now
    /// cannot be probed, and is moved blind from then on (``QualityController/cannotProbe()``).
    func startRoundTripProbe(_ s: Subscription, for target: Quality, now: MediaTime) {
        guard s.roundTripProbe.isIdle, s.slots.video?.rtx != nil, let adaptation = s.adaptation else { return }
        guard let baseline = adaptation.minimumRTT else {
            s.adaptation?.cannotProbe()
            count("round-trip-probe-without-rtt")
            return
        }
        guard s.publication?.retransmissionSource(for: s, kind: .video) != nil else { return }
        let measured = measuredRates(of: s), sourceBitrate = s.publication?.incomingBitrate
        let goal = QualityController.measuredProbeTarget(target, sourceBitrate: sourceBitrate, measured: measured)
        let sending =
            s.publication?.layerRate(sentTo: s) ?? QualityController.needs(s.quality, sourceBitrate: sourceBitrate, measured: measured)
        // At least a tenth of the goal: a stream that measures more than the next quality needs
        // (a burst) still gets a probe that says something.
        let rate = max(goal - sending, goal / 10)
        s.roundTripProbe.start(target: target, from: s.quality, rate: rate, baseline: baseline, now: now)
        guard !s.roundTripProbe.isIdle else { return }
        roundTripProbing.insert(s.peer.id)
        s.peer.stats.probes += 1
        logger.debug(
            "round-trip probe",
            metadata: [
                "session": .string(s.peer.id), "target": .string(target.rawValue), "rate": .stringConvertible(Int(rate)),
                "baseline_ms": .stringConvertible(Int(baseline)),
            ])
    }

    /// The probes' copies due on this tick; once a probe's ``RoundTripProbe/duration`` is over,
    /// the last of them and its sender report behind them; a report not echoed within
    /// ``RoundTripProbe/timeout`` fails it. A probe with nothing left to copy from (its
    /// publication gone) is called off.
    func runRoundTripProbes(now: MediaTime, ntp: UInt64) -> [OutgoingDatagram] {
        var out: [OutgoingDatagram] = []
        for id in roundTripProbing {
            guard let s = sessions[id]?.subscription, s.peer.isConnected else {
                sessions[id]?.subscription?.roundTripProbe.cancel()
                roundTripProbing.remove(id)
                continue
            }
            switch s.roundTripProbe.phase {
            case .idle:
                roundTripProbing.remove(id)
            case .sending:
                guard let (bytes, last) = s.roundTripProbe.due(now: now),
                    let (cache, captureID) = s.publication?.retransmissionSource(for: s, kind: .video)
                else {
                    s.roundTripProbe.cancel()
                    roundTripProbing.remove(id)
                    continue
                }
                if bytes > 0 {
                    let copies = s.copiesOfNewest(
                        RoundTripProbe.packetsBack, bytes: bytes, atLeast: 1, from: cache, captureTimeExtensionID: captureID, now: now,
                        allocator: allocator, drops: drops)
                    out += copies.datagrams
                    s.roundTripProbe.sent(copies.bytes)
                }
                guard last else { continue }
                if let report = s.report(ntp: ntp, now: now) {
                    out.append(report)
                    s.roundTripProbe.reported(UInt32(truncatingIfNeeded: ntp >> 16), now: now)
                } else {
                    s.roundTripProbe.cancel()
                    roundTripProbing.remove(id)
                }
            case .awaiting:
                if let outcome = s.roundTripProbe.expired(now: now) {
                    roundTripProbing.remove(id)
                    out += roundTripProbeFinished(outcome, for: s, now: now)
                }
            }
        }
        return out
    }

    /// The probe's outcome when `block` (a receiver report block on the subscriber's video, with
    /// the fresh round trip it gave, if any) echoes the probe's sender report.
    func roundTripProbeEcho(_ block: RTCPReportBlock, roundTrip: Double?, from s: Subscription) -> RoundTripProbe.Outcome? {
        guard
            let outcome = s.roundTripProbe.echo(
                lastSenderReport: block.lastSenderReport, roundTrip: roundTrip, fractionLost: Double(block.fractionLost) / 256)
        else { return nil }
        roundTripProbing.remove(s.peer.id)
        return outcome
    }

    /// Carries out what a probe's outcome decides (a move up when the path carried it).
    func roundTripProbeFinished(_ outcome: RoundTripProbe.Outcome, for s: Subscription, now: MediaTime) -> [OutgoingDatagram] {
        let up = loopLoad.isSaturated ? nil : s.adaptation?.probeFinished(outcome, now: now)
        logger.info(
            "round-trip probe judged",
            metadata: [
                "session": .string(s.peer.id), "target": .string(outcome.target.rawValue),
                "growth_ms": .string(outcome.growth.map { String(Int($0)) } ?? "none"), "carried": .stringConvertible(outcome.carried),
                "up": .string(up?.rawValue ?? "no"),
            ])
        guard let up else { return [] }
        return adapt(s, to: up, by: "round-trip-probe")
    }
}
