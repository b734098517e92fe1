import MediaCodecs
import Testing

@Suite struct VP8CodecTests {
    @Test func encodesAndDecodesWithGoodQualityAtTheTargetRate() throws {
        let encoder = try VP8Encoder(width: 640, height: 360, bitrate: 800_000)
        let decoder = try VP8Decoder()
        var psnrSum = 0.0, bytes = 0, keyFrames: [Int] = []
        let frames = 90
        for i in 0..<frames {
            let picture = try TestPattern.video(width: 640, height: 360, index: i)
            let encoded = try #require(try encoder.encode(picture, pts: Int64(i * 3_000), forceKeyFrame: i == 45))
            #expect(encoded.pts == Int64(i * 3_000))
            if encoded.isKeyFrame { keyFrames.append(i) }
            bytes += encoded.data.count
            let decoded = try decoder.decode(encoded.data)
            #expect(decoded.width == 640 && decoded.height == 360)
            psnrSum += decoded.psnr(against: picture)
        }
        #expect(keyFrames == [0, 45])
        let psnr = psnrSum / Double(frames)
        #expect(psnr > 30, "mean PSNR \(psnr) dB")
        let kbps = Double(bytes * 8) / 3 / 1_000
        #expect(kbps > 500 && kbps < 1_100, "\(kbps) kbit/s for an 800 kbit/s target")
    }

    @Test func moreBitsMeanBetterPictures() throws {
        func meanPSNR(bitrate: Int) throws -> Double {
            let encoder = try VP8Encoder(width: 320, height: 180, bitrate: bitrate)
            let decoder = try VP8Decoder()
            var sum = 0.0
            for i in 0..<30 {
                let p = try TestPattern.video(width: 320, height: 180, index: i)
                sum += try decoder.decode(try #require(try encoder.encode(p, pts: Int64(i * 3_000))).data).psnr(against: p)
            }
            return sum / 30
        }
        let low = try meanPSNR(bitrate: 60_000), high = try meanPSNR(bitrate: 600_000)
        #expect(high > low + 2, "600k: \(high) dB, 60k: \(low) dB")
    }

    @Test func decoderRejectsGarbageAndRecoversOnTheNextKeyFrame() throws {
        let encoder = try VP8Encoder(width: 160, height: 120, bitrate: 200_000)
        let decoder = try VP8Decoder()
        #expect(throws: CodecError(.corruptInput, "")) { try decoder.decode([0x01, 0x02, 0x03]) }
        #expect(throws: CodecError(.corruptInput, "")) { try decoder.decode([]) }
        let p = try TestPattern.video(width: 160, height: 120, index: 0)
        let key = try #require(try encoder.encode(p, pts: 0))
        #expect(key.isKeyFrame)
        #expect(try decoder.decode(key.data).psnr(against: p) > 25)
    }

    @Test func encoderRejectsOddSizesAndMismatchedFrames() throws {
        #expect(throws: CodecError(.invalidArgument, "")) { try VP8Encoder(width: 641, height: 360, bitrate: 500_000) }
        let encoder = try VP8Encoder(width: 320, height: 180, bitrate: 300_000)
        #expect(throws: CodecError(.invalidArgument, "")) {
            try encoder.encode(try I420Frame(width: 640, height: 360), pts: 0)
        }
    }
}

@Suite struct I420Tests {
    @Test func downAndUpScalingKeepsThePicture() throws {
        let source = try TestPattern.video(width: 640, height: 360, index: 3)
        let small = try source.scaled(width: 320, height: 180)
        #expect(small.width == 320 && small.height == 180 && small.data.count == 320 * 180 * 3 / 2)
        let back = try small.scaled(width: 640, height: 360)
        #expect(back.psnr(against: source) > 22)
        // A different picture scores far lower: the measure discriminates.
        let other = try TestPattern.video(width: 640, height: 360, index: 200)
        #expect(back.psnr(against: source) > other.psnr(against: source) + 5)
    }

    @Test func flatColourStaysFlat() throws {
        var flat = try I420Frame(width: 64, height: 64)
        for i in 0..<flat.lumaSize { flat.data[i] = 99 }
        let scaled = try flat.scaled(width: 16, height: 16)
        #expect(scaled.data.prefix(scaled.lumaSize).allSatisfy { $0 == 99 })
        #expect(scaled.data.dropFirst(scaled.lumaSize).allSatisfy { $0 == 128 })
        #expect(flat.psnr(against: flat) == .infinity)
    }

    @Test func rejectsBadSizes() {
        #expect(throws: CodecError(.invalidArgument, "")) { try I420Frame(width: 3, height: 2) }
        #expect(throws: CodecError(.invalidArgument, "")) { try I420Frame(width: 4, height: 2, data: [1, 2]) }
    }
}
