import MediaCodecs
import MediaPipeline
import MediaWire

/// What a viewer asks to receive (WHEP `?quality=`).
public enum Quality: String, Sendable, CaseIterable {
    /// The publisher's packets, forwarded untouched but for SSRC and payload type.
    case source
    /// 640×360 VP8 at about 600 kbit/s; audio forwarded.
    case medium
    /// 320×180 VP8 at about 250 kbit/s and Opus mono at 24 kbit/s.
    case low
}

/// A transcoded rendition of a room's publisher, shared by every viewer that asked for it:
/// started with its first viewer and dropped after its last. It is a "publisher" inside the
/// relay: its output packets go through the same per-viewer rewriting as the source's.
final class TranscodingBranch {
    let quality: Quality
    let video: VideoTranscoder
    /// Nil for `.medium`: audio is forwarded from the source.
    let audio: AudioTranscoder?
    var viewers: [PeerSession] = []

    init(quality: Quality) throws {
        self.quality = quality
        let (w, h, bitrate) = quality == .low ? (320, 180, 250_000) : (640, 360, 600_000)
        var v = VideoTranscoder.Configuration(width: w, height: h, bitrate: bitrate, ssrc: UInt32.random(in: 1...UInt32.max))
        // The branch's own buffering adds to latency: keep it short (weak receivers have their own).
        v.jitterBuffer.maximumDelay = 80
        video = try VideoTranscoder(v)
        audio = quality == .low ? try AudioTranscoder(.init(ssrc: UInt32.random(in: 1...UInt32.max), outputChannels: 1, bitrate: 24_000)) : nil
    }
}
