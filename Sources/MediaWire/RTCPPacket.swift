/// One RTCP packet inside a compound packet
/// ([RFC 3550 §6](https://www.rfc-editor.org/rfc/rfc3550#section-6),
/// feedback messages [RFC 4585 §6](https://www.rfc-editor.org/rfc/rfc4585#section-6) and
/// [RFC 5104 §4.3.1](https://www.rfc-editor.org/rfc/rfc5104#section-4.3.1)).
///
/// Every RTCP packet starts with the same word:
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |V=2|P| RC/FMT  |      PT       |     length (words − 1)        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
public enum RTCPPacket: Hashable, Sendable {
    case senderReport(RTCPSenderReport)
    case receiverReport(RTCPReceiverReport)
    case sourceDescription(RTCPSourceDescription)
    case goodbye(RTCPGoodbye)
    case nack(RTCPGenericNACK)
    case transportFeedback(TransportWideFeedback)
    case pictureLossIndication(RTCPPictureLossIndication)
    case fullIntraRequest(RTCPFullIntraRequest)
    case remb(RTCPREMB)
    /// A packet type or feedback format this module does not interpret; kept byte for byte.
    case unknown(packetType: UInt8, count: UInt8, body: [UInt8])

    /// RTCP packet types ([RFC 3550 §12.1](https://www.rfc-editor.org/rfc/rfc3550#section-12.1),
    /// [RFC 4585 §6.1](https://www.rfc-editor.org/rfc/rfc4585#section-6.1)).
    public enum PacketType {
        public static let senderReport: UInt8 = 200
        public static let receiverReport: UInt8 = 201
        public static let sourceDescription: UInt8 = 202
        public static let goodbye: UInt8 = 203
        public static let applicationDefined: UInt8 = 204
        public static let transportFeedback: UInt8 = 205
        public static let payloadFeedback: UInt8 = 206
    }

    /// Parses a compound RTCP packet into its parts.
    ///
    /// Padding is honoured only where RFC 3550 §6.4.1 allows it; a length that overruns the buffer
    /// throws. An empty buffer throws too: a compound packet has at least one part.
    public static func parseCompound(_ bytes: ArraySlice<UInt8>) throws(WireError) -> [RTCPPacket] {
        if bytes.count > RTPPacket.maximumSize { throw WireError.badLength("RTCP of \(bytes.count) bytes") }
        if bytes.isEmpty { throw WireError.truncated("empty RTCP") }
        var reader = ByteReader(bytes)
        var packets: [RTCPPacket] = []
        // Transport-wide feedback's statuses over the whole compound: a 24-byte feedback may
        // claim 4,096 of them, and a datagram holds 80 such feedbacks (review: 1 ms of parsing).
        var statusesLeft = TransportWideFeedback.maximumPacketStatusCount
        while !reader.isAtEnd {
            let b0 = try reader.u8("RTCP header")
            guard b0 >> 6 == 2 else { throw WireError(.badVersion, "RTCP version \(b0 >> 6)") }
            let pt = try reader.u8("RTCP header")
            let words = Int(try reader.u16("RTCP length"))
            var body = try reader.take(words * 4, "RTCP body of \(words) words")
            if b0 & 0x20 != 0 {
                guard let pad = body.last, pad > 0, Int(pad) <= body.count else {
                    throw WireError(.badPadding, "RTCP padding")
                }
                body = body.dropLast(Int(pad))
            }
            if pt == PacketType.transportFeedback, b0 & 0x1F == 15, body.count >= 12 {
                // After the two SSRCs and the base sequence number: the packet status count.
                let claimed = Int(body[body.startIndex + 10]) << 8 | Int(body[body.startIndex + 11])
                guard claimed <= statusesLeft else {
                    throw WireError.badLength("TWCC feedback on more than \(TransportWideFeedback.maximumPacketStatusCount) packets in one compound")
                }
                statusesLeft -= claimed
            }
            packets.append(try parseOne(count: b0 & 0x1F, packetType: pt, body: body))
        }
        return packets
    }

    public static func parseCompound(_ bytes: [UInt8]) throws(WireError) -> [RTCPPacket] {
        try parseCompound(bytes[...])
    }

