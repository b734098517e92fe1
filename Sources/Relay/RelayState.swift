import Logging
import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore

/// Everything the relay knows, owned by its UDP channel's event loop: sessions by id, ICE ufrag,
/// address and control capability; each room's publications; the quotas. It takes datagrams and
/// ticks and returns datagrams to send — the I/O is the channel handler's.
///
/// Where a datagram goes: ``receive(_:from:socket:now:)`` demultiplexes it (RFC 7983) to STUN
/// (the session's ``ICELiteAgent``), DTLS (its ``DTLSEndpoint``) or SRTP; a publisher's RTP then
/// goes to its ``Publication`` (``Publication/receive(_:header:kind:now:allocator:drops:)``), a
/// subscriber's RTCP to ``feedback(_:from:now:)`` (RelayState+Feedback.swift). Timers and reports
/// are in RelayState+Reports.swift.
final class RelayState {

    let allocator = ByteBufferAllocator()

    let certificate: DTLSCertificate
    /// The addresses put in answers' candidates (one per family, the first preferred).
    let announceIPs: [String]
    private let configuredMediaPort: Int
    /// The port actually bound, when the configured one was 0.
    var mediaPortOverride: Int?
    var mediaPort: Int { mediaPortOverride ?? configuredMediaPort }
    /// Whether the worker listens for ICE-TCP on ``mediaPort`` too: answers then carry a passive
    /// TCP candidate (``ICETCPListener``).
    var offersTCP = false
    /// Negotiate transport-wide congestion control with publishers too (``SDPAnswerer/publisherTransportWideCC``).
    var publisherTransportWideCC = false
    let logger: Logger
    private(set) var sessions: [String: PeerSession] = [:]
    private var byUfrag: [String: PeerSession] = [:]
    /// Sessions by their control capability (the id in a WHIP/WHEP `Location`), never shown to others.
    private var byResource: [String: PeerSession] = [:]
    private var byAddress: [PeerAddress: PeerSession] = [:]
    /// Room → its publications, oldest first (a broadcast has one; a consultation call has one per side).
    var publishers: [String: [Publication]] = [:]
    /// Publications by their session id (what a subscriber names as `source`).
    var publications: [String: Publication] = [:]
    /// Publications held here that pipe to other workers (what ``flushPipes()`` visits).
    var piping: [Publication] = []
    /// Media pipes to and from other nodes held here, by token (RelayState+NodePipes.swift).
    var nodePipes: [UInt64: NodePipe] = [:]
    /// The last ``PipeOut/worker`` given to a node pipe (``nextNodeWorker()``).
    var nodeWorkers = 0
    /// What node pipes send, until the loop turn ends or the next tick.
    var nodeOutbox: [OutgoingDatagram] = []
    /// Packets handed to other workers through pipes, since start.
    var pipedPackets = 0
    /// Room → subscribers whose publisher left: they follow the room's next publisher.
    var orphans: [String: [Subscription]] = [:]
    /// Starts the codecs of a rendition (publication id, quality, capture-time id); set by
    /// ``RelayServer`` (their output comes back through ``renditionOutput(source:quality:_:now:)``),
    /// or by a test with a fake.
    var makeEncoder: ((String, Quality, UInt8?) throws -> any RenditionEncoder)?
    /// Datagrams dropped, by reason.
    let drops = DropCounter()
    var dropped: [String: Int] { drops.counts }
    /// What sessions that have ended counted, so that totals never go down.
    var closedTotals = PeerStatistics()
    private var rng = SystemRandomNumberGenerator()
    var lastReports = MediaTime.zero
    var lastTransportFeedback = MediaTime.zero
    /// How often a publisher that negotiated transport-wide congestion control gets feedback
    /// (libwebrtc's receivers send it every 50–250 ms, by rate).
    static let transportFeedbackInterval = MediaTime(microseconds: 100_000)
    /// How often RTCP reports go out (RFC 3550 §6.2 allows 5% of the session bandwidth; once a
    /// second is well inside that for video).
    static let reportInterval = MediaTime(microseconds: 1_000_000)
    /// Shortest interval between two rendition changes one subscriber asks for (``setQuality(id:quality:now:)``).
    static let qualityChangeInterval = MediaTime(microseconds: 1_000_000)
    /// The largest datagram read: WebRTC keeps packets under the path MTU (~1,200–1,500 bytes), and
    /// the socket reads into 2 KiB slices anyway (``RelayServer``); anything larger is no peer's.
    static let maximumDatagram = 2_048
    /// Generic NACK entries (each up to 17 packets) read from one datagram: far beyond what a
    /// receiver asks for at once, and a bound on the lookups a subscriber can make the loop do
    /// (RFC 4585 §6.2.1 does not bound them; one 64 KB datagram named 272,000 packets).
    static let maximumNACKEntries = 64

