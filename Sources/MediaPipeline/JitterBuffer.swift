import MediaWire

/// Settings of a ``JitterBuffer``.
public struct JitterBufferConfiguration: Sendable {
    /// RTP clock rate of the stream: 90 000 for video, 48 000 for Opus.
    public var clockRate: Int
    /// The target never goes below this (ms).
    public var minimumDelay: Double = 0
    /// The target never goes above this (ms): latency cannot creep up over a call.
    public var maximumDelay: Double = 200
    /// The share of packets the target delay should cover.
    public var quantile: Double = 0.95
    /// Per-sample weight kept by the delay histogram (closer to 1 = longer memory).
    public var forgetFactor: Double = 0.997
    /// Window over which the fastest packet sets the zero of "relative delay" (ms).
    public var baselineWindow: Double = 2_000
    /// Packets held at most; older ones are skipped when a burst overflows it.
    public var capacity: Int = 1_024
    /// Ask for retransmissions of missing packets (RFC 4585 generic NACK).
    public var nackEnabled = true
    /// NACKs per missing packet at most.
    public var maxNackRetries = 3
    /// Wait this long after a gap is seen before the first NACK, to let reordering settle (ms).
    public var nackReorderDelay: Double = 5
    /// After a gap, for this long (ms) the target adds one round trip plus the reorder delay to
    /// the jitter quantile, so that a NACKed packet can still be played (the retransmission
    /// itself crosses the same jittery path); without recent loss it does not.
    public var lossMemory: Double = 10_000
    /// How far (ms) a packet's media time may stray from where the arrival clock puts it — a
    /// timestamp leap, forward or back, or a clock running far faster than real time — before
    /// the buffer starts over as for a new stream. Real senders leap only when they restart;
    /// a hostile one could otherwise push media times towards overflow. Must exceed any real
    /// network delay spike.
    public var maximumClockJump: Double = 5_000

    public init(clockRate: Int) { self.clockRate = clockRate }
}

/// Counters and gauges a receiver reports.
public struct JitterBufferStatistics: Sendable, Equatable {
    /// How long the last released packet waited in the buffer (ms).
    public var currentDelay: Double = 0
    /// The delay the buffer aims at now (ms).
    public var targetDelay: Double = 0
    public var received = 0
    public var released = 0
    public var duplicates = 0
    /// Arrived after its place in the sequence had been played out or skipped.
    public var late = 0
    /// Skipped because they had not arrived by their playout time.
    public var lost = 0
    /// NACK requests made (one per sequence number per attempt).
    public var nacked = 0
    /// Packets that arrived after being NACKed, in time to be played.
    public var recovered = 0
    /// Skipped because the buffer overflowed.
    public var overflowed = 0
    /// Losses covered by concealment or FEC downstream (set by the audio playout).
    public var concealed = 0
    /// Times the buffer started over because the sender's clock leapt (a new encoder, a hostile
    /// sender): see ``JitterBufferConfiguration/maximumClockJump``.
    public var resets = 0
}

/// What the buffer releases, in sequence order.
public enum JitterBufferEvent: Sendable, Equatable {
    case packet(RTPPacket, arrival: MediaTime)
    /// `count` packets from `firstSequence` did not arrive in time; the next event is the packet
    /// after them.
    case lost(firstSequence: UInt16, count: Int)
}

/// A per-stream, I/O-free jitter buffer with an injected clock.
///
/// Packets are released in sequence order at their playout time: the media time of the packet
/// (its RTP timestamp) plus the fastest transit seen in the last ``JitterBufferConfiguration/baselineWindow``
/// plus the target delay. The target is a high quantile of each packet's delay relative to that
/// fastest one, bounded by the configured minimum and maximum. A missing packet is waited for
/// until the next present packet is due, then declared lost; meanwhile it is NACKed, no more
/// often than once per round-trip time and only while a retransmission could still arrive in time.
public struct JitterBuffer: Sendable {
    public let configuration: JitterBufferConfiguration
    public private(set) var statistics = JitterBufferStatistics()

    private struct Slot: Sendable {
        var packet: RTPPacket
        var sequence: Int64
        var mediaTime: Int64  // µs since the first timestamp
        var arrival: MediaTime
    }

    private struct Missing: Sendable {
        var firstSeen: MediaTime
        var lastNack: MediaTime?
        var retries = 0
    }

