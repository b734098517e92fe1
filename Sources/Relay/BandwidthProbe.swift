import MediaPipeline

/// Finds out whether a viewer's path carries more than it is sent, which a delay-based estimate
/// cannot see (it measures what arrives): a short train of packets sent back to back, whose
/// spacing on arrival — read from the viewer's transport-wide feedback — is the bottleneck's rate
/// (packet-train dispersion, what libwebrtc's probe clusters measure,
/// [draft-ietf-rmcat-gcc-02 §5](https://datatracker.ietf.org/doc/html/draft-ietf-rmcat-gcc-02#section-5)
/// leaves probing to the sender). The train is ``packets`` redundant retransmissions of what the
/// viewer was just sent, on its RTX stream (RFC 4588): its decoder drops them as duplicates.
///
/// A probe is due ``interval`` after the last one; a success resets the interval, a failure
/// doubles it up to ``maximumInterval`` — behind a hard cap each failed probe queues up to
/// ``maximumBytes`` at the bottleneck, so they come at most every 6 s (and a cap that lifts is
/// found within that, so a viewer is back on its layer within 10 s). I/O-free.
struct BandwidthProbe {
    /// Packets in a train: enough that one late packet does not decide it.
    static let packets = 6
    static let initialInterval = MediaTime(microseconds: 4_000_000)
    /// A train stops growing at this many bytes (at least two packets): what it queues at the
    /// bottleneck when it fails — 107 ms at 300 kbit/s.
    static let maximumBytes = 4_000
    static let maximumInterval = MediaTime(microseconds: 6_000_000)
    /// A train not fully reported this long after it went is a failure (its packets were lost).
    static let timeout = MediaTime(microseconds: 1_000_000)

    enum Outcome: Equatable {
        /// The rate the train arrived at, bits/s.
        case rate(Double)
        case failed
    }

    private(set) var interval = Self.initialInterval
    private var nextAt: MediaTime?
    /// The train in flight: its transport-wide numbers, when it went, and what arrived of it.
    private var train: (first: UInt16, count: Int, sent: MediaTime)?
    private var arrivals: [UInt16: (arrived: MediaTime?, bytes: Int)] = [:]

    /// Whether a train should go now (none in flight, and the interval since the last has passed;
    /// the first is due an interval after it is first asked).
    mutating func isDue(now: MediaTime) -> Bool {
        guard train == nil else { return false }
        guard let nextAt else {
            self.nextAt = now + interval
            return false
        }
        return now >= nextAt
    }

    /// A train went out under `count` consecutive transport-wide numbers from `first`.
    mutating func sent(first: UInt16, count: Int, now: MediaTime) {
        guard count >= 2 else { return }
        train = (first, count, now)
        arrivals = [:]
    }

    /// Feedback on packets (with their numbers): the train's outcome once every packet of it was
    /// reported, or once ``timeout`` passed; nil while it is still out or when none is.
    mutating func feedback(_ packets: [DelayBasedBandwidthEstimator.Packet], now: MediaTime) -> Outcome? {
        guard let train else { return nil }
        for p in packets {
            guard let n = p.number, (n &- train.first) < UInt16(train.count) else { continue }
            arrivals[n] = (p.arrived, p.bytes)
        }
        if arrivals.count < train.count {
            guard now - train.sent >= Self.timeout else { return nil }
            return finish(.failed, now: now)
        }
        let received = arrivals.values.compactMap { a in a.arrived.map { ($0, a.bytes) } }.sorted { $0.0 < $1.0 }
        guard received.count == train.count, let first = received.first, let last = received.last else { return finish(.failed, now: now) }
        // The first packet's bytes were on the wire before the spread began.
        let bits = Double(received.dropFirst().reduce(0) { $0 + $1.1 } * 8)
        let spread = max((last.0 - first.0).microseconds, 250)  // feedback's resolution: 250 µs
        return finish(.rate(bits / Double(spread) * 1e6), now: now)
    }

    /// How the caller judged the outcome: a failure doubles the interval; a success keeps it (the
    /// move it allowed may still fail: ``moveFailed(now:)``).
    mutating func judged(success: Bool, now: MediaTime) {
        if success { movedUp = now } else { interval = min(interval + interval, Self.maximumInterval) }
        nextAt = now + interval
    }

    /// When a probe's success last moved the viewer up.
    private var movedUp: MediaTime?
    /// A move down on congestion: one within ``failureWindow`` of a move a probe allowed shows
    /// the probe was wrong (a key frame's burst, the new stream's peaks), and the interval doubles;
    /// any other means the path changed, and probing starts over from the initial interval.
    mutating func movedDown(now: MediaTime) {
        if let up = movedUp, now - up < Self.failureWindow {
            interval = min(interval + interval, Self.maximumInterval)
        } else {
            interval = Self.initialInterval
        }
        movedUp = nil
        nextAt = nil
    }

    static let failureWindow = MediaTime(microseconds: 10_000_000)

    /// No probe wanted now (the viewer is at its ceiling, or congested): the next one waits a whole
    /// interval from when one is wanted again.
    mutating func idle() {
        if train == nil { nextAt = nil }
    }

    private mutating func finish(_ outcome: Outcome, now: MediaTime) -> Outcome {
        train = nil
        arrivals = [:]
        return outcome
    }
}
