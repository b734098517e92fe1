import MediaPipeline

/// A send-side bandwidth estimate for one viewer from its transport-wide feedback
/// ([draft-holmer-rmcat-transport-wide-cc-extensions-01](https://datatracker.ietf.org/doc/html/draft-holmer-rmcat-transport-wide-cc-extensions-01)):
/// the packets the relay sent, when each was sent and when (or whether) the viewer got it. The
/// delay signal leads, as in Google Congestion Control
/// ([draft-ietf-rmcat-gcc-02](https://datatracker.ietf.org/doc/html/draft-ietf-rmcat-gcc-02)):
///
/// 1. packets sent within 5 ms of each other form a group (§5.2); for consecutive groups, the
///    arrival gap minus the send gap is the delay variation;
/// 2. ``TrendlineEstimator`` turns the variations into a trend, ``OveruseDetector`` into a signal;
/// 3. ``AIMDRateControl`` sets the rate from the signal and the acknowledged rate (what arrived in
///    the last half second).
///
/// Loss, from the receiver's reports (``receiverReport(cumulativeLost:highestSequence:now:)``), does not cut the rate
/// below 10% (§6: random loss is not congestion — the loss-based estimate only backs off above it,
/// by half the loss ratio); the estimate is the smaller of the two. I/O-free: times are the sender's clock for sends and the receiver's for arrivals (only
/// their differences are used), `now` is injected.
public struct DelayBasedBandwidthEstimator: Sendable {
    /// One packet as feedback reports it.
    public struct Packet: Sendable, Equatable {
        public var sent: MediaTime
        /// Nil: reported lost.
        public var arrived: MediaTime?
        public var bytes: Int
        /// Its transport-wide sequence number, when known (to pick out a probe's packets).
        public var number: UInt16?
        public init(sent: MediaTime, arrived: MediaTime?, bytes: Int, number: UInt16? = nil) {
            self.sent = sent
            self.arrived = arrived
            self.bytes = bytes
            self.number = number
        }
    }

    static let groupSpan = MediaTime(microseconds: 5_000)
    /// Arrival times come from the viewer's feedback: the windows below are by time, and these
    /// caps bound them whatever times a hostile viewer reports (all the same, say).
    static let maximumHeld = 4_096
    /// Times further than this from zero (≈ 142 years) are not a clock's: such a packet is
    /// ignored, so that no difference of two times can overflow.
    static let timeBound: Int64 = 1 << 52
    static let acknowledgedWindow = MediaTime(microseconds: 500_000)
    /// How far back the smallest one-way delay — the path with an empty queue — is looked for.
    static let baselineWindow = MediaTime(microseconds: 10_000_000)
    static let maximumDelaySamples = 256

    private struct Group {
        var firstSent: MediaTime
        var lastSent: MediaTime
        var firstArrival: MediaTime
        var lastArrival: MediaTime

        /// A packet that caught up with the group on the way — it arrived within 5 ms of the
        /// group's last, sooner after it than it was sent, the whole burst within 100 ms — belongs
        /// to it (libwebrtc's `BelongsToBurst`): jitter bunches packets without any queue growing.
        func isBurst(with sent: MediaTime, arrival: MediaTime) -> Bool {
            let sendDelta = sent - lastSent, arrivalDelta = arrival - lastArrival
            return arrivalDelta - sendDelta < .zero && arrivalDelta <= DelayBasedBandwidthEstimator.groupSpan
                && arrival - firstArrival < MediaTime(microseconds: 100_000)
        }
    }

