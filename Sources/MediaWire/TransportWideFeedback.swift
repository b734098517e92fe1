/// Transport-wide congestion-control feedback, RTPFB FMT 15
/// ([draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1](https://datatracker.ietf.org/doc/html/draft-holmer-rmcat-transport-wide-cc-extensions-01#section-3.1)).
///
/// ```
/// |  SSRC of packet sender  |  SSRC of media source  |
/// | base sequence number (16) | packet status count (16) |
/// | reference time (24, ×64 ms) | fb pkt count (8) |
/// | packet chunk (16) | packet chunk | ... | recv delta (8 or 16) | ... | padding |
/// ```
/// A chunk is a run length (`0 SS LLLLLLLLLLLLL`) or a status vector (`1 0 14×1-bit` or
/// `1 1 7×2-bit`); received packets then carry a delta in 250 µs ticks, one byte when small
/// (0…255) and two signed bytes otherwise.
public struct TransportWideFeedback: Hashable, Sendable {
    public enum Status: UInt8, Hashable, Sendable {
        case notReceived = 0
        case smallDelta = 1
        case largeDelta = 2
    }

    /// One packet's fate in sequence order from ``baseSequence``.
    public struct PacketResult: Hashable, Sendable {
        public var status: Status
        /// Arrival delta from the previous received packet (or the reference time), in 250 µs ticks.
        public var delta: Int16

        public init(status: Status, delta: Int16 = 0) {
            self.status = status
            self.delta = status == .notReceived ? 0 : delta
        }

        /// A received packet with the smallest status that can carry `delta`.
        public static func received(delta: Int16) -> PacketResult {
            PacketResult(status: (0...255).contains(delta) ? .smallDelta : .largeDelta, delta: delta)
        }
        public static let lost = PacketResult(status: .notReceived)
    }

    public var senderSSRC: UInt32
    public var mediaSSRC: UInt32
    public var baseSequence: UInt16
    /// Signed 24-bit reference time in multiples of 64 ms.
    public var referenceTime: Int32
    public var feedbackCount: UInt8
    public var packets: [PacketResult]

    public init(
        senderSSRC: UInt32, mediaSSRC: UInt32, baseSequence: UInt16, referenceTime: Int32, feedbackCount: UInt8,
        packets: [PacketResult]
    ) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.baseSequence = baseSequence
        self.referenceTime = referenceTime
        self.feedbackCount = feedbackCount
        self.packets = packets
    }

    /// Arrival time of each received packet in microseconds after the reference time, keyed by
    /// transport sequence number.
    public var arrivals: [(sequence: UInt16, microseconds: Int64)] {
        var t = Int64(referenceTime) * 64_000
        var out: [(UInt16, Int64)] = []
        for (i, p) in packets.enumerated() where p.status != .notReceived {
            t += Int64(p.delta) * 250
            out.append((baseSequence &+ UInt16(truncatingIfNeeded: i), t))
        }
        return out
    }

    /// The most packets one feedback — and all the feedback in one compound packet
    /// (``RTCPPacket/parseCompound(_:)``) — may report on. The 16-bit count field allows 65,535,
    /// which eight 2-byte run-length chunks can claim; senders report a feedback interval's packets
    /// (~100 at 1,000 packets/s and 100 ms), so a few thousand is generous.
    public static let maximumPacketStatusCount = 4_096

    static func parse(_ r: inout ByteReader) throws(WireError) -> TransportWideFeedback {
        let sender = try r.u32("TWCC")
        let media = try r.u32("TWCC")
        let base = try r.u16("TWCC base sequence")
        let count = Int(try r.u16("TWCC status count"))
        guard count <= Self.maximumPacketStatusCount else {
            throw WireError.badLength("TWCC feedback on \(count) packets: at most \(Self.maximumPacketStatusCount)")
        }
        let refRaw = try r.u24("TWCC reference time")
        let fbCount = try r.u8("TWCC feedback count")
        // Every chunk describes at least one packet, so `count` chunks bound the loop; the
        // statuses themselves are bounded by `count` (a 16-bit field), never by the chunk data.
        var statuses: [Status] = []
        statuses.reserveCapacity(count)
        while statuses.count < count {
            let chunk = try r.u16("TWCC packet chunk")
            if chunk & 0x8000 == 0 {
                guard let symbol = Status(rawValue: UInt8(chunk >> 13 & 0x3)) else {
                    throw WireError.invalid("TWCC reserved status symbol")
                }
                let run = Int(chunk & 0x1FFF)
                guard run > 0 else { throw WireError.invalid("TWCC run length 0") }
                statuses.append(contentsOf: repeatElement(symbol, count: min(run, count - statuses.count)))
            } else if chunk & 0x4000 == 0 {
                for bit in stride(from: 13, through: 0, by: -1) where statuses.count < count {
                    statuses.append(chunk >> UInt16(bit) & 1 == 1 ? .smallDelta : .notReceived)
                }
            } else {
                for slot in stride(from: 6, through: 0, by: -1) where statuses.count < count {
                    guard let s = Status(rawValue: UInt8(chunk >> UInt16(slot * 2) & 0x3)) else {
                        throw WireError.invalid("TWCC reserved status symbol")
                    }
                    statuses.append(s)
                }
            }
        }
        var packets: [PacketResult] = []
        packets.reserveCapacity(count)
        for s in statuses {
            switch s {
            case .notReceived: packets.append(.lost)
            case .smallDelta: packets.append(PacketResult(status: .smallDelta, delta: Int16(try r.u8("TWCC delta"))))
            case .largeDelta:
                packets.append(
                    PacketResult(status: .largeDelta, delta: Int16(bitPattern: try r.u16("TWCC delta"))))
            }
        }
        return TransportWideFeedback(
            senderSSRC: sender, mediaSSRC: media, baseSequence: base,
            referenceTime: Int32(bitPattern: refRaw << 8) >> 8, feedbackCount: fbCount, packets: packets)
    }

    func serializeBody(into out: inout [UInt8]) {
        out.appendU32(senderSSRC)
        out.appendU32(mediaSSRC)
        out.appendU16(baseSequence)
        let packets = self.packets.prefix(0xFFFF)
        out.appendU16(UInt16(packets.count))
        out.appendU24(UInt32(bitPattern: referenceTime) & 0x00FF_FFFF)
        out.append(feedbackCount)
        // Chunks: a run-length chunk for a run of 7 or more equal statuses, else a 2-bit vector.
        var i = packets.startIndex
        while i < packets.endIndex {
            let s = packets[i].status
            var run = 1
            while i + run < packets.endIndex && packets[i + run].status == s && run < 0x1FFF { run += 1 }
            if run >= 7 {
                out.appendU16(UInt16(s.rawValue) << 13 | UInt16(run))
                i += run
            } else {
                var chunk: UInt16 = 0xC000
                for slot in 0..<7 where i + slot < packets.endIndex {
                    chunk |= UInt16(packets[i + slot].status.rawValue) << UInt16((6 - slot) * 2)
                }
                out.appendU16(chunk)
                i += 7
            }
        }
        for p in packets {
            switch p.status {
            case .notReceived: break
            case .smallDelta: out.append(UInt8(truncatingIfNeeded: p.delta))
            case .largeDelta: out.appendU16(UInt16(bitPattern: p.delta))
            }
        }
    }
}
