/// The VP8 payload descriptor ([RFC 7741 §4.2](https://www.rfc-editor.org/rfc/rfc7741#section-4.2)).
///
/// ```
///       0 1 2 3 4 5 6 7
///      +-+-+-+-+-+-+-+-+
///      |X|R|N|S|R| PID | (REQUIRED)
///      +-+-+-+-+-+-+-+-+
/// X:   |I|L|T|K| RSV   | (OPTIONAL)
///      +-+-+-+-+-+-+-+-+
/// I:   |M| PictureID   | (OPTIONAL, 7 or 15 bits)
///      +-+-+-+-+-+-+-+-+
/// L:   |   TL0PICIDX   | (OPTIONAL)
///      +-+-+-+-+-+-+-+-+
/// T/K: |TID|Y| KEYIDX  | (OPTIONAL)
///      +-+-+-+-+-+-+-+-+
/// ```
public struct VP8PayloadDescriptor: Hashable, Sendable {
    public enum PictureID: Hashable, Sendable {
        case short(UInt8)  // 7 bits
        case long(UInt16)  // 15 bits

        public var value: UInt16 {
            switch self {
            case .short(let v): UInt16(v & 0x7F)
            case .long(let v): v & 0x7FFF
            }
        }
    }

    public var nonReference: Bool
    /// S: the first packet of a VP8 partition.
    public var startOfPartition: Bool
    public var partitionIndex: UInt8
    public var pictureID: PictureID?
    public var tl0PicIndex: UInt8?
    public var temporalLayer: UInt8?
    public var layerSync: Bool
    public var keyIndex: UInt8?

    public init(
        nonReference: Bool = false, startOfPartition: Bool, partitionIndex: UInt8 = 0,
        pictureID: PictureID? = nil, tl0PicIndex: UInt8? = nil, temporalLayer: UInt8? = nil,
        layerSync: Bool = false, keyIndex: UInt8? = nil
    ) {
        self.nonReference = nonReference
        self.startOfPartition = startOfPartition
        self.partitionIndex = partitionIndex & 0x07
        self.pictureID = pictureID
        self.tl0PicIndex = tl0PicIndex
        self.temporalLayer = temporalLayer.map { $0 & 0x3 }
        self.layerSync = temporalLayer == nil ? false : layerSync
        self.keyIndex = keyIndex.map { $0 & 0x1F }
    }

    /// Parses the descriptor at the start of an RTP payload; returns it with its length in bytes.
    public static func parse(_ payload: ArraySlice<UInt8>) throws(WireError) -> (VP8PayloadDescriptor, length: Int) {
        var r = ByteReader(payload)
        let b0 = try r.u8("VP8 descriptor")
        var d = VP8PayloadDescriptor(
            nonReference: b0 & 0x20 != 0, startOfPartition: b0 & 0x10 != 0, partitionIndex: b0 & 0x07)
        if b0 & 0x80 != 0 {
            let x = try r.u8("VP8 extension byte")
            if x & 0x80 != 0 {
                let p0 = try r.u8("VP8 picture id")
                if p0 & 0x80 != 0 {
                    let p1 = try r.u8("VP8 picture id")
                    d.pictureID = .long(UInt16(p0 & 0x7F) << 8 | UInt16(p1))
                } else {
                    d.pictureID = .short(p0)
                }
            }
            if x & 0x40 != 0 { d.tl0PicIndex = try r.u8("VP8 TL0PICIDX") }
            if x & 0x30 != 0 {
                let t = try r.u8("VP8 TID/KEYIDX")
                if x & 0x20 != 0 {
                    d.temporalLayer = t >> 6
                    d.layerSync = t & 0x20 != 0
                }
                if x & 0x10 != 0 { d.keyIndex = t & 0x1F }
            }
        }
        guard !r.isAtEnd else { throw WireError.truncated("VP8 payload without data") }
        return (d, r.index - payload.startIndex)
    }

    public var serializedSize: Int {
        var n = 1
        if hasExtension {
            n += 1
            if let p = pictureID { n += (p.isLong ? 2 : 1) }
            if tl0PicIndex != nil { n += 1 }
            if temporalLayer != nil || keyIndex != nil { n += 1 }
        }
        return n
    }

    private var hasExtension: Bool {
        pictureID != nil || tl0PicIndex != nil || temporalLayer != nil || keyIndex != nil
    }

    public func serialize(into out: inout [UInt8]) {
        out.append(
            (hasExtension ? 0x80 : 0) | (nonReference ? 0x20 : 0) | (startOfPartition ? 0x10 : 0)
                | (partitionIndex & 0x07))
        guard hasExtension else { return }
        out.append(
            (pictureID != nil ? 0x80 : 0) | (tl0PicIndex != nil ? 0x40 : 0) | (temporalLayer != nil ? 0x20 : 0)
                | (keyIndex != nil ? 0x10 : 0))
        switch pictureID {
        case .short(let v): out.append(v & 0x7F)
        case .long(let v):
            out.append(0x80 | UInt8(v >> 8 & 0x7F))
            out.append(UInt8(truncatingIfNeeded: v))
        case nil: break
        }
        if let tl0PicIndex { out.append(tl0PicIndex) }
        if temporalLayer != nil || keyIndex != nil {
            out.append((temporalLayer ?? 0) << 6 | (layerSync ? 0x20 : 0) | (keyIndex ?? 0))
        }
    }