    private var trendline = TrendlineEstimator()
    private var detector = OveruseDetector()
    private var rateControl: AIMDRateControl
    private var current: Group?
    private var previous: Group?
    /// Arrivals in the acknowledged-rate window (arrival time, bytes), oldest first.
    private var received: [(at: MediaTime, bytes: Int)] = []
    private var receivedBytes = 0
    /// The fraction lost over the receiver's reports at the last loss update (at least 20 packets), 0–1.
    public private(set) var lossRatio: Double?
    /// Consecutive loss updates over 10% (counted to 2).
    private var highLossUpdates = 0
    /// More than 10% lost in two loss updates in a row: loss that lasts, as a bottleneck or a
    /// policer makes it — one window of 20-odd packets reads 12% now and then on a path with 2%
    /// random loss each way.
    public var lossPersists: Bool { highLossUpdates >= 2 }
    private var lossBased: Double
    /// Each feedback's median one-way delay (arrival on the viewer's clock minus send on the
    /// relay's: the clocks' offset cancels in differences), for ``queueingDelay``, and its quickest
    /// packet's, the floor ``queuedRate(now:)`` reads a packet's wait against; at most
    /// ``maximumDelaySamples``, over ``baselineWindow``.
    private var delaySamples: [(at: MediaTime, delay: Int64, quickest: Int64)] = []
    private var lastLossUpdate: MediaTime?
    /// Queued packets that left the bottleneck right behind another (``queuedRate(now:)``): when
    /// its feedback came (the relay's clock), its bytes and its arrival gap after the one before,
    /// over ``queuedRateLifetime`` (at most ``maximumHeld``); and when the last packet read, if it
    /// was queued, arrived (the viewer's clock).
    private(set) var queuedGaps: [(at: MediaTime, bytes: Int, gap: MediaTime)] = []
    private var queuedBefore: MediaTime?
    private var lastReport: (lost: Int32, highest: UInt32)?
    private var expectedSinceUpdate = 0, lostSinceUpdate = 0

    /// Packets held for the acknowledged rate (at most ``maximumHeld``).
    var held: Int { received.count }

    /// The estimate, bit/s.
    public var estimate: Double { min(rateControl.rate, lossBased) }
    /// The delay signal after the last feedback.
    public var signal: OveruseDetector.Signal { detector.signal }
    /// How much longer than its smallest in the last 10 s the path's one-way delay is now: the
    /// queue a bottleneck holds, read from the latest feedback's median delay against the
    /// smallest feedback median (medians, so that jitter — a packet late or early — does not
    /// read as a queue). Nil before the first feedback with an arrival.
    public var queueingDelay: MediaTime? {
        guard let latest = delaySamples.last, let floor = delaySamples.lazy.map(\.delay).min() else { return nil }
        return MediaTime(microseconds: latest.delay - floor)
    }

    /// A probe's measured rate (bit/s): the delay-based rate starts from it when that is higher
    /// (``AIMDRateControl/probed(_:)``); a loss-based cap stays.
    public mutating func probed(_ bitrate: Double) { rateControl.probed(bitrate) }

    /// The rate the viewer acknowledged over the last half second (bit/s), once it spans 100 ms.
    public var acknowledged: Double? {
        guard let first = received.first, let last = received.last, last.at - first.at >= MediaTime(microseconds: 100_000) else { return nil }
        return Double(receivedBytes * 8) / (last.at - first.at).milliseconds * 1_000
    }

    /// The rate the viewer acknowledged over the newest `span` of arrivals (bit/s; the bytes after
    /// the window's first packet over the time since it), once at least two packets span
    /// ``minimumRecentSpan``. While a queue stands at the bottleneck its packets leave it back to
    /// back, so this is the bottleneck's rate without the half second of history in
    /// ``acknowledged`` — which, just after a path's capacity fell, still mostly counts what
    /// arrived before.
    public func acknowledged(over span: MediaTime) -> Double? {
        guard let newest = received.last else { return nil }
        var bytes = 0, first = received.count - 1
        while first > 0, newest.at - received[first - 1].at <= span {
            bytes += received[first].bytes
            first -= 1
        }
        let covered = newest.at - received[first].at
        guard covered >= Self.minimumRecentSpan else { return nil }
        return Double(bytes * 8) / covered.milliseconds * 1_000
    }

    /// The shortest stretch of arrivals ``acknowledged(over:)`` reads a rate from.
    static let minimumRecentSpan = MediaTime(microseconds: 50_000)

