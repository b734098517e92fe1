/// An SDP session description ([RFC 8866](https://www.rfc-editor.org/rfc/rfc8866)) as WebRTC
/// uses it: session-level lines and attributes, then media sections. Lines the model does not
/// name are kept in order, so a parsed description serializes back to the same lines.
public struct SessionDescription: Hashable, Sendable {
    /// `a=name[:value]`.
    public struct Attribute: Hashable, Sendable {
        public var name: String
        public var value: String?
        public init(_ name: String, _ value: String? = nil) {
            self.name = name
            self.value = value
        }
        var line: String { value.map { "a=\(name):\($0)" } ?? "a=\(name)" }
    }

    /// One `m=` section and everything under it.
    public struct Media: Hashable, Sendable {
        /// audio, video or application.
        public var kind: String
        public var port: Int
        public var proto: String
        /// Payload types (or `webrtc-datachannel`) in preference order.
        public var formats: [String]
        /// Other lines of the section (c=, b=, …) in order, without the attributes.
        public var lines: [String] = []
        public var attributes: [Attribute] = []

        public init(kind: String, port: Int, proto: String, formats: [String]) {
            self.kind = kind
            self.port = port
            self.proto = proto
            self.formats = formats
        }

        public func values(_ name: String) -> [String] { attributes.filter { $0.name == name }.compactMap(\.value) }
        public func value(_ name: String) -> String? { values(name).first }
        public func has(_ name: String) -> Bool { attributes.contains { $0.name == name } }

        public var mid: String? { value("mid") }

        /// sendrecv, sendonly, recvonly or inactive (sendrecv when none is given, RFC 8866 §6.7).
        public var direction: String {
            attributes.first { ["sendrecv", "sendonly", "recvonly", "inactive"].contains($0.name) }?.name ?? "sendrecv"
        }

        /// `a=rtpmap:<pt> <name>/<clock>[/<channels>]`.
        public struct Codec: Hashable, Sendable {
            public var payloadType: UInt8
            public var name: String
            public var clockRate: Int
            public var channels: Int
            public var fmtp: String?
            public var feedback: [String]
        }

        public var codecs: [Codec] {
            var out: [Codec] = []
            for v in values("rtpmap") {
                let parts = v.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, let pt = UInt8(parts[0]), pt < 128 else { continue }
                let enc = parts[1].split(separator: "/")
                guard enc.count >= 2, let clock = Int(enc[1]) else { continue }
                let channels = enc.count > 2 ? Int(enc[2]) ?? 1 : 1
                let prefix = "\(pt) "
                let fmtp = values("fmtp").first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
                let fb = values("rtcp-fb").filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
                out.append(Codec(payloadType: pt, name: String(enc[0]), clockRate: clock, channels: channels, fmtp: fmtp, feedback: fb))
            }
            // In m= line order: that is the offerer's preference.
            return formats.compactMap { f in out.first { String($0.payloadType) == f } }
        }

        /// `a=extmap:<id>[/<direction>] <uri>`.
        public var extensions: [(id: UInt8, uri: String)] {
            values("extmap").compactMap { v in
                let parts = v.split(separator: " ")
                guard parts.count >= 2, let id = UInt8(parts[0].split(separator: "/")[0]) else { return nil }
                return (id, String(parts[1]))
            }
        }

        /// SSRCs from `a=ssrc:<ssrc> <attribute>` lines, in first-seen order.
        public var ssrcs: [UInt32] {
            var seen: [UInt32] = []
            for v in values("ssrc") {
                if let s = v.split(separator: " ").first.flatMap({ UInt32($0) }), !seen.contains(s) { seen.append(s) }
            }
            return seen
        }
    }

    /// Lines before the first `m=` other than attributes (v=, o=, s=, t=, …).
    public var lines: [String]
    public var attributes: [Attribute]
    public var media: [Media]

    public init(lines: [String], attributes: [Attribute] = [], media: [Media] = []) {
        self.lines = lines
        self.attributes = attributes
        self.media = media
    }

    /// The largest description we accept: an offer for a few tracks is a few kilobytes.
    public static let maximumSize = 64 * 1_024

    public init(parsing text: String) throws(WireError) {
        guard text.utf8.count <= Self.maximumSize else { throw WireError.badLength("SDP of \(text.utf8.count) bytes") }
        var lines: [String] = []
        var attributes: [Attribute] = []
        var media: [Media] = []
        var sawVersion = false
        for raw in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = String(raw)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty { continue }
            guard line.count >= 2, line.dropFirst().first == "=", let type = line.first, type.isLetter else {
                throw WireError.invalid("SDP line '\(line.prefix(40))'")
            }
            let body = String(line.dropFirst(2))
            switch type {
            case "v":
                guard body == "0" else { throw WireError(.badVersion, "SDP version \(body)") }
                sawVersion = true
                lines.append(line)
            case "m":
                let f = body.split(separator: " ")
                guard f.count >= 3, let port = Int(f[1].split(separator: "/")[0]), (0...65_535).contains(port) else {
                    throw WireError.invalid("m= line '\(body.prefix(40))'")
                }
                media.append(Media(kind: String(f[0]), port: port, proto: String(f[2]), formats: f.dropFirst(3).map(String.init)))
                if media.count > 64 { throw WireError.badLength("more than 64 media sections") }
            case "a":
                let attr: Attribute
                if let colon = body.firstIndex(of: ":") {
                    attr = Attribute(String(body[..<colon]), String(body[body.index(after: colon)...]))
                } else {
                    attr = Attribute(body)
                }
                if media.isEmpty { attributes.append(attr) } else { media[media.count - 1].attributes.append(attr) }
            default:
                if media.isEmpty { lines.append(line) } else { media[media.count - 1].lines.append(line) }
            }
        }
        guard sawVersion else { throw WireError.invalid("SDP without v=0") }
        self.init(lines: lines, attributes: attributes, media: media)
    }

    /// CRLF-terminated lines (RFC 8866 §5).
    public func serialized() -> String {
        var out = ""
        for l in lines { out += l + "\r\n" }
        for a in attributes { out += a.line + "\r\n" }
        for m in media {
            out += "m=\(m.kind) \(m.port) \(m.proto) \(m.formats.joined(separator: " "))\r\n"
            for l in m.lines { out += l + "\r\n" }
            for a in m.attributes { out += a.line + "\r\n" }
        }
        return out
    }

    public func value(_ name: String) -> String? { attributes.first { $0.name == name }?.value }

    /// A media-level attribute, or the session-level one (ice-ufrag, ice-pwd, fingerprint, setup
    /// may be given at either level, RFC 8839 §5.4 / RFC 8122 §5).
    public func value(_ name: String, in media: Media) -> String? { media.value(name) ?? value(name) }
}
