import CoreMetrics
import MediaCodecs
import MediaPipeline
import MediaWire
import NIOCore
import Synchronization

/// What a rendition's codecs produced in one run, handed back to the relay's loop.
struct RenditionOutput: Sendable {
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
final class TranscodingEngine: RenditionEncoder, @unchecked Sendable {
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
        deliver: @escaping @Sendable (RenditionOutput) -> Void
    ) throws {
        self.loop = loop
        self.captureTimeExtensionID = captureTimeExtensionID
        codecs = try Codecs(quality: quality, captureTimeExtensionID: captureTimeExtensionID)
        let stages = StageTimers(quality: quality, factory: metrics)
        loop.execute { [self] in
            task = loop.scheduleRepeatedTask(initialDelay: .milliseconds(5), delay: .milliseconds(5)) { [self] _ in
                let now = MediaTime.now
                var out = RenditionOutput()
                let v = codecs.video.process(now: now)
                out.video = v.packets
                out.requestKeyFrame = v.requestKeyFrame
                out.videoNACKs = v.nack
                for f in v.frames { stages.record(f.stages, kind: .video) }
                if let a = codecs.audio?.process(now: now) {
                    out.audio = a.packets
                    for f in a.frames { stages.record(f.stages, kind: .audio) }
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
    func feed(_ packet: RTPPacket, kind: MediaKind, arrival: MediaTime) -> Bool {
        guard backlog.add(1, ordering: .relaxed).newValue <= Self.maximumBacklog else {
            backlog.subtract(1, ordering: .relaxed)
            return false
        }
        loop.execute { [self] in
            backlog.subtract(1, ordering: .relaxed)
            if kind == .video { codecs.video.receive(packet, arrival: arrival) } else { codecs.audio?.receive(packet, arrival: arrival) }
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
    let jitterWait: PerKind<CoreMetrics.Timer>, decode: PerKind<CoreMetrics.Timer>, scale: PerKind<CoreMetrics.Timer>,
        encode: PerKind<CoreMetrics.Timer>, packetize: PerKind<CoreMetrics.Timer>

    init(quality: Quality, factory: any MetricsFactory) {
        func timers(_ stage: String) -> PerKind<CoreMetrics.Timer> {
            func timer(_ kind: MediaKind) -> CoreMetrics.Timer {
                CoreMetrics.Timer(
                    label: Self.label, dimensions: [("stage", stage), ("kind", kind.rawValue), ("quality", quality.rawValue)], factory: factory)
            }
            return PerKind(audio: timer(.audio), video: timer(.video))
        }
        (jitterWait, decode, scale, encode, packetize) = (timers("jitter_wait"), timers("decode"), timers("scale"), timers("encode"), timers("packetize"))
    }

    func record(_ s: StageTimes, kind: MediaKind) {
        for (timer, ms) in [(jitterWait[kind], s.jitterWait), (decode[kind], s.decode), (encode[kind], s.encode), (packetize[kind], s.packetize)] {
            timer.recordNanoseconds(Int64(ms * 1e6))
        }
        if kind == .video { scale[kind].recordNanoseconds(Int64(s.scale * 1e6)) }
    }
}