    /// The bottleneck's own rate, bit/s, read from packets that waited in its queue: a packet that
    /// arrived more than ``queuedThreshold`` later than the path's quickest left the queue right
    /// behind the packet before it, so their arrival gap is its time on the bottleneck's link
    /// (packet-pair dispersion, as ``BandwidthProbe`` reads its trains) — what a key frame's burst
    /// measures as it drains, however short the queue. The bytes of all such packets over the
    /// last ``queuedRateLifetime``, over their gaps (pooled: one late wake-up of a forwarding
    /// host spreads one run, not the reading); nil with fewer than ``minimumQueuedPackets``.
    public func queuedRate(now: MediaTime) -> Double? {
        var bytes = 0, span = Int64(0), count = 0
        for g in queuedGaps where now - g.at <= Self.queuedRateLifetime {
            bytes += g.bytes
            span += g.gap.microseconds
            count += 1
        }
        guard count >= Self.minimumQueuedPackets, span > 0 else { return nil }
        return Double(bytes * 8) / Double(span) * 1e6
    }

    /// How much later than the quickest packet of the last 10 s a packet must arrive to count as
    /// queued (``queuedRate(now:)``): above the jitter of a quiet path.
    static let queuedThreshold = MediaTime(microseconds: 20_000)
    static let minimumQueuedPackets = 4
    static let queuedRateLifetime = MediaTime(microseconds: 1_000_000)

    public init(start: Double) {
        rateControl = AIMDRateControl(start: start)
        lossBased = rateControl.maximum
    }

    /// One feedback report: its packets in sending order, at `now`, with the path's round trip.
    /// Returns the new estimate (bit/s).
    @discardableResult
    public mutating func feedback(_ packets: [Packet], rtt: MediaTime, now: MediaTime) -> Double {
        guard Self.inBounds(now) else { return estimate }
        for p in packets {
            guard Self.inBounds(p.sent), p.arrived.map(Self.inBounds) ?? true else { continue }
            guard let arrival = p.arrived else { continue }
            let bytes = min(max(p.bytes, 0), 65_535)  // a packet's, at most
            received.append((at: arrival, bytes: bytes))
            receivedBytes += bytes
            if var group = current {
                // Sent before the current group began: reordered on the way, and no use for the trend.
                if p.sent < group.firstSent { continue }
                if p.sent - group.firstSent <= Self.groupSpan || group.isBurst(with: p.sent, arrival: arrival) {
                    group.lastSent = max(group.lastSent, p.sent)
                    group.lastArrival = max(group.lastArrival, arrival)
                    current = group
                    continue
                }
            }
            // A new group: the one before it is complete.
            if let done = current {
                if let before = previous {
                    let sendGap = (done.lastSent - before.lastSent).milliseconds
                    let arrivalGap = (done.lastArrival - before.lastArrival).milliseconds
                    // A group that arrived before the one sent ahead of it was reordered: skipped.
                    if arrivalGap >= 0 {
                        let trend = trendline.update(delayDelta: arrivalGap - sendGap, arrival: done.lastArrival)
                        _ = detector.detect(trend, sendGap: sendGap, now: now)
                    }
                }
                previous = done
            }
            current = Group(firstSent: p.sent, lastSent: p.sent, firstArrival: arrival, lastArrival: arrival)
        }
        recordDelay(packets, now: now)
        readQueuedPackets(packets, now: now)
        trim(now: now)
        if !packets.isEmpty {
            _ = rateControl.update(detector.signal, acknowledged: acknowledged, rtt: rtt, now: now)
        }
        return estimate
    }

    private mutating func recordDelay(_ packets: [Packet], now: MediaTime) {
        var delays: [Int64] = []
        delays.reserveCapacity(packets.count)
        for p in packets {
            guard let arrived = p.arrived, Self.inBounds(p.sent), Self.inBounds(arrived) else { continue }
            delays.append(arrived.microseconds - p.sent.microseconds)
        }
        guard !delays.isEmpty else { return }
        delays.sort()
        delaySamples.append((at: now, delay: delays[delays.count / 2], quickest: delays[0]))
        var stale = 0
        while stale < delaySamples.count - 1, now - delaySamples[stale].at > Self.baselineWindow { stale += 1 }
        stale = max(stale, delaySamples.count - Self.maximumDelaySamples)
        delaySamples.removeFirst(stale)
    }

