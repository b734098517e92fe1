import MediaCodecs
import MediaWire

/// A few seconds of really encoded media, looped by every simulated publisher to save CPU:
/// VP8 at 30 fps from ``TestPattern/video(width:height:index:)`` (a key frame first, then
/// delta frames only, so the loop restarts on a key frame) and Opus 20 ms frames of a chord.
/// Immutable and shared.
public final class EncodedMedia: Sendable {
    public let video: [EncodedVideoFrame]
    public let audio: [[UInt8]]
    public let width: Int
    public let height: Int
    public let videoBitrate: Int

    /// - Parameters:
    ///   - seconds: length of the loop.
    ///   - videoBitrate: VP8's target (CBR), bits per second.
    public init(width: Int = 640, height: Int = 360, videoBitrate: Int = 560_000, seconds: Int = 10) throws {
        let encoder = try VP8Encoder(width: width, height: height, bitrate: videoBitrate, framerate: 30, keyFrameInterval: 100_000)
        var frames: [EncodedVideoFrame] = []
        for i in 0..<(seconds * 30) {
            let picture = try TestPattern.video(width: width, height: height, index: i)
            if let frame = try encoder.encode(picture, pts: Int64(i) * 3_000, forceKeyFrame: i == 0) { frames.append(frame) }
        }
        let opus = try OpusEncoder(sampleRate: 48_000, channels: 2, application: .audio, bitrate: 40_000)
        var packets: [[UInt8]] = []
        for i in 0..<(seconds * 50) {
            packets.append(try opus.encode(TestPattern.audio(sampleRate: 48_000, channels: 2, start: i * 960, count: 960)))
        }
        video = frames
        audio = packets
        self.width = width
        self.height = height
        self.videoBitrate = videoBitrate
    }

    /// Payload bits per second of the loop, video and audio.
    public var payloadBitrate: Double {
        let v = video.reduce(0) { $0 + $1.data.count }, a = audio.reduce(0) { $0 + $1.count }
        return Double(v * 8) / (Double(video.count) / 30) + Double(a * 8) / (Double(audio.count) / 50)
    }
}

/// The sending side of one simulated publisher: RTP packets for the next video frame or audio
/// frame of the loop, every one stamped with its capture time (abs-capture-time), and a cache of
/// recent video packets to answer NACKs ([RFC 4585 §6.2.1](https://www.rfc-editor.org/rfc/rfc4585#section-6.2.1)).
/// I/O-free; the caller protects and sends.
public struct MediaSender {
    public let media: EncodedMedia
    public let audioSSRC: UInt32
    public let videoSSRC: UInt32
    private var packetizer = VP8Packetizer(maxPayloadSize: 1_150, initialPictureID: UInt16.random(in: 0...0x7FFF))
    private var videoSequence = UInt16.random(in: 0...UInt16.max)
    private var audioSequence = UInt16.random(in: 0...UInt16.max)
    private let videoTimestampBase = UInt32.random(in: 0...UInt32.max)
    private let audioTimestampBase = UInt32.random(in: 0...UInt32.max)
    private var videoIndex = 0
    private var audioIndex = 0
    private var cache: [[UInt8]?] = Array(repeating: nil, count: 1_024)
    /// A key frame was asked for (PLI): the loop restarts at its key frame.
    public private(set) var keyFramesSent = 0
    private var keyFrameAsked = false

    public init(media: EncodedMedia, audioSSRC: UInt32, videoSSRC: UInt32) {
        self.media = media
        self.audioSSRC = audioSSRC
        self.videoSSRC = videoSSRC
    }

    /// Asks for a key frame next (the caller rate-limits PLIs).
    public mutating func requestKeyFrame() { keyFrameAsked = true }

    /// The packets of video frame number `frame` (counting from 0 at 30 fps), captured at
    /// `captureMicros` on the NTP timescale.
    public mutating func videoPackets(frame: Int, captureMicros: Int64) -> [[UInt8]] {
        if keyFrameAsked {
            keyFrameAsked = false
            videoIndex = 0
        }
        let encoded = media.video[videoIndex]
        if encoded.isKeyFrame { keyFramesSent += 1 }
        videoIndex = (videoIndex + 1) % media.video.count
        let timestamp = videoTimestampBase &+ UInt32(truncatingIfNeeded: frame &* 3_000)
        let capture = AbsoluteCaptureTime(microseconds: captureMicros).headerExtensions(id: ClientOffer.captureTimeExtensionID)
        let payloads = packetizer.packetize(frame: encoded.data)
        return payloads.enumerated().map { i, payload in
            videoSequence &+= 1
            let packet = RTPPacket(
                header: RTPHeader(
                    marker: i == payloads.count - 1, payloadType: ClientOffer.videoPayloadType, sequenceNumber: videoSequence,
                    timestamp: timestamp, ssrc: videoSSRC, extensions: capture),
                payload: payload
            ).serialized()
            cache[Int(videoSequence) % cache.count] = packet
            return packet
        }
    }

    /// The next 20 ms of audio, number `frame` counting from 0.
    public mutating func audioPacket(frame: Int, captureMicros: Int64) -> [UInt8] {
        let payload = media.audio[audioIndex]
        audioIndex = (audioIndex + 1) % media.audio.count
        audioSequence &+= 1
        return RTPPacket(
            header: RTPHeader(
                marker: frame == 0, payloadType: ClientOffer.audioPayloadType, sequenceNumber: audioSequence,
                timestamp: audioTimestampBase &+ UInt32(truncatingIfNeeded: frame &* 960), ssrc: audioSSRC,
                extensions: AbsoluteCaptureTime(microseconds: captureMicros).headerExtensions(id: ClientOffer.captureTimeExtensionID)),
            payload: payload
        ).serialized()
    }

    /// The cached video packet with this sequence number, if it is still cached.
    public func retransmission(of sequenceNumber: UInt16) -> [UInt8]? {
        guard let p = cache[Int(sequenceNumber) % cache.count], p.count >= 4, UInt16(p[2]) << 8 | UInt16(p[3]) == sequenceNumber else { return nil }
        return p
    }
}
