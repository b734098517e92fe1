import MediaPipeline

extension Quality {
    /// Renditions from the best down.
    static let descending: [Quality] = [.source, .medium, .low]
    /// Its place from the best down (`source` is 0).
    var rank: Int { Quality.descending.firstIndex(of: self) ?? 0 }

    /// About what the rendition needs on the wire (media, RTP/SRTP/UDP overhead included), bits/s;
    /// `source` is measured from the publisher instead.
    var nominalBitrate: Double {
        switch self {
        case .source: 1_500_000
        case .medium: 700_000
        case .low: 265_000
        }
    }
}

/// Moves one subscriber between renditions from what its receiver reports say about its path
/// (I/O-free: it takes reports and the time, and answers with a rendition to switch to).
///
/// The estimate is the loss-based controller of Google Congestion Control
/// ([draft-ietf-rmcat-gcc-02 §6](https://datatracker.ietf.org/doc/html/draft-ietf-rmcat-gcc-02#section-6)),
/// fed by RTCP receiver reports ([RFC 3550 §6.4.2](https://www.rfc-editor.org/rfc/rfc3550#section-6.4.2)):
/// more than 10% lost cuts it by half the loss (and to no more than what got through); less
/// than 2% lets it grow 5% a report, up to 1.5× what is being sent — a clean path says nothing
/// about rates never tried; a REMB from the receiver caps it. A round-trip time that grows by more
/// than ``queueingDelay`` over the smallest seen counts as congestion too (a bottleneck's queue
/// fills before it drops) — in two fresh samples in a row, or with more than 2% lost: one report's
/// is a burst the path drained, and changes nothing.
///
/// A subscriber that negotiated transport-wide congestion control gives a better signal: while its
/// feedback comes (at least every ``feedbackTimeout``), the estimate is the relay's send-side one
/// (``DelayBasedBandwidthEstimator``: the delay trend leads, loss under 10% is not congestion) and
/// receiver reports no longer move it — a path with random loss and room to spare keeps its
/// rendition.
///
/// Down-moves are immediate on congestion, to the best rendition the estimate carries. Up-moves go one step at
/// a time: when the estimate carries the next rendition with ``upMargin`` for ``upHold``, or —
/// since the estimate cannot see past what is sent — as a probe: with transport-wide feedback and
/// RTX a probe train that shows the room (``probed(_:sourceBitrate:measured:now:)``; its interval
/// is ``BandwidthProbe``'s); without them, after ``probeInterval`` without congestion, a
/// ``RoundTripProbe`` when the subscriber has an RTX stream (``measuredProbes``: the move waits for
/// its outcome, ``probeFinished(_:now:)``), else a blind move. A probe that fails, or whose move is
/// undone within ``failureWindow``, doubles the interval (to ``maximumProbeInterval``), so a
/// viewer behind a hard cap is disturbed less and less often.
struct QualityController {
    /// The best rendition this subscriber may get (what it asked for).
    let ceiling: Quality
    private(set) var current: Quality
    /// Bits per second the path is believed to carry; nil until the first report.
    private(set) var estimate: Double?
    private var lastReport: (time: MediaTime, bytesSent: Int)?
    /// The smallest round trip its reports gave (ms).
    private(set) var minimumRTT: Double?
    /// Reports in a row whose round trip showed a queue.
    private var queueingReports = 0
    private var lastSwitch: MediaTime?
    private var lastUpSwitch: MediaTime?
    private var upCandidateSince: MediaTime?
    private var lastCongestion: MediaTime?
    private var started: MediaTime?
    private(set) var probeInterval = Self.initialProbeInterval
    private var remb: Double?
    /// Transport-wide feedback drives it (``transportEstimate(_:congested:sourceBitrate:measured:relayBusy:switchPending:canProbe:now:)``).
    private(set) var delayBased = false
    private var lastTransportFeedback: MediaTime?
    /// Probe trains can be sent it (``transportEstimate(_:congested:sourceBitrate:measured:relayBusy:switchPending:canProbe:now:)``).
    private var probeTrains = false
    /// Moves up without transport-wide feedback wait for a ``RoundTripProbe`` (it has an RTX
    /// stream, and its reports give a round trip: ``cannotProbe()``).
    private(set) var measuredProbes: Bool
    /// The quality a round-trip probe is wanted for (``takeProbeRequest()``), and when the last was.
    private var probeRequested: Quality?
    private var lastProbe: MediaTime?
    /// Without transport-wide feedback for this long, receiver reports decide again.
    static let feedbackTimeout = MediaTime(microseconds: 2_000_000)

