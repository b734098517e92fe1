import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore

/// One WebRTC peer of the relay — the transport half: its ICE-lite agent, DTLS endpoint and SRTP
/// contexts, the address it was selected on, what was negotiated, and its counters. What it
/// carries is the other half: a publisher's ``Publication`` or a subscriber's ``Subscription``.
/// Owned by the relay's event loop; never touched from elsewhere.
final class PeerSession {
    enum Role { case publisher, viewer }

    let id: String
    /// The capability that controls this session over HTTP (`DELETE` on its WHIP/WHEP `Location`):
    /// random, and told only to the peer that opened it.
    let resource: String
    /// The identity (token subject) that opened it: the only one that may end it.
    let owner: String
    let room: String
    let role: Role
    var ice: ICELiteAgent
    let dtls: DTLSEndpoint
    let media: [NegotiatedMedia]
    var srtpIn: SRTPSession?
    var srtpOut: SRTPSession?
    /// The selected address in NIO's form, set with the ICE selection.
    var socketAddress: SocketAddress?
    let created: MediaTime
    var stats = PeerStatistics()
    /// A publisher's publication. The session and its publication hold each other until the
    /// relay closes the session, which breaks the cycle.
    var publication: Publication?
    /// A subscriber's subscription (the same ownership as ``publication``).
    var subscription: Subscription?

    init(
        id: String, resource: String = "", owner: String = "", room: String, role: Role, ice: ICELiteAgent, dtls: DTLSEndpoint,
        media: [NegotiatedMedia], now: MediaTime
    ) {
        self.id = id
        self.resource = resource
        self.owner = owner
        self.room = room
        self.role = role
        self.ice = ice
        self.dtls = dtls
        self.media = media
        created = now
    }

    var isConnected: Bool { srtpIn != nil && srtpOut != nil && ice.selected != nil }

    /// SSRCs this peer has sent from (RTP and RTCP), first come: at most a handful.
    private(set) var ssrcs: [UInt32] = []

    /// Whether a datagram from `ssrc` is taken: a known SSRC, or a new one while fewer than
    /// `limit` are known.
    func admit(ssrc: UInt32, limit: Int) -> Bool {
        if ssrcs.contains(ssrc) { return true }
        guard ssrcs.count < limit else { return false }
        ssrcs.append(ssrc)
        return true
    }

    func kind(ofPayloadType pt: UInt8) -> MediaKind? { media.first { $0.payloadType == pt }?.kind }

    /// The peer's abs-capture-time id per kind (ids are the peer's own,
    /// [RFC 8285 §5](https://www.rfc-editor.org/rfc/rfc8285#section-5)).
    var captureTimeExtensionIDs: PerKind<UInt8?> {
        // The last section of a kind wins, as before the split (BUNDLE keeps one id per URI anyway).
        PerKind(
            audio: media.last { $0.kind == .audio }?.captureTimeExtensionID, video: media.last { $0.kind == .video }?.captureTimeExtensionID)
    }

    /// An RTCP compound packet the relay originates for this peer (reports, PLI, NACK), protected
    /// and addressed: the one place such packets are built. Nil before the peer is connected.
    func rtcp(_ packets: [RTCPPacket]) -> OutgoingDatagram? {
        guard let srtpOut, let address = ice.selected, !packets.isEmpty else { return nil }
        var bytes = RTCPPacket.serializeCompound(packets)
        guard (try? srtpOut.protectRTCP(&bytes)) != nil else { return nil }
        return OutgoingDatagram(buffer: ByteBuffer(bytes: bytes), to: address, socket: socketAddress)
    }
}
