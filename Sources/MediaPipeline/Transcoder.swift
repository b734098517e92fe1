import MediaCodecs
import MediaWire

/// How long each stage took for one frame (ms). `jitterWait` is on the injected clock (time in
/// the jitter buffer); the others are measured processing time on the machine's monotonic clock.
public struct StageTimes: Sendable, Equatable {
    public var jitterWait = 0.0
    public var decode = 0.0
    public var scale = 0.0
    public var encode = 0.0
    public var packetize = 0.0

    public init() {}

    /// What the transcoder added to the frame's latency: waiting plus processing.
    public var total: Double { jitterWait + decode + scale + encode + packetize }

    mutating func accumulate(_ other: StageTimes) {
        jitterWait += other.jitterWait
        decode += other.decode
        scale += other.scale
        encode += other.encode
        packetize += other.packetize
    }
}

/// One frame that left the transcoder.
public struct TranscodedFrame: Sendable, Equatable {
    /// RTP timestamp, the same as the input frame's (both clocks are the codec's RTP clock).
    public var timestamp: UInt32
    /// Capture time carried from the input (abs-capture-time), in microseconds, if it had one.
    public var captureTime: Int64?
    public var stages: StageTimes
}

/// What one ``VideoTranscoder/process(now:)`` or ``AudioTranscoder/process(now:)`` call asks the caller to do.
public struct TranscoderOutput: Sendable {
    /// RTP packets to send to the branch's subscribers.
    public var packets: [RTPPacket] = []
    /// Sequence numbers to NACK towards the publisher.
    public var nack: [UInt16] = []
    /// Send a PLI to the publisher.
    public var requestKeyFrame = false
    public var frames: [TranscodedFrame] = []
}

/// Counters and mean stage times of a transcoder.
public struct TranscoderStatistics: Sendable {
    public var framesIn = 0
    public var framesOut = 0
    public var decodeErrors = 0
    /// Key frames refused for declaring a picture larger than the decoder takes.
    public var oversizeFrames = 0
    public var stageTotals = StageTimes()

    /// Mean per-stage time over all output frames (ms).
    public var meanStages: StageTimes {
        guard framesOut > 0 else { return StageTimes() }
        var m = stageTotals
        let n = Double(framesOut)
        m.jitterWait /= n; m.decode /= n; m.scale /= n; m.encode /= n; m.packetize /= n
        return m
    }
}

func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1_000 + Double(d.components.attoseconds) / 1e15
}

/// RTP in → jitter buffer → VP8 decode → scale → VP8 encode → packetize → RTP out.
///
/// I/O-free: the caller feeds packets with their arrival time and calls ``process(now:)`` when
/// ``nextWakeup`` comes (or on a tick); it sends what the output says.
public final class VideoTranscoder {
    public struct Configuration: Sendable {
        public var width: Int
        public var height: Int
        public var bitrate: Int
        public var framerate = 30
        public var payloadType: UInt8 = 96
        public var ssrc: UInt32
        public var maxPayloadSize = 1_180
        /// The abs-capture-time extension id, read on input and written on output.
        public var captureTimeExtensionID: UInt8?
        public var jitterBuffer = JitterBufferConfiguration(clockRate: 90_000)
        /// Key frames on request at most this often: a receiver that keeps losing packets keeps
        /// asking, and a key frame each time would only make it lose more.
        public var minimumKeyFrameInterval = MediaTime(microseconds: 500_000)

        public init(width: Int, height: Int, bitrate: Int, ssrc: UInt32, captureTimeExtensionID: UInt8? = nil) {
            self.width = width
            self.height = height
            self.bitrate = bitrate
            self.ssrc = ssrc
            self.captureTimeExtensionID = captureTimeExtensionID
        }
    }

    public let configuration: Configuration
    public private(set) var statistics = TranscoderStatistics()
    private var input: VideoJitterBuffer
    private let decoder: VP8Decoder
    private let encoder: VP8Encoder
    private var packetizer: VP8Packetizer
    private var scaled: I420Frame
    private var sequence: UInt16
    private var keyFrameRequested = false
    private var lastKeyFrame: MediaTime?
    private let clock = ContinuousClock()