    static let upHold = MediaTime(microseconds: 4_000_000)
    static let initialProbeInterval = MediaTime(microseconds: 30_000_000)
    static let maximumProbeInterval = MediaTime(microseconds: 240_000_000)
    /// A round-trip probe that fails queues a fraction of a second and moves nothing: it may come
    /// sooner and more often than a blind move.
    static let initialMeasuredProbeInterval = MediaTime(microseconds: 10_000_000)
    static let maximumMeasuredProbeInterval = MediaTime(microseconds: 80_000_000)
    private var maximumInterval: MediaTime { measuredProbes ? Self.maximumMeasuredProbeInterval : Self.maximumProbeInterval }
    /// After a switch, reports still describe the old stream for about one reporting interval.
    static let settle = MediaTime(microseconds: 1_500_000)
    static let failureWindow = MediaTime(microseconds: 10_000_000)
    static let upMargin = 1.2
    static let queueingDelay = 150.0

    /// `start`: where it starts, when not at its ceiling (``RelayState`` starts a viewer that has
    /// only receiver reports to go on at the lowest layer of a simulcast publication).
    /// `measuredProbes`: without transport-wide feedback it moves up only after a
    /// ``RoundTripProbe`` (the relay can send it one: it negotiated RTX).
    init(ceiling: Quality, start: Quality? = nil, measuredProbes: Bool = false) {
        self.ceiling = ceiling
        current = start.map { $0.rank > ceiling.rank ? $0 : ceiling } ?? ceiling
        self.measuredProbes = measuredProbes
        if measuredProbes { probeInterval = Self.initialMeasuredProbeInterval }
    }

    /// A REMB from the subscriber (bits/s).
    mutating func receiverEstimate(_ bitrate: Double) { remb = bitrate }

    /// A receiver report on the subscriber's video: its fraction lost (0–1), the round-trip time
    /// if known, and the bytes sent to it so far; `sourceBitrate` is what the publisher sends now.
    /// `relayBusy`: the relay's own loop was saturated over the last second, so the report is set
    /// aside. Returns the rendition to switch to, if any.
    mutating func report(
        fractionLost loss: Double, roundTripMilliseconds rtt: Double?, bytesSent: Int, sourceBitrate: Double?,
        measured: [Quality: Double] = [:], relayBusy: Bool = false, now: MediaTime
    ) -> Quality? {
        defer { lastReport = (now, bytesSent) }
        if started == nil { started = now }
        guard let last = lastReport, now > last.time else { return nil }
        let sent = Double(bytesSent - last.bytesSent) * 8 / (Double((now - last.time).microseconds) / 1e6)
        if let lastSwitch, now - lastSwitch < Self.settle { return nil }
        // The relay's own loop was saturated (`LoopLoad`): what this report measured is the relay's
        // queue, not the path — no change to the estimate, no move down, no probe up.
        if relayBusy { return nil }

        // Transport-wide feedback leads while it comes: a report's loss is then not read as
        // congestion. Feedback that stops (lost, or the viewer stopped sending it) hands the
        // decisions back to the reports.
        if delayBased, let last = lastTransportFeedback, now - last < Self.feedbackTimeout { return nil }
        delayBased = false

        var queueing = false
        if let rtt {
            minimumRTT = min(minimumRTT ?? rtt, rtt)
            queueing = rtt > (minimumRTT ?? rtt) + Self.queueingDelay
            // A queue one report sees, with next to nothing lost, is a burst the path drained (a
            // key frame: a 360p one is 160–240 ms at 1 Mbit/s); one that stands into the next
            // report, or comes with loss, is congestion. Read from one report, key frames moved an
            // aiortc viewer behind 1 Mbit/s off the 360p layer (RTT 203–324 ms, nothing lost)
            // in 4 of 5 browser runs.
            queueingReports = queueing ? queueingReports + 1 : 0
            // Nor is such a report calm: no growth of the estimate on it, and no move.
            if queueing, queueingReports == 1, loss <= 0.02 { return nil }
        }
        // A receiver estimate below what it is sent is the receiver saying it cannot take it.
        let congested = loss > 0.1 || queueing || (remb.map { $0 < sent * 0.95 } ?? false)
        if loss > 0.1 || queueing {
            // GCC's decrease, and never above what got through.
            estimate = min(min(estimate ?? sent, sent) * (1 - 0.5 * max(loss, queueing ? 0.3 : 0)), sent * (1 - loss))
        } else if loss < 0.02 {
            estimate = min(max(estimate ?? sent, sent) * 1.05, sent * 1.5)
        } else if estimate == nil {
            estimate = sent
        }
        if let remb, let e = estimate { estimate = min(e, remb) }
        guard let estimate else { return nil }
        return decide(estimate: estimate, congested: congested, sourceBitrate: sourceBitrate, measured: measured, now: now)
    }

