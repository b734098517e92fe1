import COpus

/// An Opus encoder over libopus ([RFC 6716](https://www.rfc-editor.org/rfc/rfc6716)) for 16-bit
/// interleaved PCM. One encoder per stream; not thread-safe.
public final class OpusEncoder {
    public enum Application: Sendable {
        case voip, audio, restrictedLowDelay
        var raw: Int32 {
            switch self {
            case .voip: OPUS_APPLICATION_VOIP
            case .audio: OPUS_APPLICATION_AUDIO
            case .restrictedLowDelay: OPUS_APPLICATION_RESTRICTED_LOWDELAY
            }
        }
    }

    public let sampleRate: Int
    public let channels: Int
    private let state: OpaquePointer
    /// Scratch output: the largest packet libopus can produce for one frame (RFC 6716 §3.4).
    private var scratch = [UInt8](repeating: 0, count: 1_500)

    /// - Parameters:
    ///   - bitrate: bits per second (the RTP payload rate).
    ///   - complexity: 0 (fastest) … 10 (best).
    ///   - inbandFEC: carry a low-rate copy of the previous frame for loss recovery (needs
    ///     `expectedLossPercent` > 0 to take effect).
    ///   - dtx: send almost nothing during silence.
    public init(
        sampleRate: Int = 48_000, channels: Int = 2, application: Application = .voip, bitrate: Int = 64_000,
        complexity: Int = 5, inbandFEC: Bool = false, expectedLossPercent: Int = 0, dtx: Bool = false
    ) throws(CodecError) {
        guard [8_000, 12_000, 16_000, 24_000, 48_000].contains(sampleRate), (1...2).contains(channels) else {
            throw CodecError(.invalidArgument, "Opus at \(sampleRate) Hz × \(channels)")
        }
        var err: Int32 = 0
        guard let st = opus_encoder_create(Int32(sampleRate), Int32(channels), application.raw, &err), err == OPUS_OK
        else { throw CodecError(.initializationFailed, "opus_encoder_create \(err)") }
        state = st
        self.sampleRate = sampleRate
        self.channels = channels
        self.bitrate = bitrate
        COpus_setComplexity(st, Int32(max(0, min(complexity, 10))))
        COpus_setInbandFEC(st, inbandFEC ? 1 : 0)
        COpus_setPacketLossPerc(st, Int32(max(0, min(expectedLossPercent, 100))))
        COpus_setDTX(st, dtx ? 1 : 0)
        COpus_setBitrate(st, Int32(bitrate))
    }

    deinit { opus_encoder_destroy(state) }

    /// Target bitrate in bits per second; settable mid-stream.
    public var bitrate: Int {
        didSet { COpus_setBitrate(state, Int32(bitrate)) }
    }

    /// Samples per channel of encoder delay: decoded output lags the input by this much.
    public var lookahead: Int {
        var v: Int32 = 0
        COpus_getLookahead(state, &v)
        return Int(v)
    }

    /// True while DTX is suppressing silent frames.
    public var isInDTX: Bool {
        var v: Int32 = 0
        COpus_getInDTX(state, &v)
        return v != 0
    }

    /// Encodes one frame of interleaved PCM (2.5, 5, 10, 20, 40 or 60 ms) into one Opus packet.
    /// With DTX a silent frame may yield a packet of 1–2 bytes that need not be sent.
    public func encode(_ pcm: [Int16]) throws(CodecError) -> [UInt8] {
        let n = try encode(pcm, into: &scratch)
        return Array(scratch.prefix(n))
    }

    /// Encodes into `output` and returns the packet length (no allocation when `output` is large enough).
    public func encode(_ pcm: [Int16], into output: inout [UInt8]) throws(CodecError) -> Int {
        let frameSize = pcm.count / channels
        guard pcm.count % channels == 0, [1, 2, 4, 8, 16, 24].contains(frameSize * 400 / sampleRate),
            frameSize * 400 % sampleRate == 0
        else { throw CodecError(.invalidArgument, "\(frameSize) samples is not an Opus frame at \(sampleRate) Hz") }
        if output.count < 1_500 { output = [UInt8](repeating: 0, count: 1_500) }
        let n = pcm.withUnsafeBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                opus_encode(state, inBuf.baseAddress!, Int32(frameSize), outBuf.baseAddress!, Int32(outBuf.count))
            }
        }
        guard n > 0 else { throw CodecError(.encodeFailed, "opus_encode \(n)") }
        return Int(n)
    }
}

/// An Opus decoder with packet-loss concealment and in-band FEC recovery.
public final class OpusDecoder {
    public let sampleRate: Int
    public let channels: Int
    private let state: OpaquePointer
    private var scratch: [Int16]

    public init(sampleRate: Int = 48_000, channels: Int = 2) throws(CodecError) {
        guard [8_000, 12_000, 16_000, 24_000, 48_000].contains(sampleRate), (1...2).contains(channels) else {
            throw CodecError(.invalidArgument, "Opus at \(sampleRate) Hz × \(channels)")
        }
        var err: Int32 = 0
        guard let st = opus_decoder_create(Int32(sampleRate), Int32(channels), &err), err == OPUS_OK else {
            throw CodecError(.initializationFailed, "opus_decoder_create \(err)")
        }
        state = st
        self.sampleRate = sampleRate
        self.channels = channels
        // 120 ms is the longest packet (RFC 6716 §3.2.5).
        scratch = [Int16](repeating: 0, count: sampleRate * 120 / 1_000 * channels)
    }

    deinit { opus_decoder_destroy(state) }

    /// Decodes one packet into interleaved PCM.
    public func decode(_ packet: [UInt8]) throws(CodecError) -> [Int16] {
        try run(packet, samples: scratch.count / channels, fec: false)
    }

    /// Conceals one lost frame of `samples` per channel (packet-loss concealment).
    public func concealLoss(samples: Int) throws(CodecError) -> [Int16] {
        try run(nil, samples: samples, fec: false)
    }

    /// Recovers the frame *before* `nextPacket` from the FEC data that packet carries; falls back
    /// to concealment inside libopus when it carries none.
    public func recoverPrevious(from nextPacket: [UInt8], samples: Int) throws(CodecError) -> [Int16] {
        try run(nextPacket, samples: samples, fec: true)
    }

    private func run(_ packet: [UInt8]?, samples: Int, fec: Bool) throws(CodecError) -> [Int16] {
        guard samples > 0, samples * channels <= scratch.count else {
            throw CodecError(.invalidArgument, "\(samples) samples")
        }
        let n: Int32 = scratch.withUnsafeMutableBufferPointer { out in
            if let packet {
                return packet.withUnsafeBufferPointer { p in
                    opus_decode(state, p.baseAddress, Int32(p.count), out.baseAddress!, Int32(samples), fec ? 1 : 0)
                }
            }
            return opus_decode(state, nil, 0, out.baseAddress!, Int32(samples), 0)
        }
        guard n > 0 else { throw CodecError(.corruptInput, "opus_decode \(n)") }
        return Array(scratch.prefix(Int(n) * channels))
    }
}
