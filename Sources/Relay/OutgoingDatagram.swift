import NIOCore

/// A datagram the relay's state returns for the channel to send: the data path's are SRTP packets
/// written once per subscriber; the control path's (STUN, DTLS, RTCP the relay originates) come as
/// byte arrays.
struct OutgoingDatagram {
    var buffer: ByteBuffer
    var to: PeerAddress
    /// The same address as NIO wants it, when known (saves a conversion per packet).
    var socket: SocketAddress?

    init(buffer: ByteBuffer, to: PeerAddress, socket: SocketAddress? = nil) {
        self.buffer = buffer
        self.to = to
        self.socket = socket
    }

    init(bytes: [UInt8], to: PeerAddress) {
        buffer = ByteBuffer(bytes: bytes)
        self.to = to
    }

    /// The datagram as NIO writes it (nil only for an address NIO cannot express).
    var envelope: AddressedEnvelope<ByteBuffer>? {
        (socket ?? to.socketAddress).map { AddressedEnvelope(remoteAddress: $0, data: buffer) }
    }
}