    private static func parseOne(count: UInt8, packetType pt: UInt8, body: ArraySlice<UInt8>) throws(WireError)
        -> RTCPPacket
    {
        var r = ByteReader(body)
        switch pt {
        case PacketType.senderReport:
            return .senderReport(try RTCPSenderReport.parse(count: count, &r))
        case PacketType.receiverReport:
            return .receiverReport(try RTCPReceiverReport.parse(count: count, &r))
        case PacketType.sourceDescription:
            return .sourceDescription(try RTCPSourceDescription.parse(count: count, &r))
        case PacketType.goodbye:
            return .goodbye(try RTCPGoodbye.parse(count: count, &r))
        case PacketType.transportFeedback where count == 1:
            return .nack(try RTCPGenericNACK.parse(&r))
        case PacketType.transportFeedback where count == 15:
            return .transportFeedback(try TransportWideFeedback.parse(&r))
        case PacketType.payloadFeedback where count == 1:
            return .pictureLossIndication(try RTCPPictureLossIndication.parse(&r))
        case PacketType.payloadFeedback where count == 4:
            return .fullIntraRequest(try RTCPFullIntraRequest.parse(&r))
        case PacketType.payloadFeedback where count == 15 && RTCPREMB.matches(body):
            return .remb(try RTCPREMB.parse(&r))
        default:
            return .unknown(packetType: pt, count: count, body: Array(body))
        }
    }

    /// Serializes several packets as one compound packet.
    public static func serializeCompound(_ packets: [RTCPPacket]) -> [UInt8] {
        var out: [UInt8] = []
        for p in packets { p.serialize(into: &out) }
        return out
    }

    /// Appends this packet, header included, padded to a 32-bit boundary.
    public func serialize(into out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: [0, 0, 0, 0])
        let countOrFormat: UInt8
        let pt: UInt8
        switch self {
        case .senderReport(let sr):
            countOrFormat = UInt8(min(sr.reports.count, 31)); pt = PacketType.senderReport
            sr.serializeBody(into: &out)
        case .receiverReport(let rr):
            countOrFormat = UInt8(min(rr.reports.count, 31)); pt = PacketType.receiverReport
            rr.serializeBody(into: &out)
        case .sourceDescription(let sdes):
            countOrFormat = UInt8(min(sdes.chunks.count, 31)); pt = PacketType.sourceDescription
            sdes.serializeBody(into: &out)
        case .goodbye(let bye):
            countOrFormat = UInt8(min(bye.sources.count, 31)); pt = PacketType.goodbye
            bye.serializeBody(into: &out)
        case .nack(let nack):
            countOrFormat = 1; pt = PacketType.transportFeedback
            nack.serializeBody(into: &out)
        case .transportFeedback(let twcc):
            countOrFormat = 15; pt = PacketType.transportFeedback
            twcc.serializeBody(into: &out)
        case .pictureLossIndication(let pli):
            countOrFormat = 1; pt = PacketType.payloadFeedback
            out.appendU32(pli.senderSSRC); out.appendU32(pli.mediaSSRC)
        case .fullIntraRequest(let fir):
            countOrFormat = 4; pt = PacketType.payloadFeedback
            fir.serializeBody(into: &out)
        case .remb(let remb):
            countOrFormat = 15; pt = PacketType.payloadFeedback
            remb.serializeBody(into: &out)
        case .unknown(let type, let count, let body):
            countOrFormat = count & 0x1F; pt = type
            out.append(contentsOf: body)
        }
        // A body that does not end on a word boundary (a BYE reason, TWCC deltas, an opaque body
        // whose padding was stripped) is padded with the P bit and a count (RFC 3550 §6.4.1), so
        // that parsing strips exactly what was added.
        var padded: UInt8 = 0
        let misalignment = (out.count - start) % 4
        if misalignment != 0 {
            padded = 0x20
            let count = 4 - misalignment
            out.append(contentsOf: repeatElement(0, count: count - 1))
            out.append(UInt8(count))
        }
        out[start] = 0x80 | padded | countOrFormat
        out[start + 1] = pt
        out.setU16(UInt16(truncatingIfNeeded: (out.count - start) / 4 - 1), at: start + 2)
    }
}