    public init(_ configuration: Configuration) throws(CodecError) {
        self.configuration = configuration
        input = VideoJitterBuffer(configuration: configuration.jitterBuffer)
        decoder = try VP8Decoder()
        encoder = try VP8Encoder(
            width: configuration.width, height: configuration.height, bitrate: configuration.bitrate,
            framerate: configuration.framerate)
        packetizer = VP8Packetizer(maxPayloadSize: configuration.maxPayloadSize, initialPictureID: UInt16(configuration.ssrc & 0x7FFF))
        scaled = try I420Frame(width: configuration.width, height: configuration.height)
        sequence = UInt16(truncatingIfNeeded: configuration.ssrc >> 7)
    }

    /// A subscriber of this branch lost a picture: the next output frame is a key frame (the
    /// publisher is not asked) — or, within ``Configuration/minimumKeyFrameInterval`` of the last
    /// forced one, the first frame after it.
    public func requestKeyFrame() { keyFrameRequested = true }

    /// Changes the output bitrate (bits per second), e.g. from the subscribers' bandwidth estimate.
    public func setBitrate(_ bitrate: Int) { encoder.bitrate = bitrate }

    public func setRoundTripTime(milliseconds: Double) { input.setRoundTripTime(milliseconds: milliseconds) }

    public func receive(_ packet: RTPPacket, arrival: MediaTime) { input.insert(packet, arrival: arrival) }

    /// When to call ``process(now:)`` next, if a frame is waiting.
    public var nextWakeup: MediaTime? { input.nextPlayout }

    public var jitterStatistics: JitterBufferStatistics { input.statistics }

    public func process(now: MediaTime) -> TranscoderOutput {
        var out = TranscoderOutput()
        out.nack = input.nackList(now: now)
        for event in input.pop(now: now) {
            switch event {
            case .requestKeyFrame:
                out.requestKeyFrame = true
            case .frame(let frame, let packets, let arrival):
                statistics.framesIn += 1
                var stages = StageTimes()
                stages.jitterWait = (now - arrival).milliseconds
                let capture = captureTime(of: packets, timestamp: frame.timestamp)

                var t0 = clock.now
                let picture: I420Frame
                do {
                    picture = try decoder.decode(frame.data)
                } catch {
                    // A frame too large to decode is refused before libvpx allocates for it.
                    if error.code == .oversizeFrame { statistics.oversizeFrames += 1 } else { statistics.decodeErrors += 1 }
                    out.requestKeyFrame = true
                    continue
                }
                var t1 = clock.now
                stages.decode = milliseconds(t1 - t0)

                t0 = t1
                let source: I420Frame
                if picture.width == scaled.width && picture.height == scaled.height {
                    source = picture
                } else {
                    picture.scale(into: &scaled)
                    source = scaled
                }
                t1 = clock.now
                stages.scale = milliseconds(t1 - t0)

                t0 = t1
                // A request waits until the interval since the last forced key frame has passed.
                let forceKey = keyFrameRequested && (lastKeyFrame.map { now - $0 >= configuration.minimumKeyFrameInterval } ?? true)
                if forceKey {
                    keyFrameRequested = false
                    lastKeyFrame = now
                }
                guard let encoded = try? encoder.encode(source, pts: Int64(frame.timestamp), forceKeyFrame: forceKey) else {
                    continue
                }
                t1 = clock.now
                stages.encode = milliseconds(t1 - t0)

                t0 = t1
                let payloads = packetizer.packetize(frame: encoded.data)
                let extensions = Self.captureExtensions(capture, id: configuration.captureTimeExtensionID)
                for (i, payload) in payloads.enumerated() {
                    let header = RTPHeader(
                        marker: i == payloads.count - 1, payloadType: configuration.payloadType,
                        sequenceNumber: sequence, timestamp: frame.timestamp, ssrc: configuration.ssrc,
                        extensions: i == 0 ? extensions : nil)
                    sequence &+= 1
                    out.packets.append(RTPPacket(header: header, payload: payload))
                }
                stages.packetize = milliseconds(clock.now - t0)

                statistics.framesOut += 1
                statistics.stageTotals.accumulate(stages)
                out.frames.append(TranscodedFrame(timestamp: frame.timestamp, captureTime: capture, stages: stages))
            }
        }
        return out
    }