    /// Quotas (``RelayConfiguration/limits``).
    let limits: RelayLimits
    /// The DTLS context every session's endpoint shares.
    private let dtlsContext: DTLSContext
    /// Session opens per identity (``RelayLimits/sessionOpensPerMinute``).
    private lazy var openRate = OpenRateLimiter(limits: limits)
    /// Live sessions per room and per identity, for the quotas.
    private var sessionsInRoom: [String: Int] = [:]
    private var sessionsOfIdentity: [String: Int] = [:]
    /// Subscribers with a deferred rendition change (``setQuality(id:quality:now:)``).
    var qualityPending: Set<String> = []
    /// Sessions with NACKed packets waiting to be answered again (``DeferredNACKs``).
    var resendPending: Set<String> = []
    /// Subscribers with a ``RoundTripProbe`` out.
    var roundTripProbing: Set<String> = []
    /// Datagrams made where nothing could return them (a key-frame request for a subscriber that
    /// fell back to the source while an error was thrown): the next tick sends them.
    var deferred: [OutgoingDatagram] = []
    /// How often the worker's handler ticks.
    static let tickInterval = MediaTime(microseconds: 20_000)
    /// A tick this late is counted (``lateTicks``): the loop had 2.5 ticks' worth of work queued,
    /// or its thread waited that long for a core.
    static let lateTick = MediaTime(microseconds: 50_000)
    /// How late the last tick ran.
    var loopLag = MediaTime.zero
    /// Ticks that ran later than ``lateTick``, since start.
    var lateTicks = 0
    /// How busy this worker's loop is: adaptation holds while it is saturated.
    var loopLoad = LoopLoad()
    /// Video receiver reports adaptation set aside while the loop was saturated, since start.
    var adaptationHeld = 0

    /// A session opened or ended, with its room and identity: how ``RelayServer``'s directory of
    /// rooms and relay-wide quotas learns about sessions a worker ends on its own (consent, DTLS).
    enum SessionEvent {
        case opened(room: String, identity: String)
        case closed(room: String, identity: String)
    }
    private let onSession: (SessionEvent) -> Void
    /// Renditions running on the whole relay (all workers), for the relay-wide rendition quota;
    /// without one, this state's own count is the relay's.
    private let renditionBudget: RenditionBudget?

    init(
        certificate: DTLSCertificate, announceIPs: [String], mediaPort: Int, limits: RelayLimits = RelayLimits(), logger: Logger,
        renditionBudget: RenditionBudget? = nil, onSession: @escaping (SessionEvent) -> Void = { _ in }
    ) throws {
        self.renditionBudget = renditionBudget
        self.onSession = onSession
        self.limits = limits
        dtlsContext = try DTLSContext(certificate: certificate)
        self.certificate = certificate
        self.announceIPs = announceIPs.isEmpty ? ["127.0.0.1"] : announceIPs
        configuredMediaPort = mediaPort
        self.logger = logger
    }

    func count(_ reason: String) { drops.count(reason) }

