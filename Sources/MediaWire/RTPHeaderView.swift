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

    /// Where the data of header-extension element `id` lies in `bytes` (the packet this view was
    /// read from), for the one-byte and two-byte forms
    /// ([RFC 8285 §4.2–4.3](https://www.rfc-editor.org/rfc/rfc8285#section-4.2)); nil when the
    /// packet has no such element. Every length is checked against the extension block.
    public static func extensionElement(id: UInt8, in bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        guard bytes.count >= 12, bytes[0] & 0x10 != 0 else { return nil }
        let start = 12 + 4 * Int(bytes[0] & 0x0F)
        guard bytes.count >= start + 4 else { return nil }
        let profile = UInt16(bytes[start]) << 8 | UInt16(bytes[start + 1])
        let end = start + 4 + 4 * (Int(bytes[start + 2]) << 8 | Int(bytes[start + 3]))
        guard end <= bytes.count else { return nil }
        var i = start + 4
        if profile == 0xBEDE {
            while i < end {
                let b = bytes[i]
                i += 1
                if b == 0 { continue }  // padding
                if b >> 4 == 15 { return nil }  // reserved id: stop (§4.2)
                let length = Int(b & 0x0F) + 1
                guard i + length <= end else { return nil }
                if b >> 4 == id { return i..<(i + length) }
                i += length
            }
        } else if profile & 0xFFF0 == 0x1000 {
            while i < end {
                let elementID = bytes[i]
                i += 1
                if elementID == 0 { continue }
                guard i < end else { return nil }
                let length = Int(bytes[i])
                i += 1
                guard i + length <= end else { return nil }
                if elementID == id { return i..<(i + length) }
                i += length
            }
        }
        return nil
    }

    /// The most bytes ``write(into:marker:padding:payloadType:sequenceNumber:timestamp:ssrc:capture:transportSequence:twoByteForm:)``
    /// writes: 12 of fixed header, 4 of extension header, then 2 + 16 of capture time and 2 + 2 of
    /// transport-wide sequence number (two-byte element headers at most), rounded up to whole words.
    public static let maximumWrittenLength = 40

    /// Writes an outgoing RTP header into `out` and returns its length: the fixed part, no CSRCs,
    /// and the header extensions given — an abs-capture-time element of 8 or 16 bytes, a
    /// transport-wide sequence number of 2 bytes
    /// ([draft-holmer-rmcat-transport-wide-cc-extensions-01 §2](https://datatracker.ietf.org/doc/html/draft-holmer-rmcat-transport-wide-cc-extensions-01#section-2))
    /// — padded to whole words: the one-byte form
    /// ([RFC 8285 §4.2](https://www.rfc-editor.org/rfc/rfc8285#section-4.2)) when every id is 1–14,
    /// the two-byte form (§4.3) otherwise, or always with `twoByteForm` (a stream whose negotiated
    /// ids include one above 14 keeps one form from packet to packet: mixing them needs
    /// `a=extmap-allow-mixed`, §4.1.2). `out` must hold ``maximumWrittenLength`` bytes (nothing is
    /// written and 0 returned when it does not).
    public static func write(
        into out: UnsafeMutableRawBufferPointer, marker: Bool, padding: Bool, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32,
        ssrc: UInt32, capture: (id: UInt8, time: AbsoluteCaptureTime)?, transportSequence: (id: UInt8, value: UInt16)? = nil,
        twoByteForm: Bool = false
    ) -> Int {
        guard out.count >= maximumWrittenLength else { return 0 }
        var i = 0
        func byte(_ b: UInt8) {
            out[i] = b
            i += 1
        }
        func u16(_ v: UInt16) { byte(UInt8(v >> 8)); byte(UInt8(v & 0xFF)) }
        func u32(_ v: UInt32) { u16(UInt16(v >> 16)); u16(UInt16(v & 0xFFFF)) }
        func u64(_ v: UInt64) { u32(UInt32(v >> 32)); u32(UInt32(v & 0xFFFF_FFFF)) }
        let extended = capture != nil || transportSequence != nil
        byte(0x80 | (padding ? 0x20 : 0) | (extended ? 0x10 : 0))
        byte((marker ? 0x80 : 0) | (payloadType & 0x7F))
        u16(sequenceNumber)
        u32(timestamp)
        u32(ssrc)
        guard extended else { return i }
        let captureLength = capture.map { $0.time.estimatedCaptureClockOffset == nil ? 8 : 16 } ?? 0
        let oneByte =
            !twoByteForm && (capture.map { (1...14).contains($0.id) } ?? true) && (transportSequence.map { (1...14).contains($0.id) } ?? true)
        let elementHeader = oneByte ? 1 : 2
        let elements = (capture != nil ? elementHeader + captureLength : 0) + (transportSequence != nil ? elementHeader + 2 : 0)
        u16(oneByte ? 0xBEDE : 0x1000)
        u16(UInt16((elements + 3) / 4))
        func element(_ id: UInt8, length: Int) {
            if oneByte {
                byte(id << 4 | UInt8(length - 1))
            } else {
                byte(id)
                byte(UInt8(length))
            }
        }
        if let (id, time) = capture {
            element(id, length: captureLength)
            u64(time.captureTimestamp)
            if let offset = time.estimatedCaptureClockOffset { u64(UInt64(bitPattern: offset)) }
        }
        if let (id, value) = transportSequence {
            element(id, length: 2)
            u16(value)
        }
        for _ in 0..<((4 - elements % 4) % 4) { byte(0) }
        return i
    }
}
