import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore

/// One WebRTC peer of the relay: its ICE-lite agent, DTLS endpoint and SRTP contexts, and what was
/// negotiated. Owned by the relay's event loop; never touched from elsewhere.
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
    /// For a viewer: which rendition it receives.
    var quality: Quality = .source
    /// The publisher session whose media this session carries: its own id for a publisher, the
    /// watched publisher's for a viewer.
    var source = ""
    /// For a publisher: a broadcast's only publisher (WHIP), whose viewers follow its successor.
    var exclusive = false
    /// For a viewer that lets the relay choose its rendition from its reports.
    var adaptation: QualityController?
    /// For a viewer: when it last changed rendition on request, and the rendition it asked for
    /// since, sooner than ``RelayState/qualityChangeInterval`` allows (applied by the tick).
    var lastRequestedChange: MediaTime?
    var pendingQuality: Quality?
    /// For a publisher: what it sends, bits/s, over the last reporting interval.
    var incomingBitrate: Double?
    var ice: ICELiteAgent
    let dtls: DTLSEndpoint
    let media: [NegotiatedMedia]
    /// For a viewer: what the relay sends for each kind, by ``kindIndex(_:)`` — SSRC, payload type,
    /// send statistics and rewriter: what forwarding touches per packet, without hashing.
    var slots: [OutgoingSlot?] = [nil, nil]
    var srtpIn: SRTPSession?
    var srtpOut: SRTPSession?
    /// For a publisher: the SSRC its video arrives with (learnt from the first packet).
    var publisherSSRC: [String: UInt32] = [:]
    var lastKeyFrameRequest: MediaTime?
    /// The selected address in NIO's form, set with the ICE selection.
    var socketAddress: SocketAddress?
    let created: MediaTime
    /// Per-kind retransmission cache of a publisher's plain RTP, keyed by sequence number.
    var cache: [String: RetransmissionCache] = [:]
    var stats = PeerStatistics()
    var retransmissionBudget = RetransmissionBudget()
    /// A publisher's incoming streams by SSRC.
    var receiveStats: [UInt32: RTPReceiveStatistics] = [:]
    /// Bytes received in the current reporting interval, for the REMB estimate.
    var intervalBytes = 0

    init(id: String, resource: String = "", owner: String = "", room: String, role: Role, ice: ICELiteAgent, dtls: DTLSEndpoint, media: [NegotiatedMedia],
         outgoing: [OutgoingTrack], now: MediaTime) {
        self.id = id
        self.resource = resource
        self.owner = owner
        self.room = room
        self.role = role
        self.ice = ice
        self.dtls = dtls
        self.media = media
        created = now
        for track in outgoing {
            guard let pt = media.first(where: { $0.kind == track.kind })?.payloadType, slots[Self.kindIndex(track.kind)] == nil else { continue }
            slots[Self.kindIndex(track.kind)] = OutgoingSlot(
                kind: track.kind, ssrc: track.ssrc, payloadType: pt,
                stats: RTPSendStatistics(clockRate: track.kind == "audio" ? 48_000 : 90_000),
                rewriter: StreamRewriter(clockRate: track.kind == "audio" ? 48_000 : 90_000),
                captureTimeExtensionID: media.first(where: { $0.kind == track.kind })?.captureTimeExtensionID)
        }
        for m in media { captureTimeExtensionIDs[Self.kindIndex(m.kind)] = m.captureTimeExtensionID }
    }

    /// The peer's abs-capture-time id per kind (``kindIndex(_:)``): for a publisher, where its
    /// packets carry capture times.
    var captureTimeExtensionIDs: [UInt8?] = [nil, nil]

    static func kindIndex(_ kind: String) -> Int { kind == "audio" ? 0 : 1 }

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

    func kind(ofPayloadType pt: UInt8) -> String? { media.first { $0.payloadType == pt }?.kind }
}

/// One outgoing stream of a viewer.
struct OutgoingSlot {
    let kind: String
    let ssrc: UInt32
    let payloadType: UInt8
    var stats: RTPSendStatistics
    var rewriter: StreamRewriter
    /// The viewer's abs-capture-time id for this stream, if it negotiated one.
    let captureTimeExtensionID: UInt8?
    /// When each recently retransmitted sequence number went out (by seq % 512).
    var resent: [(seq: UInt16, at: MediaTime)?] = .init(repeating: nil, count: 512)
}

/// Bytes a viewer may spend on retransmissions: a quarter of what it was sent, at most
/// ``capacity`` saved up — so that NACKs from a receiver behind a bottleneck cannot crowd out its media.
struct RetransmissionBudget {
    static let capacity = 64 * 1_024
    private(set) var bytes = capacity

    mutating func earn(_ sent: Int) { bytes = min(bytes + sent / 4, Self.capacity) }

    mutating func spend(_ n: Int) -> Bool {
        guard bytes >= n else { return false }
        bytes -= n
        return true
    }
}

/// Counters of one peer (and, summed, of the relay), for logs and metrics.
public struct PeerStatistics: Sendable, Equatable {
    public var packetsIn = 0
    public var bytesIn = 0
    public var packetsOut = 0
    public var bytesOut = 0
    public var nacksIn = 0
    /// Packets those NACKs named (as read: at most ``RelayState/maximumNACKEntries`` entries a datagram).
    public var nackedPackets = 0
    public var retransmitted = 0
    public var keyFrameRequests = 0
    public var dropped = 0
    /// Automatic moves between renditions.
    public var qualityChanges = 0
    /// NACKed packets not resent: sent again within a round trip, or over the retransmission budget.
    public var retransmissionsSkipped = 0

    public init() {}

    mutating func add(_ o: PeerStatistics) {
        packetsIn += o.packetsIn
        bytesIn += o.bytesIn
        packetsOut += o.packetsOut
        bytesOut += o.bytesOut
        nacksIn += o.nacksIn
        nackedPackets += o.nackedPackets
        retransmitted += o.retransmitted
        keyFrameRequests += o.keyFrameRequests
        dropped += o.dropped
        qualityChanges += o.qualityChanges
        retransmissionsSkipped += o.retransmissionsSkipped
    }
}

/// The last `capacity` packets of one stream (plain RTP, as received), to answer NACKs
/// ([RFC 4585 §6.2.1](https://www.rfc-editor.org/rfc/rfc4585#section-6.2.1)). It stores what it
/// is given; callers give it compact copies, not slices of a larger receive buffer.
struct RetransmissionCache {
    private var slots: [(seq: UInt16, packet: ByteBuffer)?]
    init(capacity: Int = 512) { slots = .init(repeating: nil, count: capacity) }
    mutating func store(_ p: ByteBuffer, sequenceNumber: UInt16) {
        slots[Int(sequenceNumber) % slots.count] = (sequenceNumber, p)
    }
    func packet(_ seq: UInt16) -> ByteBuffer? {
        guard let slot = slots[Int(seq) % slots.count], slot.seq == seq else { return nil }
        return slot.packet
    }
}
