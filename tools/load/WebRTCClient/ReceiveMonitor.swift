import MediaPipeline
import MediaWire

/// What a simulated viewer sees of the video it receives, modelled on a real receiver: frames are
/// assembled from packets (VP8 over RTP, [RFC 7741 §4](https://www.rfc-editor.org/rfc/rfc7741#section-4)),
/// and a frame is *rendered* when it is complete and the frame before it was rendered, or when it
/// is a complete key frame — a VP8 delta frame cannot be decoded without its predecessor. For each
/// rendered frame the monitor gives glass-to-glass latency (now − abs-capture-time), and it keeps
/// freezes (gaps between rendered frames over 500 ms), what to NACK
/// ([RFC 4585 §6.2.1](https://www.rfc-editor.org/rfc/rfc4585#section-6.2.1)) and when to ask for a
/// key frame (PLI, §6.3.1). Loss and interarrival jitter follow RFC 3550 (``RTPReceiveStatistics``).
/// I/O-free: times are microseconds on the capture clock's timescale, passed in.
public struct ReceiveMonitor: Sendable {
    /// A rendered frame.
    public struct RenderedFrame: Sendable, Equatable {
        public var isKeyFrame: Bool
        /// now − capture time, when the frame carried one.
        public var glassToGlassMicros: Int64?
        /// Time since the previous rendered frame (nil for the first).
        public var gapMicros: Int64?
    }

    private struct PendingFrame {
        var packets = Set<Int64>()
        var start: Int64?
        var end: Int64?
        var isKeyFrame = false
        var capture: Int64?
        var firstArrival: Int64
        var isComplete: Bool {
            guard let start, let end, end >= start else { return false }
            return packets.count == Int(end - start + 1)
        }
    }

    public private(set) var video = RTPReceiveStatistics(clockRate: 90_000)
    public private(set) var audio = RTPReceiveStatistics(clockRate: 48_000)
    public private(set) var renderedFrames = 0
    /// Frames given up: never completed, or overtaken by a key frame.
    public private(set) var abandonedFrames = 0
    public private(set) var freezes = 0
    public private(set) var freezeMicros: Int64 = 0
    public private(set) var nackedPackets = 0
    /// Packets that arrived after they were NACKed (retransmissions, or very late originals).
    public private(set) var recoveredPackets = 0
    /// Packets that arrived out of order before they were NACKed (reordering).
    public private(set) var reorderedPackets = 0
    public private(set) var keyFramesAsked = 0
    public private(set) var firstRenderedAt: Int64?
    public private(set) var lastRenderedAt: Int64?

    /// Longest gap that is not a freeze.
    public var freezeThreshold: Int64 = 500_000
    /// How often a missing packet is NACKed again, and for how long before it is given up.
    public var nackInterval: Int64 = 100_000
    public var nackGiveUp: Int64 = 1_000_000
    /// At most one PLI per this interval.
    public var pliInterval: Int64 = 500_000

    private var unwrapper = SequenceUnwrapper()
    private var highest: Int64?
    private var frames: [UInt32: PendingFrame] = [:]
    private var lastRenderedEnd: Int64?
    /// Missing sequence numbers → (first noticed, last NACKed).
    private var missing: [Int64: (since: Int64, nacked: Int64?)] = [:]
    private var wantKeyFrame = true
    private var lastPLI: Int64?
    private var lastProgress: Int64?

    /// The first `now` seen: RFC 3550 statistics run on time since then (their arithmetic is
    /// in clock-rate units and must not overflow on an NTP-sized clock).
    private var epoch: Int64?

    public init() {}

    private mutating func since(_ now: Int64) -> MediaTime {
        if epoch == nil { epoch = now }
        return MediaTime(microseconds: now - epoch!)
    }

    public mutating func receiveAudio(sequenceNumber: UInt16, timestamp: UInt32, size: Int, now: Int64) {
        audio.record(sequenceNumber: sequenceNumber, timestamp: timestamp, size: size, arrival: since(now))
    }

