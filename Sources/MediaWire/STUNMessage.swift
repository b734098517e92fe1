/// A STUN message ([RFC 8489 §5](https://www.rfc-editor.org/rfc/rfc8489#section-5)) as ICE uses it.
///
/// ```
///  0                   1                   2                   3
/// |0 0|     STUN Message Type     |         Message Length        |
/// |                         Magic Cookie                          |
/// |                     Transaction ID (96 bits)                  |
/// |  Type                         |  Length                       |  attributes, each padded
/// |  Value ...                                                    |  to 4 bytes
/// ```
/// MESSAGE-INTEGRITY (HMAC-SHA1, §14.5) needs a MAC function, which this layer does not have: the
/// caller passes one in, so the wire format stays free of crypto libraries.
public struct STUNMessage: Hashable, Sendable {
    public static let magicCookie: UInt32 = 0x2112_A442
    public static let headerLength = 20

    /// Message types ICE uses (method 0x001 Binding).
    public enum MessageType {
        public static let bindingRequest: UInt16 = 0x0001
        public static let bindingSuccess: UInt16 = 0x0101
        public static let bindingError: UInt16 = 0x0111
        public static let bindingIndication: UInt16 = 0x0011
    }

    /// Attribute types ([RFC 8489 §18.3](https://www.rfc-editor.org/rfc/rfc8489#section-18.3),
    /// [RFC 8445 §16.1](https://www.rfc-editor.org/rfc/rfc8445#section-16.1)).
    public enum AttributeType {
        public static let username: UInt16 = 0x0006
        public static let messageIntegrity: UInt16 = 0x0008
        public static let errorCode: UInt16 = 0x0009
        public static let xorMappedAddress: UInt16 = 0x0020
        public static let priority: UInt16 = 0x0024
        public static let useCandidate: UInt16 = 0x0025
        public static let software: UInt16 = 0x8022
        public static let fingerprint: UInt16 = 0x8028
        public static let iceControlled: UInt16 = 0x8029
        public static let iceControlling: UInt16 = 0x802A
    }

    public struct Attribute: Hashable, Sendable {
        public var type: UInt16
        public var value: [UInt8]
        public init(type: UInt16, value: [UInt8]) {
            self.type = type
            self.value = value
        }
    }

    public var type: UInt16
    public var transactionID: [UInt8]
    public var attributes: [Attribute]

    public init(type: UInt16, transactionID: [UInt8], attributes: [Attribute] = []) {
        self.type = type
        self.transactionID = transactionID
        self.attributes = attributes
    }

    /// True if `bytes` starts like a STUN message (RFC 7983: first byte 0–3, and the cookie).
    public static func looksLikeSTUN(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.count >= headerLength else { return false }
        let i = bytes.startIndex
        return bytes[i] < 4 && bytes[i + 4] == 0x21 && bytes[i + 5] == 0x12 && bytes[i + 6] == 0xA4 && bytes[i + 7] == 0x42
    }

    public init(parsing bytes: ArraySlice<UInt8>) throws(WireError) {
        if bytes.count > 4_096 { throw WireError.badLength("STUN message of \(bytes.count) bytes") }
        var r = ByteReader(bytes)
        let type = try r.u16("STUN header")
        guard type & 0xC000 == 0 else { throw WireError.invalid("STUN type \(type)") }
        let length = Int(try r.u16("STUN length"))
        guard try r.u32("STUN cookie") == Self.magicCookie else { throw WireError.invalid("STUN magic cookie") }
        let tid = Array(try r.take(12, "transaction id"))
        guard length % 4 == 0, length == r.remaining else {
            throw WireError.badLength("STUN length \(length) for \(r.remaining) bytes")
        }
        var attributes: [Attribute] = []
        while !r.isAtEnd {
            let t = try r.u16("attribute type")
            let n = Int(try r.u16("attribute length"))
            let value = Array(try r.take(n, "attribute value"))
            try r.skip((4 - n % 4) % 4, "attribute padding")
            attributes.append(Attribute(type: t, value: value))
            if attributes.count > 64 { throw WireError.badLength("more than 64 STUN attributes") }
        }
        self.init(type: type, transactionID: tid, attributes: attributes)
    }

    public init(parsing bytes: [UInt8]) throws(WireError) { try self.init(parsing: bytes[...]) }

    public subscript(type: UInt16) -> [UInt8]? { attributes.first { $0.type == type }?.value }

    public var username: String? { self[AttributeType.username].map { String(decoding: $0, as: UTF8.self) } }
    public var hasUseCandidate: Bool { self[AttributeType.useCandidate] != nil }

    /// A keyed MAC: HMAC-SHA1(key, message) → 20 bytes.
    public typealias MAC = (_ key: [UInt8], _ message: [UInt8]) -> [UInt8]