/// A reception report block ([RFC 3550 §6.4.1](https://www.rfc-editor.org/rfc/rfc3550#section-6.4.1)).
public struct RTCPReportBlock: Hashable, Sendable {
    public var ssrc: UInt32
    /// Fraction of packets lost since the last report, in 1/256 units.
    public var fractionLost: UInt8
    /// Cumulative packets lost: a signed 24-bit value (duplicates can make it negative).
    public var cumulativeLost: Int32
    public var extendedHighestSequence: UInt32
    /// Interarrival jitter in timestamp units (§6.4.1, A.8).
    public var jitter: UInt32
    /// Middle 32 bits of the NTP timestamp of the last SR received from this source.
    public var lastSenderReport: UInt32
    /// Delay since that SR, in 1/65536 s.
    public var delaySinceLastSenderReport: UInt32

    public init(
        ssrc: UInt32, fractionLost: UInt8, cumulativeLost: Int32, extendedHighestSequence: UInt32, jitter: UInt32,
        lastSenderReport: UInt32, delaySinceLastSenderReport: UInt32
    ) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = max(-(1 << 23), min(cumulativeLost, (1 << 23) - 1))
        self.extendedHighestSequence = extendedHighestSequence
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }

    static func parse(_ r: inout ByteReader) throws(WireError) -> RTCPReportBlock {
        let ssrc = try r.u32("report block")
        let fraction = try r.u8("report block")
        let raw = try r.u24("report block")
        let lost = Int32(bitPattern: raw << 8) >> 8  // sign-extend 24 bits
        return RTCPReportBlock(
            ssrc: ssrc, fractionLost: fraction, cumulativeLost: lost, extendedHighestSequence: try r.u32(),
            jitter: try r.u32(), lastSenderReport: try r.u32(), delaySinceLastSenderReport: try r.u32())
    }

    func serialize(into out: inout [UInt8]) {
        out.appendU32(ssrc)
        out.append(fractionLost)
        out.appendU24(UInt32(bitPattern: cumulativeLost) & 0x00FF_FFFF)
        out.appendU32(extendedHighestSequence)
        out.appendU32(jitter)
        out.appendU32(lastSenderReport)
        out.appendU32(delaySinceLastSenderReport)
    }
}

/// SR: [RFC 3550 §6.4.1](https://www.rfc-editor.org/rfc/rfc3550#section-6.4.1).
public struct RTCPSenderReport: Hashable, Sendable {
    public var ssrc: UInt32
    /// 64-bit NTP timestamp (seconds since 1900 in the high word, fraction in the low word).
    public var ntpTimestamp: UInt64
    public var rtpTimestamp: UInt32
    public var packetCount: UInt32
    public var octetCount: UInt32
    public var reports: [RTCPReportBlock]
    /// Profile-specific extension words after the report blocks, kept as they came.
    public var profileExtension: [UInt8]

    public init(
        ssrc: UInt32, ntpTimestamp: UInt64, rtpTimestamp: UInt32, packetCount: UInt32, octetCount: UInt32,
        reports: [RTCPReportBlock] = [], profileExtension: [UInt8] = []
    ) {
        self.ssrc = ssrc
        self.ntpTimestamp = ntpTimestamp
        self.rtpTimestamp = rtpTimestamp
        self.packetCount = packetCount
        self.octetCount = octetCount
        self.reports = reports
        self.profileExtension = profileExtension
    }

    static func parse(count: UInt8, _ r: inout ByteReader) throws(WireError) -> RTCPSenderReport {
        let ssrc = try r.u32("SR")
        let ntp = try r.u64("SR sender info")
        let rtp = try r.u32("SR sender info")
        let packets = try r.u32("SR sender info")
        let octets = try r.u32("SR sender info")
        try r.require(Int(count) * 24, "SR report blocks")
        var blocks: [RTCPReportBlock] = []
        for _ in 0..<count { blocks.append(try .parse(&r)) }
        return RTCPSenderReport(
            ssrc: ssrc, ntpTimestamp: ntp, rtpTimestamp: rtp, packetCount: packets, octetCount: octets,
            reports: blocks, profileExtension: Array(r.rest()))
    }

