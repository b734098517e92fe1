import MediaPipeline
import MediaWire

/// The receiving half of transport-wide congestion control, for a publisher
/// ([draft-holmer-rmcat-transport-wide-cc-extensions-01 §3](https://datatracker.ietf.org/doc/html/draft-holmer-rmcat-transport-wide-cc-extensions-01#section-3)):
/// records when each of the publisher's packets arrived, by its transport-wide sequence number,
/// and turns that into ``TransportWideFeedback`` — so the browser's send-side estimate (and with it
/// its encoder's rate and simulcast layers) works against the relay as it does against another
/// browser. I/O-free: arrival times are injected.
///
/// Bounded whatever numbers a publisher sends: arrivals live in a ring of ``capacity`` entries
/// (16 KiB), a feedback covers at most ``maximumPerFeedback`` numbers, and a jump further ahead
/// than the ring holds drops what was not reported yet (reported lost).
struct TransportWideFeedbackBuilder {
    static let capacity = 2_048
    static let maximumPerFeedback = 500

    private struct Entry {
        var sequence: Int64 = -1
        var arrival: Int64 = 0  // µs
    }

    private var entries = [Entry](repeating: Entry(), count: capacity)
    private var unwrapper = SequenceUnwrapper()
    /// The first number the next feedback reports on; nil before the first packet.
    private var nextToReport: Int64?
    private var highest: Int64?
    private var feedbackCount: UInt8 = 0

    /// A packet carrying transport-wide number `sequence` arrived at `now`. Numbers already
    /// reported (a late or repeated packet) are not recorded again.
    mutating func record(_ sequence: UInt16, at now: MediaTime) {
        let n = unwrapper.unwrap(sequence)
        if nextToReport == nil { nextToReport = n }
        guard let start = nextToReport, n >= start else { return }
        entries[Self.slot(n)] = Entry(sequence: n, arrival: now.microseconds)
        highest = max(highest ?? n, n)
        // Further ahead than the ring holds: what falls out was never reported; it goes unreported.
        if let top = highest, top - start >= Int64(Self.capacity) { nextToReport = top - Int64(Self.capacity) + 1 }
    }

    /// The ring slot of unwrapped number `n` (any sign: the capacity is a power of two).
    private static func slot(_ n: Int64) -> Int { Int(n & Int64(capacity - 1)) }

    /// Whether a feedback has anything to report.
    var hasPending: Bool {
        guard let start = nextToReport, let top = highest else { return false }
        return top >= start
    }

    /// The next feedback: from the first number not yet reported to the highest received (at most
    /// ``maximumPerFeedback``), each received one with its arrival delta in 250 µs ticks, the
    /// others not received. Nil when there is nothing to report. A delta that does not fit 16 bits
    /// (a packet more than 8 s apart from the one before) ends the feedback before it; the next
    /// one starts there with its own reference time.
    mutating func feedback(senderSSRC: UInt32, mediaSSRC: UInt32) -> TransportWideFeedback? {
        guard let start = nextToReport, let top = highest, top >= start else { return nil }
        let end = min(top, start + Int64(Self.maximumPerFeedback) - 1)
        let entries = self.entries
        func arrival(_ n: Int64) -> Int64? {
            let e = entries[Self.slot(n)]
            return e.sequence == n ? e.arrival : nil
        }
        // The reference time: the first received packet's arrival, in whole 64 ms (§3.1).
        guard let first = (start...end).lazy.compactMap({ arrival($0) }).first else {
            nextToReport = end + 1
            return nil
        }
        let reference = first >= 0 ? first / 64_000 : (first - 63_999) / 64_000
        var tick = reference * 256  // 64 ms = 256 ticks of 250 µs
        var results: [TransportWideFeedback.PacketResult] = []
        results.reserveCapacity(Int(end - start + 1))
        var last = start - 1
        for n in start...end {
            if let at = arrival(n) {
                let t = at >= 0 ? at / 250 : (at - 249) / 250
                guard let delta = Int16(exactly: t - tick) else { break }
                results.append(.received(delta: delta))
                tick = t
            } else {
                results.append(.lost)
            }
            last = n
        }
        nextToReport = last + 1
        feedbackCount &+= 1
        // The 24-bit signed field: only differences between feedbacks matter to the sender.
        let field = Int32(truncatingIfNeeded: reference & 0xFF_FFFF)
        return TransportWideFeedback(
            senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, baseSequence: UInt16(truncatingIfNeeded: start),
            referenceTime: (field << 8) >> 8, feedbackCount: feedbackCount &- 1, packets: results)
    }
}
