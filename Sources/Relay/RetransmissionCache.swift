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

/// Bytes a subscriber may spend on retransmissions: a quarter of what it was sent, at most
/// ``capacity`` saved up — so that NACKs from a receiver behind a bottleneck cannot crowd out its media.
struct RetransmissionBudget {
    static let capacity = 64 * 1_024
    private(set) var bytes = capacity

    mutating func earn(_ sent: Int) { bytes = min(bytes + sent / 4, Self.capacity) }

    mutating func spend(_ n: Int) -> Bool {
        guard bytes >= n else { return false }
        bytes -= n
        return true
    }
}
