import MediaPipeline
import MediaWire

/// The packets the relay sent one viewer, by transport-wide sequence number
/// ([draft-holmer-rmcat-transport-wide-cc-extensions-01 §2](https://datatracker.ietf.org/doc/html/draft-holmer-rmcat-transport-wide-cc-extensions-01#section-2)):
/// it numbers each packet as it goes out and remembers when it went and its size, so that the
/// viewer's ``TransportWideFeedback`` becomes what ``DelayBasedBandwidthEstimator`` needs — when
/// each packet was sent and when it arrived (or that it did not).
///
/// A fixed ring of ``capacity`` entries (16 bytes each, 16 KiB per viewer: ~7 s of a 1.5 Mbit/s
/// stream, ~2 s at 5 Mbit/s — feedback comes every 50–100 ms); feedback on a number no longer held,
/// never sent, or already reported is ignored. I/O-free.
struct TransportWideSendHistory {
    static let capacity = 1_024

    private struct Entry {
        var sequence: UInt16
        var bytes: UInt16
        var state: State
        var sent: Int64  // µs; Int64.min for an empty slot
    }

    private enum State: UInt8 {
        case unreported, reportedLost, reportedReceived
    }

    private var entries = [Entry](repeating: Entry(sequence: 0, bytes: 0, state: .reportedReceived, sent: .min), count: capacity)
    /// The number the next packet gets.
    private(set) var next: UInt16 = 1

    /// The number for a packet going out now (written into it before it is protected).
    mutating func number() -> UInt16 {
        defer { next &+= 1 }
        return next
    }

    /// Records that packet `sequence` went out at `now`, `bytes` long on the wire (after SRTP).
    mutating func sent(_ sequence: UInt16, bytes: Int, at now: MediaTime) {
        entries[Int(sequence) % Self.capacity] = Entry(
            sequence: sequence, bytes: UInt16(clamping: bytes), state: .unreported, sent: now.microseconds)
    }

    /// The packets a feedback reports on, in sequence order: sent time and size from the history,
    /// arrival from the feedback (the viewer's clock: its reference time plus the deltas so far),
    /// nil when reported lost. Each packet is given once as received, and at most once as lost
    /// before that (a receiver may report a packet still on its way as not received, and report
    /// it again when it lands).
    mutating func packets(for feedback: TransportWideFeedback) -> [DelayBasedBandwidthEstimator.Packet] {
        var out: [DelayBasedBandwidthEstimator.Packet] = []
        var arrival = Int64(feedback.referenceTime) * 64_000
        for (i, result) in feedback.packets.enumerated() {
            let received = result.status != .notReceived
            if received { arrival += Int64(result.delta) * 250 }
            let sequence = feedback.baseSequence &+ UInt16(truncatingIfNeeded: i)
            let slot = Int(sequence) % Self.capacity
            let entry = entries[slot]
            guard entry.sequence == sequence, entry.sent != .min else { continue }
            switch (entry.state, received) {
            case (.reportedReceived, _), (.reportedLost, false): continue
            case (.unreported, false): entries[slot].state = .reportedLost
            case (.unreported, true), (.reportedLost, true): entries[slot].state = .reportedReceived
            }
            out.append(
                DelayBasedBandwidthEstimator.Packet(
                    sent: MediaTime(microseconds: entry.sent), arrived: received ? MediaTime(microseconds: arrival) : nil,
                    bytes: Int(entry.bytes), number: sequence))
        }
        return out
    }
}
