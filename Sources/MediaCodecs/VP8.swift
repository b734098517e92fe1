import CVPX
import MediaWire

/// One encoded VP8 frame.
public struct EncodedVideoFrame: Sendable, Equatable {
    public var data: [UInt8]
    public var isKeyFrame: Bool
    /// The presentation time given to the encoder, passed through.
    public var pts: Int64

    public init(data: [UInt8], isKeyFrame: Bool, pts: Int64) {
        self.data = data
        self.isKeyFrame = isKeyFrame
        self.pts = pts
    }
}

/// A real-time VP8 encoder over libvpx ([RFC 6386](https://www.rfc-editor.org/rfc/rfc6386)): CBR,
/// no lag, one thread, error resilient, key frames on demand. Not thread-safe.
public final class VP8Encoder {
    public let width: Int
    public let height: Int
    private let context: UnsafeMutablePointer<vpx_codec_ctx_t>
    private var config = vpx_codec_enc_cfg_t()
    private var image = vpx_image_t()

    /// - Parameters:
    ///   - bitrate: target in bits per second.
    ///   - cpuUsed: libvpx speed, 4 (slower, better) … 16 (fastest); 8 is WebRTC's usual choice
    ///     for this size on one core.
    ///   - keyFrameInterval: longest run between key frames, in frames (key frames also come on
    ///     demand with `forceKeyFrame`).
    public init(
        width: Int, height: Int, bitrate: Int, framerate: Int = 30, cpuUsed: Int = 8, keyFrameInterval: Int = 3_000
    ) throws(CodecError) {
        guard width > 0, height > 0, width % 2 == 0, height % 2 == 0, width <= 4_096, height <= 4_096, framerate > 0,
            bitrate >= 10_000
        else { throw CodecError(.invalidArgument, "VP8 \(width)×\(height)@\(framerate) \(bitrate) bit/s") }
        self.width = width
        self.height = height
        context = .allocate(capacity: 1)
        context.initialize(to: vpx_codec_ctx_t())
        guard vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &config, 0) == VPX_CODEC_OK else {
            context.deallocate()
            throw CodecError(.initializationFailed, "vpx_codec_enc_config_default")
        }
        config.g_w = UInt32(width)
        config.g_h = UInt32(height)
        config.g_timebase = vpx_rational(num: 1, den: 90_000)  // the RTP video clock
        config.g_threads = 1
        config.g_lag_in_frames = 0
        config.g_error_resilient = vpx_codec_er_flags_t(VPX_ERROR_RESILIENT_DEFAULT)
        config.g_pass = VPX_RC_ONE_PASS
        config.rc_end_usage = VPX_CBR
        config.rc_target_bitrate = UInt32(bitrate / 1_000)
        config.rc_min_quantizer = 2
        config.rc_max_quantizer = 56
        config.rc_undershoot_pct = 100
        config.rc_overshoot_pct = 15
        config.rc_buf_initial_sz = 500
        config.rc_buf_optimal_sz = 600
        config.rc_buf_sz = 1_000
        config.rc_dropframe_thresh = 0
        config.kf_mode = VPX_KF_AUTO
        config.kf_max_dist = UInt32(max(1, keyFrameInterval))
        guard CVPX_encInit(context, &config, 0) == VPX_CODEC_OK else {
            context.deallocate()
            throw CodecError(.initializationFailed, "vpx_codec_enc_init")
        }
        _ = CVPX_setCpuUsed(context, Int32(cpuUsed))
        _ = CVPX_setStaticThreshold(context, 1)
        _ = CVPX_setNoiseSensitivity(context, 0)
        _ = CVPX_setTokenPartitions(context, 0)
        _ = CVPX_setMaxIntraBitratePct(context, 300)
        self.bitrate = bitrate
        frameDuration = UInt(90_000 / framerate)
    }

    deinit {
        vpx_codec_destroy(context)
        context.deallocate()
    }

    private let frameDuration: UInt

    /// Target bitrate in bits per second; settable mid-stream (what congestion control does).
    public var bitrate: Int {
        didSet {
            config.rc_target_bitrate = UInt32(max(bitrate, 10_000) / 1_000)
            _ = vpx_codec_enc_config_set(context, &config)
        }
    }

    /// Encodes one picture. `pts` is in 90 kHz units. Returns the frame (never more than one with
    /// no lag; none only if the rate control dropped it).
    public func encode(_ frame: I420Frame, pts: Int64, forceKeyFrame: Bool = false) throws(CodecError)
        -> EncodedVideoFrame?
    {
        guard frame.width == width, frame.height == height else {
            throw CodecError(.invalidArgument, "frame \(frame.width)×\(frame.height) into a \(width)×\(height) encoder")
        }
        let status: vpx_codec_err_t = frame.data.withUnsafeBufferPointer { buf in
            let base = UnsafeMutablePointer(mutating: buf.baseAddress!)
            vpx_img_wrap(&image, VPX_IMG_FMT_I420, UInt32(width), UInt32(height), 1, base)
            return vpx_codec_encode(
                context, &image, vpx_codec_pts_t(pts), frameDuration,
                forceKeyFrame ? vpx_enc_frame_flags_t(VPX_EFLAG_FORCE_KF) : 0, UInt(VPX_DL_REALTIME))
        }
        guard status == VPX_CODEC_OK else { throw CodecError(.encodeFailed, "vpx_codec_encode \(status.rawValue)") }
        var iterator: vpx_codec_iter_t? = nil
        var result: EncodedVideoFrame?
        while let packet = vpx_codec_get_cx_data(context, &iterator) {
            var buf: UnsafeRawPointer? = nil
            var size = 0
            var key: Int32 = 0
            guard CVPX_frameData(packet, &buf, &size, &key) != nil, let buf else { continue }
            // libvpx reuses this buffer on the next call: copy now.
            let bytes = Array(UnsafeRawBufferPointer(start: buf, count: size))
            result = EncodedVideoFrame(data: bytes, isKeyFrame: key != 0, pts: Int64(CVPX_framePts(packet)))
        }
        return result
    }
}