    private func randomToken(_ n: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<n).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
    }

    // MARK: Control path

    /// Creates a session from an SDP offer and returns the answer. A publisher with `exclusive`
    /// (WHIP: a broadcast) is refused where someone already publishes. A subscriber receives
    /// `source` (a publication's id), or the room's latest publication.
    func open(
        room: String, identity: String = "", role: PeerSession.Role, quality: Quality = .source, adaptive: Bool = true,
        source: String? = nil, exclusive: Bool = true, offer parsed: SessionDescription, now: MediaTime
    ) throws(RelayError) -> OpenedSession {
        guard sessions.count < limits.sessions else {
            count("session-at-capacity")
            throw RelayError(.atCapacity, "the relay holds \(limits.sessions) sessions, the most it takes; try again later")
        }
        guard sessionsInRoom[room, default: 0] < limits.sessionsPerRoom else {
            count("session-at-capacity")
            throw RelayError(.atCapacity, "room \(room) holds \(limits.sessionsPerRoom) sessions, the most a room takes")
        }
        guard identity.isEmpty || sessionsOfIdentity[identity, default: 0] < limits.sessionsPerIdentity else {
            count("session-over-quota")
            throw RelayError(
                .overQuota, "\(identity) holds \(limits.sessionsPerIdentity) media sessions, the most one identity may; end one (DELETE) first")
        }
        guard identity.isEmpty || openRate.admit(identity, now: now) else {
            count("session-open-rate")
            throw RelayError(
                .overQuota, "\(identity) opened more than \(limits.sessionOpenBurst) sessions in a burst (\(limits.sessionOpensPerMinute) a minute); wait a few seconds")
        }
        var tracks: [OutgoingTrack] = []
        var watched: Publication?
        switch role {
        case .publisher:
            // A publisher here means the room is this node's now: a mirror of another node's
            // publication (that node died, or the room moved) is over, and its viewers follow this one.
            endNodeMirrors(in: room)
            let present = publishers[room] ?? []
            if (exclusive && !present.isEmpty) || present.contains(where: \.exclusive) { throw RelayError(.roomBusy, "room \(room) already has a publisher") }
        case .viewer:
            let candidates = publishers[room] ?? []
            guard let publication = source == nil ? candidates.last : candidates.first(where: { $0.id == source }) else {
                throw RelayError(.nothingPublished, "nothing is published in room \(room)")
            }
            watched = publication
            for kind in publication.kinds {
                tracks.append(
                    OutgoingTrack(
                        kind: kind, ssrc: UInt32.random(in: 1...UInt32.max, using: &rng), streamID: "showroom-\(room)",
                        trackID: "\(kind.rawValue)-\(publication.id)",
                        rtxSSRC: kind == .video ? UInt32.random(in: 1...UInt32.max, using: &rng) : nil))
            }
        }
        let ufrag = randomToken(8), pwd = randomToken(24)
        var answerer = SDPAnswerer(
            iceUfrag: ufrag, icePassword: pwd, fingerprint: certificate.fingerprint, candidateAddress: announceIPs[0],
            candidatePort: mediaPort, sessionID: UInt64.random(in: 1...UInt64(Int64.max), using: &rng))
        answerer.offersTCP = offersTCP
        answerer.publisherTransportWideCC = publisherTransportWideCC
        answerer.alternateAddress = announceIPs.dropFirst().first
        let result: (answer: SessionDescription, media: [NegotiatedMedia], remote: SDPAnswerer.RemoteTransport)
        do {
            result = try answerer.answer(parsed, role: role == .publisher ? .publisher : .viewer, tracks: tracks)
        } catch { throw RelayError(.badOffer, error.description) }
        let dtls: DTLSEndpoint
        do {
            // Always the DTLS server (the answerer refuses offers that would make it the client).
            dtls = try DTLSEndpoint(role: .server, context: dtlsContext, remoteFingerprint: result.remote.fingerprint)
        } catch { throw RelayError(.internalError, error.description) }
        let id = randomToken(16)
        let session = PeerSession(
            id: id, resource: randomToken(24), owner: identity, room: room, role: role,
            ice: ICELiteAgent(localUfrag: ufrag, localPassword: pwd, remoteUfrag: result.remote.iceUfrag), dtls: dtls,
            media: result.media, now: now)
        switch role {
        case .publisher:
            let publication = Publication(peer: session, exclusive: exclusive)
            session.publication = publication
            publishers[room, default: []].append(publication)
            publications[id] = publication
        case .viewer:
            let subscription = Subscription(peer: session, source: watched?.id ?? "", quality: quality, tracks: tracks)
            if adaptive && quality != .low {
                // A viewer with only receiver reports to go on (no transport-wide feedback) starts
                // on a simulcast publication's lowest layer, and climbs by probing (a
                // ``RoundTripProbe`` when it has an RTX stream, else blind): nothing tells
                // the relay what its path carries before loss does, and a receiver that waits for
                // every packet (aiortc) played nothing for 15-18 s after a start on a layer its
                // 300 kbit/s path could not carry, its NACKed packets resent into the full queue
                // and lost again (docs/benchmarks.md). A layer costs no transcoder, so the start
                // is free; a single-encoding publication's would start one, so its viewers start
                // at what they asked for.
                let start: Quality? = subscription.transportSequenceExtensionID == nil && watched?.isSimulcast == true ? .low : nil
                subscription.adaptation = QualityController(
                    ceiling: quality, start: start, measuredProbes: subscription.slots.video?.rtx != nil)
                if let start { subscription.quality = start }
            }
            if let watched { try subscribe(subscription, to: watched) }
            session.subscription = subscription
        }
        sessions[id] = session
        sessionsInRoom[room, default: 0] += 1
        if !identity.isEmpty { sessionsOfIdentity[identity, default: 0] += 1 }
        byResource[session.resource] = session
        byUfrag[ufrag] = session
        onSession(.opened(room: room, identity: identity))
        if role == .publisher, exclusive, let publication = session.publication { adoptOrphans(of: room, by: publication) }
        logger.info("session opened", metadata: ["session": .string(id), "room": .string(room), "role": .string("\(role)")])
        return OpenedSession(id: id, resource: session.resource, answer: result.answer.serialized())
    }

    /// Subscribers left by the room's previous broadcast publisher continue with `publication`.
    func adoptOrphans(of room: String, by publication: Publication) {
        guard let waiting = orphans.removeValue(forKey: room) else { return }
        for s in waiting where sessions[s.peer.id] != nil { subscribeOrFallBack(s, to: publication) }
    }

    /// Whether subscribers of `room` wait for its next broadcast publisher here.
    func hasOrphans(in room: String) -> Bool { !(orphans[room]?.isEmpty ?? true) }

    /// Puts a subscriber on a publication's source stream or rendition (starting the rendition,
    /// within the quotas, if none runs for its quality).
    func subscribe(_ s: Subscription, to publication: Publication) throws(RelayError) {
        try publication.subscribe(s) { quality throws(RelayError) in try startRendition(of: publication, quality: quality) }
    }

    private func startRendition(of publication: Publication, quality: Quality) throws(RelayError) -> Rendition {
        guard let makeEncoder else { throw RelayError(.internalError, "transcoding is not available") }
        let room = publication.room
        // The places are taken before the codecs are built, and given back if they fail: in the
        // relay-wide budget (every worker's renditions, and a room's over every worker), or, for
        // a state of its own (tests), in its own counts.
        let inRoom = renditionBudget?.running(in: room) ?? (publishers[room] ?? []).reduce(0) { $0 + $1.renditions.count }
        let refusal: RenditionBudget.Refusal?
        if let renditionBudget {
            refusal = renditionBudget.reserve(room: room, limit: limits.renditions, roomLimit: limits.renditionsPerRoom)
        } else {
            refusal = inRoom >= limits.renditionsPerRoom ? .room : renditionCount >= limits.renditions ? .relay : nil
        }
        switch refusal {
        case .room:
            count("rendition-at-capacity")
            throw RelayError(.atCapacity, "room \(room) runs \(inRoom) renditions, the most a room may; ask for quality source")
        case .relay:
            count("rendition-at-capacity")
            throw RelayError(
                .atCapacity, "\(renditionBudget?.running ?? renditionCount) renditions are running, the most this relay takes; ask for quality source")
        case nil: break
        }
        do {
            let encoder = try makeEncoder(publication.id, quality, publication.captureTimeExtensionID)
            return Rendition(quality: quality, encoder: renditionBudget.map { BudgetedEncoder(encoder, budget: $0, room: room) } ?? encoder)
        } catch {
            renditionBudget?.release(room: room)
            throw RelayError(.internalError, "transcoder: \(error)")
        }
    }

    /// Subscribes `s` to `publication` at its quality or, when that rendition cannot start (the
    /// quotas, a transcoder failing), to the source, which always can: a subscriber is never left
    /// without a stream (attacker's review: one whose rendition could not restart was stranded).
    /// Returns the error when it fell back.
    @discardableResult
    func subscribeOrFallBack(_ s: Subscription, to publication: Publication) -> RelayError? {
        do {
            try subscribe(s, to: publication)
            return nil
        } catch {
            count("subscription-fell-back-to-source")
            s.quality = .source
            try? subscribe(s, to: publication)  // the source starts no rendition: it cannot fail
            if let pli = publication.requestKeyFrame(for: .source, now: nil) { deferred.append(pli) }
            return error
        }
    }

    /// Renditions running across all publications.
    var renditionCount: Int { publications.values.reduce(0) { $0 + $1.renditions.count } }

    /// Ends a session; true if it existed in that room.
    @discardableResult
    func close(id: String, room: String? = nil, reason: String) -> Bool {
        guard let s = sessions[id], room == nil || s.room == room else { return false }
        sessions[id] = nil
        Self.decrement(&sessionsInRoom, s.room)
        if !s.owner.isEmpty { Self.decrement(&sessionsOfIdentity, s.owner) }
        byResource[s.resource] = nil
        closedTotals.add(s.stats)
        byUfrag[s.ice.localUfrag] = nil
        if let a = s.ice.selected, byAddress[a] === s { byAddress[a] = nil }
        if let publication = s.publication {
            publishers[s.room]?.removeAll { $0 === publication }
            if publishers[s.room]?.isEmpty == true { publishers[s.room] = nil }
            publications[id] = nil
            piping.removeAll { $0 === publication }
            // A broadcast's subscribers wait for its next publisher (a stream that restarts); in a
            // call, the other side subscribes anew when this side publishes again.
            let left = publication.end()
            if publication.exclusive && !left.isEmpty { orphans[s.room, default: []] += left }
            s.publication = nil
        }
        if let subscription = s.subscription {
            let watched = subscription.publication
            watched?.unsubscribe(subscription)
            // A mirror nobody here watches any more: the origin stops piping to it.
            // (A mirror of another node's publication that feeds other workers here stays; the sweep
            // lets it go once those are gone too.)
            if let watched, watched.mirrorToken != nil, watched.allSubscribers.isEmpty, watched.pipes.isEmpty { dropMirror(watched) }
            orphans[s.room]?.removeAll { $0 === subscription }
            if orphans[s.room]?.isEmpty == true { orphans[s.room] = nil }
            qualityPending.remove(id)
            resendPending.remove(id)
            s.subscription = nil
        }
        onSession(.closed(room: s.room, identity: s.owner))
        logger.info("session closed", metadata: ["session": .string(id), "reason": .string(reason)])
        return true
    }

    /// Ends the session whose control capability is `resource` (WHIP/WHEP `DELETE`), if it is in
    /// `room`, of the kind the endpoint serves, and opened by `identity` (nil: an admin, any
    /// identity). Ids that others see (the publication id in `a=msid`, `/ws` `track`) are not
    /// capabilities: they cannot name a session here.
    func close(resource: String, room: String, publishing: Bool, identity: String?) throws(RelayError) {
        guard let s = byResource[resource], s.room == room, (s.role == .publisher) == publishing,
            identity == nil || identity == s.owner
        else { throw RelayError(.notFound, "no session \(resource) of yours in room \(room)") }
        close(id: s.id, reason: "deleted")
    }

    private static func decrement(_ counts: inout [String: Int], _ key: String) {
        if let n = counts[key], n > 1 { counts[key] = n - 1 } else { counts[key] = nil }
    }

    func sessionCount() -> Int { sessions.count }

    /// Ends every session (the relay is stopping): their publications and subscriptions let go
    /// of each other.
    func closeAll(reason: String) {
        for id in Array(sessions.keys) { close(id: id, reason: reason) }
    }

    // MARK: Data path

    /// One received datagram; RFC 7983 demultiplexing by the first byte. SRTP is unprotected in
    /// `buffer` itself; only the control path copies bytes out.
    func receive(_ buffer: inout ByteBuffer, from address: PeerAddress, socket: SocketAddress? = nil, now: MediaTime) -> [OutgoingDatagram] {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else {
            count("empty")
            return []
        }
        guard buffer.readableBytes <= Self.maximumDatagram else {
            count("oversize")
            return []
        }
        switch first {
        case 0...3: return stun(Array(buffer.readableBytesView), from: address, socket: socket, now: now)
        case 20...63: return dtls(Array(buffer.readableBytesView), from: address)
        case 128...191: return rtpOrRTCP(&buffer, from: address, now: now)
        case NodePipeDatagram.marker: return receiveNodePipe(buffer, now: now)
        default:
            count("unknown-first-byte")
            return []
        }
    }

    /// Whether a session's media goes to `address` (its ICE-selected one): an ICE-TCP connection
    /// without one past its deadline is closed.
    func hasSession(at address: PeerAddress) -> Bool { byAddress[address] != nil }

    /// An ICE-TCP connection from `address` closed: a later connection from the same ip:port is
    /// no longer this session's until it authenticates again (its session goes on until consent
    /// lapses or the peer nominates another pair; what is sent to the address meanwhile is
    /// dropped as `tcp-no-connection`).
    func transportClosed(at address: PeerAddress) { byAddress[address] = nil }

    func receive(_ bytes: [UInt8], from address: PeerAddress, now: MediaTime) -> [OutgoingDatagram] {
        var buffer = ByteBuffer(bytes: bytes)
        return receive(&buffer, from: address, now: now)
    }

    private func stun(_ bytes: [UInt8], from address: PeerAddress, socket: SocketAddress?, now: MediaTime) -> [OutgoingDatagram] {
        guard let message = try? STUNMessage(parsing: bytes) else {
            count("stun-malformed")
            return []
        }
        guard let ufrag = ICELiteAgent.localUfrag(of: message), let session = byUfrag[ufrag] else {
            count("stun-unknown-ufrag")
            return []
        }
        let before = session.ice.selected
        switch session.ice.handle(bytes, message: message, from: address, now: now) {
        case .drop(let reason):
            count(reason)
            return []
        case .respond(let response):
            // A new pair, or the same address coming back (a TCP connection reopened from it) —
            // only the address this check came from: a check on another pair must not bind a
            // selected address whose connection has closed.
            if let after = session.ice.selected, before != after || (after == address && byAddress[after] !== session) {
                if let before, byAddress[before] === session { byAddress[before] = nil }
                byAddress[after] = session
                session.socketAddress = after == address ? (socket ?? address.socketAddress) : after.socketAddress
            }
            return [OutgoingDatagram(bytes: response, to: address)]
        }
    }

    private func dtls(_ bytes: [UInt8], from address: PeerAddress) -> [OutgoingDatagram] {
        guard let session = byAddress[address] else {
            count("dtls-unknown-source")
            return []
        }
        let wasConnected = session.srtpIn != nil
        var out = session.dtls.receive(bytes).map { OutgoingDatagram(bytes: $0, to: address) }
        switch session.dtls.state {
        case .connected where !wasConnected:
            do {
                let keys = try session.dtls.srtpKeys()
                session.srtpIn = try SRTPSession(keys.remote, direction: .inbound)
                session.srtpOut = try SRTPSession(keys.local, direction: .outbound)
                logger.info("dtls connected", metadata: ["session": .string(session.id)])
                // A new subscriber starts with a key frame.
                if let s = session.subscription, let pli = s.publication?.requestKeyFrame(for: s, now: nil) { out.append(pli) }
            } catch {
                logger.warning("srtp setup failed", metadata: ["session": .string(session.id), "error": .string("\(error)")])
                close(id: session.id, reason: "srtp setup failed")
            }
        case .failed(let error):
            logger.warning("dtls failed", metadata: ["session": .string(session.id), "error": .string(error.description)])
            close(id: session.id, reason: "dtls: \(error.description)")
        default: break
        }
        return out
    }

    private func rtpOrRTCP(_ buffer: inout ByteBuffer, from address: PeerAddress, now: MediaTime) -> [OutgoingDatagram] {
        guard let session = byAddress[address], let srtpIn = session.srtpIn else {
            count("srtp-unknown-source")
            return []
        }
        session.stats.packetsIn += 1
        session.stats.bytesIn += buffer.readableBytes
        // RTCP packet types 192–223 sit where RTP has marker + payload type (RFC 5761 §4).
        let second = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) ?? 0
        let isRTCP = (192...223).contains(second)
        // Decided before decryption, which costs a libsrtp stream context per new SSRC: subscribers
        // send no RTP, and a session sends from at most ``RelayLimits/ssrcsPerSession`` SSRCs
        // (the sender SSRC of RTCP, RFC 3550 §6.4; of RTP, §5.1).
        guard isRTCP || session.publication != nil else {
            count("rtp-from-viewer")
            session.stats.dropped += 1
            return []
        }
        guard let ssrc = buffer.getInteger(at: buffer.readerIndex + (isRTCP ? 4 : 8), as: UInt32.self) else {
            count(isRTCP ? "rtcp-malformed" : "rtp-malformed")
            session.stats.dropped += 1
            return []
        }
        guard session.admit(ssrc: ssrc, limit: limits.ssrcsPerSession) else {
            count("ssrc-quota")
            session.stats.dropped += 1
            return []
        }
        let unprotected: Result<Int, SRTPError> = buffer.withUnsafeMutableReadableBytes { raw in
            do throws(SRTPError) {
                return .success(isRTCP ? try srtpIn.unprotectRTCP(raw, length: raw.count) : try srtpIn.unprotectRTP(raw, length: raw.count))
            } catch {
                return .failure(error)
            }
        }
        guard case .success(let length) = unprotected else {
            if case .failure(let error) = unprotected { count(isRTCP ? "srtcp-\(error.code.rawValue)" : "srtp-\(error.code.rawValue)") }
            session.stats.dropped += 1
            return []
        }
        buffer.moveWriterIndex(to: buffer.readerIndex + length)
        if isRTCP {
            guard let packets = try? RTCPPacket.parseCompound(Array(buffer.readableBytesView)) else {
                count("rtcp-malformed")
                return []
            }
            if let publication = session.publication {
                publication.receiveRTCP(packets, now: now)
                return []
            }
            guard let subscription = session.subscription else { return [] }
            return feedback(packets, from: subscription, now: now)
        }
        guard let header = buffer.withUnsafeReadableBytes({ try? RTPHeaderView($0) }) else {
            count("rtp-malformed")
            return []
        }
        guard let kind = session.kind(ofPayloadType: header.payloadType) else {
            if let publication = session.publication, let rtx = publication.rtxPayloadType, header.payloadType == rtx {
                return publication.receiveRetransmission(buffer, header: header, now: now, allocator: allocator, drops: drops)
            }
            count("rtp-unknown-payload-type")
            return []
        }
        guard let publication = session.publication else { return [] }
        return publication.receive(buffer, header: header, kind: kind, now: now, allocator: allocator, drops: drops)
    }

    /// What a rendition's codecs produced (handed back to this loop by ``RelayServer``).
    func renditionOutput(source: String, quality: Quality, _ output: RenditionOutput, now: MediaTime) -> [OutgoingDatagram] {
        publications[source]?.deliver(output, from: quality, now: now, allocator: allocator, drops: drops) ?? []
    }

    func updatePort(_ port: Int) { mediaPortOverride = port }
}
