import NIOCore

/// The last `capacity` packets of one stream (plain RTP, as received or produced), to answer
/// NACKs ([RFC 4585 §6.2.1](https://www.rfc-editor.org/rfc/rfc4585#section-6.2.1)). It stores
/// what it is given; callers give it compact copies, not slices of a larger receive buffer.
struct RetransmissionCache {
    private var slots: [(seq: UInt16, packet: ByteBuffer)?]
    init(capacity: Int = 512) { slots = .init(repeating: nil, count: capacity) }
    mutating func store(_ p: ByteBuffer, sequenceNumber: UInt16) {
        slots[Int(sequenceNumber) % slots.count] = (sequenceNumber, p)
    }
    func packet(_ seq: UInt16) -> ByteBuffer? {
        guard let slot = slots[Int(seq) % slots.count], slot.seq == seq else { return nil }
        return slot.packet
    }
}

/// Bytes a subscriber may spend on retransmissions: a quarter of the media it was sent (resends
/// earn nothing: ``Subscription`` earns only for what it sends the first time), at most
/// ``capacity`` saved up — so that NACKs from a receiver behind a bottleneck cannot crowd out its
/// media. A subscriber without transport-wide feedback gets half of what it was sent and up to
/// ``repairCapacity``: such a receiver (aiortc) waits for every packet, and one it never gets
/// stalls it until 512 more have come. A move up its path could not carry lost ~80 packets of
/// the 360p layer (~90 KB) that its NACKs asked for again for two seconds; within 64 KiB and a
/// quarter the relay's answers ran out before the queue drained (814 refused in a run), and the
/// viewer froze 16–18 s; with room for them it froze 1.1–1.9 s (2026-12-04, docs/benchmarks.md).
struct RetransmissionBudget {
    static let capacity = 64 * 1_024
    static let repairCapacity = 256 * 1_024
    let capacity: Int
    /// Sent bytes per byte earned.
    let divisor: Int
    private(set) var bytes: Int

    /// `repairing`: the subscriber has no transport-wide feedback.
    init(repairing: Bool = false) {
        capacity = repairing ? Self.repairCapacity : Self.capacity
        divisor = repairing ? 2 : 4
        bytes = capacity
    }

    mutating func earn(_ sent: Int) { bytes = min(bytes + sent / divisor, capacity) }

    mutating func spend(_ n: Int) -> Bool {
        guard bytes >= n else { return false }
        bytes -= n
        return true
    }
}
