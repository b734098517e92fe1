import MediaWire
import ShowroomCore

/// What the relay sends on one media section of a viewer's session: the stream it forwards.
public struct OutgoingTrack: Sendable, Equatable {
    public var kind: MediaKind
    public var ssrc: UInt32
    public var streamID: String
    public var trackID: String
    /// The SSRC of its retransmission stream (RFC 4588), used when the viewer offers RTX for the
    /// codec (video).
    public var rtxSSRC: UInt32?

    public init(kind: MediaKind, ssrc: UInt32, streamID: String, trackID: String, rtxSSRC: UInt32? = nil) {
        self.kind = kind
        self.ssrc = ssrc
        self.streamID = streamID
        self.trackID = trackID
        self.rtxSSRC = rtxSSRC
    }
}

/// The negotiated result for one media section.
public struct NegotiatedMedia: Sendable, Equatable {
    public var mid: String
    public var kind: MediaKind
    /// The peer's payload type for the codec we chose (Opus or VP8).
    public var payloadType: UInt8
    public var codec: String
    /// The peer's header-extension id for the MID extension, if it offered one.
    public var midExtensionID: UInt8?
    /// The peer's id for abs-capture-time, if it offered it: the capture time then travels with
    /// the media (from a publisher, to a viewer).
    public var captureTimeExtensionID: UInt8?
    /// The peer's id for the transport-wide sequence number, when transport-wide congestion control
    /// was negotiated with it (it offered it): the relay then numbers every packet it sends a
    /// viewer and reads the viewer's ``TransportWideFeedback``, and sends a publisher feedback on
    /// what arrived.
    public var transportSequenceExtensionID: UInt8?
    /// The peer's payload type for RTX of the chosen codec
    /// ([RFC 4588 §8.6](https://www.rfc-editor.org/rfc/rfc4588#section-8.6)), when negotiated: a
    /// viewer's retransmissions then go on the RTX stream.
    public var rtxPayloadType: UInt8?
    /// SSRCs the peer announced for this section (a publisher's media, first one primary).
    public var remoteSSRCs: [UInt32]
    /// A publisher's simulcast encodings by RID, in the order it offered them (RFC 8853), when it
    /// offered two or more and the RID header extension: empty otherwise.
    public var rids: [String] = []
    /// The publisher's id for the `rtp-stream-id` header extension, with ``rids``: how an
    /// encoding's packets are told apart before its SSRC is known.
    public var ridExtensionID: UInt8?
    /// The publisher's id for `repaired-rtp-stream-id`, with ``rids`` and ``rtxPayloadType``: which
    /// encoding an RTX packet repairs before the RTX stream's SSRC is known
    /// ([RFC 8852 §3.2](https://www.rfc-editor.org/rfc/rfc8852#section-3.2)).
    public var repairedRIDExtensionID: UInt8?
}

extension NegotiatedMedia {
    /// The transport-wide sequence number id a session uses: the one every section that negotiated
    /// it agrees on (BUNDLE: one transport, one counter), nil when none did or they differ.
    static func transportSequenceExtensionID(of media: [NegotiatedMedia]) -> UInt8? {
        let ids = Set(media.compactMap(\.transportSequenceExtensionID))
        return ids.count == 1 ? ids.first : nil
    }
}

/// Why an offer cannot be answered; it maps to a 4xx with the reason.
public struct NegotiationError: CodedError {
    public static let domain = "sdp"
    public enum Code: String, Sendable, Hashable {
        case malformedOffer, noCommonCodec, missingICECredentials, missingFingerprint, unsupportedTransport
    }
    public let code: Code
    public let detail: String
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
}

/// Builds the SDP answer of an ICE-lite, BUNDLE-only, rtcp-mux-only relay
/// ([RFC 8829 §5.3](https://www.rfc-editor.org/rfc/rfc8829#section-5.3) as it applies to a
/// server): Opus and VP8 only, a UDP host candidate (and a passive TCP one on the same port number
/// when ``offersTCP``), DTLS role passive.
public struct SDPAnswerer: Sendable {
    public enum Role: Sendable { case publisher, viewer }

