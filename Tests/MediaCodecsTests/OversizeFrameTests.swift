import Foundation
import MediaCodecs
import MediaWire
import Testing

/// The process's resident memory (Linux), for tests that bound what an input may cost.
func residentBytes() -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
        let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
    else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

@Suite struct OversizeFrameTests {
    /// A real key frame whose header then claims `width`×`height` (RFC 6386 §9.1: the 14-bit
    /// sizes after the start code 9d 01 2a).
    static func keyFrame(claiming width: Int, _ height: Int) throws -> [UInt8] {
        let encoder = try VP8Encoder(width: 64, height: 64, bitrate: 200_000)
        var frame = try #require(try encoder.encode(TestPattern.video(width: 64, height: 64, index: 0), pts: 0, forceKeyFrame: true)).data
        #expect(Array(frame[3..<6]) == [0x9D, 0x01, 0x2A])
        frame[6] = UInt8(width & 0xFF)
        frame[7] = UInt8(width >> 8 & 0x3F)
        frame[8] = UInt8(height & 0xFF)
        frame[9] = UInt8(height >> 8 & 0x3F)
        return frame
    }

    /// The review's finding: a key frame declaring 16382×16382 made libvpx allocate hundreds of
    /// MB (on the codec thread every rendition shares) before the size was checked. The header is
    /// read first now, and the frame refused without decoding.
    @Test func aKeyFrameClaimingAHugePictureIsRefusedBeforeDecoding() throws {
        let decoder = try VP8Decoder()
        let bomb = try Self.keyFrame(claiming: 16_382, 16_382)
        let before = residentBytes()
        for _ in 0..<4 {
            #expect(throws: CodecError(.oversizeFrame, "")) { _ = try decoder.decode(bomb) }
        }
        let grown = residentBytes() - before
        #expect(grown < 32 << 20, "resident memory grew by \(grown >> 20) MiB")
        // The decoder still takes a real stream afterwards.
        let encoder = try VP8Encoder(width: 64, height: 64, bitrate: 200_000)
        let good = try #require(try encoder.encode(TestPattern.video(width: 64, height: 64, index: 0), pts: 0, forceKeyFrame: true))
        #expect(try decoder.decode(good.data).width == 64)
    }

    @Test(arguments: [(4_096, 2_160, true), (3_840, 2_160, true), (4_098, 64, false), (64, 4_098, false), (4_096, 4_096, false)])
    func theLimitIsTheDocumentedPictureSize(width: Int, height: Int, accepted: Bool) throws {
        let header = try #require(VP8KeyFrameHeader(parsing: Self.keyFrame(claiming: width, height)))
        #expect(header.width == width && header.height == height)
        #expect(VP8Decoder.accepts(header) == accepted)
    }
}