    /// One video packet (decrypted). Returns the frames it let render, in order.
    public mutating func receiveVideo(
        sequenceNumber: UInt16, timestamp: UInt32, marker: Bool, payload: ArraySlice<UInt8>, captureMicros: Int64?, size: Int, now: Int64
    ) -> [RenderedFrame] {
        video.record(sequenceNumber: sequenceNumber, timestamp: timestamp, size: size, arrival: since(now))
        let seq = unwrapper.unwrap(sequenceNumber)
        if lastProgress == nil { lastProgress = now }
        if let h = highest {
            if seq > h + 1 {
                if seq - h > 512 {
                    missing.removeAll()  // a jump, not a loss burst to repair: start over from a key frame
                    wantKeyFrame = true
                } else {
                    for s in (h + 1)..<seq { missing[s] = (now, nil) }
                }
            } else if seq <= h, let state = missing.removeValue(forKey: seq) {
                if state.nacked != nil { recoveredPackets += 1 } else { reorderedPackets += 1 }
            }
        }
        highest = max(highest ?? seq, seq)
        if let end = lastRenderedEnd, seq <= end { return [] }  // late copy of a rendered frame's packet

        guard let (descriptor, _) = try? VP8PayloadDescriptor.parse(payload) else { return [] }
        var frame = frames[timestamp] ?? PendingFrame(firstArrival: now)
        frame.packets.insert(seq)
        if descriptor.startOfPartition && descriptor.partitionIndex == 0 {
            frame.start = seq
            frame.isKeyFrame = VP8PayloadDescriptor.isKeyFrameStart(payload)
        }
        if marker { frame.end = seq }
        if frame.capture == nil { frame.capture = captureMicros }
        frames[timestamp] = frame
        return render(now: now)
    }

    private mutating func render(now: Int64) -> [RenderedFrame] {
        var out: [RenderedFrame] = []
        while true {
            // The next frame in order, or failing that the newest complete key frame.
            let next =
                frames.first { $0.value.isComplete && lastRenderedEnd != nil && $0.value.start == lastRenderedEnd! + 1 }
                ?? frames.filter { $0.value.isComplete && $0.value.isKeyFrame && $0.value.start! > (lastRenderedEnd ?? .min) }
                .max { $0.value.start! < $1.value.start! }
            guard let (timestamp, frame) = next else { break }
            frames.removeValue(forKey: timestamp)
            let end = frame.end!
            // Frames before this one are now useless.
            for (t, f) in frames where (f.start ?? f.packets.min()!) < end {
                frames.removeValue(forKey: t)
                abandonedFrames += 1
            }
            for s in missing.keys where s <= end { missing.removeValue(forKey: s) }
            lastRenderedEnd = end
            if frame.isKeyFrame { wantKeyFrame = false }
            var gap: Int64?
            if let last = lastRenderedAt {
                gap = now - last
                if gap! > freezeThreshold {
                    freezes += 1
                    freezeMicros += gap!
                }
            }
            out.append(RenderedFrame(isKeyFrame: frame.isKeyFrame, glassToGlassMicros: frame.capture.map { now - $0 }, gapMicros: gap))
            renderedFrames += 1
            if firstRenderedAt == nil { firstRenderedAt = now }
            lastRenderedAt = now
            lastProgress = now
        }
        return out
    }

    /// A report block about the video or the audio stream; advances its report interval.
    public mutating func reportBlock(video isVideo: Bool, ssrc: UInt32, now: Int64) -> RTCPReportBlock {
        let t = since(now)
        return isVideo ? video.reportBlock(ssrc: ssrc, now: t) : audio.reportBlock(ssrc: ssrc, now: t)
    }

    /// Sequence numbers to NACK now: newly missing ones, and again every ``nackInterval`` until
    /// ``nackGiveUp``; a packet given up means a key frame is needed.
    public mutating func nacks(now: Int64) -> [UInt16] {
        var out: [UInt16] = []
        for (seq, state) in missing {
            if now - state.since > nackGiveUp {
                missing.removeValue(forKey: seq)
                wantKeyFrame = true
            } else if state.nacked.map({ now - $0 >= nackInterval }) ?? true {
                missing[seq] = (state.since, now)
                out.append(UInt16(truncatingIfNeeded: seq))
            }
        }
        nackedPackets += out.count
        return out.sorted { Int16(bitPattern: $0 &- $1) < 0 }
    }

    /// True when a PLI should go now: no key frame yet, a packet given up, or packets arriving
    /// without a frame rendering for ``freezeThreshold``; at most one per ``pliInterval``.
    public mutating func shouldSendPLI(now: Int64) -> Bool {
        // Pending frames that can never render (too old) are dropped here too.
        for (t, f) in frames where now - f.firstArrival > nackGiveUp * 2 {
            frames.removeValue(forKey: t)
            abandonedFrames += 1
        }
        let stalled = highest != nil && lastProgress.map { now - $0 > freezeThreshold } ?? false
        guard wantKeyFrame && highest != nil || stalled else { return false }
        guard lastPLI.map({ now - $0 >= pliInterval }) ?? true else { return false }
        lastPLI = now
        if stalled { lastProgress = now }
        keyFramesAsked += 1
        return true
    }
}