    func serializeBody(into out: inout [UInt8]) {
        out.appendU32(ssrc)
        out.appendU64(ntpTimestamp)
        out.appendU32(rtpTimestamp)
        out.appendU32(packetCount)
        out.appendU32(octetCount)
        for b in reports.prefix(31) { b.serialize(into: &out) }
        out.append(contentsOf: profileExtension)
    }
}

/// RR: [RFC 3550 §6.4.2](https://www.rfc-editor.org/rfc/rfc3550#section-6.4.2).
public struct RTCPReceiverReport: Hashable, Sendable {
    public var ssrc: UInt32
    public var reports: [RTCPReportBlock]
    public var profileExtension: [UInt8]

    public init(ssrc: UInt32, reports: [RTCPReportBlock] = [], profileExtension: [UInt8] = []) {
        self.ssrc = ssrc
        self.reports = reports
        self.profileExtension = profileExtension
    }

    static func parse(count: UInt8, _ r: inout ByteReader) throws(WireError) -> RTCPReceiverReport {
        let ssrc = try r.u32("RR")
        try r.require(Int(count) * 24, "RR report blocks")
        var blocks: [RTCPReportBlock] = []
        for _ in 0..<count { blocks.append(try .parse(&r)) }
        return RTCPReceiverReport(ssrc: ssrc, reports: blocks, profileExtension: Array(r.rest()))
    }

    func serializeBody(into out: inout [UInt8]) {
        out.appendU32(ssrc)
        for b in reports.prefix(31) { b.serialize(into: &out) }
        out.append(contentsOf: profileExtension)
    }
}

/// SDES: [RFC 3550 §6.5](https://www.rfc-editor.org/rfc/rfc3550#section-6.5).
public struct RTCPSourceDescription: Hashable, Sendable {
    public struct Item: Hashable, Sendable {
        /// 1 = CNAME, 2 = NAME, … 8 = PRIV.
        public var type: UInt8
        public var text: [UInt8]
        public init(type: UInt8, text: [UInt8]) {
            self.type = type
            self.text = text
        }
        public static func cname(_ s: String) -> Item { Item(type: 1, text: Array(s.utf8.prefix(255))) }
    }

    public struct Chunk: Hashable, Sendable {
        public var ssrc: UInt32
        public var items: [Item]
        public init(ssrc: UInt32, items: [Item]) {
            self.ssrc = ssrc
            self.items = items
        }
    }

    public var chunks: [Chunk]
    public init(chunks: [Chunk]) { self.chunks = chunks }

    static func parse(count: UInt8, _ r: inout ByteReader) throws(WireError) -> RTCPSourceDescription {
        var chunks: [Chunk] = []
        for _ in 0..<count {
            let chunkStart = r.index
            let ssrc = try r.u32("SDES chunk")
            var items: [Item] = []
            while true {
                let type = try r.u8("SDES item")
                if type == 0 { break }
                let len = Int(try r.u8("SDES item length"))
                items.append(Item(type: type, text: Array(try r.take(len, "SDES item text"))))
            }
            // Each chunk ends on a 32-bit boundary (null octets after the end item).
            let used = r.index - chunkStart
            let pad = (4 - used % 4) % 4
            try r.skip(min(pad, r.remaining), "SDES padding")
            chunks.append(Chunk(ssrc: ssrc, items: items))
        }
        return RTCPSourceDescription(chunks: chunks)
    }

    func serializeBody(into out: inout [UInt8]) {
        for chunk in chunks.prefix(31) {
            let start = out.count
            out.appendU32(chunk.ssrc)
            for item in chunk.items where item.type != 0 {
                out.append(item.type)
                out.append(UInt8(min(item.text.count, 255)))
                out.append(contentsOf: item.text.prefix(255))
            }
            out.append(0)
            while (out.count - start) % 4 != 0 { out.append(0) }
        }
    }
}

/// BYE: [RFC 3550 §6.6](https://www.rfc-editor.org/rfc/rfc3550#section-6.6).
public struct RTCPGoodbye: Hashable, Sendable {
    public var sources: [UInt32]
    public var reason: [UInt8]?

    public init(sources: [UInt32], reason: [UInt8]? = nil) {
        self.sources = sources
        self.reason = reason
    }