    /// The frame's capture time: carried by one of its packets, or else extrapolated from the last
    /// one carried along the RTP clock — senders such as libwebrtc attach it only about once a second.
    private func captureTime(of packets: [RTPPacket], timestamp: UInt32) -> Int64? {
        guard let id = configuration.captureTimeExtensionID else { return nil }
        if let t = packets.lazy.compactMap({ AbsoluteCaptureTime(in: $0.header, id: id)?.microseconds }).first {
            lastCapture = (timestamp, t)
            return t
        }
        guard let last = lastCapture else { return nil }
        return last.microseconds + Int64(Int32(bitPattern: timestamp &- last.timestamp)) * 1_000_000 / 90_000
    }
    private var lastCapture: (timestamp: UInt32, microseconds: Int64)?

    /// The abs-capture-time extension for an output packet, when there is an id and a time.
    static func captureExtensions(_ microseconds: Int64?, id: UInt8?) -> RTPHeaderExtensions? {
        guard let id, let microseconds else { return nil }
        return AbsoluteCaptureTime(microseconds: microseconds).headerExtensions(id: id)
    }
}

/// RTP in → jitter buffer → Opus decode (with PLC and FEC, mixed to the output channel count by
/// libopus itself) → Opus encode → RTP out.
public final class AudioTranscoder {
    public struct Configuration: Sendable {
        public var outputChannels = 1
        public var bitrate = 24_000
        /// Opus encoder complexity (0–10). A transcoded branch serves weak receivers at a low
        /// rate, where complexity buys little; 1 keeps one core's worth of encoders large.
        public var complexity = 1
        /// Encoder mode. `.audio` (CELT/hybrid) costs about a third of `.voip` (SILK); choose
        /// `.voip` with `inbandFEC` when the branch's receivers lose packets and cannot wait for NACK.
        public var application = OpusEncoder.Application.audio
        public var inbandFEC = false
        public var payloadType: UInt8 = 111
        public var ssrc: UInt32
        public var captureTimeExtensionID: UInt8?
        public var jitterBuffer = JitterBufferConfiguration(clockRate: 48_000)
        /// The codecs' internal rate. At 24 kbit/s Opus codes no more than 12 kHz of audio
        /// (super-wideband), so decoding and encoding at 24 kHz loses nothing audible and
        /// skips half the samples; RTP timestamps stay on Opus's 48 kHz clock (RFC 7587 §4.1).
        public var codecSampleRate = 24_000

        public init(ssrc: UInt32, outputChannels: Int = 1, bitrate: Int = 24_000, captureTimeExtensionID: UInt8? = nil) {
            self.ssrc = ssrc
            self.outputChannels = outputChannels
            self.bitrate = bitrate
            self.captureTimeExtensionID = captureTimeExtensionID
        }
    }

    public let configuration: Configuration
    public private(set) var statistics = TranscoderStatistics()
    private var input: AudioJitterBuffer
    private let decoder: OpusDecoder
    private let encoder: OpusEncoder
    /// Decoded, channel-mixed samples waiting to fill a 20 ms output frame.
    private var fifo: [Int16] = []
    private var fifoTimestamp: UInt32?
    private var lastCapture: (timestamp: UInt32, microseconds: Int64)?
    private var sequence: UInt16
    private let clock = ContinuousClock()
    /// 20 ms on the RTP clock (48 kHz) and in codec samples.
    private static let frameTicks = 960
    private var frameSamples: Int { configuration.codecSampleRate / 50 }
    /// Codec samples per RTP tick.
    private var ticksPerSample: Int { 48_000 / configuration.codecSampleRate }

