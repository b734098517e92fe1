import Logging
import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Everything the relay knows, owned by its UDP channel's event loop: sessions by id, ICE ufrag
/// and address, rooms, and drop counters. It takes datagrams and ticks and returns datagrams to
/// send — the I/O is the channel handler's.
final class RelayState {
    struct Outgoing {
        var buffer: ByteBuffer
        var to: PeerAddress
        /// The same address as NIO wants it, when known (saves a conversion per packet).
        var socket: SocketAddress?

        init(buffer: ByteBuffer, to: PeerAddress, socket: SocketAddress? = nil) {
            self.buffer = buffer
            self.to = to
            self.socket = socket
        }

        /// Control-path messages (STUN, DTLS, RTCP we originate) come as arrays.
        init(bytes: [UInt8], to: PeerAddress) {
            buffer = ByteBuffer(bytes: bytes)
            self.to = to
        }

    }

    let allocator = ByteBufferAllocator()

    let certificate: DTLSCertificate
    let announceIP: String
    private let configuredMediaPort: Int
    /// The port actually bound, when the configured one was 0.
    var mediaPortOverride: Int?
    var mediaPort: Int { mediaPortOverride ?? configuredMediaPort }
    let logger: Logger
    private var sessions: [String: PeerSession] = [:]
    private var byUfrag: [String: PeerSession] = [:]
    /// Sessions by their control capability (the id in a WHIP/WHEP `Location`), never shown to others.
    private var byResource: [String: PeerSession] = [:]
    private var byAddress: [PeerAddress: PeerSession] = [:]
    /// Room → its publishers' session ids, oldest first (a broadcast has one; a consultation call
    /// has one per side).
    private var publishers: [String: [String]] = [:]
    /// Publisher → the viewers of its source (held directly, so that fan-out does no lookup per viewer).
    private var viewers: [String: [PeerSession]] = [:]
    /// Publisher → its transcoded renditions.
    private var branches: [String: [Quality: TranscodingBranch]] = [:]
    /// Room → viewers whose publisher left: they follow the room's next publisher.
    private var orphans: [String: [PeerSession]] = [:]
    /// Publishers a viewer connected to before their first video packet: the PLI goes out when
    /// that packet (and so the SSRC to name) arrives.
    private var keyFrameOwed: Set<String> = []
    /// Starts the codecs of a rendition on their own loop (set by ``RelayServer``).
    var startEngine: ((String, Quality, UInt8?) throws -> TranscodingEngine)?  // (publisher id, quality, capture id)
    /// Datagrams dropped, by reason (metric label-sized strings).
    private(set) var dropped: [String: Int] = [:]
    /// What sessions that have ended counted, so that totals never go down.
    private var closedTotals = PeerStatistics()
    private var rng = SystemRandomNumberGenerator()
    /// The time of the datagram or tick being handled.
    private var currentTime = MediaTime.zero
    private var lastReports = MediaTime.zero
    /// How often RTCP reports go out (RFC 3550 §6.2 allows 5% of the session bandwidth; once a
    /// second is well inside that for video).
    static let reportInterval = MediaTime(microseconds: 1_000_000)
    /// Shortest interval between two PLIs to one publisher.
    static let keyFrameRequestInterval = MediaTime(microseconds: 300_000)
    /// Shortest interval between two rendition changes one viewer asks for (``setQuality(id:quality:now:)``).
    static let qualityChangeInterval = MediaTime(microseconds: 1_000_000)
    static let relaySSRC: UInt32 = 0x5EED_0001
    /// The largest datagram read: WebRTC keeps packets under the path MTU (~1,200–1,500 bytes), and
    /// the socket reads into 2 KiB slices anyway (``RelayServer``); anything larger is no peer's.
    static let maximumDatagram = 2_048
    /// Generic NACK entries (each up to 17 packets) read from one datagram: far beyond what a
    /// receiver asks for at once, and a bound on the lookups a viewer can make the loop do
    /// (RFC 4585 §6.2.1 does not bound them; one 64 KB datagram named 272,000 packets).
    static let maximumNACKEntries = 64

    /// Quotas (``RelayConfiguration/limits``).
    let limits: RelayLimits
    /// The DTLS context every session's endpoint shares.
    private let dtlsContext: DTLSContext
    /// Live sessions per room and per identity, for the quotas.
    private var sessionsInRoom: [String: Int] = [:]
    private var sessionsOfIdentity: [String: Int] = [:]
    /// Viewers with a deferred rendition change (``setQuality(id:quality:now:)``).
    private var qualityPending: Set<String> = []

    init(certificate: DTLSCertificate, announceIP: String, mediaPort: Int, limits: RelayLimits = RelayLimits(), logger: Logger) throws {
        self.limits = limits
        dtlsContext = try DTLSContext(certificate: certificate)
        self.certificate = certificate
        self.announceIP = announceIP
        configuredMediaPort = mediaPort
        self.logger = logger
    }

    private func count(_ reason: String) { dropped[reason, default: 0] += 1 }