    /// The send-side estimate from the subscriber's transport-wide feedback
    /// (``DelayBasedBandwidthEstimator``, bits/s), and whether that feedback showed congestion (the
    /// delay trend overusing, or more than 10% lost). From the first one on it replaces the
    /// estimate receiver reports give. Returns the rendition to switch to, if any. `switchPending`:
    /// the last move has not been made yet (a simulcast layer's key frame still to come).
    /// `canProbe`: the relay can send it probe trains (it negotiated RTX); without, a move up may
    /// still be blind, as with receiver reports.
    mutating func transportEstimate(
        _ bitrate: Double, congested: Bool, sourceBitrate: Double?, measured: [Quality: Double] = [:], relayBusy: Bool = false,
        switchPending: Bool = false, canProbe: Bool = true, now: MediaTime
    ) -> Quality? {
        delayBased = true
        probeTrains = canProbe
        lastTransportFeedback = now
        if started == nil { started = now }
        if relayBusy { return nil }
        estimate = bitrate
        // Feedback on packets of the stream it left still comes for about a round trip — but while
        // the move waits for its key frame the stream is the one it is leaving, and a path that
        // delivers less than the target needs moves further down at once (a capacity that fell
        // by more than the first move saw, read before the queue showed all of it).
        if let lastSwitch, now - lastSwitch < Self.settle {
            guard switchPending, congested else { return nil }
            lastCongestion = now
            let fits = fitting(bitrate, sourceBitrate: sourceBitrate, measured: measured)
            return fits.rank > current.rank ? switchTo(fits, now: now) : nil
        }
        return decide(estimate: bitrate, congested: congested, sourceBitrate: sourceBitrate, measured: measured, now: now)
    }

    /// The best quality below the ceiling whose need `estimate` carries (the lowest when none does).
    private func fitting(_ estimate: Double, sourceBitrate: Double?, measured: [Quality: Double]) -> Quality {
        Quality.descending.drop { $0 != ceiling }.first { Self.needs($0, sourceBitrate: sourceBitrate, measured: measured) <= estimate } ?? .low
    }

    /// The move an estimate calls for: down at once on congestion, up when it has carried the next
    /// rendition for a while, or as a probe. `measured`: what a quality measures where it is not a
    /// rendition of nominal rate (a simulcast layer).
    private mutating func decide(estimate: Double, congested: Bool, sourceBitrate: Double?, measured: [Quality: Double], now: MediaTime) -> Quality? {
        if congested { lastCongestion = now }
        func needs(_ q: Quality) -> Double { Self.needs(q, sourceBitrate: sourceBitrate, measured: measured) }
        let allowed = Quality.descending.drop { $0 != ceiling }
        let fits = fitting(estimate, sourceBitrate: sourceBitrate, measured: measured)
        if congested && fits.rank > current.rank {
            // Down at once (only on congestion: a stream that gets through fits, whatever its nominal rate). A probe undone this soon was premature: probe less often.
            if let up = lastUpSwitch, now - up < Self.failureWindow {
                probeInterval = min(probeInterval + probeInterval, maximumInterval)
            }
            return switchTo(fits, now: now)
        }
        guard let next = allowed.last(where: { $0.rank == current.rank - 1 }) else { return nil }
        // Up when the estimate has carried the next rendition, with margin, for a while ...
        if needs(next) * Self.upMargin <= estimate {
            let since = upCandidateSince ?? now
            upCandidateSince = since
            if now - since >= Self.upHold {
                lastUpSwitch = now
                return switchTo(next, now: now)
            }
        } else {
            upCandidateSince = nil
        }
        // ... or as a probe, after long enough without congestion — a blind one, unless the
        // subscriber is sent probe trains (transport-wide feedback and RTX:
        // ``probeTarget(sourceBitrate:measured:now:)``), which measure the path before a move
        // (blind, a 300 kbit/s viewer went to a 520 kbit/s layer and froze two seconds).
        guard !(delayBased && probeTrains) else { return nil }
        let calm = max(lastCongestion ?? .zero, lastSwitch ?? .zero, lastProbe ?? .zero, started ?? now)
        guard now - calm >= probeInterval else { return nil }
        if measuredProbes && !delayBased {
            // A round-trip probe first (``takeProbeRequest()``); its outcome moves it.
            lastProbe = now
            probeRequested = next
            return nil
        }
        lastUpSwitch = now
        return switchTo(next, now: now)
    }