    private var slots: [Slot?]
    private let mask: Int64
    private var sequences = SequenceUnwrapper()
    private var timestamps = TimestampUnwrapper()
    private var firstTimestamp: Int64?
    /// The next sequence number to release.
    private var next: Int64?
    private var highest: Int64?
    private var missing: [Int64: Missing] = [:]
    private var histogram: DelayHistogram
    private var baseline: SlidingMinimum
    private var targetMicroseconds: Int64
    private var rttMicroseconds: Int64 = 100_000
    private var jitterTargetMicroseconds: Int64 = 0
    private var lastGap: MediaTime?

    public init(configuration: JitterBufferConfiguration) {
        self.configuration = configuration
        var size = 1
        while size < max(configuration.capacity, 16) { size <<= 1 }
        slots = [Slot?](repeating: nil, count: size)
        mask = Int64(size - 1)
        histogram = DelayHistogram(
            bucketMilliseconds: 2, maximumMilliseconds: max(Int(configuration.maximumDelay) * 2, 100),
            forget: configuration.forgetFactor)
        baseline = SlidingMinimum(windowMicroseconds: Int64(configuration.baselineWindow * 1_000))
        targetMicroseconds = Int64(configuration.minimumDelay * 1_000)
        statistics.targetDelay = configuration.minimumDelay
    }

    /// The round-trip time to the sender, from RTCP; it paces NACKs.
    public mutating func setRoundTripTime(milliseconds: Double) {
        rttMicroseconds = Int64(max(milliseconds, 1) * 1_000)
    }

    /// Target = the jitter quantile, plus room for a retransmission while losses are recent,
    /// then bounded by the configured minimum and maximum.
    private mutating func updateTarget(now: MediaTime) {
        var target = jitterTargetMicroseconds
        if configuration.nackEnabled, let lastGap,
            (now - lastGap).milliseconds < configuration.lossMemory
        {
            target += rttMicroseconds + Int64(configuration.nackReorderDelay * 1_000)
        }
        let lo = Int64(configuration.minimumDelay * 1_000), hi = Int64(configuration.maximumDelay * 1_000)
        targetMicroseconds = min(max(target, lo), hi)
        statistics.targetDelay = Double(targetMicroseconds) / 1_000
    }

    public enum InsertResult: Sendable, Equatable { case accepted, duplicate, late }

    /// Takes one received packet.
    @discardableResult
    public mutating func insert(_ packet: RTPPacket, arrival: MediaTime) -> InsertResult {
        statistics.received += 1
        var seq = sequences.unwrap(packet.header.sequenceNumber)
        let ts = timestamps.unwrap(packet.header.timestamp)
        if firstTimestamp == nil { firstTimestamp = ts }
        var mediaTime = Self.microseconds(ts - (firstTimestamp ?? ts), clockRate: configuration.clockRate)
        // A leap of the sender's clock (or a clock racing ahead of the arrivals), or of its
        // sequence numbers past what the buffer holds: what is buffered belongs to another
        // stream. Starting over also keeps every per-packet loop below within the capacity.
        let clockLeapt = baseline.minimum.map { abs(arrival.microseconds - mediaTime - $0) > Int64(configuration.maximumClockJump * 1_000) }
        let sequenceLeapt = highest.map { seq - $0 > Int64(slots.count) }
        if clockLeapt == true || sequenceLeapt == true {
            reset()
            seq = sequences.unwrap(packet.header.sequenceNumber)
            firstTimestamp = timestamps.unwrap(packet.header.timestamp)
            mediaTime = 0
        }

        // Released slots stay in the ring until overwritten, so a copy of a packet already
        // played is still recognised as a duplicate rather than as late.
        let index = Int(seq & mask)
        if let existing = slots[index], existing.sequence == seq {
            statistics.duplicates += 1
            return .duplicate
        }
        if let next, seq < next {
            statistics.late += 1
            missing[seq] = nil
            return .late
        }

        // Delay statistics: transit relative to the fastest packet of the recent window.
        let transit = arrival.microseconds - mediaTime
        baseline.add(transit, at: arrival.microseconds)
        if let fastest = baseline.minimum {
            histogram.add(delayMicroseconds: transit - fastest)
            jitterTargetMicroseconds = histogram.quantile(configuration.quantile)
        }

        if next == nil { next = seq }
        if let h = highest, seq > h + 1 {
            // A gap: remember what is missing, for NACK. Bounded by the capacity.
            for s in max(h + 1, seq - Int64(slots.count))..<seq { missing[s] = Missing(firstSeen: arrival) }
            lastGap = arrival
        }
        updateTarget(now: arrival)
        if let was = missing.removeValue(forKey: seq), was.retries > 0 { statistics.recovered += 1 }
        highest = max(highest ?? seq, seq)

        // Overflow: skip ahead so that `seq` fits.
        if let n = next, seq - n >= Int64(slots.count) {
            let newNext = seq - Int64(slots.count) + 1
            for s in n..<newNext where slots[Int(s & mask)]?.sequence == s {
                slots[Int(s & mask)] = nil
                statistics.overflowed += 1
            }
            for s in missing.keys where s < newNext { missing[s] = nil }
            next = newNext
        }
        slots[index] = Slot(packet: packet, sequence: seq, mediaTime: mediaTime, arrival: arrival)
        return .accepted
    }

