import MediaCrypto
import MediaWire
import NIOCore

/// One datagram of a media pipe between two nodes (``NodePipe``), parsed and serialized here side
/// by side. It travels between the nodes' media sockets, beside WebRTC's traffic, and starts with
/// a byte RFC 7983 gives to no protocol ([RFC 7983 §7](https://www.rfc-editor.org/rfc/rfc7983#section-7):
/// 0–3 STUN, 16–19 ZRTP, 20–63 DTLS, 64–79 TURN channels, 128–191 RTP/RTCP), so the relay's
/// demultiplexer tells it apart by that byte alone:
///
/// ```
///  0        1        2 … 9      10 … 17     18 …                 last 16
/// | 0xF7 | kind | token (BE) | counter (BE) | ciphertext … | GCM tag |
/// ```
///
/// Bytes 0–17 are the AEAD's associated data; the rest is ``NodePipeCipher``'s output under the
/// pipe's key, the nonce made of the direction (0: from the origin, 1: to it) and the counter.
/// The plaintext by kind: `media`: the packet's kind (0 audio, 1 video), its simulcast layer
/// (255: none), the RTP packet as the publisher sent it; `keyFrame`: a layer (255: every one);
/// `nack`: a kind and up to ``maximumNACKs`` sequence numbers (2 bytes each); the rest: nothing.
struct NodePipeDatagram: Equatable {
    enum Kind: UInt8 {
        /// A publisher's RTP packet, origin → mirror.
        case media = 1
        /// The publication ended, origin → mirror.
        case ended = 2
        /// The origin still pipes (sent every second), origin → mirror.
        case originAlive = 3
        /// A key frame is wanted, mirror → origin.
        case keyFrame = 4
        /// Packets a mirror's rendition misses, mirror → origin.
        case nack = 5
        /// The mirror still wants the pipe (sent every second), mirror → origin.
        case mirrorAlive = 6
        /// The mirror has no viewer left: stop piping, mirror → origin.
        case detach = 7

        /// Whether the origin sends it (else the mirror does).
        var fromOrigin: Bool { rawValue <= Self.originAlive.rawValue }
        /// The nonce's direction for this kind.
        var direction: UInt32 { fromOrigin ? 0 : 1 }
    }

    static let marker: UInt8 = 0xF7
    static let headerLength = 18
    /// A header and a tag: what a datagram with an empty plaintext takes.
    static let overhead = headerLength + NodePipeCipher.tagLength
    static let maximumNACKs = 64
    static let noLayer: UInt8 = 255

    var kind: Kind
    var token: UInt64
    var counter: UInt64
    var plaintext: [UInt8] = []

    /// The header's fields without opening anything (what decides which pipe's key to try);
    /// nil for a datagram too short, of another protocol or of an unknown kind.
    static func header(_ bytes: UnsafeRawBufferPointer) -> (kind: Kind, token: UInt64, counter: UInt64)? {
        guard bytes.count >= overhead, bytes[0] == marker, let kind = Kind(rawValue: bytes[1]) else { return nil }
        return (kind, bigEndian(bytes, at: 2), bigEndian(bytes, at: 10))
    }

    /// The datagram in `bytes` opened with `cipher`; nil if it is not one or its tag does not match.
    static func open(_ bytes: UnsafeRawBufferPointer, with cipher: NodePipeCipher) -> NodePipeDatagram? {
        guard let (kind, token, counter) = header(bytes) else { return nil }
        let aad = UnsafeRawBufferPointer(rebasing: bytes[0..<headerLength])
        let sealed = UnsafeRawBufferPointer(rebasing: bytes[headerLength...])
        guard let plaintext = cipher.open(aad: aad, sealed: sealed, direction: kind.direction, counter: counter) else { return nil }
        return NodePipeDatagram(kind: kind, token: token, counter: counter, plaintext: plaintext)
    }