    /// Reads a feedback's packets for ``queuedRate(now:)``: each queued packet that arrived, in
    /// order, after another queued one adds its bytes and its gap. A packet that did not wait, was
    /// lost or carries times out of bounds ends the run; one that arrived before the packet
    /// reported ahead of it starts a new one (if it waited); one in the same instant as it (a
    /// duplicate, or the feedback's 250 µs resolution) adds nothing.
    private mutating func readQueuedPackets(_ packets: [Packet], now: MediaTime) {
        guard let floor = delaySamples.lazy.map(\.quickest).min() else { return }
        for p in packets {
            guard let arrived = p.arrived, Self.inBounds(p.sent), Self.inBounds(arrived) else {
                queuedBefore = nil
                continue
            }
            let queued = arrived.microseconds - p.sent.microseconds - floor > Self.queuedThreshold.microseconds
            defer { queuedBefore = queued ? arrived : nil }
            // A gap of a second is no queue's (and bounds the sum whatever times a viewer reports).
            guard queued, let before = queuedBefore, arrived > before, arrived - before <= Self.queuedRateLifetime else { continue }
            queuedGaps.append((at: now, bytes: min(max(p.bytes, 0), 65_535), gap: arrived - before))
        }
        var stale = 0
        while stale < queuedGaps.count, now - queuedGaps[stale].at > Self.queuedRateLifetime { stale += 1 }
        queuedGaps.removeFirst(max(stale, queuedGaps.count - Self.maximumHeld))
    }

    static func inBounds(_ t: MediaTime) -> Bool { t.microseconds.magnitude < UInt64(timeBound) }

    private mutating func trim(now: MediaTime) {
        if let newest = received.last?.at {
            var drop = 0
            while drop < received.count, newest - received[drop].at > Self.acknowledgedWindow {
                receivedBytes -= received[drop].bytes
                drop += 1
            }
            received.removeFirst(drop)
        }
        if received.count > Self.maximumHeld {
            let excess = received.count - Self.maximumHeld
            receivedBytes -= received.prefix(excess).reduce(0) { $0 + $1.bytes }
            received.removeFirst(excess)
        }
    }

    /// A receiver report on the video stream (its cumulative lost and extended highest sequence
    /// number, [RFC 3550 §6.4.1](https://www.rfc-editor.org/rfc/rfc3550#section-6.4.1)): GCC's
    /// loss-based controller (§6) on the loss since the last update, taken once at least 20 packets
    /// were expected (libwebrtc's limit: Chromium sends reports over a handful of packets too, whose
    /// fraction lost of a half is noise) — above 10%, back off by half the loss ratio (at most once
    /// per 300 ms); below 2%, follow the delay-based rate up. Loss comes from receiver reports, as in
    /// libwebrtc's classic controller, not from the feedback's "not received": a receiver reports a
    /// packet still on its way (reordered by jitter) as not received and does not report it again
    /// when it lands, which on a path with 10 ms of jitter read as 10% loss. Counters that go back
    /// or jump by more than 2^15 start over.
    public mutating func receiverReport(cumulativeLost: Int32, highestSequence: UInt32, now: MediaTime) {
        guard Self.inBounds(now) else { return }
        defer { lastReport = (cumulativeLost, highestSequence) }
        guard let last = lastReport else { return }
        let expected = Int64(highestSequence) - Int64(last.highest), lost = Int64(cumulativeLost) - Int64(last.lost)
        guard (0...32_768).contains(expected) else {
            (expectedSinceUpdate, lostSinceUpdate) = (0, 0)
            return
        }
        expectedSinceUpdate += Int(expected)
        lostSinceUpdate += Int(min(max(lost, -expected), expected))
        guard expectedSinceUpdate >= 20 else { return }
        let loss = min(max(Double(lostSinceUpdate) / Double(expectedSinceUpdate), 0), 1)
        (expectedSinceUpdate, lostSinceUpdate) = (0, 0)
        lossRatio = loss
        highLossUpdates = loss > 0.10 ? min(highLossUpdates + 1, 2) : 0
        if loss > 0.10 {
            if lastLossUpdate.map({ now - $0 >= MediaTime(microseconds: 300_000) }) ?? true {
                lossBased = min(lossBased, rateControl.rate) * (1 - 0.5 * loss)
                lastLossUpdate = now
            }
        } else if loss < 0.02 {
            lossBased = max(lossBased, rateControl.rate)
        }
    }
}
