import MediaPipeline

/// Finds out whether the path of a viewer without transport-wide feedback carries the next
/// quality before the viewer is moved there, from the one measure such a viewer gives back: the
/// round trip of a sender report (LSR/DLSR in its receiver report,
/// [RFC 3550 §6.4.1](https://www.rfc-editor.org/rfc/rfc3550#section-6.4.1)).
///
/// For ``duration`` the relay sends the viewer, on top of its stream, redundant copies of what it
/// was just sent on its RTX stream (RFC 4588; its decoder drops them as duplicates) at the rate
/// that brings the total to the target's (``QualityController/measuredProbeTarget``: the next
/// quality's need with ``QualityController/upMargin``), then a sender report, which leaves behind
/// them. A bottleneck of capacity `C` below that total rate `R` queues `(R − C) · duration` and
/// delays the report by `duration · (R/C − 1)`; the report's round trip less the smallest seen is
/// that delay. So the path carries the next quality's need (`R / upMargin`) when the round trip
/// grew by no more than `duration · (upMargin − 1)` — 40 ms — plus ``noise`` (``allowedGrowth``,
/// 60 ms: a path with at least 92% of the need passes) and the viewer lost no more than a tenth.
/// Regular sender reports wait meanwhile, so that the viewer's next receiver report echoes this one.
///
/// Without it an aiortc viewer behind 300 kbit/s was moved blind to a 520 kbit/s layer after 30 s
/// of calm: the layer's key frame overflowed its path's queue and it froze 16–20 s in one run of
/// five (it waits for every packet). A failed probe leaves `(R − C) · duration` bits queued at the
/// bottleneck — 216 ms of it behind 300 kbit/s for a 624 kbit/s target — and loses nothing where
/// the queue holds more than that. A probe whose copies fell short of three quarters of what its
/// rate called for (nothing cached to copy) says nothing, and is not carried. Bounds: one probe
/// out per viewer, at most ``maximumBytesPerTick`` a tick for ``duration``, sender reports held
/// for at most ``duration`` and ``timeout``. I/O-free.
struct RoundTripProbe {
    /// How long the copies go.
    static let duration = MediaTime(microseconds: 200_000)
    /// What a calm path's round trip varies by, ms: aiortc's reports behind 1 Mbit/s grew 0–27 ms
    /// in 14 probes of 16, and 47 ms in one (the layer's own key frame in the queue, say), against
    /// 130–377 ms behind 300 kbit/s.
    static let noise = 20.0
    /// The most the report's round trip may grow for the path to carry the target's need.
    static let allowedGrowth = Double(duration.microseconds) / 1_000 * (QualityController.upMargin - 1) + noise
    /// A report not echoed this long after it went fails the probe (the receiver report was lost,
    /// or the report was: a path that loses it does not carry more).
    static let timeout = MediaTime(microseconds: 3_000_000)
    /// At most this many bytes of copies on one tick (12 full packets): a late tick does not
    /// send a burst.
    static let maximumBytesPerTick = 14_400
    /// Copies are of the last this many packets sent (well within what a receiver that waits
    /// for every packet takes as old, ``DeferredNACKs/reach``).
    static let packetsBack = 16

    enum Phase: Equatable {
        case idle
        /// Copies going out at `rate` bits/s since `started`; `sent` bytes so far.
        case sending(target: Quality, from: Quality, rate: Double, started: MediaTime, sent: Int, baseline: Double)
        /// The report went at `at` with NTP middle bits `report`; waiting for its echo. `full`:
        /// the copies came to at least three quarters of what the rate called for.
        case awaiting(target: Quality, from: Quality, report: UInt32, at: MediaTime, baseline: Double, full: Bool)
    }

    /// What a probe found.
    struct Outcome: Equatable {
        /// The quality it probed for.
        let target: Quality
        /// The quality the viewer had when it started: a probe for a viewer moved since says nothing.
        let from: Quality
        /// Whether the path carries the target's need.
        let carried: Bool
        /// How much the report's round trip exceeded the smallest seen (ms), when echoed.
        let growth: Double?
    }

    private(set) var phase = Phase.idle

    var isIdle: Bool { phase == .idle }

    /// The relay's regular sender reports to the viewer wait while a probe is out.
    var holdsReports: Bool { phase != .idle }

    /// Starts a probe for `target` (the viewer gets `from` now): copies at `rate` bits/s.
    /// `baseline`: the smallest round trip seen (ms).
    mutating func start(target: Quality, from: Quality, rate: Double, baseline: Double, now: MediaTime) {
        guard isIdle, rate > 0, rate.isFinite, baseline.isFinite else { return }
        phase = .sending(target: target, from: from, rate: rate, started: now, sent: 0, baseline: baseline)
    }

    /// Bytes of copies due now (what the rate allows since the start, up to ``duration``, less
    /// what went; at most ``maximumBytesPerTick``), and whether these are the last — the caller
    /// then sends them, and the sender report behind them, and tells ``reported(_:now:)``. Nil
    /// when no probe is sending.
    func due(now: MediaTime) -> (bytes: Int, last: Bool)? {
        guard case .sending(_, _, let rate, let started, let sent, _) = phase else { return nil }
        let elapsed = min(now - started, Self.duration)
        return (min(max(Self.bytes(rate, over: elapsed) - sent, 0), Self.maximumBytesPerTick), elapsed >= Self.duration)
    }

    /// Bytes `rate` bits/s comes to over `time`.
    private static func bytes(_ rate: Double, over time: MediaTime) -> Int {
        Int(min(rate * Double(max(time.microseconds, 0)) / 8e6, Double(Int32.max)))
    }

    /// Copies of `bytes` went out.
    mutating func sent(_ bytes: Int) {
        guard case .sending(let target, let from, let rate, let started, let sent, let baseline) = phase else { return }
        phase = .sending(target: target, from: from, rate: rate, started: started, sent: sent + bytes, baseline: baseline)
    }

    /// The sender report after the copies went, with its NTP timestamp's middle 32 bits.
    mutating func reported(_ ntpMiddle: UInt32, now: MediaTime) {
        guard case .sending(let target, let from, let rate, _, let sent, let baseline) = phase else { return }
        let full = sent * 4 >= Self.bytes(rate, over: Self.duration) * 3
        phase = .awaiting(target: target, from: from, report: ntpMiddle, at: now, baseline: baseline, full: full)
    }

    /// A receiver report block on the viewer's video: the outcome when it echoes the probe's
    /// report (`lastSenderReport`), with the round trip it gave (ms; nil when it gave none — a
    /// forged delay since the report that makes it negative) and its fraction lost (0–1); nil
    /// when it echoes another.
    mutating func echo(lastSenderReport: UInt32, roundTrip: Double?, fractionLost: Double) -> Outcome? {
        guard case .awaiting(let target, let from, let report, _, let baseline, let full) = phase, lastSenderReport == report else { return nil }
        phase = .idle
        let growth = roundTrip.map { $0 - baseline }
        let carried = full && growth.map { $0 <= Self.allowedGrowth } == true && fractionLost <= 0.1
        return Outcome(target: target, from: from, carried: carried, growth: growth)
    }

    /// A failed outcome when the report has waited for its echo longer than ``timeout``.
    mutating func expired(now: MediaTime) -> Outcome? {
        guard case .awaiting(let target, let from, _, let at, _, _) = phase, now - at >= Self.timeout else { return nil }
        phase = .idle
        return Outcome(target: target, from: from, carried: false, growth: nil)
    }

    /// Called off (the viewer moved, or has nothing to copy): nothing is judged.
    mutating func cancel() { phase = .idle }
}
