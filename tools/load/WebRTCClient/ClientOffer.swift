import MediaCrypto
import MediaWire

/// What a simulated peer asks for: to send audio and video (a publisher) or to receive them (a
/// viewer). The offer is what a browser would send to a WHIP/WHEP endpoint or over `/ws`: BUNDLE
/// on one transport, rtcp-mux, Opus and VP8, NACK and PLI feedback, and the abs-capture-time
/// header extension so capture times travel with the media.
public struct ClientOffer: Sendable {
    public enum Direction: Sendable { case send, receive }

    public static let audioPayloadType: UInt8 = 111
    public static let videoPayloadType: UInt8 = 96
    /// The id this client uses for abs-capture-time (RFC 8285 one-byte form).
    public static let captureTimeExtensionID: UInt8 = 3
    /// The id it uses for the transport-wide sequence number, when it offers transport-wide
    /// congestion control.
    public static let transportSequenceExtensionID: UInt8 = 5

    public var direction: Direction
    public var iceUfrag: String
    public var icePassword: String
    public var fingerprint: String
    public var audioSSRC: UInt32
    public var videoSSRC: UInt32
    /// Offer transport-wide congestion control (the extension and `transport-cc` feedback); the
    /// client then owes the server its feedback.
    public var transportWideCC = false
    /// Offer RTX for its video (RFC 4588), payload type ``rtxPayloadType``; a publisher's RTX
    /// stream is ``rtxSSRC`` (`a=ssrc-group:FID`), or for simulcast one per encoding named by the
    /// repaired-RID extension (id ``repairedRIDExtensionID``).
    public var rtx = false
    public static let rtxPayloadType: UInt8 = 97
    public var rtxSSRC: UInt32
    public static let repairedRIDExtensionID: UInt8 = 6
    /// Send video as simulcast with these RIDs (RFC 8853), smallest first, as Chromium does: the
    /// RID extension (id ``ridExtensionID``), `a=rid` and `a=simulcast` lines, and no SSRC lines
    /// for the video (the relay learns each encoding's SSRC from the RID its packets carry).
    public var simulcastRIDs: [String] = []
    public static let ridExtensionID: UInt8 = 4

    public init(direction: Direction, fingerprint: String) {
        self.direction = direction
        self.fingerprint = fingerprint
        iceUfrag = "u" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        icePassword = "p" + String(UInt64.random(in: 0...UInt64.max), radix: 36) + "0123456789abcdef"
        audioSSRC = UInt32.random(in: 1...UInt32.max)
        videoSSRC = UInt32.random(in: 1...UInt32.max)
        rtxSSRC = UInt32.random(in: 1...UInt32.max)
    }