    /// The wire form, with MESSAGE-INTEGRITY (when `integrityKey` is given) and FINGERPRINT
    /// appended last, in that order (§14.5, §14.7). Any such attributes already in the list are
    /// dropped first.
    public func serialized(integrityKey: [UInt8]? = nil, mac: MAC? = nil, fingerprint: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        out.appendU16(type)
        out.appendU16(0)
        out.appendU32(Self.magicCookie)
        out.append(contentsOf: transactionID.prefix(12))
        while out.count < Self.headerLength { out.append(0) }
        for a in attributes where a.type != AttributeType.messageIntegrity && a.type != AttributeType.fingerprint {
            Self.append(a, to: &out)
        }
        if let integrityKey, let mac {
            out.setU16(UInt16(out.count - Self.headerLength + 24), at: 2)
            let digest = mac(integrityKey, out)
            Self.append(Attribute(type: AttributeType.messageIntegrity, value: Array(digest.prefix(20))), to: &out)
        }
        if fingerprint {
            out.setU16(UInt16(out.count - Self.headerLength + 8), at: 2)
            var v: [UInt8] = []
            v.appendU32(CRC32.checksum(out) ^ 0x5354_554E)
            Self.append(Attribute(type: AttributeType.fingerprint, value: v), to: &out)
        }
        out.setU16(UInt16(out.count - Self.headerLength), at: 2)
        return out
    }

    private static func append(_ a: Attribute, to out: inout [UInt8]) {
        out.appendU16(a.type)
        out.appendU16(UInt16(min(a.value.count, 0xFFFF)))
        out.append(contentsOf: a.value)
        while out.count % 4 != 0 { out.append(0) }
    }

    /// Checks MESSAGE-INTEGRITY of the raw message `bytes` (the one this value was parsed from).
    public static func verifyIntegrity(_ bytes: [UInt8], key: [UInt8], mac: MAC) -> Bool {
        guard let (offset, _) = locate(AttributeType.messageIntegrity, in: bytes), offset + 24 <= bytes.count else {
            return false
        }
        var prefix = Array(bytes[0..<offset])
        prefix.setU16(UInt16(offset - headerLength + 24), at: 2)
        let expected = mac(key, prefix)
        let got = bytes[(offset + 4)..<(offset + 24)]
        // Constant-time comparison.
        var diff: UInt8 = 0
        for (a, b) in zip(expected.prefix(20), got) { diff |= a ^ b }
        return expected.count >= 20 && diff == 0
    }

    /// Checks FINGERPRINT if present; false if absent or wrong.
    public static func verifyFingerprint(_ bytes: [UInt8]) -> Bool {
        guard let (offset, length) = locate(AttributeType.fingerprint, in: bytes), length == 4,
            offset + 8 == bytes.count
        else { return false }
        var prefix = Array(bytes[0..<offset])
        prefix.setU16(UInt16(offset - headerLength + 8), at: 2)
        let v = UInt32(bytes[offset + 4]) << 24 | UInt32(bytes[offset + 5]) << 16 | UInt32(bytes[offset + 6]) << 8
            | UInt32(bytes[offset + 7])
        return CRC32.checksum(prefix) ^ 0x5354_554E == v
    }

    /// Offset and length of the first attribute of `type` in raw bytes.
    private static func locate(_ type: UInt16, in bytes: [UInt8]) -> (Int, Int)? {
        var i = headerLength
        while i + 4 <= bytes.count {
            let t = UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])
            let n = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            if t == type { return (i, n) }
            i += 4 + (n + 3) / 4 * 4
        }
        return nil
    }
}

/// An IP address and port as XOR-MAPPED-ADDRESS carries it
/// ([RFC 8489 §14.2](https://www.rfc-editor.org/rfc/rfc8489#section-14.2)).
public struct STUNAddress: Hashable, Sendable {
    /// 4 bytes for IPv4, 16 for IPv6, in network order.
    public var address: [UInt8]
    public var port: UInt16

    public init(address: [UInt8], port: UInt16) {
        self.address = address
        self.port = port
    }

    public func xorEncoded(transactionID: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, address.count == 16 ? 0x02 : 0x01]
        out.appendU16(port ^ 0x2112)
        let mask = [0x21, 0x12, 0xA4, 0x42] + transactionID
        for (i, b) in address.enumerated() { out.append(b ^ mask[i]) }
        return out
    }

    public init(xorDecoding value: [UInt8], transactionID: [UInt8]) throws(WireError) {
        guard value.count == 8 || value.count == 20 else { throw WireError.badLength("XOR-MAPPED-ADDRESS") }
        guard (value[1] == 1 && value.count == 8) || (value[1] == 2 && value.count == 20) else {
            throw WireError.invalid("address family \(value[1])")
        }
        port = (UInt16(value[2]) << 8 | UInt16(value[3])) ^ 0x2112
        let mask = [0x21, 0x12, 0xA4, 0x42] + transactionID
        address = value.dropFirst(4).enumerated().map { $1 ^ mask[$0] }
    }
}

/// CRC-32 (ISO-HDLC, the one STUN's FINGERPRINT uses).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
