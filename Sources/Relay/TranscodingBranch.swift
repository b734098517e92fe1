import CoreMetrics
import MediaCodecs
import MediaPipeline
import MediaWire
import NIOCore
import Synchronization

/// What a viewer asks to receive (WHEP `?quality=`).
public enum Quality: String, Sendable, CaseIterable {
    /// The publisher's packets, forwarded untouched but for SSRC and payload type.
    case source
    /// 640×360 VP8 at about 600 kbit/s; audio forwarded.
    case medium
    /// 320×180 VP8 at 225 kbit/s and Opus mono at 24 kbit/s: with packet overhead about 265 kbit/s,
    /// so that it fits a 300 kbit/s path with room left for retransmissions.
    case low
}

/// What a rendition's codecs produced in one run, handed back to the relay's loop.
struct BranchOutput: Sendable {
    var video: [RTPPacket] = []
    var audio: [RTPPacket] = []
    var requestKeyFrame = false
    var videoNACKs: [UInt16] = []
    /// When the codecs handed it over: the relay records the wait for its loop.
    var producedAt = MediaTime.zero
    var isEmpty: Bool { video.isEmpty && audio.isEmpty && !requestKeyFrame && videoNACKs.isEmpty }
}

/// The codec side of a rendition: its transcoders, confined to their own event loop so that a
/// 3.5 ms VP8 frame never stalls forwarding on the relay's loop. The relay talks to it only by
/// `execute` (packets in, key-frame requests) and gets results back through `deliver`.
///
/// `@unchecked Sendable`: after `init` returns, `codecs` and `task` are touched only by closures
/// running on `loop` — one thread, in order — which is what makes them safe to share.
final class TranscodingEngine: @unchecked Sendable {
    private let loop: any EventLoop
    private let codecs: Codecs
    private var task: RepeatedTask?

    final class Codecs {
        let video: VideoTranscoder
        let audio: AudioTranscoder?
        init(quality: Quality, captureTimeExtensionID: UInt8?) throws {
            let (w, h, bitrate) = quality == .low ? (320, 180, 225_000) : (640, 360, 600_000)
            var v = VideoTranscoder.Configuration(
                width: w, height: h, bitrate: bitrate, ssrc: UInt32.random(in: 1...UInt32.max), captureTimeExtensionID: captureTimeExtensionID)
            // The rendition's own buffering adds to latency: keep it short (receivers buffer too).
            v.jitterBuffer.maximumDelay = 80
            video = try VideoTranscoder(v)
            audio =
                quality == .low
                ? try AudioTranscoder(
                    .init(ssrc: UInt32.random(in: 1...UInt32.max), outputChannels: 1, bitrate: 24_000, captureTimeExtensionID: captureTimeExtensionID))
                : nil
        }
    }

    /// The abs-capture-time id read from the publisher's packets and written on the output.
    let captureTimeExtensionID: UInt8?

    /// Starts the codecs on `loop`; `deliver` is called (on `loop`) with every non-empty result.
    init(
        quality: Quality, captureTimeExtensionID: UInt8?, loop: any EventLoop, metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        deliver: @escaping @Sendable (BranchOutput) -> Void
    ) throws {
        self.loop = loop
        self.captureTimeExtensionID = captureTimeExtensionID
        codecs = try Codecs(quality: quality, captureTimeExtensionID: captureTimeExtensionID)
        let stages = StageTimers(quality: quality, factory: metrics)
        loop.execute { [self] in
            task = loop.scheduleRepeatedTask(initialDelay: .milliseconds(5), delay: .milliseconds(5)) { [self] _ in
                let now = MediaTime.now
                var out = BranchOutput()
                let v = codecs.video.process(now: now)
                out.video = v.packets
                out.requestKeyFrame = v.requestKeyFrame
                out.videoNACKs = v.nack
                for f in v.frames { stages.record(f.stages, kind: "video") }
                if let a = codecs.audio?.process(now: now) {
                    out.audio = a.packets
                    for f in a.frames { stages.record(f.stages, kind: "audio") }
                }
                out.producedAt = .now
                if !out.isEmpty { deliver(out) }
            }
        }
    }

    /// Packets handed to the codec thread and not yet taken: bounded, so that a codec thread that
    /// falls behind drops input (the viewers' NACKs and PLIs recover) instead of queueing it without end.
    private let backlog = Atomic<Int>(0)
    static let maximumBacklog = 400

    /// Hands a packet to the codecs; false (and dropped) when the codec thread is ``maximumBacklog`` behind.
    func feed(_ packet: RTPPacket, video: Bool, arrival: MediaTime) -> Bool {
        guard backlog.add(1, ordering: .relaxed).newValue <= Self.maximumBacklog else {
            backlog.subtract(1, ordering: .relaxed)
            return false
        }
        loop.execute { [self] in
            backlog.subtract(1, ordering: .relaxed)
            if video { codecs.video.receive(packet, arrival: arrival) } else { codecs.audio?.receive(packet, arrival: arrival) }
        }
        return true
    }

    func requestKeyFrame() {
        loop.execute { [self] in codecs.video.requestKeyFrame() }
    }

    func stop() {
        loop.execute { [self] in task?.cancel() }
    }
}

/// Per-stage latency of a rendition's frames, as swift-metrics timers
/// (`showroom_transcode_stage_seconds{stage, kind, quality}`).
public struct StageTimers: Sendable {
    /// The swift-metrics label of every stage timer.
    public static let metricLabel = "showroom_transcode_stage_seconds"
    static let label = metricLabel
    let jitterWait: [CoreMetrics.Timer], decode: [CoreMetrics.Timer], scale: [CoreMetrics.Timer], encode: [CoreMetrics.Timer],
        packetize: [CoreMetrics.Timer]

    init(quality: Quality, factory: any MetricsFactory) {
        func timers(_ stage: String) -> [CoreMetrics.Timer] {
            ["video", "audio"].map {
                CoreMetrics.Timer(
                    label: Self.label, dimensions: [("stage", stage), ("kind", $0), ("quality", quality.rawValue)], factory: factory)
            }
        }
        (jitterWait, decode, scale, encode, packetize) = (timers("jitter_wait"), timers("decode"), timers("scale"), timers("encode"), timers("packetize"))
    }

    func record(_ s: StageTimes, kind: String) {
        let i = kind == "video" ? 0 : 1
        for (timer, ms) in [(jitterWait[i], s.jitterWait), (decode[i], s.decode), (encode[i], s.encode), (packetize[i], s.packetize)] {
            timer.recordNanoseconds(Int64(ms * 1e6))
        }
        if kind == "video" { scale[i].recordNanoseconds(Int64(s.scale * 1e6)) }
    }
}

/// A transcoded rendition of a room's publisher, shared by every viewer that asked for it:
/// started with its first viewer and stopped after its last. It is a "publisher" inside the
/// relay: its output packets go through the same per-viewer rewriting as the source's.
final class TranscodingBranch {
    let quality: Quality
    let engine: TranscodingEngine
    /// Whether audio is transcoded too (`.low`) or forwarded from the source (`.medium`).
    let transcodesAudio: Bool
    var viewers: [PeerSession] = []
    /// The rendition's own packets by kind (``PeerSession/kindIndex(_:)``), to answer its viewers' NACKs.
    var cache: [RetransmissionCache] = [RetransmissionCache(), RetransmissionCache()]

    init(quality: Quality, engine: TranscodingEngine) {
        self.quality = quality
        self.engine = engine
        transcodesAudio = quality == .low
    }
}
