/// The transport-wide sequence number header extension
/// ([draft-holmer-rmcat-transport-wide-cc-extensions-01 §2](https://datatracker.ietf.org/doc/html/draft-holmer-rmcat-transport-wide-cc-extensions-01#section-2)):
/// one 16-bit counter over every RTP packet a sender sends on a transport, whatever its stream, so
/// that the receiver's ``TransportWideFeedback`` can say when each one arrived.
public enum TransportSequenceNumber {
    /// The extension's URI in SDP `a=extmap` lines.
    public static let uri = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
    /// The RTCP feedback type that asks for the feedback (`a=rtcp-fb:<pt> transport-cc`).
    public static let feedbackType = "transport-cc"

    /// The sequence number a packet carries under extension `id`, read in place; nil when it has
    /// no such element or the element is not 2 bytes long.
    public static func read(inPacket bytes: UnsafeRawBufferPointer, id: UInt8) -> UInt16? {
        guard let r = RTPHeaderView.extensionElement(id: id, in: bytes), r.count == 2 else { return nil }
        return UInt16(bytes[r.lowerBound]) << 8 | UInt16(bytes[r.lowerBound + 1])
    }
}