    public var iceUfrag: String
    public var icePassword: String
    public var fingerprint: String
    public var candidateAddress: String
    public var candidatePort: Int
    public var sessionID: UInt64
    /// Also announce a passive TCP host candidate on ``candidatePort`` (ICE-TCP, RFC 6544).
    public var offersTCP = false
    /// Also negotiate transport-wide congestion control with publishers (feedback from the relay).
    /// Off by default: Chromium's estimate of a clean loopback path rises from the 500 kbit/s the
    /// relay's REMB allows to 3.6 Mbit/s with it, but Firefox 153 publishing with it sent no video
    /// at all in the interop test — not understood yet.
    public var publisherTransportWideCC = false
    /// A second address of the other family (IPv6 beside IPv4, or the reverse), announced after
    /// ``candidateAddress`` with a lower local preference.
    public var alternateAddress: String?

    /// The UDP host candidate's priority (RFC 8445 §5.1.2.1: type preference 126 for host, local
    /// preference 65535 for the first address and 65534 for the alternate, component 1).
    public static func udpPriority(alternate: Bool = false) -> Int { (126 << 24) | ((alternate ? 65_534 : 65_535) << 8) | (256 - 1) }
    /// The passive TCP host candidate's: type preference 126, local preference
    /// 2^13 × direction-pref 4 (passive) + other-pref (8191, 8190 for the alternate address)
    /// ([RFC 6544 §4.2](https://www.rfc-editor.org/rfc/rfc6544#section-4.2)), component 1 — below
    /// UDP's, so a peer that can use both prefers UDP.
    public static func tcpPriority(alternate: Bool = false) -> Int { (126 << 24) | ((4 << 13 | (alternate ? 8_190 : 8_191)) << 8) | (256 - 1) }

    public init(iceUfrag: String, icePassword: String, fingerprint: String, candidateAddress: String, candidatePort: Int, sessionID: UInt64) {
        self.iceUfrag = iceUfrag
        self.icePassword = icePassword
        self.fingerprint = fingerprint
        self.candidateAddress = candidateAddress
        self.candidatePort = candidatePort
        self.sessionID = sessionID
    }

    /// The remote side's transport parameters, read from the offer.
    public struct RemoteTransport: Sendable, Equatable {
        public var iceUfrag: String
        public var icePassword: String
        public var fingerprint: String
        public var setup: String
    }

