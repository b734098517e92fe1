/// What a VP8 key frame says about itself before any of it is decoded
/// ([RFC 6386 §9.1](https://www.rfc-editor.org/rfc/rfc6386#section-9.1)): the picture size, so
/// that a receiver can refuse a frame too large for it without handing it to a decoder (which
/// allocates for the declared size first).
///
/// ```
///  0                   1                   2
/// |P| ver |S|      first partition size (19 bits, little-endian)    |   frame tag (P = 0: key frame)
/// |    0x9d     |    0x01     |    0x2a     |                           start code
/// |  width (14 bits, LE) | hs | height (14 bits, LE) | vs |             hs, vs: upscaling hints
/// ```
public struct VP8KeyFrameHeader: Hashable, Sendable {
    public var version: UInt8
    public var showFrame: Bool
    public var firstPartitionSize: Int
    public var width: Int
    public var height: Int
    public var horizontalScale: UInt8
    public var verticalScale: UInt8

    public init(width: Int, height: Int, version: UInt8 = 0, showFrame: Bool = true, firstPartitionSize: Int = 0,
                horizontalScale: UInt8 = 0, verticalScale: UInt8 = 0) {
        self.width = width
        self.height = height
        self.version = version
        self.showFrame = showFrame
        self.firstPartitionSize = firstPartitionSize
        self.horizontalScale = horizontalScale
        self.verticalScale = verticalScale
    }

    /// Nil unless `frame` starts a key frame with a valid start code.
    public init?(parsing frame: some Collection<UInt8>) {
        var bytes = frame.prefix(10).makeIterator()
        var b: [UInt8] = []
        while let x = bytes.next() { b.append(x) }
        guard b.count == 10, b[0] & 0x01 == 0, b[3] == 0x9D, b[4] == 0x01, b[5] == 0x2A else { return nil }
        let tag = Int(b[0]) | Int(b[1]) << 8 | Int(b[2]) << 16
        version = UInt8(tag >> 1 & 0x07)
        showFrame = tag >> 4 & 1 == 1
        firstPartitionSize = tag >> 5
        width = Int(b[6]) | Int(b[7] & 0x3F) << 8
        horizontalScale = b[7] >> 6
        height = Int(b[8]) | Int(b[9] & 0x3F) << 8
        verticalScale = b[9] >> 6
    }

    /// The ten bytes above (the frame tag, start code and sizes).
    public func serialized() -> [UInt8] {
        let tag = (firstPartitionSize & 0x7FFFF) << 5 | (showFrame ? 1 : 0) << 4 | Int(version & 0x07) << 1
        return [
            UInt8(tag & 0xFF), UInt8(tag >> 8 & 0xFF), UInt8(tag >> 16 & 0xFF), 0x9D, 0x01, 0x2A,
            UInt8(width & 0xFF), UInt8(width >> 8 & 0x3F) | horizontalScale << 6,
            UInt8(height & 0xFF), UInt8(height >> 8 & 0x3F) | verticalScale << 6,
        ]
    }
}
