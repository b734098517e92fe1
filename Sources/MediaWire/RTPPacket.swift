/// An RTP packet ([RFC 3550 §5.1](https://www.rfc-editor.org/rfc/rfc3550#section-5.1)).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |V=2|P|X|  CC   |M|     PT      |       sequence number         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                           timestamp                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           synchronization source (SSRC) identifier            |
/// +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
/// |            contributing source (CSRC) identifiers             |
/// |                             ....                              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  profile-defined (0xBEDE / 0x100x) |          length           |  (X = 1)
/// |                    header extension words                     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 payload ...          | padding | pad count    |  (P = 1)
/// ```
public struct RTPPacket: Hashable, Sendable {
    public var header: RTPHeader
    public var payload: [UInt8]
    /// Number of padding bytes (including the count byte) to append; 0 means no padding.
    public var paddingLength: UInt8

    public init(header: RTPHeader, payload: [UInt8], paddingLength: UInt8 = 0) {
        self.header = header
        self.payload = payload
        self.paddingLength = paddingLength
    }

    /// The largest packet any parser in this module accepts; nothing on a UDP path is larger.
    public static let maximumSize = 65_535

    /// Parses one RTP packet. Throws ``WireError`` for anything malformed.
    public init(parsing bytes: ArraySlice<UInt8>) throws(WireError) {
        if bytes.count > Self.maximumSize { throw WireError.badLength("RTP packet of \(bytes.count) bytes") }
        var reader = ByteReader(bytes)
        let (header, hasPadding) = try RTPHeader.parse(&reader)
        self.header = header
        var payloadEnd = bytes.endIndex
        var padding: UInt8 = 0
        if hasPadding {
            guard let last = bytes.last, last > 0 else { throw WireError(.badPadding, "padding count is 0") }
            guard Int(last) <= reader.remaining else {
                throw WireError(.badPadding, "padding \(last) exceeds payload \(reader.remaining)")
            }
            padding = last
            payloadEnd -= Int(last)
        }
        self.payload = Array(bytes[reader.index..<payloadEnd])
        self.paddingLength = padding
    }

    public init(parsing bytes: [UInt8]) throws(WireError) {
        try self.init(parsing: bytes[...])
    }

    /// Bytes that ``serialize(into:)`` appends.
    public var serializedSize: Int { header.serializedSize + payload.count + Int(paddingLength) }

    /// Appends the packet's wire form.
    public func serialize(into out: inout [UInt8]) {
        header.serialize(into: &out, padding: paddingLength > 0)
        out.append(contentsOf: payload)
        if paddingLength > 0 {
            out.append(contentsOf: repeatElement(0, count: Int(paddingLength) - 1))
            out.append(paddingLength)
        }
    }

    public func serialized() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(serializedSize)
        serialize(into: &out)
        return out
    }
}

/// The fixed RTP header, CSRCs and header extensions.
public struct RTPHeader: Hashable, Sendable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var csrcs: [UInt32]
    public var extensions: RTPHeaderExtensions?

    public init(
        marker: Bool = false, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32,
        csrcs: [UInt32] = [], extensions: RTPHeaderExtensions? = nil
    ) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrcs = csrcs
        self.extensions = extensions
    }

    static func parse(_ reader: inout ByteReader) throws(WireError) -> (RTPHeader, hasPadding: Bool) {
        let b0 = try reader.u8("RTP header")
        guard b0 >> 6 == 2 else { throw WireError(.badVersion, "RTP version \(b0 >> 6)") }
        let b1 = try reader.u8("RTP header")
        let seq = try reader.u16("sequence number")
        let ts = try reader.u32("timestamp")
        let ssrc = try reader.u32("SSRC")
        let cc = Int(b0 & 0x0F)
        var csrcs: [UInt32] = []
        if cc > 0 {
            try reader.require(cc * 4, "CSRC list")
            csrcs.reserveCapacity(cc)
            for _ in 0..<cc { csrcs.append(try reader.u32()) }
        }
        var extensions: RTPHeaderExtensions?
        if b0 & 0x10 != 0 {
            extensions = try RTPHeaderExtensions.parse(&reader)
        }
        let header = RTPHeader(
            marker: b1 & 0x80 != 0, payloadType: b1 & 0x7F, sequenceNumber: seq, timestamp: ts, ssrc: ssrc,
            csrcs: csrcs, extensions: extensions)
        return (header, b0 & 0x20 != 0)
    }

    /// Size of the header on the wire, extensions included.
    public var serializedSize: Int { 12 + 4 * min(csrcs.count, 15) + (extensions?.serializedSize ?? 0) }

    func serialize(into out: inout [UInt8], padding: Bool) {
        let cc = UInt8(min(csrcs.count, 15))
        out.append(0x80 | (padding ? 0x20 : 0) | (extensions != nil ? 0x10 : 0) | cc)
        out.append((marker ? 0x80 : 0) | (payloadType & 0x7F))
        out.appendU16(sequenceNumber)
        out.appendU32(timestamp)
        out.appendU32(ssrc)
        for csrc in csrcs.prefix(15) { out.appendU32(csrc) }
        extensions?.serialize(into: &out)
    }
}