    public func answer(
        _ offer: SessionDescription, role: Role, tracks: [OutgoingTrack] = []
    ) throws(NegotiationError) -> (answer: SessionDescription, media: [NegotiatedMedia], remote: RemoteTransport) {
        guard let first = offer.media.first else { throw NegotiationError(.malformedOffer, "no media sections") }
        guard let ufrag = offer.value("ice-ufrag", in: first), let pwd = offer.value("ice-pwd", in: first) else {
            throw NegotiationError(.missingICECredentials, "the offer has no ice-ufrag/ice-pwd")
        }
        let fingerprints = first.values("fingerprint") + offer.attributes.filter { $0.name == "fingerprint" }.compactMap(\.value)
        guard let sha256 = fingerprints.first(where: { $0.lowercased().hasPrefix("sha-256 ") }) else {
            throw NegotiationError(.missingFingerprint, "the offer has no sha-256 fingerprint")
        }
        // The relay is always the DTLS server: an ICE-lite agent never starts a handshake
        // (RFC 8842 §5.3 lets it answer `passive` to `actpass` and `active`; JSEP offers `actpass`).
        let setup = offer.value("setup", in: first) ?? "actpass"
        guard setup == "actpass" || setup == "active" else {
            throw NegotiationError(.unsupportedTransport, "a=setup:\(setup) is not taken: offer actpass (the relay is the DTLS server)")
        }
        var media: [SessionDescription.Media] = []
        var negotiated: [NegotiatedMedia] = []
        var bundle: [String] = []
        var usedTracks = Set<Int>()
        // A simulcast publisher gets transport-wide feedback whatever ``publisherTransportWideCC``
        // says: its browser divides its estimate among the layers, and the relay's loss-based REMB
        // (500 kbit/s to start) would hold back the top one for seconds.
        let simulcastPublisher = role == .publisher && offer.media.contains { $0.kind == "video" && $0.simulcastSendRIDs(limit: 2).count >= 2 }
        for (index, m) in offer.media.enumerated() {
            let mid = m.mid ?? String(index)
            guard m.proto.contains("SAVPF") || m.proto.contains("SAVP") else {
                media.append(rejected(m, mid: mid))
                continue
            }
            guard let kind = MediaKind(sdp: m.kind),
                let codec = m.codecs.first(where: { $0.name.lowercased() == Self.codecName(kind) && $0.clockRate == kind.clockRate })
            else {
                media.append(rejected(m, mid: mid))
                continue
            }
            var out = SessionDescription.Media(kind: m.kind, port: 9, proto: "UDP/TLS/RTP/SAVPF", formats: [String(codec.payloadType)])
            out.lines = ["c=IN \(candidateAddress.contains(":") ? "IP6" : "IP4") \(candidateAddress)"]
            var a: [SessionDescription.Attribute] = [
                .init("mid", mid),
                .init("ice-ufrag", iceUfrag), .init("ice-pwd", icePassword),
                .init("fingerprint", "sha-256 \(fingerprint)"),
                .init("setup", "passive"),
                .init("rtcp-mux"),
            ]
            let sending = role == .viewer
            var rtxPayloadType: UInt8?
            a.append(.init(sending ? "sendonly" : "recvonly"))
            a.append(.init("rtpmap", "\(codec.payloadType) \(kind == .audio ? "opus/48000/2" : "VP8/90000")"))
            if kind == .audio {
                a.append(.init("fmtp", "\(codec.payloadType) minptime=10;useinbandfec=1"))
            } else {
                for fb in ["nack", "nack pli", "ccm fir", "goog-remb"] { a.append(.init("rtcp-fb", "\(codec.payloadType) \(fb)")) }
            }
            let midExt = m.extensions.first { $0.uri == "urn:ietf:params:rtp-hdrext:sdes:mid" }?.id
            if let midExt { a.append(.init("extmap", "\(midExt) urn:ietf:params:rtp-hdrext:sdes:mid")) }
            let offeredCaptureExt = m.extensions.first { $0.uri == AbsoluteCaptureTime.uri }?.id
            let captureExt = offeredCaptureExt.flatMap { $0 >= 1 && $0 != midExt ? $0 : nil }
            if let captureExt { a.append(.init("extmap", "\(captureExt) \(AbsoluteCaptureTime.uri)")) }
            // Transport-wide congestion control with a viewer that offers it: the relay numbers what
            // it sends, the viewer reports arrivals, and the relay's send-side estimate
            // (`DelayBasedBandwidthEstimator`) steers its renditions. With a publisher only when
            // `publisherTransportWideCC`: the relay then reports arrivals
            // (`TransportWideFeedbackBuilder`) and the browser's own estimate sets its rate.
            // An id that is a valid element id (1–255) and not already another extension's.
            let offeredTransportExt = sending || publisherTransportWideCC || simulcastPublisher ? m.extensions.first { $0.uri == TransportSequenceNumber.uri }?.id : nil
            let transportExt = offeredTransportExt.flatMap { id in id >= 1 && id != captureExt && id != midExt ? id : nil }
            if let transportExt {
                a.append(.init("extmap", "\(transportExt) \(TransportSequenceNumber.uri)"))
                a.append(.init("rtcp-fb", "\(codec.payloadType) \(TransportSequenceNumber.feedbackType)"))
            }
            // Simulcast from a publisher (RFC 8853 §5.3): its encodings are received as offered
            // (at most `maximumSimulcastEncodings`; a paused or undeclared one is left out), told
            // apart by the RID extension, which it must offer under an id of its own.
            var rids: [String] = []
            var ridExt: UInt8?
            var repairedRIDExt: UInt8?
            // RTX from a publisher (RFC 4588 §8.6), when it offers it for the chosen codec under a
            // payload type of its own: the relay NACKs what its uplink lost (``NACKGenerator``)
            // and the publisher resends it on its RTX stream, which the relay decapsulates.
            let offeredRTX =
                !sending && kind == .video
                ? Self.rtx(for: codec.payloadType, in: m, clockRate: kind.clockRate).flatMap { rtx in
                    rtx.payloadType != codec.payloadType && rtx.payloadType <= 127 && !m.codecs.contains { $0.payloadType == rtx.payloadType && $0.name.lowercased() != "rtx" }
                        ? rtx : nil
                } : nil
            if !sending, kind == .video, let offered = m.extensions.first(where: { $0.uri == RTPStreamID.uri })?.id,
                offered >= 1, offered != midExt, offered != captureExt, offered != transportExt
            {
                let encodings = m.simulcastSendRIDs(limit: Self.maximumSimulcastEncodings)
                if encodings.count >= 2 {
                    rids = Array(encodings)
                    ridExt = offered
                    a.append(.init("extmap", "\(offered) \(RTPStreamID.uri)"))
                    // Each encoding's RTX stream names the encoding it repairs (RFC 8852 §3.2).
                    if offeredRTX != nil, let repaired = m.extensions.first(where: { $0.uri == RTPStreamID.repairedURI })?.id,
                        repaired >= 1, ![midExt, captureExt, transportExt, offered].contains(repaired)
                    {
                        repairedRIDExt = repaired
                        a.append(.init("extmap", "\(repaired) \(RTPStreamID.repairedURI)"))
                    }
                    for rid in rids { a.append(.init("rid", "\(rid) recv")) }
                    a.append(.init("simulcast", "recv " + rids.joined(separator: ";")))
                }
            }
            // Simulcast RTX only with the repaired RID: without it the relay cannot tell which
            // layer an RTX packet repairs, and the publisher resends on the layer itself instead.
            if let rtx = offeredRTX, rids.isEmpty || repairedRIDExt != nil {
                rtxPayloadType = rtx.payloadType
                out.formats.append(String(rtx.payloadType))
                a.append(.init("rtpmap", "\(rtx.payloadType) rtx/\(kind.clockRate)"))
                a.append(.init("fmtp", "\(rtx.payloadType) apt=\(codec.payloadType)"))
            }
            if sending {
                // Each outgoing track serves one section of its kind, whatever order the viewer offers in.
                guard let index = tracks.indices.first(where: { tracks[$0].kind == kind && !usedTracks.contains($0) }) else {
                    media.append(rejected(m, mid: mid))
                    continue
                }
                usedTracks.insert(index)
                let track = tracks[index]
                a.append(.init("msid", "\(track.streamID) \(track.trackID)"))
                a.append(.init("ssrc", "\(track.ssrc) cname:showroom"))
                a.append(.init("ssrc", "\(track.ssrc) msid:\(track.streamID) \(track.trackID)"))
                // RTX for the chosen codec, when the viewer offers it (`apt=` naming that codec).
                if let rtxSSRC = track.rtxSSRC, let rtx = Self.rtx(for: codec.payloadType, in: m, clockRate: kind.clockRate) {
                    rtxPayloadType = rtx.payloadType
                    out.formats.append(String(rtx.payloadType))
                    a.append(.init("rtpmap", "\(rtx.payloadType) rtx/\(kind.clockRate)"))
                    a.append(.init("fmtp", "\(rtx.payloadType) apt=\(codec.payloadType)"))
                    a.append(.init("ssrc-group", "FID \(track.ssrc) \(rtxSSRC)"))
                    a.append(.init("ssrc", "\(rtxSSRC) cname:showroom"))
                    a.append(.init("ssrc", "\(rtxSSRC) msid:\(track.streamID) \(track.trackID)"))
                }
            }
            // Foundations differ by base address and transport (RFC 8445 §5.1.1.3): 1, 2 for the
            // first address, 3, 4 for the alternate.
            for (i, address) in ([candidateAddress] + (alternateAddress.map { [$0] } ?? [])).enumerated() {
                let alternate = i > 0
                a.append(.init("candidate", "\(2 * i + 1) 1 udp \(Self.udpPriority(alternate: alternate)) \(address) \(candidatePort) typ host"))
                if offersTCP {
                    a.append(
                        .init("candidate", "\(2 * i + 2) 1 tcp \(Self.tcpPriority(alternate: alternate)) \(address) \(candidatePort) typ host tcptype passive"))
                }
            }
            a.append(.init("end-of-candidates"))
            out.attributes = a
            media.append(out)
            bundle.append(mid)
            negotiated.append(
                NegotiatedMedia(mid: mid, kind: kind, payloadType: codec.payloadType, codec: codec.name, midExtensionID: midExt,
                    captureTimeExtensionID: captureExt, transportSequenceExtensionID: transportExt, rtxPayloadType: rtxPayloadType,
                    remoteSSRCs: m.ssrcs, rids: rids, ridExtensionID: ridExt, repairedRIDExtensionID: repairedRIDExt))
        }
        guard !negotiated.isEmpty else {
            throw NegotiationError(.noCommonCodec, "no media section offers Opus/48000 or VP8/90000 over SRTP")
        }
        let answer = SessionDescription(
            lines: ["v=0", "o=- \(sessionID) 2 IN IP4 127.0.0.1", "s=-", "t=0 0"],
            attributes: [.init("group", "BUNDLE " + bundle.joined(separator: " ")), .init("ice-lite"), .init("msid-semantic", " WMS *")],
            media: media)
        let fp = String(sha256.dropFirst("sha-256 ".count))
        return (answer, negotiated, RemoteTransport(iceUfrag: ufrag, icePassword: pwd, fingerprint: fp, setup: setup))
    }

