import NIOCore

/// RTP, RTCP, STUN and DTLS over a TCP connection, each packet preceded by its length as a 16-bit
/// big-endian integer ([RFC 4571 §2](https://www.rfc-editor.org/rfc/rfc4571#section-2), the
/// framing ICE-TCP uses, [RFC 6544 §3](https://www.rfc-editor.org/rfc/rfc6544#section-3)): the
/// decoder splits a byte stream into packets, ``frame(_:allocator:)`` writes one.
///
/// A peer gets no more than a datagram's worth: a length above ``maximumFrame`` is no peer's
/// packet and ends the connection (``FrameTooLarge``); a zero length is skipped. What the decoder
/// holds is therefore at most one read from the socket plus one incomplete frame. The load tool's
/// client (`WebRTCClient`) frames its ICE-TCP with the same type.
public struct RFC4571FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public struct FrameTooLarge: Error, Equatable {
        public var length: Int
    }

    public let maximumFrame: Int

    public init(maximumFrame: Int) { self.maximumFrame = maximumFrame }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.next(&buffer, maximumFrame: maximumFrame) else { return .needMoreData }
        if frame.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(frame)) }
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A half frame at the end of the stream is dropped with the connection.
        try decode(context: context, buffer: &buffer)
    }

    /// The next complete frame in `buffer` (consumed with its length prefix), or nil until one is
    /// there. I/O-free: the decoder and the tests call it.
    public static func next(_ buffer: inout ByteBuffer, maximumFrame: Int) throws -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return nil }
        guard Int(length) <= maximumFrame else { throw FrameTooLarge(length: Int(length)) }
        guard buffer.readableBytes >= 2 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 2)
        return buffer.readSlice(length: Int(length))
    }

    /// `packet` with its 16-bit length in front, in one buffer (one write per packet); nil for a
    /// packet longer than the length can say (65,535 bytes), which has no framing.
    public static func frame(_ packet: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard packet.readableBytes <= Int(UInt16.max) else { return nil }
        var out = allocator.buffer(capacity: 2 + packet.readableBytes)
        out.writeInteger(UInt16(packet.readableBytes))
        out.writeImmutableBuffer(packet)
        return out
    }
}
