#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Deterministic synthetic media, like GStreamer's `videotestsrc` and `audiotestsrc`: the
/// transcoder tests, the benchmarks and simulated publishers use it instead of a camera.
public enum TestPattern {
    /// A moving picture with smooth gradients, a textured ball and fine detail: hard enough that
    /// a codec's PSNR means something, the same for the same `index` every time.
    public static func video(width: Int, height: Int, index: Int) throws(CodecError) -> I420Frame {
        var frame = try I420Frame(width: width, height: height)
        let t = Double(index)
        let cx = Double(width) * (0.5 + 0.35 * sin(t / 23)), cy = Double(height) * (0.5 + 0.3 * cos(t / 17))
        let r = Double(min(width, height)) / 6
        let lumaSize = frame.lumaSize, chromaSize = frame.chromaSize, cw = frame.chromaWidth
        frame.data.withUnsafeMutableBufferPointer { d in
            for y in 0..<height {
                for x in 0..<width {
                    let dx = Double(x) - cx, dy = Double(y) - cy
                    var v = 40 + (x + index * 2) % 160 / 2 + y * 60 / height
                    if dx * dx + dy * dy < r * r { v = 200 + ((x / 4 + y / 4) % 2) * 30 }
                    d[y * width + x] = UInt8(clamping: v)
                }
            }
            for y in 0..<(height / 2) {
                for x in 0..<cw {
                    d[lumaSize + y * cw + x] = UInt8(clamping: 128 + (x - cw / 2) / 4)
                    d[lumaSize + chromaSize + y * cw + x] = UInt8(clamping: 128 + (y - height / 4) / 3 + index % 8)
                }
            }
        }
        return frame
    }

    /// Interleaved 16-bit PCM: a chord of sines (different per channel) starting at sample `start`.
    public static func audio(sampleRate: Int, channels: Int, start: Int, count: Int) -> [Int16] {
        var out = [Int16](repeating: 0, count: count * channels)
        for i in 0..<count {
            let t = Double(start + i) / Double(sampleRate)
            for c in 0..<channels {
                let f = 440.0 * Double(c + 1)
                let s = 0.3 * sin(2 * .pi * f * t) + 0.15 * sin(2 * .pi * f * 1.5 * t) + 0.05 * sin(2 * .pi * 3_000 * t)
                out[i * channels + c] = Int16(s * 32_000)
            }
        }
        return out
    }
}