    /// The bytes to send, sealed with `cipher`; nil if OpenSSL fails.
    func sealed(with cipher: NodePipeCipher) -> [UInt8]? {
        var header: [UInt8] = [Self.marker, kind.rawValue]
        header.reserveCapacity(Self.headerLength)
        for value in [token, counter] {
            for shift in stride(from: 56, through: 0, by: -8) { header.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        return cipher.seal(aad: header, plaintext: plaintext, direction: kind.direction, counter: counter)
    }

    /// A media datagram carrying `packet` (sent by the origin), written once into a buffer of its
    /// own and sealed there in place: the one copy a pipe makes of each packet. Nil if OpenSSL fails.
    static func media(
        _ packet: ByteBuffer, kind: MediaKind, layer: Int?, token: UInt64, counter: UInt64, cipher: NodePipeCipher, allocator: ByteBufferAllocator
    ) -> ByteBuffer? {
        var buffer = allocator.buffer(capacity: overhead + 2 + packet.readableBytes)
        buffer.writeInteger(marker)
        buffer.writeInteger(Kind.media.rawValue)
        buffer.writeInteger(token)
        buffer.writeInteger(counter)
        buffer.writeInteger(kind.pipeCode)
        buffer.writeInteger(layer.map { UInt8(clamping: $0) } ?? noLayer)
        buffer.writeImmutableBuffer(packet)
        buffer.writeRepeatingByte(0, count: NodePipeCipher.tagLength)
        let sealed = buffer.withUnsafeMutableReadableBytes {
            cipher.sealInPlace($0, aadLength: headerLength, direction: Kind.media.direction, counter: counter)
        }
        return sealed ? buffer : nil
    }

    /// A received media datagram opened in a buffer of its own (one copy), `counter` its header's:
    /// the packet's kind, layer, and the RTP packet (the buffer's readable bytes). Nil when the tag
    /// does not match, or the plaintext is too short or names no kind.
    static func openMedia(_ datagram: ByteBuffer, counter: UInt64, with cipher: NodePipeCipher, allocator: ByteBufferAllocator)
        -> (kind: MediaKind, layer: Int?, packet: ByteBuffer)?
    {
        guard datagram.readableBytes > overhead + 2 else { return nil }
        var owned = allocator.buffer(capacity: datagram.readableBytes)
        owned.writeImmutableBuffer(datagram)
        let opened = owned.withUnsafeMutableReadableBytes {
            cipher.openInPlace($0, aadLength: headerLength, direction: Kind.media.direction, counter: counter)
        }
        guard opened else { return nil }
        owned.moveReaderIndex(forwardBy: headerLength)
        owned.moveWriterIndex(to: owned.writerIndex - NodePipeCipher.tagLength)
        guard let code = owned.readInteger(as: UInt8.self), let kind = MediaKind(pipeCode: code), let layer = owned.readInteger(as: UInt8.self) else {
            return nil
        }
        return (kind, layer == noLayer ? nil : Int(layer), owned)
    }

    private static func bigEndian(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[offset + $1]) }
    }

    // MARK: Plaintexts

    /// A key-frame request's layer (nil: every layer); nil as a whole when it is not one.
    var keyFrameLayer: Int?? {
        guard kind == .keyFrame, plaintext.count == 1 else { return nil }
        return .some(plaintext[0] == Self.noLayer ? nil : Int(plaintext[0]))
    }

    static func nackPlaintext(_ lost: [UInt16], kind: MediaKind) -> [UInt8] {
        [kind.pipeCode] + lost.prefix(maximumNACKs).flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// A NACK's kind and sequence numbers; nil when it is not one, or names more than ``maximumNACKs``.
    var nack: (kind: MediaKind, lost: [UInt16])? {
        guard kind == .nack, plaintext.count % 2 == 1, plaintext.count <= 1 + 2 * Self.maximumNACKs,
            let k = MediaKind(pipeCode: plaintext[0])
        else { return nil }
        let lost = stride(from: 1, to: plaintext.count, by: 2).map { UInt16(plaintext[$0]) << 8 | UInt16(plaintext[$0 + 1]) }
        return (k, lost)
    }
}

extension MediaKind {
    /// The kind as a node pipe's datagrams carry it.
    var pipeCode: UInt8 { self == .audio ? 0 : 1 }
    init?(pipeCode: UInt8) {
        switch pipeCode {
        case 0: self = .audio
        case 1: self = .video
        default: return nil
        }
    }
}