    private func randomToken(_ n: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<n).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
    }

    // MARK: Control path

    /// Creates a session from an SDP offer and returns the answer. A publisher with `exclusive`
    /// (WHIP: a broadcast) is refused where someone already publishes. A viewer watches `source`
    /// (a publisher's session id), or the room's latest publisher.
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
        guard identity.isEmpty || admitOpen(by: identity, now: now) else {
            count("session-open-rate")
            throw RelayError(
                .overQuota, "\(identity) opened more than \(limits.sessionOpenBurst) sessions in a burst (\(limits.sessionOpensPerMinute) a minute); wait a few seconds")
        }
        var tracks: [OutgoingTrack] = []
        var watched: PeerSession?
        switch role {
        case .publisher:
            let present = (publishers[room] ?? []).compactMap { sessions[$0] }
            if (exclusive && !present.isEmpty) || present.contains(where: \.exclusive) { throw RelayError(.roomBusy, "room \(room) already has a publisher") }
        case .viewer:
            let candidates = publishers[room] ?? []
            guard let pid = source ?? candidates.last, candidates.contains(pid), let publisher = sessions[pid] else {
                throw RelayError(.nothingPublished, "nothing is published in room \(room)")
            }
            watched = publisher
            for m in publisher.media {
                tracks.append(OutgoingTrack(kind: m.kind, ssrc: UInt32.random(in: 1...UInt32.max, using: &rng), streamID: "showroom-\(room)", trackID: "\(m.kind)-\(pid)"))
            }
        }
        let ufrag = randomToken(8), pwd = randomToken(24)
        let answerer = SDPAnswerer(
            iceUfrag: ufrag, icePassword: pwd, fingerprint: certificate.fingerprint, candidateAddress: announceIP,
            candidatePort: mediaPort, sessionID: UInt64.random(in: 1...UInt64(Int64.max), using: &rng))
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
            media: result.media, outgoing: tracks, now: now)
        if role == .viewer && adaptive && quality != .low { session.adaptation = QualityController(ceiling: quality) }
        switch role {
        case .publisher:
            session.source = id
            session.exclusive = exclusive
            publishers[room, default: []].append(id)
        case .viewer:
            session.source = watched?.id ?? ""
            try attach(session, quality: quality)
        }
        sessions[id] = session
        sessionsInRoom[room, default: 0] += 1
        if !identity.isEmpty { sessionsOfIdentity[identity, default: 0] += 1 }
        byResource[session.resource] = session
        byUfrag[ufrag] = session
        if role == .publisher, exclusive, let waiting = orphans.removeValue(forKey: room) {
            // Viewers left by the room's previous publisher continue with this one.
            for v in waiting where sessions[v.id] != nil {
                v.source = id
                try? attach(v, quality: v.quality)
            }
        }
        logger.info("session opened", metadata: ["session": .string(id), "room": .string(room), "role": .string("\(role)")])
        return OpenedSession(id: id, resource: session.resource, answer: result.answer.serialized())
    }

    /// Puts a viewer on its source's stream or rendition (starting the rendition if needed).
    private func attach(_ s: PeerSession, quality: Quality) throws(RelayError) {
        s.quality = quality
        if quality == .source {
            viewers[s.source, default: []].append(s)
            return
        }
        if branches[s.source]?[quality] == nil {
            guard let startEngine else { throw RelayError(.internalError, "transcoding is not available") }
            let running = branches.values.reduce(0) { $0 + $1.count }
            guard running < limits.renditions else {
                count("rendition-at-capacity")
                throw RelayError(.atCapacity, "\(running) renditions are running, the most this relay takes; ask for quality source")
            }
            let inRoom = (publishers[s.room] ?? []).reduce(0) { $0 + (branches[$1]?.count ?? 0) }
            guard inRoom < limits.renditionsPerRoom else {
                count("rendition-at-capacity")
                throw RelayError(.atCapacity, "room \(s.room) runs \(inRoom) renditions, the most a room may; ask for quality source")
            }
            do {
                branches[s.source, default: [:]][quality] = TranscodingBranch(
                    quality: quality, engine: try startEngine(s.source, quality, captureID(s.source)))
            } catch {
                throw RelayError(.internalError, "transcoder: \(error)")
            }
        }
        branches[s.source]?[quality]?.viewers.append(s)
    }

    /// Takes a viewer off its stream or rendition (stopping a rendition left without viewers).
    private func detach(_ s: PeerSession) {
        viewers[s.source]?.removeAll { $0 === s }
        if viewers[s.source]?.isEmpty == true { viewers[s.source] = nil }
        if let branch = branches[s.source]?[s.quality] {
            branch.viewers.removeAll { $0 === s }
            if branch.viewers.isEmpty {
                branch.engine.stop()
                branches[s.source]?[s.quality] = nil
            }
            if branches[s.source]?.isEmpty == true { branches[s.source] = nil }
        }
    }

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
        switch s.role {
        case .publisher:
            publishers[s.room]?.removeAll { $0 == id }
            if publishers[s.room]?.isEmpty == true { publishers[s.room] = nil }
            keyFrameOwed.remove(id)
            // A broadcast's viewers wait for its next publisher (a stream that restarts); in a
            // call, the other side subscribes anew when this side publishes again.
            var left = viewers.removeValue(forKey: id) ?? []
            for (_, branch) in branches.removeValue(forKey: id) ?? [:] {
                branch.engine.stop()
                left += branch.viewers
            }
            if s.exclusive && !left.isEmpty { orphans[s.room, default: []] += left }
        case .viewer:
            detach(s)
            orphans[s.room]?.removeAll { $0 === s }
            if orphans[s.room]?.isEmpty == true { orphans[s.room] = nil }
        }
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

    /// Per identity, a token bucket of session opens (``RelayLimits/sessionOpensPerMinute``). The
    /// table forgets identities whose bucket is full again, so it holds only recent openers.
    private var openBuckets: [String: (tokens: Double, at: MediaTime)] = [:]

    private func admitOpen(by identity: String, now: MediaTime) -> Bool {
        let rate = Double(limits.sessionOpensPerMinute) / 60_000_000, burst = Double(limits.sessionOpenBurst)
        func refilled(_ b: (tokens: Double, at: MediaTime)) -> Double { min(burst, b.tokens + Double((now - b.at).microseconds) * rate) }
        if openBuckets.count > 10_000 { openBuckets = openBuckets.filter { refilled($0.value) < burst } }
        let tokens = openBuckets[identity].map(refilled) ?? burst
        guard tokens >= 1 else { return false }
        openBuckets[identity] = (tokens - 1, now)
        return true
    }

    private static func decrement(_ counts: inout [String: Int], _ key: String) {
        if let n = counts[key], n > 1 { counts[key] = n - 1 } else { counts[key] = nil }
    }

    func sessionCount() -> Int { sessions.count }

    /// The abs-capture-time id of a publisher (its video's; BUNDLE keeps one id per URI).
    private func captureID(_ publisher: String) -> UInt8? {
        sessions[publisher].flatMap { $0.captureTimeExtensionIDs[1] ?? $0.captureTimeExtensionIDs[0] }
    }

    /// Moves a viewer to another rendition; its streams continue (``StreamRewriter``) and it gets
    /// a key frame of the new one. An explicit choice ends automatic adaptation for that viewer.
    /// Nil if there is no such viewer; else what to send (a PLI).
    /// Moves a viewer to `quality` at once, or — when it changed less than
    /// ``qualityChangeInterval`` ago — once the interval has passed (the latest wish wins; a
    /// deferred move the quotas refuse leaves it where it is, counted as
    /// `quality-change-refused`). Starting a rendition builds its codecs on this loop, and a viewer
    /// toggling as fast as `/ws` lets it (20 a second) once took most of the loop (hardening review).
    func setQuality(id: String, quality: Quality, now: MediaTime) throws(RelayError) -> [Outgoing]? {
        guard let s = sessions[id], s.role == .viewer else { return nil }
        s.adaptation = nil
        if let last = s.lastRequestedChange, now - last < Self.qualityChangeInterval {
            s.pendingQuality = quality
            qualityPending.insert(id)
            return []
        }
        s.pendingQuality = nil
        qualityPending.remove(id)
        s.lastRequestedChange = now
        return try move(s, to: quality)
    }

    /// Applies the rendition changes that waited for ``qualityChangeInterval``.
    private func applyPendingQualityChanges(now: MediaTime) -> [Outgoing] {
        var out: [Outgoing] = []
        for id in qualityPending {
            guard let s = sessions[id], let wanted = s.pendingQuality else {
                qualityPending.remove(id)
                continue
            }
            guard let last = s.lastRequestedChange, now - last < Self.qualityChangeInterval else {
                qualityPending.remove(id)
                s.pendingQuality = nil
                s.lastRequestedChange = now
                do { out += try move(s, to: wanted) } catch { count("quality-change-refused") }
                continue
            }
        }
        return out
    }

    private func move(_ s: PeerSession, to quality: Quality) throws(RelayError) -> [Outgoing] {
        if s.quality == quality { return [] }
        let previous = s.quality
        detach(s)
        do {
            try attach(s, quality: quality)
        } catch {
            // Stay where it was (its rendition, if detaching stopped it, starts again in the room it freed).
            try? attach(s, quality: previous)
            throw error
        }
        s.stats.qualityChanges += 1
        if quality == .source { return requestKeyFrame(source: s.source, now: nil) }
        branches[s.source]?[quality]?.engine.requestKeyFrame()
        return []
    }

    // MARK: Data path

    /// One received datagram; RFC 7983 demultiplexing by the first byte. SRTP is unprotected in
    /// `buffer` itself; only the control path copies bytes out.
    func receive(_ buffer: inout ByteBuffer, from address: PeerAddress, socket: SocketAddress? = nil, now: MediaTime) -> [Outgoing] {
        currentTime = now
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
        default:
            count("unknown-first-byte")
            return []
        }
    }

    func receive(_ bytes: [UInt8], from address: PeerAddress, now: MediaTime) -> [Outgoing] {
        var buffer = ByteBuffer(bytes: bytes)
        return receive(&buffer, from: address, now: now)
    }

    private func stun(_ bytes: [UInt8], from address: PeerAddress, socket: SocketAddress?, now: MediaTime) -> [Outgoing] {
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
            if before != address {
                if let before, byAddress[before] === session { byAddress[before] = nil }
                byAddress[address] = session
                session.socketAddress = socket ?? address.socketAddress
            }
            return [Outgoing(bytes: response, to: address)]
        }
    }

    private func dtls(_ bytes: [UInt8], from address: PeerAddress) -> [Outgoing] {
        guard let session = byAddress[address] else {
            count("dtls-unknown-source")
            return []
        }
        let wasConnected = session.srtpIn != nil
        var out = session.dtls.receive(bytes).map { Outgoing(bytes: $0, to: address) }
        switch session.dtls.state {
        case .connected where !wasConnected:
            do {
                let keys = try session.dtls.srtpKeys()
                session.srtpIn = try SRTPSession(keys.remote, direction: .inbound)
                session.srtpOut = try SRTPSession(keys.local, direction: .outbound)
                logger.info("dtls connected", metadata: ["session": .string(session.id)])
                if session.role == .viewer {
                    if let branch = branches[session.source]?[session.quality] {
                        branch.engine.requestKeyFrame()
                    } else {
                        out += requestKeyFrame(source: session.source, now: nil)
                    }
                }
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

    private func rtpOrRTCP(_ buffer: inout ByteBuffer, from address: PeerAddress, now: MediaTime) -> [Outgoing] {
        guard let session = byAddress[address], let srtpIn = session.srtpIn else {
            count("srtp-unknown-source")
            return []
        }
        session.stats.packetsIn += 1
        session.stats.bytesIn += buffer.readableBytes
        // RTCP packet types 192–223 sit where RTP has marker + payload type (RFC 5761 §4).
        let second = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) ?? 0
        let isRTCP = (192...223).contains(second)
        // Decided before decryption, which costs a libsrtp stream context per new SSRC: viewers
        // send no RTP, and a session sends from at most ``RelayLimits/ssrcsPerSession`` SSRCs
        // (the sender SSRC of RTCP, RFC 3550 §6.4; of RTP, §5.1).
        guard isRTCP || session.role == .publisher else {
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
        if isRTCP { return rtcp(Array(buffer.readableBytesView), from: session, now: now) }
        guard let header = buffer.withUnsafeReadableBytes({ try? RTPHeaderView($0) }) else {
            count("rtp-malformed")
            return []
        }
        guard let kind = session.kind(ofPayloadType: header.payloadType) else {
            count("rtp-unknown-payload-type")
            return []
        }
        let firstOfKind = session.publisherSSRC[kind] == nil
        session.publisherSSRC[kind] = header.ssrc
        session.intervalBytes += buffer.readableBytes
        session.receiveStats[header.ssrc, default: RTPReceiveStatistics(clockRate: Self.clockRate(kind))]
            .record(sequenceNumber: header.sequenceNumber, timestamp: header.timestamp, size: buffer.readableBytes, arrival: now)
        if kind == "video" {
            // Only video is NACKed (the answer offers `nack` for VP8 only). The cache keeps its own
            // right-sized copy: `buffer` is a slice of the 64 KiB vector-read buffer, and holding the
            // slice would keep that whole buffer alive for as long as the packet stays cached.
            var copy = allocator.buffer(capacity: buffer.readableBytes)
            copy.writeImmutableBuffer(buffer)
            session.cache[kind, default: RetransmissionCache()].store(copy, sequenceNumber: header.sequenceNumber)
        }
        let capture = Self.captureTime(in: buffer, id: session.captureTimeExtensionIDs[PeerSession.kindIndex(kind)])
        var out = forward(buffer, header: header, kind: kind, source: session.id, capture: capture)
        if firstOfKind && kind == "video" && keyFrameOwed.remove(session.id) != nil {
            out += requestKeyFrame(source: session.id, now: nil)
        }
        if let renditions = branches[session.id] {
            let k = PeerSession.kindIndex(kind)
            let packet = try? RTPPacket(parsing: Array(buffer.readableBytesView))
            for branch in renditions.values {
                if kind == "video" || branch.transcodesAudio {
                    if let packet, !branch.engine.feed(packet, video: kind == "video", arrival: now) { count("transcode-backlog") }
                } else {
                    // Medium keeps the source's audio.
                    for viewer in branch.viewers where viewer.isConnected {
                        if let o = send(buffer, header: header, kindIndex: k, to: viewer, capture: capture) { out.append(o) }
                    }
                }
            }
        }
        return out
    }

    /// The abs-capture-time a packet carries under `id`, read in place (no allocation).
    static func captureTime(in packet: ByteBuffer, id: UInt8?) -> AbsoluteCaptureTime? {
        guard let id else { return nil }
        return packet.withUnsafeReadableBytes { raw -> AbsoluteCaptureTime? in
            guard let r = RTPHeaderView.extensionElement(id: id, in: raw), r.count == 8 || r.count == 16 else { return nil }
            func u64(_ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(raw[at + $1]) } }
            return AbsoluteCaptureTime(
                captureTimestamp: u64(r.lowerBound), estimatedCaptureClockOffset: r.count == 16 ? Int64(bitPattern: u64(r.lowerBound + 8)) : nil)
        }
    }

    /// What a rendition's codecs produced: sent to its viewers; its requests go to the publisher.
    func branchOutput(source: String, quality: Quality, _ output: BranchOutput, now: MediaTime) -> [Outgoing] {
        guard let branch = branches[source]?[quality] else { return [] }
        currentTime = now
        var out: [Outgoing] = []
        if output.requestKeyFrame { out += requestKeyFrame(source: source, now: now) }
        if !output.videoNACKs.isEmpty { out += nack(source: source, kind: "video", output.videoNACKs) }
        for (packets, kindIndex) in [(output.video, 1), (output.audio, 0)] {
            for packet in packets {
                let buffer = ByteBuffer(bytes: packet.serialized())
                guard let header = buffer.withUnsafeReadableBytes({ try? RTPHeaderView($0) }) else { continue }
                let capture = branch.engine.captureTimeExtensionID.flatMap { AbsoluteCaptureTime(in: packet.header, id: $0) }
                branch.cache[kindIndex].store(buffer, sequenceNumber: header.sequenceNumber)
                for viewer in branch.viewers where viewer.isConnected {
                    if let o = send(buffer, header: header, kindIndex: kindIndex, to: viewer, capture: capture) { out.append(o) }
                }
            }
        }
        return out
    }

    /// A generic NACK to the room's publisher for a transcoder's missing packets.
    private func nack(source: String, kind: String, _ lost: [UInt16]) -> [Outgoing] {
        guard let publisher = sessions[source], let srtpOut = publisher.srtpOut,
            let address = publisher.ice.selected, let ssrc = publisher.publisherSSRC[kind]
        else { return [] }
        var bytes = RTCPPacket.serializeCompound([
            .receiverReport(RTCPReceiverReport(ssrc: Self.relaySSRC)),
            .nack(RTCPGenericNACK(senderSSRC: Self.relaySSRC, mediaSSRC: ssrc, lost: lost)),
        ])
        guard (try? srtpOut.protectRTCP(&bytes)) != nil else { return [] }
        return [Outgoing(buffer: ByteBuffer(bytes: bytes), to: address, socket: publisher.socketAddress)]
    }

    static func clockRate(_ kind: String) -> Int { kind == "audio" ? 48_000 : 90_000 }

    /// Fans one publisher packet out to every connected viewer of the room, rewritten for each.
    private func forward(_ packet: ByteBuffer, header: RTPHeaderView, kind: String, source: String, capture: AbsoluteCaptureTime?) -> [Outgoing] {
        guard let room = viewers[source] else { return [] }
        let k = PeerSession.kindIndex(kind)
        var out: [Outgoing] = []
        out.reserveCapacity(room.count)
        for viewer in room where viewer.isConnected {
            if let o = send(packet, header: header, kindIndex: k, to: viewer, capture: capture) { out.append(o) }
        }
        return out
    }

    /// Writes the packet for one viewer — its SSRC and payload type, no CSRCs, and of the header
    /// extensions only the capture time, under the viewer's id (ids are per peer,
    /// [RFC 8285 §5](https://www.rfc-editor.org/rfc/rfc8285#section-5)) — into a new buffer and
    /// protects it there: one allocation.
    private func send(
        _ packet: ByteBuffer, header: RTPHeaderView, kindIndex: Int, to viewer: PeerSession, capture: AbsoluteCaptureTime? = nil
    ) -> Outgoing? {
        guard let slot = viewer.slots[kindIndex], let srtpOut = viewer.srtpOut, let address = viewer.ice.selected,
            let (seq, ts) = viewer.slots[kindIndex]?.rewriter.rewrite(
                ssrc: header.ssrc, sequenceNumber: header.sequenceNumber, timestamp: header.timestamp, now: currentTime)
        else { return nil }
        let pt = slot.payloadType
        let payload = packet.readableBytesView.dropFirst(header.headerLength)
        var out = allocator.buffer(capacity: 12 + 20 + payload.count + SRTPSession.maxTrailer)
        Self.writeHeader(
            into: &out, marker: header.marker, padding: header.hasPadding, payloadType: pt, sequenceNumber: seq, timestamp: ts,
            ssrc: slot.ssrc, capture: capture.flatMap { c in slot.captureTimeExtensionID.map { ($0, c) } })
        out.writeBytes(payload)
        let length = out.readableBytes
        let protected: Int? = out.withVeryUnsafeMutableBytes { raw in
            try? srtpOut.protectRTP(raw, length: length)
        }
        guard let protected else {
            count("srtp-protect-failed")
            return nil
        }
        out.moveWriterIndex(to: protected)
        viewer.slots[kindIndex]?.stats.record(timestamp: ts, payloadBytes: payload.count, at: currentTime)
        viewer.stats.packetsOut += 1
        viewer.stats.bytesOut += protected
        viewer.retransmissionBudget.earn(protected)
        return Outgoing(buffer: out, to: address, socket: viewer.socketAddress)
    }

    /// An outgoing RTP header: the fixed part and, when given, one abs-capture-time element of 8
    /// or 16 bytes padded to whole words — the one-byte form (RFC 8285 §4.2) for ids 1–14, the
    /// two-byte form (§4.3) above.
    static func writeHeader(
        into out: inout ByteBuffer, marker: Bool, padding: Bool, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32,
        ssrc: UInt32, capture: (id: UInt8, time: AbsoluteCaptureTime)?
    ) {
        out.writeInteger(UInt8(0x80 | (padding ? 0x20 : 0) | (capture != nil ? 0x10 : 0)))
        out.writeInteger(UInt8((marker ? 0x80 : 0) | payloadType))
        out.writeInteger(sequenceNumber)
        out.writeInteger(timestamp)
        out.writeInteger(ssrc)
        guard let (id, time) = capture else { return }
        let length = time.estimatedCaptureClockOffset == nil ? 8 : 16
        let oneByte = id <= 14
        let elementHeader = oneByte ? 1 : 2
        out.writeInteger(UInt16(oneByte ? 0xBEDE : 0x1000))
        out.writeInteger(UInt16((elementHeader + length + 3) / 4))
        if oneByte {
            out.writeInteger(UInt8(id << 4 | UInt8(length - 1)))
        } else {
            out.writeInteger(id)
            out.writeInteger(UInt8(length))
        }
        out.writeInteger(time.captureTimestamp)
        if let offset = time.estimatedCaptureClockOffset { out.writeInteger(offset) }
        out.writeRepeatingByte(0, count: (4 - (elementHeader + length) % 4) % 4)
    }

    private func rtcp(_ plain: [UInt8], from session: PeerSession, now: MediaTime) -> [Outgoing] {
        guard let packets = try? RTCPPacket.parseCompound(plain) else {
            count("rtcp-malformed")
            return []
        }
        if session.role == .publisher {
            for case .senderReport(let sr) in packets {
                session.receiveStats[sr.ssrc]?.recordSenderReport(ntpTimestamp: sr.ntpTimestamp, arrival: now)
            }
            return []
        }
        var out: [Outgoing] = []
        var nackEntriesLeft = Self.maximumNACKEntries
        for p in packets {
            var blocks: [RTCPReportBlock] = []
            if case .receiverReport(let rr) = p { blocks = rr.reports }
            if case .senderReport(let sr) = p { blocks = sr.reports }
            for block in blocks {
                for i in session.slots.indices where session.slots[i]?.ssrc == block.ssrc {
                    session.slots[i]?.stats.receive(block, now: now)
                }
                if block.ssrc == session.slots[1]?.ssrc { out += adapt(session, to: block, now: now) }
            }
            if case .remb(let remb) = p { session.adaptation?.receiverEstimate(Double(remb.bitrate)) }
            switch p {
            case .pictureLossIndication, .fullIntraRequest:
                if let branch = branches[session.source]?[session.quality] {
                    branch.engine.requestKeyFrame()  // the rendition's encoder, not the publisher
                } else {
                    out += requestKeyFrame(source: session.source, now: now)
                }
            case .nack(let nack):
                session.stats.nacksIn += 1
                // The source's packets are the publisher's; a rendition's are its branch's.
                guard let k = session.slots.firstIndex(where: { $0?.ssrc == nack.mediaSSRC }), let slot = session.slots[k] else { continue }
                let cache: RetransmissionCache?, captureID: UInt8?
                if let branch = branches[session.source]?[session.quality], slot.kind == "video" || branch.transcodesAudio {
                    (cache, captureID) = (branch.cache[k], branch.engine.captureTimeExtensionID)
                } else {
                    let publisher = sessions[session.source]
                    (cache, captureID) = (publisher?.cache[slot.kind], publisher?.captureTimeExtensionIDs[k] ?? nil)
                }
                guard let cache else { continue }
                // A packet goes again at most once per round trip (RFC 4585 §3.5.2 leaves the
                // policy to the sender); and only within the viewer's retransmission budget.
                let interval = MediaTime(microseconds: Int64(max(slot.stats.roundTripTime ?? 100, 20) * 1_000))
                let entries = nack.entries.prefix(nackEntriesLeft)
                nackEntriesLeft -= entries.count
                if entries.count < nack.entries.count { count("nack-entries-over-limit") }
                for seq in RTCPGenericNACK(senderSSRC: nack.senderSSRC, mediaSSRC: nack.mediaSSRC, entries: Array(entries)).lostSequenceNumbers {
                    session.stats.nackedPackets += 1
                    guard let input = slot.rewriter.original(seq), let original = cache.packet(input),
                        let header = original.withUnsafeReadableBytes({ try? RTPHeaderView($0) })
                    else { continue }
                    if let last = session.slots[k]?.resent[Int(seq) % 512], last.seq == seq, now - last.at < interval {
                        session.stats.retransmissionsSkipped += 1
                        continue
                    }
                    guard session.retransmissionBudget.spend(original.readableBytes) else {
                        session.stats.retransmissionsSkipped += 1
                        continue
                    }
                    guard let o = send(original, header: header, kindIndex: k, to: session, capture: Self.captureTime(in: original, id: captureID))
                    else { continue }
                    session.slots[k]?.resent[Int(seq) % 512] = (seq, now)
                    session.stats.retransmitted += 1
                    out.append(o)
                }
            default: break
            }
        }
        return out
    }

    /// Feeds a viewer's video report to its adaptation and carries out a move it decides.
    private func adapt(_ viewer: PeerSession, to block: RTCPReportBlock, now: MediaTime) -> [Outgoing] {
        let source = sessions[viewer.source]?.incomingBitrate
        guard
            let q = viewer.adaptation?.report(
                fractionLost: Double(block.fractionLost) / 256, roundTripMilliseconds: viewer.slots[1]?.stats.roundTripTime,
                bytesSent: viewer.stats.bytesOut, sourceBitrate: source, now: now)
        else { return [] }
        let from = viewer.quality
        do {
            let out = try move(viewer, to: q)
            logger.info(
                "rendition changed",
                metadata: [
                    "session": .string(viewer.id), "from": .string(from.rawValue), "to": .string(q.rawValue),
                    "estimate": .stringConvertible(Int(viewer.adaptation?.estimate ?? 0)),
                ])
            return out
        } catch {
            logger.warning("rendition change failed", metadata: ["session": .string(viewer.id), "error": .string("\(error)")])
            viewer.adaptation = nil
            return []
        }
    }

    /// Sends a PLI to a publisher, at most once per ``keyFrameRequestInterval``
    /// (a nil `now` forces it: a new viewer needs a key frame at once).
    private func requestKeyFrame(source: String, now: MediaTime?) -> [Outgoing] {
        guard let publisher = sessions[source], let srtpOut = publisher.srtpOut,
            let address = publisher.ice.selected, let ssrc = publisher.publisherSSRC["video"]
        else {
            if sessions[source] != nil { keyFrameOwed.insert(source) }
            return []
        }
        if let now, let last = publisher.lastKeyFrameRequest, now - last < Self.keyFrameRequestInterval { return [] }
        if let now { publisher.lastKeyFrameRequest = now }
        var bytes = RTCPPacket.serializeCompound([
            .receiverReport(RTCPReceiverReport(ssrc: Self.relaySSRC)),
            .pictureLossIndication(RTCPPictureLossIndication(senderSSRC: Self.relaySSRC, mediaSSRC: ssrc)),
        ])
        guard (try? srtpOut.protectRTCP(&bytes)) != nil else { return [] }
        publisher.stats.keyFrameRequests += 1
        return [Outgoing(bytes: bytes, to: address)]
    }

    /// Timers: RTCP reports, DTLS retransmissions and consent expiry.
    func tick(now: MediaTime, ntp: UInt64 = RelayState.ntpNow()) -> [Outgoing] {
        currentTime = now
        var out: [Outgoing] = []
        if now - lastReports >= Self.reportInterval {
            let seconds = Double((now - lastReports).microseconds) / 1e6
            lastReports = now
            for s in sessions.values where s.isConnected { out += reports(for: s, ntp: ntp, intervalSeconds: seconds, now: now) }
        }
        for s in Array(sessions.values) {
            if s.ice.consentExpired(now: now) || (s.ice.selected == nil && now - s.created > ICELiteAgent.consentTimeout) {
                close(id: s.id, reason: "consent expired")
                continue
            }
            if let t = s.dtls.timeoutMicroseconds, t == 0, let address = s.ice.selected {
                out += s.dtls.handleTimeout().map { Outgoing(bytes: $0, to: address) }
                if case .failed(let e) = s.dtls.state { close(id: s.id, reason: "dtls: \(e.description)") }
            }
        }
        if !qualityPending.isEmpty { out += applyPendingQualityChanges(now: now) }
        return out
    }

    /// The current wall-clock time as a 64-bit NTP timestamp (seconds since 1900 ‖ fraction).
    static func ntpNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let seconds = UInt64(ts.tv_sec) + 2_208_988_800
        let fraction = (UInt64(ts.tv_nsec) << 32) / 1_000_000_000
        return seconds << 32 | fraction
    }

    /// Periodic RTCP: to a viewer, an SR per outgoing stream; to a publisher, an RR with a block
    /// per incoming stream and a REMB with the bitrate it may send.
    private func reports(for s: PeerSession, ntp: UInt64, intervalSeconds: Double, now: MediaTime) -> [Outgoing] {
        guard let srtpOut = s.srtpOut, let address = s.ice.selected else { return [] }
        var packets: [RTCPPacket] = []
        switch s.role {
        case .viewer:
            for i in s.slots.indices {
                guard let ssrc = s.slots[i]?.ssrc, let sr = s.slots[i]?.stats.senderReport(ssrc: ssrc, ntp: ntp, now: now) else { continue }
                packets.append(.senderReport(sr))
            }
            guard !packets.isEmpty else { return [] }
            packets.append(.sourceDescription(RTCPSourceDescription(chunks: s.slots.compactMap { $0.map { .init(ssrc: $0.ssrc, items: [.cname("showroom")]) } })))
        case .publisher:
            var blocks: [RTCPReportBlock] = []
            for ssrc in s.receiveStats.keys.sorted() {
                if let block = s.receiveStats[ssrc]?.reportBlock(ssrc: ssrc, now: now) { blocks.append(block) }
            }
            guard !blocks.isEmpty else { return [] }
            packets.append(.receiverReport(RTCPReceiverReport(ssrc: Self.relaySSRC, reports: blocks)))
            // Receiver-estimated maximum bitrate: room above what arrives while loss is low,
            // less than it when loss is high (a loss-based estimate; no delay-based one yet).
            let rate = Double(s.intervalBytes * 8) / max(intervalSeconds, 0.001)
            s.intervalBytes = 0
            s.incomingBitrate = rate
            let loss = blocks.map { Double($0.fractionLost) / 256 }.max() ?? 0
            let estimate = loss > 0.1 ? rate * 0.85 : max(rate * 1.5, 500_000)
            packets.append(.remb(RTCPREMB(senderSSRC: Self.relaySSRC, bitrate: UInt64(min(estimate, 8_000_000)), ssrcs: blocks.map(\.ssrc))))
        }
        var bytes = RTCPPacket.serializeCompound(packets)
        guard (try? srtpOut.protectRTCP(&bytes)) != nil else { return [] }
        return [Outgoing(buffer: ByteBuffer(bytes: bytes), to: address, socket: s.socketAddress)]
    }

    /// Totals for metrics.
    func snapshot() -> RelaySnapshot {
        var totals = closedTotals
        var out = RelaySnapshot()
        for s in sessions.values {
            totals.add(s.stats)
            if s.role == .publisher { out.publishers += 1 } else { out.viewers[s.quality, default: 0] += 1 }
        }
        out.totals = totals
        out.renditions = branches.values.reduce(0) { $0 + $1.count }
        out.dropped = dropped
        return out
    }

    /// Per-session figures for logs and metrics.
    func statistics() -> [SessionStatistics] {
        sessions.values.map { s in
            var streams: [String: StreamStatistics] = [:]
            switch s.role {
            case .publisher:
                for (kind, ssrc) in s.publisherSSRC {
                    guard let r = s.receiveStats[ssrc] else { continue }
                    streams[kind] = StreamStatistics(
                        packets: r.received, bytes: r.bytes, lost: Int(r.cumulativeLost), jitterMilliseconds: r.jitterMilliseconds,
                        roundTripMilliseconds: nil)
                }
            case .viewer:
                for case let slot? in s.slots {
                    let st = slot.stats
                    streams[slot.kind] = StreamStatistics(
                        packets: Int(st.packets), bytes: Int(st.octets), lost: Int(st.cumulativeLost),
                        jitterMilliseconds: st.jitterMilliseconds, roundTripMilliseconds: st.roundTripTime)
                }
            }
            return SessionStatistics(
                id: s.id, room: s.room, publishing: s.role == .publisher, streams: streams, nacks: s.stats.nacksIn, nackedPackets: s.stats.nackedPackets,
                retransmitted: s.stats.retransmitted, retransmissionsSkipped: s.stats.retransmissionsSkipped,
                watching: s.role == .viewer ? s.source : nil, keyFrameRequests: s.stats.keyFrameRequests, quality: s.quality,
                qualityChanges: s.stats.qualityChanges)
        }
    }
}