    /// The temporal layer fields of the descriptor at the start of `payload`, read in place (the
    /// relay looks at every packet of a simulcast layer): its TID and Y bit, and whether the packet
    /// begins a frame (S = 1, partition 0). Nil without a TID (no T bit) or when the descriptor
    /// is cut short.
    public static func temporalLayer(ofPayload p: UnsafeRawBufferPointer) -> (layer: UInt8, layerSync: Bool, startOfFrame: Bool)? {
        guard p.count >= 2, p[0] & 0x80 != 0 else { return nil }
        let x = p[1]
        guard x & 0x20 != 0 else { return nil }
        var i = 2
        if x & 0x80 != 0 {
            guard i < p.count else { return nil }
            i += p[i] & 0x80 != 0 ? 2 : 1
        }
        if x & 0x40 != 0 { i += 1 }
        guard i < p.count else { return nil }
        return (p[i] >> 6, p[i] & 0x20 != 0, p[0] & 0x10 != 0 && p[0] & 0x07 == 0)
    }

    /// True when this packet begins a VP8 key frame: S = 1, PID = 0 and the P bit of the VP8
    /// payload header is 0 ([RFC 7741 §4.3](https://www.rfc-editor.org/rfc/rfc7741#section-4.3)).
    public static func isKeyFrameStart(_ payload: ArraySlice<UInt8>) -> Bool {
        guard let (d, len) = try? parse(payload), d.startOfPartition, d.partitionIndex == 0 else { return false }
        return payload[payload.startIndex + len] & 0x01 == 0
    }
}

extension VP8PayloadDescriptor.PictureID {
    var isLong: Bool { if case .long = self { true } else { false } }
}

/// Splits encoded VP8 frames into RTP payloads (RFC 7741 §4) with a 15-bit picture id.
public struct VP8Packetizer: Sendable {
    /// Payload bytes per packet including the descriptor.
    public var maxPayloadSize: Int
    public private(set) var pictureID: UInt16

    public init(maxPayloadSize: Int = 1_180, initialPictureID: UInt16 = 0) {
        self.maxPayloadSize = max(maxPayloadSize, 8)
        self.pictureID = initialPictureID & 0x7FFF
    }

    /// The payloads of one frame, in order; the last one takes the RTP marker bit.
    public mutating func packetize(frame: [UInt8]) -> [[UInt8]] {
        defer { pictureID = (pictureID &+ 1) & 0x7FFF }
        var out: [[UInt8]] = []
        var offset = 0
        repeat {
            let d = VP8PayloadDescriptor(startOfPartition: offset == 0, pictureID: .long(pictureID))
            let room = maxPayloadSize - d.serializedSize
            let n = min(room, frame.count - offset)
            var payload: [UInt8] = []
            payload.reserveCapacity(d.serializedSize + n)
            d.serialize(into: &payload)
            payload.append(contentsOf: frame[offset..<(offset + n)])
            out.append(payload)
            offset += n
        } while offset < frame.count
        return out
    }
}

/// Reassembles VP8 frames from RTP packets that arrive in sequence order (a jitter buffer's
/// output): a frame is complete when its packets run without a gap from one with S = 1,
/// partition 0, to one with the marker bit, all with the same timestamp.
public struct VP8FrameAssembler: Sendable {
    public struct Frame: Hashable, Sendable {
        public var timestamp: UInt32
        public var data: [UInt8]
        public var isKeyFrame: Bool
        public var pictureID: UInt16?
        public var firstSequence: UInt16
        public var lastSequence: UInt16
    }

    private var current: [UInt8] = []
    private var currentTimestamp: UInt32 = 0
    private var currentKey = false
    private var currentPictureID: UInt16?
    private var firstSequence: UInt16 = 0
    private var expectedSequence: UInt16 = 0
    private var inFrame = false
    /// Frames dropped because a packet was missing or malformed.
    public private(set) var droppedFrames = 0
    /// Largest frame accepted, to bound memory from a sender that never sets the marker.
    public var maxFrameSize: Int

    public init(maxFrameSize: Int = 4 << 20) { self.maxFrameSize = maxFrameSize }

    /// Feeds one packet; returns a frame when this packet completes one.
    public mutating func push(_ packet: RTPPacket) -> Frame? {
        let payload = packet.payload[...]
        guard let (d, len) = try? VP8PayloadDescriptor.parse(payload) else {
            abandon()
            return nil
        }
        let body = payload.dropFirst(len)
        if d.startOfPartition && d.partitionIndex == 0 {
            if inFrame { droppedFrames += 1 }
            current.removeAll(keepingCapacity: true)
            currentTimestamp = packet.header.timestamp
            currentKey = body.first.map { $0 & 1 == 0 } ?? false
            currentPictureID = d.pictureID?.value
            firstSequence = packet.header.sequenceNumber
            inFrame = true
        } else {
            guard inFrame, packet.header.sequenceNumber == expectedSequence,
                packet.header.timestamp == currentTimestamp
            else {
                abandon()
                return nil
            }
        }
        guard current.count + body.count <= maxFrameSize else {
            abandon()
            return nil
        }
        current.append(contentsOf: body)
        expectedSequence = packet.header.sequenceNumber &+ 1
        guard packet.header.marker else { return nil }
        inFrame = false
        return Frame(
            timestamp: currentTimestamp, data: current, isKeyFrame: currentKey, pictureID: currentPictureID,
            firstSequence: firstSequence, lastSequence: packet.header.sequenceNumber)
    }

    /// Whether a frame is in progress (its first packet came, its last not yet).
    public var isAssembling: Bool { inFrame }

    /// Drops the frame in progress (a gap was detected upstream).
    public mutating func abandon() {
        if inFrame { droppedFrames += 1 }
        inFrame = false
        current.removeAll(keepingCapacity: true)
    }
}
