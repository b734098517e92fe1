/// The RTP stream identifier (RID) header extensions
/// ([RFC 8852 §3](https://www.rfc-editor.org/rfc/rfc8852#section-3)): the name a simulcast
/// encoding was given in SDP (`a=rid`, [RFC 8851](https://www.rfc-editor.org/rfc/rfc8851)),
/// carried in its packets until the receiver has tied the encoding's SSRC to it.
public enum RTPStreamID {
    /// `rtp-stream-id`: the packet belongs to the encoding of that RID.
    public static let uri = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
    /// `repaired-rtp-stream-id`: the packet repairs (RTX) the encoding of that RID.
    public static let repairedURI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
    /// The longest RID taken. RFC 8851 §10 sets no bound; libwebrtc takes 16 characters, and a
    /// RID is compared against at most three names per packet that carries one.
    public static let maximumLength = 16

    /// Whether `rid` is a RID the relay takes: 1–16 characters of `rid-id`
    /// ([RFC 8851 §10](https://www.rfc-editor.org/rfc/rfc8851#section-10): ASCII letters, digits,
    /// `-` and `_`).
    public static func isValid(_ rid: some StringProtocol) -> Bool {
        !rid.isEmpty && rid.utf8.count <= maximumLength
            && rid.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }
    }

    /// The RID a packet carries under extension `id`, read in place; nil when it has none or it is
    /// not a valid RID (the element's bytes are the RID's characters, no terminator).
    public static func read(inPacket bytes: UnsafeRawBufferPointer, id: UInt8) -> String? {
        guard let r = RTPHeaderView.extensionElement(id: id, in: bytes) else { return nil }
        // A one-byte-form sender pads a short RID with zero bytes in some stacks: trim them.
        var end = r.upperBound
        while end > r.lowerBound, bytes[end - 1] == 0 { end -= 1 }
        let rid = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[r.lowerBound..<end]), as: UTF8.self)
        return isValid(rid) ? rid : nil
    }
}