/// One header-extension element ([RFC 8285 §4](https://www.rfc-editor.org/rfc/rfc8285#section-4)).
public struct RTPHeaderExtension: Hashable, Sendable {
    /// The local identifier negotiated by `a=extmap`.
    public var id: UInt8
    public var data: [UInt8]

    public init(id: UInt8, data: [UInt8]) {
        self.id = id
        self.data = data
    }
}

/// The header-extension block of an RTP packet.
///
/// The one-byte form (profile 0xBEDE, [RFC 8285 §4.2](https://www.rfc-editor.org/rfc/rfc8285#section-4.2))
/// carries ids 1–14 with 1–16 data bytes; the two-byte form (0x100 + 4 app bits,
/// [§4.3](https://www.rfc-editor.org/rfc/rfc8285#section-4.3)) ids 1–255 with 0–255 bytes. Any other
/// profile is kept opaque as ``Form/other(profile:)``.
public struct RTPHeaderExtensions: Hashable, Sendable {
    public enum Form: Hashable, Sendable {
        case oneByte
        case twoByte(appBits: UInt8)
        case other(profile: UInt16)
    }

    public var form: Form
    /// The elements, for the one- and two-byte forms.
    public var elements: [RTPHeaderExtension]
    /// The raw extension words, for ``Form/other(profile:)`` only.
    public var opaque: [UInt8]

    public init(form: Form, elements: [RTPHeaderExtension] = [], opaque: [UInt8] = []) {
        self.form = form
        self.elements = elements
        self.opaque = opaque
    }

    /// Picks the one-byte form when every element fits it, the two-byte form otherwise.
    public init(elements: [RTPHeaderExtension]) {
        let fitsOneByte = elements.allSatisfy { (1...14).contains($0.id) && (1...16).contains($0.data.count) }
        self.init(form: fitsOneByte ? .oneByte : .twoByte(appBits: 0), elements: elements)
    }

    /// The data of the first element with `id`.
    public subscript(id: UInt8) -> [UInt8]? {
        elements.first(where: { $0.id == id })?.data
    }

    static func parse(_ reader: inout ByteReader) throws(WireError) -> RTPHeaderExtensions {
        let profile = try reader.u16("extension profile")
        let words = Int(try reader.u16("extension length"))
        let body = try reader.take(words * 4, "header extension of \(words) words")
        if profile == 0xBEDE {
            return RTPHeaderExtensions(form: .oneByte, elements: try parseOneByte(body))
        } else if profile & 0xFFF0 == 0x1000 {
            return RTPHeaderExtensions(
                form: .twoByte(appBits: UInt8(profile & 0x0F)), elements: try parseTwoByte(body))
        } else {
            return RTPHeaderExtensions(form: .other(profile: profile), opaque: Array(body))
        }
    }

    private static func parseOneByte(_ body: ArraySlice<UInt8>) throws(WireError) -> [RTPHeaderExtension] {
        var reader = ByteReader(body)
        var out: [RTPHeaderExtension] = []
        while !reader.isAtEnd {
            let b = try reader.u8()
            if b == 0 { continue }  // padding
            let id = b >> 4
            if id == 15 { break }  // reserved: stop parsing (§4.2)
            let len = Int(b & 0x0F) + 1
            out.append(RTPHeaderExtension(id: id, data: Array(try reader.take(len, "one-byte extension \(id)"))))
        }
        return out
    }

    private static func parseTwoByte(_ body: ArraySlice<UInt8>) throws(WireError) -> [RTPHeaderExtension] {
        var reader = ByteReader(body)
        var out: [RTPHeaderExtension] = []
        while !reader.isAtEnd {
            let id = try reader.u8()
            if id == 0 { continue }  // padding
            let len = Int(try reader.u8("two-byte extension length"))
            out.append(RTPHeaderExtension(id: id, data: Array(try reader.take(len, "two-byte extension \(id)"))))
        }
        return out
    }

    private var bodySize: Int {
        switch form {
        case .oneByte: return elements.reduce(0) { $0 + 1 + min(max($1.data.count, 1), 16) }
        case .twoByte: return elements.reduce(0) { $0 + 2 + min($1.data.count, 255) }
        case .other: return opaque.count
        }
    }

    var serializedSize: Int { 4 + (bodySize + 3) / 4 * 4 }

    func serialize(into out: inout [UInt8]) {
        let words = (bodySize + 3) / 4
        let start = out.count
        switch form {
        case .oneByte:
            out.appendU16(0xBEDE)
            out.appendU16(UInt16(words))
            for e in elements {
                // One-byte form cannot carry empty data; an empty element is sent as one zero byte.
                let data = e.data.isEmpty ? [0] : Array(e.data.prefix(16))
                out.append((e.id & 0x0F) << 4 | UInt8(data.count - 1))
                out.append(contentsOf: data)
            }
        case .twoByte(let appBits):
            out.appendU16(0x1000 | UInt16(appBits & 0x0F))
            out.appendU16(UInt16(words))
            for e in elements {
                let data = e.data.prefix(255)
                out.append(e.id)
                out.append(UInt8(data.count))
                out.append(contentsOf: data)
            }
        case .other(let profile):
            out.appendU16(profile)
            out.appendU16(UInt16(words))
            out.append(contentsOf: opaque)
        }
        while (out.count - start) % 4 != 0 { out.append(0) }
    }
}
