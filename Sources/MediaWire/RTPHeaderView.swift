/// The fields a forwarder needs from an RTP packet, read in place from raw bytes without
/// copying the payload ([RFC 3550 §5.1](https://www.rfc-editor.org/rfc/rfc3550#section-5.1)).
/// Every offset is checked against the buffer's length.
public struct RTPHeaderView: Sendable, Equatable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var hasPadding: Bool
    /// Bytes of fixed header, CSRCs and extension: where the payload starts.
    public var headerLength: Int

    public init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= 12 else { throw WireError.truncated("RTP header") }
        guard bytes[0] >> 6 == 2 else { throw WireError(.badVersion, "RTP version \(bytes[0] >> 6)") }
        var length = 12 + 4 * Int(bytes[0] & 0x0F)
        if bytes[0] & 0x10 != 0 {
            guard bytes.count >= length + 4 else { throw WireError.truncated("RTP extension header") }
            length += 4 + 4 * (Int(bytes[length + 2]) << 8 | Int(bytes[length + 3]))
        }
        guard length <= bytes.count else { throw WireError.truncated("RTP header of \(length) bytes") }
        marker = bytes[1] & 0x80 != 0
        payloadType = bytes[1] & 0x7F
        sequenceNumber = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        timestamp = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
        ssrc = UInt32(bytes[8]) << 24 | UInt32(bytes[9]) << 16 | UInt32(bytes[10]) << 8 | UInt32(bytes[11])
        hasPadding = bytes[0] & 0x20 != 0
        headerLength = length
    }
}