    static func parse(count: UInt8, _ r: inout ByteReader) throws(WireError) -> RTCPGoodbye {
        try r.require(Int(count) * 4, "BYE sources")
        var sources: [UInt32] = []
        for _ in 0..<count { sources.append(try r.u32()) }
        var reason: [UInt8]?
        if !r.isAtEnd {
            let len = Int(try r.u8("BYE reason length"))
            reason = Array(try r.take(len, "BYE reason"))
        }
        return RTCPGoodbye(sources: sources, reason: reason)
    }

    func serializeBody(into out: inout [UInt8]) {
        for s in sources.prefix(31) { out.appendU32(s) }
        if let reason {
            out.append(UInt8(min(reason.count, 255)))
            out.append(contentsOf: reason.prefix(255))
        }
    }
}

/// Generic NACK, RTPFB FMT 1 ([RFC 4585 §6.2.1](https://www.rfc-editor.org/rfc/rfc4585#section-6.2.1)).
///
/// Each FCI entry names a packet id (PID) and a bitmask of the 16 following losses (BLP).
public struct RTCPGenericNACK: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var packetID: UInt16
        public var lostBitmask: UInt16
        public init(packetID: UInt16, lostBitmask: UInt16) {
            self.packetID = packetID
            self.lostBitmask = lostBitmask
        }
    }

    public var senderSSRC: UInt32
    public var mediaSSRC: UInt32
    public var entries: [Entry]

    public init(senderSSRC: UInt32, mediaSSRC: UInt32, entries: [Entry]) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.entries = entries
    }

    /// Builds the shortest entry list for these lost sequence numbers (in send order, wrap-aware).
    public init(senderSSRC: UInt32, mediaSSRC: UInt32, lost: [UInt16]) {
        var entries: [Entry] = []
        for seq in lost {
            if var last = entries.last {
                let distance = seq &- last.packetID
                if distance >= 1 && distance <= 16 {
                    last.lostBitmask |= 1 << (distance - 1)
                    entries[entries.count - 1] = last
                    continue
                }
            }
            entries.append(Entry(packetID: seq, lostBitmask: 0))
        }
        self.init(senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, entries: entries)
    }

    /// Every sequence number the entries report lost.
    public var lostSequenceNumbers: [UInt16] {
        var out: [UInt16] = []
        for e in entries {
            out.append(e.packetID)
            for bit in 0..<16 where e.lostBitmask & (1 << bit) != 0 {
                out.append(e.packetID &+ UInt16(bit + 1))
            }
        }
        return out
    }

    static func parse(_ r: inout ByteReader) throws(WireError) -> RTCPGenericNACK {
        let sender = try r.u32("NACK")
        let media = try r.u32("NACK")
        guard r.remaining % 4 == 0, r.remaining > 0 else { throw WireError.badLength("NACK FCI") }
        var entries: [Entry] = []
        while !r.isAtEnd { entries.append(Entry(packetID: try r.u16(), lostBitmask: try r.u16())) }
        return RTCPGenericNACK(senderSSRC: sender, mediaSSRC: media, entries: entries)
    }

    func serializeBody(into out: inout [UInt8]) {
        out.appendU32(senderSSRC)
        out.appendU32(mediaSSRC)
        for e in entries {
            out.appendU16(e.packetID)
            out.appendU16(e.lostBitmask)
        }
    }
}

/// PLI, PSFB FMT 1 ([RFC 4585 §6.3.1](https://www.rfc-editor.org/rfc/rfc4585#section-6.3.1)): no FCI.
public struct RTCPPictureLossIndication: Hashable, Sendable {
    public var senderSSRC: UInt32
    public var mediaSSRC: UInt32
    public init(senderSSRC: UInt32, mediaSSRC: UInt32) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
    }
    static func parse(_ r: inout ByteReader) throws(WireError) -> RTCPPictureLossIndication {
        RTCPPictureLossIndication(senderSSRC: try r.u32("PLI"), mediaSSRC: try r.u32("PLI"))
    }
}

