import CYUV

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A planar YUV 4:2:0 picture in one contiguous buffer: Y (width×height), then U and V
/// ((width/2)×(height/2) each). Width and height are even, as every size we negotiate is.
public struct I420Frame: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var data: [UInt8]

    public var chromaWidth: Int { width / 2 }
    public var chromaHeight: Int { height / 2 }
    public var lumaSize: Int { width * height }
    public var chromaSize: Int { chromaWidth * chromaHeight }

    public init(width: Int, height: Int, data: [UInt8]) throws(CodecError) {
        guard width > 0, height > 0, width % 2 == 0, height % 2 == 0, width <= 8_192, height <= 8_192 else {
            throw CodecError(.invalidArgument, "I420 size \(width)×\(height)")
        }
        guard data.count == width * height * 3 / 2 else {
            throw CodecError(.invalidArgument, "I420 \(width)×\(height) needs \(width * height * 3 / 2) bytes, got \(data.count)")
        }
        self.width = width
        self.height = height
        self.data = data
    }

    /// A black picture.
    public init(width: Int, height: Int) throws(CodecError) {
        var black = [UInt8](repeating: 16, count: width * height)
        black += [UInt8](repeating: 128, count: width * height / 2)
        try self.init(width: width, height: height, data: black)
    }

    /// Scales with libyuv's box filter (the best for down-scaling).
    public func scaled(width w: Int, height h: Int) throws(CodecError) -> I420Frame {
        var out = try I420Frame(width: w, height: h)
        scale(into: &out)
        return out
    }

    /// Scales into an existing frame of the target size (no allocation).
    public func scale(into out: inout I420Frame) {
        let (sw, sh, scw) = (width, height, chromaWidth)
        let (dw, dh, dcw) = (out.width, out.height, out.chromaWidth)
        let (sl, sc, dl, dc) = (lumaSize, chromaSize, out.lumaSize, out.chromaSize)
        data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                _ = I420Scale(
                    s, Int32(sw), s + sl, Int32(scw), s + sl + sc, Int32(scw), Int32(sw), Int32(sh),
                    d, Int32(dw), d + dl, Int32(dcw), d + dl + dc, Int32(dcw), Int32(dw), Int32(dh), kFilterBox)
            }
        }
    }

    /// Peak signal-to-noise ratio in dB over all three planes (the usual video-codec measure);
    /// `.infinity` for identical pictures.
    public func psnr(against other: I420Frame) -> Double {
        guard width == other.width, height == other.height else { return 0 }
        var sum: UInt64 = 0
        data.withUnsafeBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                for i in 0..<a.count {
                    let d = Int(a[i]) - Int(b[i])
                    sum &+= UInt64(d * d)
                }
            }
        }
        guard sum > 0 else { return .infinity }
        let mse = Double(sum) / Double(data.count)
        return 10 * log10(255 * 255 / mse)
    }
}

