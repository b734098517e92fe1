/// A bounds-checked cursor over received bytes: every read checks the remaining length first, so
/// no length taken from the wire can read past the buffer.
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    var remaining: Int { bytes.endIndex - index }
    var isAtEnd: Bool { index >= bytes.endIndex }

    mutating func require(_ n: Int, _ what: @autoclosure () -> String) throws(WireError) {
        if n < 0 || remaining < n { throw WireError.truncated(what()) }
    }

    mutating func u8(_ what: @autoclosure () -> String = "byte") throws(WireError) -> UInt8 {
        try require(1, what())
        defer { index += 1 }
        return bytes[index]
    }

    mutating func u16(_ what: @autoclosure () -> String = "u16") throws(WireError) -> UInt16 {
        try require(2, what())
        defer { index += 2 }
        return UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
    }

    mutating func u24(_ what: @autoclosure () -> String = "u24") throws(WireError) -> UInt32 {
        try require(3, what())
        defer { index += 3 }
        return UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
    }

    mutating func u32(_ what: @autoclosure () -> String = "u32") throws(WireError) -> UInt32 {
        try require(4, what())
        defer { index += 4 }
        return UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16 | UInt32(bytes[index + 2]) << 8
            | UInt32(bytes[index + 3])
    }

    mutating func u64(_ what: @autoclosure () -> String = "u64") throws(WireError) -> UInt64 {
        let hi = try u32(what())
        let lo = try u32(what())
        return UInt64(hi) << 32 | UInt64(lo)
    }

    mutating func take(_ n: Int, _ what: @autoclosure () -> String = "bytes") throws(WireError) -> ArraySlice<UInt8> {
        try require(n, what())
        defer { index += n }
        return bytes[index..<(index + n)]
    }

    mutating func skip(_ n: Int, _ what: @autoclosure () -> String = "bytes") throws(WireError) {
        try require(n, what())
        index += n
    }

    func rest() -> ArraySlice<UInt8> { bytes[index...] }
}

/// Big-endian appends, the write side of ``ByteReader``.
extension Array where Element == UInt8 {
    mutating func appendU16(_ v: UInt16) {
        append(UInt8(truncatingIfNeeded: v >> 8))
        append(UInt8(truncatingIfNeeded: v))
    }

    mutating func appendU24(_ v: UInt32) {
        append(UInt8(truncatingIfNeeded: v >> 16))
        append(UInt8(truncatingIfNeeded: v >> 8))
        append(UInt8(truncatingIfNeeded: v))
    }

    mutating func appendU32(_ v: UInt32) {
        append(UInt8(truncatingIfNeeded: v >> 24))
        append(UInt8(truncatingIfNeeded: v >> 16))
        append(UInt8(truncatingIfNeeded: v >> 8))
        append(UInt8(truncatingIfNeeded: v))
    }

    mutating func appendU64(_ v: UInt64) {
        appendU32(UInt32(truncatingIfNeeded: v >> 32))
        appendU32(UInt32(truncatingIfNeeded: v))
    }

    mutating func setU16(_ v: UInt16, at i: Int) {
        self[i] = UInt8(truncatingIfNeeded: v >> 8)
        self[i + 1] = UInt8(truncatingIfNeeded: v)
    }
}