    /// The quality a ``RoundTripProbe`` should be sent for, once (set by a report after
    /// ``probeInterval`` without congestion, when ``measuredProbes``).
    mutating func takeProbeRequest() -> Quality? {
        defer { probeRequested = nil }
        return probeRequested
    }

    /// No round-trip probe can be judged for it (its reports echo no sender report, so no round
    /// trip is known): its moves up are blind again, at the blind interval.
    mutating func cannotProbe() {
        measuredProbes = false
        probeInterval = max(probeInterval, Self.initialProbeInterval)
        lastProbe = nil  // the request that found this out was no probe
    }

    /// The rate a round-trip probe for `target` brings the subscriber's stream to: its need with
    /// ``upMargin``.
    static func measuredProbeTarget(_ target: Quality, sourceBitrate: Double?, measured: [Quality: Double]) -> Double {
        needs(target, sourceBitrate: sourceBitrate, measured: measured) * upMargin
    }

    /// A round-trip probe's outcome: up to its target when the path carried it and the
    /// subscriber is still where the probe started; otherwise the interval doubles (a probe for a
    /// subscriber that has moved since says nothing, and only waits for the next). The next probe
    /// is an interval from now either way.
    mutating func probeFinished(_ outcome: RoundTripProbe.Outcome, now: MediaTime) -> Quality? {
        lastProbe = now
        guard outcome.from == current else { return nil }
        guard outcome.carried, outcome.target.rank == current.rank - 1, outcome.target.rank >= ceiling.rank else {
            probeInterval = min(probeInterval + probeInterval, maximumInterval)
            return nil
        }
        lastUpSwitch = now
        return switchTo(outcome.target, now: now)
    }

    /// What a quality needs on the wire: as measured (a simulcast layer, the source), else its nominal rate.
    static func needs(_ q: Quality, sourceBitrate: Double?, measured: [Quality: Double]) -> Double {
        if let m = measured[q] { return max(m, 1) }
        return q == .source ? max(sourceBitrate ?? Quality.source.nominalBitrate, 1) : q.nominalBitrate
    }

    /// The next quality up, if it is below its ceiling.
    private var nextUp: Quality? {
        let allowed = Quality.descending.drop { $0 != ceiling }
        return allowed.last { $0.rank == current.rank - 1 }
    }

    /// No congestion for this long before a probe (``BandwidthProbe``) is worth sending.
    static let probeCalm = MediaTime(microseconds: 2_000_000)

    /// The rate a probe must show for a move up — the next quality's need with ``upMargin`` — when
    /// one is worth sending: transport-wide feedback steers, a better quality is allowed, nothing
    /// was congested or switched for ``probeCalm``, and the estimate does not already carry it.
    func probeTarget(sourceBitrate: Double?, measured: [Quality: Double], now: MediaTime) -> Double? {
        guard delayBased, let next = nextUp, let estimate else { return nil }
        let calm = max(lastCongestion ?? .zero, lastSwitch ?? .zero, started ?? now)
        guard now - calm >= Self.probeCalm else { return nil }
        let target = Self.measuredProbeTarget(next, sourceBitrate: sourceBitrate, measured: measured)
        return estimate < target ? target : nil
    }

    /// A probe found the path carrying `rate`: up to the best quality below the ceiling whose need
    /// it carries with margin — past the next one when it carries more (a path whose cap lifted
    /// goes back to the source in one move, not one step per probe); the estimate follows once
    /// the new stream's feedback comes. Nil when it does not carry the next one.
    mutating func probed(_ rate: Double, sourceBitrate: Double?, measured: [Quality: Double], now: MediaTime) -> Quality? {
        let better = Quality.descending.drop { $0 != ceiling }.filter { $0.rank < current.rank }
        guard let best = better.first(where: { Self.needs($0, sourceBitrate: sourceBitrate, measured: measured) * Self.upMargin <= rate }) else {
            return nil
        }
        lastUpSwitch = now
        return switchTo(best, now: now)
    }

    private mutating func switchTo(_ q: Quality, now: MediaTime) -> Quality {
        current = q
        lastSwitch = now
        upCandidateSince = nil
        return q
    }
}