    /// The SDP offer ([RFC 8866](https://www.rfc-editor.org/rfc/rfc8866)); we take the DTLS
    /// client role (`setup:active`), as the relay answers passive.
    public var sdp: String {
        let mode = direction == .send ? "sendonly" : "recvonly"
        var s = "v=0\r\no=- \(UInt32.random(in: 1...UInt32.max)) 1 IN IP4 127.0.0.1\r\ns=showroom-load\r\nt=0 0\r\n"
        s += "a=group:BUNDLE 0 1\r\na=msid-semantic: WMS load\r\n"
        let sections: [(kind: String, mid: String, pt: UInt8, rtpmap: String, ssrc: UInt32)] = [
            ("audio", "0", Self.audioPayloadType, "opus/48000/2", audioSSRC),
            ("video", "1", Self.videoPayloadType, "VP8/90000", videoSSRC),
        ]
        for m in sections {
            let withRTX = rtx && m.kind == "video"
            s += "m=\(m.kind) 9 UDP/TLS/RTP/SAVPF \(m.pt)\(withRTX ? " \(Self.rtxPayloadType)" : "")\r\nc=IN IP4 0.0.0.0\r\na=mid:\(m.mid)\r\na=\(mode)\r\na=rtcp-mux\r\n"
            s += "a=ice-ufrag:\(iceUfrag)\r\na=ice-pwd:\(icePassword)\r\na=fingerprint:sha-256 \(fingerprint)\r\na=setup:active\r\n"
            s += "a=rtpmap:\(m.pt) \(m.rtpmap)\r\n"
            if m.kind == "video" {
                s += "a=rtcp-fb:\(m.pt) nack\r\na=rtcp-fb:\(m.pt) nack pli\r\n"
                if withRTX { s += "a=rtpmap:\(Self.rtxPayloadType) rtx/90000\r\na=fmtp:\(Self.rtxPayloadType) apt=\(m.pt)\r\n" }
            } else {
                s += "a=fmtp:\(m.pt) minptime=10;useinbandfec=1\r\n"
            }
            s += "a=extmap:\(Self.captureTimeExtensionID) \(AbsoluteCaptureTime.uri)\r\n"
            if transportWideCC {
                s += "a=extmap:\(Self.transportSequenceExtensionID) \(TransportSequenceNumber.uri)\r\n"
                s += "a=rtcp-fb:\(m.pt) \(TransportSequenceNumber.feedbackType)\r\n"
            }
            if direction == .send, m.kind == "video", !simulcastRIDs.isEmpty {
                s += "a=extmap:\(Self.ridExtensionID) \(RTPStreamID.uri)\r\na=msid:load video\r\n"
                if rtx { s += "a=extmap:\(Self.repairedRIDExtensionID) \(RTPStreamID.repairedURI)\r\n" }
                for rid in simulcastRIDs { s += "a=rid:\(rid) send\r\n" }
                s += "a=simulcast:send \(simulcastRIDs.joined(separator: ";"))\r\n"
            } else if direction == .send {
                s += "a=msid:load \(m.kind)\r\na=ssrc:\(m.ssrc) cname:showroom-load\r\n"
                if withRTX { s += "a=ssrc:\(rtxSSRC) cname:showroom-load\r\na=ssrc-group:FID \(m.ssrc) \(rtxSSRC)\r\n" }
            }
        }
        return s
    }
}

/// What the server's answer says about where and how to connect, and what it will send.
public struct ServerAnswer: Sendable, Equatable {
    public var iceUfrag: String
    public var icePassword: String
    public var fingerprint: String
    /// The first host candidate (the relay announces exactly one).
    public var host: String
    public var port: Int
    /// The SSRCs the server sends (to a viewer), by kind.
    public var audioSSRC: UInt32?
    public var videoSSRC: UInt32?
    /// The server's id for abs-capture-time in each direction it accepted it (nil: not accepted).
    public var captureTimeExtensionID: UInt8?

    /// Reads an answer; throws ``ClientError`` when it lacks what a connection needs.
    public init(parsing sdp: String) throws(ClientError) {
        let parsed: SessionDescription
        do { parsed = try SessionDescription(parsing: sdp) } catch { throw ClientError(.badAnswer, "unparsable SDP: \(error)") }
        let accepted = parsed.media.filter { $0.port != 0 }
        guard let first = accepted.first else { throw ClientError(.badAnswer, "no accepted media section") }
        guard let ufrag = parsed.value("ice-ufrag", in: first), let pwd = parsed.value("ice-pwd", in: first) else {
            throw ClientError(.badAnswer, "no ICE credentials")
        }
        let fingerprints = first.values("fingerprint") + parsed.attributes.filter { $0.name == "fingerprint" }.compactMap(\.value)
        guard let fp = fingerprints.first(where: { $0.lowercased().hasPrefix("sha-256 ") }) else {
            throw ClientError(.badAnswer, "no sha-256 fingerprint")
        }
        let candidates: [[Substring]] = accepted.flatMap { $0.values("candidate") }.map { $0.split(separator: " ") }
        guard let c = candidates.first(where: { $0.count >= 6 && $0[2].lowercased() == "udp" }), let port = Int(c[5]) else {
            throw ClientError(.badAnswer, "no UDP candidate")
        }
        iceUfrag = ufrag
        icePassword = pwd
        fingerprint = String(fp.dropFirst("sha-256 ".count))
        host = String(c[4])
        self.port = port
        audioSSRC = accepted.first { $0.kind == "audio" }?.ssrcs.first
        videoSSRC = accepted.first { $0.kind == "video" }?.ssrcs.first
        captureTimeExtensionID = accepted.lazy.compactMap { $0.extensions.first { $0.uri == AbsoluteCaptureTime.uri }?.id }.first
    }
}