/// FIR, PSFB FMT 4 ([RFC 5104 §4.3.1](https://www.rfc-editor.org/rfc/rfc5104#section-4.3.1)).
public struct RTCPFullIntraRequest: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var ssrc: UInt32
        public var sequenceNumber: UInt8
        public init(ssrc: UInt32, sequenceNumber: UInt8) {
            self.ssrc = ssrc
            self.sequenceNumber = sequenceNumber
        }
    }
    public var senderSSRC: UInt32
    public var entries: [Entry]

    public init(senderSSRC: UInt32, entries: [Entry]) {
        self.senderSSRC = senderSSRC
        self.entries = entries
    }

    static func parse(_ r: inout ByteReader) throws(WireError) -> RTCPFullIntraRequest {
        let sender = try r.u32("FIR")
        _ = try r.u32("FIR media SSRC")  // unused, SHALL be 0 (§4.3.1.2)
        guard r.remaining % 8 == 0, r.remaining > 0 else { throw WireError.badLength("FIR FCI") }
        var entries: [Entry] = []
        while !r.isAtEnd {
            let ssrc = try r.u32()
            let seq = try r.u8()
            try r.skip(3)
            entries.append(Entry(ssrc: ssrc, sequenceNumber: seq))
        }
        return RTCPFullIntraRequest(senderSSRC: sender, entries: entries)
    }

    func serializeBody(into out: inout [UInt8]) {
        out.appendU32(senderSSRC)
        out.appendU32(0)
        for e in entries {
            out.appendU32(e.ssrc)
            out.append(e.sequenceNumber)
            out.append(contentsOf: [0, 0, 0])
        }
    }
}

/// REMB, PSFB FMT 15 with the "REMB" identifier
/// ([draft-alvestrand-rmcat-remb-03 §2.2](https://datatracker.ietf.org/doc/html/draft-alvestrand-rmcat-remb-03#section-2.2)).
public struct RTCPREMB: Hashable, Sendable {
    public var senderSSRC: UInt32
    /// Estimated maximum bitrate in bits per second (sent as 6-bit exponent × 18-bit mantissa, so
    /// large values are rounded down to what that form can say).
    public var bitrate: UInt64
    public var ssrcs: [UInt32]

    public init(senderSSRC: UInt32, bitrate: UInt64, ssrcs: [UInt32]) {
        self.senderSSRC = senderSSRC
        self.bitrate = bitrate
        self.ssrcs = ssrcs
    }

    static func matches(_ body: ArraySlice<UInt8>) -> Bool {
        body.count >= 12 && body.dropFirst(8).prefix(4).elementsEqual([0x52, 0x45, 0x4D, 0x42])
    }

    static func parse(_ r: inout ByteReader) throws(WireError) -> RTCPREMB {
        let sender = try r.u32("REMB")
        try r.skip(8, "REMB")  // media SSRC (0) and "REMB"
        let n = Int(try r.u8("REMB"))
        let b1 = try r.u8("REMB"), b2 = try r.u8("REMB"), b3 = try r.u8("REMB")
        let exp = UInt64(b1 >> 2)
        let mantissa = UInt64(b1 & 0x03) << 16 | UInt64(b2) << 8 | UInt64(b3)
        guard exp <= 46 else { throw WireError.invalid("REMB exponent \(exp)") }
        try r.require(n * 4, "REMB SSRC list")
        var ssrcs: [UInt32] = []
        for _ in 0..<n { ssrcs.append(try r.u32()) }
        return RTCPREMB(senderSSRC: sender, bitrate: mantissa << exp, ssrcs: ssrcs)
    }

    func serializeBody(into out: inout [UInt8]) {
        out.appendU32(senderSSRC)
        out.appendU32(0)
        out.append(contentsOf: [0x52, 0x45, 0x4D, 0x42])
        var exp: UInt64 = 0
        while bitrate >> exp > 0x3FFFF { exp += 1 }
        let mantissa = bitrate >> exp
        out.append(UInt8(min(ssrcs.count, 255)))
        out.append(UInt8(exp << 2) | UInt8(mantissa >> 16))
        out.append(UInt8(truncatingIfNeeded: mantissa >> 8))
        out.append(UInt8(truncatingIfNeeded: mantissa))
        for s in ssrcs.prefix(255) { out.appendU32(s) }
    }
}