/// A VP8 decoder over libvpx. Not thread-safe.
public final class VP8Decoder {
    private let context: UnsafeMutablePointer<vpx_codec_ctx_t>

    public init() throws(CodecError) {
        context = .allocate(capacity: 1)
        context.initialize(to: vpx_codec_ctx_t())
        guard CVPX_decInit(context) == VPX_CODEC_OK else {
            context.deallocate()
            throw CodecError(.initializationFailed, "vpx_codec_dec_init")
        }
    }

    deinit {
        vpx_codec_destroy(context)
        context.deallocate()
    }

    /// The largest picture decoded: DCI 4K. libvpx allocates its frame buffers for the size a
    /// key frame declares (16382×16382 cost 851 MiB and 4.5 s before failing), so the size is
    /// read first and a larger frame refused. A 4K picture keeps ~55 MB in the decoder.
    public static let maximumWidth = 4_096
    public static let maximumHeight = 4_096
    public static let maximumPixels = 4_096 * 2_160

    /// Whether a key frame of this size is decoded.
    public static func accepts(_ header: VP8KeyFrameHeader) -> Bool {
        header.width > 0 && header.height > 0 && header.width <= maximumWidth && header.height <= maximumHeight
            && header.width * header.height <= maximumPixels
    }

    /// Decodes one complete frame; returns the picture (a copy in our own buffer). A key frame
    /// larger than ``maximumPixels`` is refused (`oversizeFrame`) without being decoded.
    public func decode(_ data: [UInt8]) throws(CodecError) -> I420Frame {
        guard !data.isEmpty, data.count < 16 << 20 else { throw CodecError(.corruptInput, "VP8 frame of \(data.count) bytes") }
        if data[0] & 0x01 == 0 {  // a key frame (RFC 6386 §9.1)
            guard let header = VP8KeyFrameHeader(parsing: data) else { throw CodecError(.corruptInput, "VP8 key frame without a valid header") }
            guard Self.accepts(header) else {
                throw CodecError(.oversizeFrame, "VP8 key frame of \(header.width)×\(header.height): at most \(Self.maximumWidth)×\(Self.maximumHeight), \(Self.maximumPixels) pixels")
            }
        }
        let status = data.withUnsafeBufferPointer { vpx_codec_decode(context, $0.baseAddress, UInt32($0.count), nil, 0) }
        guard status == VPX_CODEC_OK else { throw CodecError(.corruptInput, "vpx_codec_decode \(status.rawValue)") }
        var iterator: vpx_codec_iter_t? = nil
        var last: I420Frame?
        while let img = vpx_codec_get_frame(context, &iterator) {
            last = try Self.copy(img.pointee)
        }
        guard let last else { throw CodecError(.corruptInput, "no picture") }
        return last
    }

    private static func copy(_ img: vpx_image_t) throws(CodecError) -> I420Frame {
        let w = Int(img.d_w), h = Int(img.d_h)
        guard w % 2 == 0, h % 2 == 0, img.fmt == VPX_IMG_FMT_I420 else {
            throw CodecError(.corruptInput, "unsupported picture \(w)×\(h) format \(img.fmt.rawValue)")
        }
        var out = [UInt8](repeating: 0, count: w * h * 3 / 2)
        let planes = [img.planes.0, img.planes.1, img.planes.2]
        let strides = [Int(img.stride.0), Int(img.stride.1), Int(img.stride.2)]
        out.withUnsafeMutableBufferPointer { dst in
            var offset = 0
            for p in 0..<3 {
                let pw = p == 0 ? w : w / 2, ph = p == 0 ? h : h / 2
                guard let src = planes[p] else { continue }
                for row in 0..<ph {
                    (dst.baseAddress! + offset + row * pw).update(from: src + row * strides[p], count: pw)
                }
                offset += pw * ph
            }
        }
        return try I420Frame(width: w, height: h, data: out)
    }
}
