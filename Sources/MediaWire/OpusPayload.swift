/// What the table of contents byte of an Opus packet says
/// ([RFC 6716 §3.1](https://www.rfc-editor.org/rfc/rfc6716#section-3.1)); the RTP payload is exactly
/// one Opus packet and the RTP clock is always 48 kHz
/// ([RFC 7587 §4.1–4.2](https://www.rfc-editor.org/rfc/rfc7587#section-4.1)).
public struct OpusPacketInfo: Hashable, Sendable {
    public enum Mode: Hashable, Sendable { case silk, hybrid, celt }

    /// The RTP clock rate for Opus, whatever the actual sampling rate (RFC 7587 §4.1).
    public static let rtpClockRate = 48_000

    public var configuration: UInt8
    public var isStereo: Bool
    public var frameCount: Int
    /// Samples per frame at 48 kHz.
    public var samplesPerFrame: Int

    public var mode: Mode {
        switch configuration {
        case 0...11: .silk
        case 12...15: .hybrid
        default: .celt
        }
    }

    /// Duration of the whole packet in 48 kHz samples: the RTP timestamp step to the next packet.
    public var duration: Int { frameCount * samplesPerFrame }

    public init(parsing packet: ArraySlice<UInt8>) throws(WireError) {
        var r = ByteReader(packet)
        let toc = try r.u8("Opus TOC")
        configuration = toc >> 3
        isStereo = toc & 0x04 != 0
        samplesPerFrame = Self.samplesPerFrame(configuration: configuration)
        switch toc & 0x03 {
        case 0: frameCount = 1
        case 1, 2: frameCount = 2
        default:
            let c = try r.u8("Opus frame count byte")
            frameCount = Int(c & 0x3F)
            guard frameCount > 0 else { throw WireError.invalid("Opus code 3 with 0 frames") }
        }
        // No packet may exceed 120 ms (RFC 6716 §3.2.5).
        guard duration <= 5_760 else { throw WireError.invalid("Opus packet longer than 120 ms") }
    }

    public init(parsing packet: [UInt8]) throws(WireError) { try self.init(parsing: packet[...]) }

    static func samplesPerFrame(configuration c: UInt8) -> Int {
        switch c {
        case 0...11: return [480, 960, 1920, 2880][Int(c % 4)]  // SILK 10/20/40/60 ms
        case 12...15: return [480, 960][Int(c % 2)]  // hybrid 10/20 ms
        default: return [120, 240, 480, 960][Int(c % 4)]  // CELT 2.5/5/10/20 ms
        }
    }
}