    /// RTP clock ticks as microseconds, without the intermediate product `ticks × 10⁶` (which a
    /// sender controls and which overflows past 2⁶³ / 10⁶ ticks).
    static func microseconds(_ ticks: Int64, clockRate: Int) -> Int64 {
        let rate = Int64(clockRate)
        return (ticks / rate) * 1_000_000 + (ticks % rate) * 1_000_000 / rate
    }

    /// Forgets everything buffered and learnt about the stream's timing (NACK state included);
    /// counters stay. The next packet starts the stream anew.
    private mutating func reset() {
        statistics.resets += 1
        for i in slots.indices { slots[i] = nil }
        sequences = SequenceUnwrapper()
        timestamps = TimestampUnwrapper()
        firstTimestamp = nil
        next = nil
        highest = nil
        missing.removeAll()
        baseline = SlidingMinimum(windowMicroseconds: Int64(configuration.baselineWindow * 1_000))
        lastGap = nil
    }

    private func due(_ slot: Slot) -> Int64 {
        slot.mediaTime + (baseline.minimum ?? 0) + targetMicroseconds
    }

    /// The earliest present packet at or after `from`, scanning at most to `highest`.
    private func firstPresent(from: Int64) -> Slot? {
        guard let highest else { return nil }
        var s = from
        while s <= highest {
            if let slot = slots[Int(s & mask)], slot.sequence == s { return slot }
            s += 1
        }
        return nil
    }

    /// Releases everything due at `now`, in order.
    public mutating func pop(now: MediaTime) -> [JitterBufferEvent] {
        var out: [JitterBufferEvent] = []
        while let n = next, let head = firstPresent(from: n), due(head) <= now.microseconds {
            if head.sequence > n {
                let count = Int(head.sequence - n)
                out.append(.lost(firstSequence: UInt16(truncatingIfNeeded: n), count: count))
                statistics.lost += count
                for s in n..<head.sequence { missing[s] = nil }
            }
            out.append(.packet(head.packet, arrival: head.arrival))
            statistics.released += 1
            statistics.currentDelay = Double(now.microseconds - head.arrival.microseconds) / 1_000
            next = head.sequence + 1
        }
        return out
    }

    /// When ``pop(now:)`` will next release something, if anything is buffered.
    public var nextPlayout: MediaTime? {
        guard let n = next, let head = firstPresent(from: n) else { return nil }
        return MediaTime(microseconds: due(head))
    }

    /// Sequence numbers to NACK now. Each missing packet is asked for at most
    /// ``JitterBufferConfiguration/maxNackRetries`` times, once per round trip, and only while a
    /// retransmission sent now could arrive before the packet after it is played.
    public mutating func nackList(now: MediaTime) -> [UInt16] {
        guard configuration.nackEnabled, let n = next else { return [] }
        var out: [UInt16] = []
        for s in missing.keys.sorted() {
            guard s >= n, var m = missing[s] else {
                missing[s] = nil
                continue
            }
            if m.retries >= configuration.maxNackRetries { continue }
            if now.microseconds - m.firstSeen.microseconds < Int64(configuration.nackReorderDelay * 1_000) { continue }
            if let last = m.lastNack, now.microseconds - last.microseconds < rttMicroseconds { continue }
            if let after = firstPresent(from: s + 1), due(after) < now.microseconds + rttMicroseconds {
                continue  // a retransmission would come too late to be played
            }
            m.retries += 1
            m.lastNack = now
            missing[s] = m
            statistics.nacked += 1
            out.append(UInt16(truncatingIfNeeded: s))
        }
        return out
    }

    /// Sets the concealment count (the audio playout reports it).
    mutating func addConcealed(_ n: Int) { statistics.concealed += n }
}