/// The relay's totals at one moment, for `/metrics`.
public struct RelaySnapshot: Sendable, Equatable {
    public var publishers = 0
    /// Viewers by the rendition they get now.
    public var viewers: [Quality: Int] = [:]
    /// Transcoding branches running.
    public var renditions = 0
    /// Everything counted since start, ended sessions included.
    public var totals = PeerStatistics()
    /// Datagrams dropped since start, by reason.
    public var dropped: [String: Int] = [:]
    public init() {}
}

/// One stream's figures: packets and bytes, loss, jitter and (outgoing) round-trip time.
public struct StreamStatistics: Sendable, Equatable {
    public var packets: Int
    public var bytes: Int
    public var lost: Int
    public var jitterMilliseconds: Double
    public var roundTripMilliseconds: Double?
}

/// One session's figures.
public struct SessionStatistics: Sendable, Equatable {
    public var id: String
    public var room: String
    public var publishing: Bool
    public var streams: [String: StreamStatistics]
    public var nacks: Int
    /// Packets those NACKs named, as read.
    public var nackedPackets: Int
    public var retransmitted: Int
    public var retransmissionsSkipped: Int
    /// For a viewer: the publisher session it watches.
    public var watching: String?
    public var keyFrameRequests: Int
    /// For a viewer: the rendition it gets now, and how often it moved (by adaptation or on request).
    public var quality: Quality
    public var qualityChanges: Int
}