    /// The offer's RTX codec for payload type `pt` (`a=fmtp:<rtx> apt=<pt>`), if it has one.
    static func rtx(for pt: UInt8, in m: SessionDescription.Media, clockRate: Int) -> SessionDescription.Media.Codec? {
        let apt = "apt=\(pt)"
        for codec in m.codecs where codec.name.lowercased() == "rtx" && codec.clockRate == clockRate {
            let parameters = (codec.fmtp ?? "").split(separator: ";").map { String($0.filter { $0 != " " }) }
            if parameters.contains(apt) { return codec }
        }
        return nil
    }

    /// The most simulcast encodings taken from one publisher (Chromium's VP8 ladder has three).
    public static let maximumSimulcastEncodings = 3

    /// The codec the relay takes for a kind: Opus for audio, VP8 for video.
    static func codecName(_ kind: MediaKind) -> String { kind == .audio ? "opus" : "vp8" }

    /// A section we do not take: port 0, as RFC 8829 §5.3.1 says.
    private func rejected(_ m: SessionDescription.Media, mid: String) -> SessionDescription.Media {
        var out = SessionDescription.Media(kind: m.kind, port: 0, proto: m.proto, formats: m.formats.isEmpty ? ["0"] : [m.formats[0]])
        out.lines = ["c=IN IP4 0.0.0.0"]
        out.attributes = [.init("mid", mid), .init("inactive")]
        return out
    }
}
