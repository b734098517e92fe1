import MediaWire

/// A ``JitterBuffer`` for VP8 that releases complete frames only.
///
/// After a loss that NACK could not repair, the frames that follow reference a picture the
/// decoder never got: they are dropped and a key frame is requested (rate-limited) until one
/// arrives, so the decoder never sees a broken reference chain.
public struct VideoJitterBuffer: Sendable {
    public enum Output: Sendable, Equatable {
        case frame(VP8FrameAssembler.Frame, packets: [RTPPacket], arrival: MediaTime)
        /// Send a PLI (RFC 4585 §6.3.1) upstream.
        case requestKeyFrame
    }

    public private(set) var buffer: JitterBuffer
    private var assembler = VP8FrameAssembler()
    private var framePackets: [RTPPacket] = []
    private var waitingForKeyFrame = true
    private var lastKeyFrameRequest: MediaTime?
    /// Shortest time between two key-frame requests (ms).
    public var keyFrameRequestInterval: Double = 250
    public private(set) var framesReleased = 0
    /// Complete frames dropped because their reference chain was broken.
    public private(set) var framesDropped = 0
    public private(set) var keyFrameRequests = 0

    public init(configuration: JitterBufferConfiguration = JitterBufferConfiguration(clockRate: 90_000)) {
        buffer = JitterBuffer(configuration: configuration)
    }

    @discardableResult
    public mutating func insert(_ packet: RTPPacket, arrival: MediaTime) -> JitterBuffer.InsertResult {
        buffer.insert(packet, arrival: arrival)
    }

    public mutating func nackList(now: MediaTime) -> [UInt16] { buffer.nackList(now: now) }
    public mutating func setRoundTripTime(milliseconds: Double) { buffer.setRoundTripTime(milliseconds: milliseconds) }
    public var nextPlayout: MediaTime? { buffer.nextPlayout }
    public var statistics: JitterBufferStatistics { buffer.statistics }
    /// Packets held for the frame being assembled.
    public var heldPackets: Int { framePackets.count }

    public mutating func pop(now: MediaTime) -> [Output] {
        var out: [Output] = []
        for event in buffer.pop(now: now) {
            switch event {
            case .lost:
                assembler.abandon()
                framePackets.removeAll(keepingCapacity: true)
                waitingForKeyFrame = true
                requestKeyFrame(now: now, into: &out)
            case .packet(let packet, let arrival):
                if VP8PayloadDescriptor.isKeyFrameStart(packet.payload[...]) || framePackets.isEmpty
                    || framePackets.last?.header.timestamp != packet.header.timestamp
                {
                    framePackets.removeAll(keepingCapacity: true)
                }
                framePackets.append(packet)
                guard let frame = assembler.push(packet) else {
                    // Dropped by the assembler (no start, a gap, over its size cap): nothing of it is kept.
                    if !assembler.isAssembling { framePackets.removeAll(keepingCapacity: true) }
                    continue
                }
                let packets = framePackets
                framePackets.removeAll(keepingCapacity: true)
                if waitingForKeyFrame && !frame.isKeyFrame {
                    framesDropped += 1
                    requestKeyFrame(now: now, into: &out)
                    continue
                }
                if frame.isKeyFrame { waitingForKeyFrame = false }
                framesReleased += 1
                out.append(.frame(frame, packets: packets, arrival: arrival))
            }
        }
        return out
    }

    private mutating func requestKeyFrame(now: MediaTime, into out: inout [Output]) {
        if let last = lastKeyFrameRequest, (now - last).milliseconds < keyFrameRequestInterval { return }
        lastKeyFrameRequest = now
        keyFrameRequests += 1
        out.append(.requestKeyFrame)
    }
}

/// A ``JitterBuffer`` for Opus that turns losses into playout instructions
/// ([RFC 7587 §3](https://www.rfc-editor.org/rfc/rfc7587#section-3)): conceal each lost frame,
/// except the last of a run, which the next packet's in-band FEC may recover.
public struct AudioJitterBuffer: Sendable {
    public enum Output: Sendable, Equatable {
        case packet(RTPPacket, arrival: MediaTime)
        /// Play `samples` (per channel, 48 kHz) of packet-loss concealment.
        case conceal(samples: Int)
        /// Recover the lost frame just before `next` from its FEC data (`samples` per channel).
        case recover(from: RTPPacket, samples: Int)
    }

    public private(set) var buffer: JitterBuffer
    private var lastTimestamp: UInt32?
    /// The longest run of lost frames concealed one by one (200 ms): past it, the playout skips
    /// the gap rather than decode and send seconds of concealment at once.
    public static let maximumConcealedFrames = 10

    public init(configuration: JitterBufferConfiguration = JitterBufferConfiguration(clockRate: 48_000)) {
        buffer = JitterBuffer(configuration: configuration)
    }

    @discardableResult
    public mutating func insert(_ packet: RTPPacket, arrival: MediaTime) -> JitterBuffer.InsertResult {
        buffer.insert(packet, arrival: arrival)
    }

    public mutating func nackList(now: MediaTime) -> [UInt16] { buffer.nackList(now: now) }
    public var nextPlayout: MediaTime? { buffer.nextPlayout }
    public var statistics: JitterBufferStatistics { buffer.statistics }

    public mutating func pop(now: MediaTime) -> [Output] {
        var out: [Output] = []
        var pendingLoss = 0
        for event in buffer.pop(now: now) {
            switch event {
            case .lost(_, let count):
                pendingLoss = count
            case .packet(let packet, let arrival):
                if pendingLoss > Self.maximumConcealedFrames {
                    // A gap this long is not papered over: the stream goes on from this packet.
                    pendingLoss = 0
                } else if pendingLoss > 0 {
                    // Spread the timestamp gap over the lost frames; 20 ms if unknown.
                    var each = 960
                    if let last = lastTimestamp {
                        let gap = Int(packet.header.timestamp &- last)
                        if gap > 0 && gap / (pendingLoss + 1) <= 5_760 { each = gap / (pendingLoss + 1) }
                    }
                    for _ in 0..<(pendingLoss - 1) { out.append(.conceal(samples: each)) }
                    out.append(.recover(from: packet, samples: each))
                    buffer.addConcealed(pendingLoss)
                    pendingLoss = 0
                }
                lastTimestamp = packet.header.timestamp
                out.append(.packet(packet, arrival: arrival))
            }
        }
        return out
    }
}
