import MediaCodecs
import Testing

@Suite struct OpusTests {
    /// Encodes `seconds` of the test chord in 20 ms frames and decodes it again.
    static func roundTrip(channels: Int, bitrate: Int, seconds: Int = 2) throws -> (input: [Int16], output: [Int16], bytes: Int, lookahead: Int) {
        let encoder = try OpusEncoder(channels: channels, application: .audio, bitrate: bitrate, complexity: 10)
        let decoder = try OpusDecoder(channels: channels)
        let input = TestPattern.audio(sampleRate: 48_000, channels: channels, start: 0, count: 48_000 * seconds)
        var output: [Int16] = []
        var bytes = 0
        for f in 0..<(seconds * 50) {
            let frame = Array(input[(f * 960 * channels)..<((f + 1) * 960 * channels)])
            let packet = try encoder.encode(frame)
            bytes += packet.count
            output += try decoder.decode(packet)
        }
        return (input, output, bytes, encoder.lookahead)
    }

    /// SNR after shifting the output back by the encoder's lookahead, skipping the first 100 ms
    /// while the encoder settles.
    static func alignedSNR(_ r: (input: [Int16], output: [Int16], bytes: Int, lookahead: Int), channels: Int) -> Double {
        let shift = r.lookahead * channels
        let start = 4_800 * channels
        let n = r.input.count - shift - start
        return snr(r.input[start..<(start + n)], r.output[(start + shift)..<(start + shift + n)])
    }

    @Test func stereo64kbpsKeepsTheSignal() throws {
        let r = try Self.roundTrip(channels: 2, bitrate: 64_000)
        #expect(r.lookahead == 312)
        let quality = Self.alignedSNR(r, channels: 2)
        #expect(quality > 20, "SNR \(quality) dB")  // measured 23.7 dB here with this chord
        let kbps = Double(r.bytes * 8) / 2 / 1_000
        #expect(kbps > 48 && kbps < 80, "\(kbps) kbit/s for a 64 kbit/s target")
    }

    @Test func mono24kbpsIsSmallerAndStillRecognisable() throws {
        let r = try Self.roundTrip(channels: 1, bitrate: 24_000)
        let quality = Self.alignedSNR(r, channels: 1)
        #expect(quality > 10, "SNR \(quality) dB")
        let kbps = Double(r.bytes * 8) / 2 / 1_000
        #expect(kbps > 16 && kbps < 32, "\(kbps) kbit/s for a 24 kbit/s target")
    }

    @Test func lowerBitrateCostsQuality() throws {
        let high = Self.alignedSNR(try Self.roundTrip(channels: 1, bitrate: 96_000), channels: 1)
        let low = Self.alignedSNR(try Self.roundTrip(channels: 1, bitrate: 12_000), channels: 1)
        #expect(high > low + 3, "96k: \(high) dB, 12k: \(low) dB")
    }

    @Test func dtxShrinksSilence() throws {
        let dtx = try OpusEncoder(channels: 1, bitrate: 32_000, dtx: true)
        let plain = try OpusEncoder(channels: 1, bitrate: 32_000, dtx: false)
        let silence = [Int16](repeating: 0, count: 960)
        var dtxBytes = 0, plainBytes = 0
        for _ in 0..<50 {
            dtxBytes += try dtx.encode(silence).count
            plainBytes += try plain.encode(silence).count
        }
        #expect(dtx.isInDTX)
        #expect(!plain.isInDTX)
        #expect(dtxBytes < plainBytes)
    }

    @Test func concealmentFillsALostFrameWithSound() throws {
        let encoder = try OpusEncoder(channels: 1, bitrate: 32_000)
        let decoder = try OpusDecoder(channels: 1)
        let input = TestPattern.audio(sampleRate: 48_000, channels: 1, start: 0, count: 960 * 20)
        var concealed: [Int16] = []
        for f in 0..<20 {
            let packet = try encoder.encode(Array(input[(f * 960)..<((f + 1) * 960)]))
            if f == 15 {
                concealed = try decoder.concealLoss(samples: 960)
            } else {
                _ = try decoder.decode(packet)
            }
        }
        #expect(concealed.count == 960)
        let reference = input[(15 * 960 - 312)..<(16 * 960 - 312)]
        #expect(energy(concealed[...]) > 0.1 * energy(reference), "concealment is near silence")
    }

    @Test func inbandFECRecoversTheLostFrameBetterThanConcealment() throws {
        // FEC lives in the SILK layer: voice mode at a speech bitrate, with loss expected.
        func run(useFEC: Bool) throws -> Double {
            let encoder = try OpusEncoder(channels: 1, application: .voip, bitrate: 24_000, inbandFEC: true, expectedLossPercent: 20)
            let decoder = try OpusDecoder(channels: 1)
            let input = TestPattern.audio(sampleRate: 48_000, channels: 1, start: 0, count: 960 * 30)
            var packets: [[UInt8]] = []
            for f in 0..<30 { packets.append(try encoder.encode(Array(input[(f * 960)..<((f + 1) * 960)]))) }
            var recovered: [Int16] = []
            for f in 0..<30 where f != 20 {
                if f == 21 {
                    recovered = useFEC
                        ? try decoder.recoverPrevious(from: packets[21], samples: 960)
                        : try decoder.concealLoss(samples: 960)
                }
                _ = try decoder.decode(packets[f])
            }
            let lookahead = encoder.lookahead
            return snr(input[(20 * 960 - lookahead)..<(21 * 960 - lookahead)], recovered[...])
        }
        let fec = try run(useFEC: true), plc = try run(useFEC: false)
        #expect(fec > plc + 3, "FEC \(fec) dB vs PLC \(plc) dB")
        #expect(fec > 5, "FEC \(fec) dB")
    }

    @Test func rejectsBadArguments() throws {
        #expect(throws: CodecError(.invalidArgument, "")) { try OpusEncoder(sampleRate: 44_100) }
        #expect(throws: CodecError(.invalidArgument, "")) { try OpusDecoder(channels: 3) }
        let encoder = try OpusEncoder(channels: 2)
        #expect(throws: CodecError(.invalidArgument, "")) { try encoder.encode([Int16](repeating: 0, count: 999)) }
        let decoder = try OpusDecoder(channels: 2)
        #expect(throws: CodecError.self) { try decoder.decode([0xFF, 0xFF, 0xFF]) }
    }
}