    public init(_ configuration: Configuration) throws(CodecError) {
        self.configuration = configuration
        input = AudioJitterBuffer(configuration: configuration.jitterBuffer)
        // Decoding straight to the output channel count lets libopus do the down- or up-mix.
        decoder = try OpusDecoder(sampleRate: configuration.codecSampleRate, channels: configuration.outputChannels)
        encoder = try OpusEncoder(
            sampleRate: configuration.codecSampleRate, channels: configuration.outputChannels, application: configuration.application,
            bitrate: configuration.bitrate, complexity: configuration.complexity,
            inbandFEC: configuration.inbandFEC, expectedLossPercent: configuration.inbandFEC ? 10 : 0)
        sequence = UInt16(truncatingIfNeeded: configuration.ssrc >> 5)
    }

    public func receive(_ packet: RTPPacket, arrival: MediaTime) { input.insert(packet, arrival: arrival) }
    public var nextWakeup: MediaTime? { input.nextPlayout }
    public var jitterStatistics: JitterBufferStatistics { input.statistics }

    public func process(now: MediaTime) -> TranscoderOutput {
        var out = TranscoderOutput()
        out.nack = input.nackList(now: now)
        for event in input.pop(now: now) {
            var stages = StageTimes()
            let t0 = clock.now
            let pcm: [Int16]?
            var timestamp: UInt32?
            switch event {
            case .packet(let packet, let arrival):
                statistics.framesIn += 1
                stages.jitterWait = (now - arrival).milliseconds
                timestamp = packet.header.timestamp
                if let id = configuration.captureTimeExtensionID, let t = AbsoluteCaptureTime(in: packet.header, id: id) {
                    lastCapture = (packet.header.timestamp, t.microseconds)
                }
                pcm = try? decoder.decode(packet.payload)
                if pcm == nil { statistics.decodeErrors += 1 }
            case .conceal(let ticks):
                pcm = try? decoder.concealLoss(samples: ticks / ticksPerSample)
            case .recover(let next, let ticks):
                pcm = try? decoder.recoverPrevious(from: next.payload, samples: ticks / ticksPerSample)
            }
            stages.decode = milliseconds(clock.now - t0)
            guard let pcm else { continue }
            if let timestamp, let start = fifoTimestamp, !fifo.isEmpty {
                // Where this packet's samples would land on the RTP clock if nothing was skipped:
                // far from its own timestamp (a gap too long to conceal, a leap), start afresh.
                let end = start &+ UInt32(truncatingIfNeeded: fifo.count / configuration.outputChannels * ticksPerSample)
                if abs(Int64(Int32(bitPattern: timestamp &- end))) > Int64(Self.frameTicks * 10) { fifo.removeAll(keepingCapacity: true) }
            }
            if fifo.isEmpty, let timestamp { fifoTimestamp = timestamp }
            fifo += pcm
            encodeReady(stages: stages, into: &out)
        }
        return out
    }

    private func encodeReady(stages: StageTimes, into out: inout TranscoderOutput) {
        let n = frameSamples * configuration.outputChannels
        var stages = stages
        while fifo.count >= n {
            let t0 = clock.now
            let frame = Array(fifo.prefix(n))
            fifo.removeFirst(n)
            guard let payload = try? encoder.encode(frame) else { continue }
            let t1 = clock.now
            stages.encode = milliseconds(t1 - t0)
            let ts = fifoTimestamp ?? 0
            fifoTimestamp = ts &+ UInt32(Self.frameTicks)
            var capture: Int64?
            if let last = lastCapture {
                capture = last.microseconds + Int64(Int32(bitPattern: ts &- last.timestamp)) * 1_000_000 / 48_000
            }
            let extensions = VideoTranscoder.captureExtensions(capture, id: configuration.captureTimeExtensionID)
            let header = RTPHeader(
                payloadType: configuration.payloadType, sequenceNumber: sequence, timestamp: ts, ssrc: configuration.ssrc,
                extensions: extensions)
            sequence &+= 1
            out.packets.append(RTPPacket(header: header, payload: payload))
            stages.packetize = milliseconds(clock.now - t1)
            statistics.framesOut += 1
            statistics.stageTotals.accumulate(stages)
            out.frames.append(TranscodedFrame(timestamp: ts, captureTime: capture, stages: stages))
            stages = StageTimes()
        }
    }
}
