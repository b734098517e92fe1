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

        /// The section's codecs in m= line order (the offerer's preference), each with its fmtp
        /// and rtcp-fb lines. One pass over the attributes, indexed by payload type: linear in the
        /// section's size, whatever an offer holds.
        public var codecs: [Codec] {
            var byPT: [UInt8: Codec] = [:]
            var fmtp: [UInt8: String] = [:]
            var feedback: [UInt8: [String]] = [:]
            for a in attributes {
                guard let v = a.value, a.name == "rtpmap" || a.name == "fmtp" || a.name == "rtcp-fb" else { continue }
                let parts = v.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, let pt = UInt8(parts[0]), pt < 128 else { continue }
                switch a.name {
                case "rtpmap":
                    let enc = parts[1].split(separator: "/")
                    guard byPT[pt] == nil, enc.count >= 2, let clock = Int(enc[1]) else { continue }
                    let channels = enc.count > 2 ? Int(enc[2]) ?? 1 : 1
                    byPT[pt] = Codec(payloadType: pt, name: String(enc[0]), clockRate: clock, channels: channels, fmtp: nil, feedback: [])
                case "fmtp":
                    if fmtp[pt] == nil { fmtp[pt] = String(parts[1]) }
                default:
                    feedback[pt, default: []].append(String(parts[1]))
                }
            }
            var out: [Codec] = []
            var listed = Set<UInt8>()
            for f in formats {
                guard let pt = UInt8(f), listed.insert(pt).inserted, var codec = byPT[pt] else { continue }
                codec.fmtp = fmtp[pt]
                codec.feedback = feedback[pt] ?? []
                out.append(codec)
            }
            return out
        }

        /// `a=extmap:<id>[/<direction>] <uri>`.
        public var extensions: [(id: UInt8, uri: String)] {
            values("extmap").compactMap { v in
                let parts = v.split(separator: " ")
                guard parts.count >= 2, let id = parts[0].split(separator: "/").first.flatMap({ UInt8($0) }) else { return nil }
                return (id, String(parts[1]))
            }
        }

        /// SSRCs from `a=ssrc:<ssrc> <attribute>` lines, in first-seen order.
        public var ssrcs: [UInt32] {
            var seen: [UInt32] = [], known = Set<UInt32>()
            for v in values("ssrc") {
                if let s = v.split(separator: " ").first.flatMap({ UInt32($0) }), known.insert(s).inserted { seen.append(s) }
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
    /// Caps on what one description may hold, each well above what browsers offer (Chromium's
    /// video section lists ~40 payload types with ~200 attributes): past one, parsing stops with
    /// `badLength` and the cap in the reason — so that no offer costs more than a bounded, linear
    /// amount of work.
    public static let maximumLines = 4_096
    public static let maximumMediaSections = 32
    public static let maximumFormats = 128
    public static let maximumAttributes = 512

    public init(parsing text: String) throws(WireError) {
        guard text.utf8.count <= Self.maximumSize else { throw WireError.badLength("SDP of \(text.utf8.count) bytes") }
        var lines: [String] = []
        var attributes: [Attribute] = []
        var media: [Media] = []
        var sawVersion = false
        var count = 0
        for raw in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            count += 1
            if count > Self.maximumLines { throw WireError.badLength("SDP of more than \(Self.maximumLines) lines: at most \(Self.maximumLines)") }
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
                guard f.count >= 3, let port = f[1].split(separator: "/").first.flatMap({ Int($0) }), (0...65_535).contains(port) else {
                    throw WireError.invalid("m= line '\(body.prefix(40))'")
                }
                guard f.count - 3 <= Self.maximumFormats else {
                    throw WireError.badLength("m= line with \(f.count - 3) formats: at most \(Self.maximumFormats)")
                }
                guard media.count < Self.maximumMediaSections else {
                    throw WireError.badLength("more media sections than the \(Self.maximumMediaSections) at most taken")
                }
                media.append(Media(kind: String(f[0]), port: port, proto: String(f[2]), formats: f.dropFirst(3).map(String.init)))
            case "a":
                let attr: Attribute
                if let colon = body.firstIndex(of: ":") {
                    attr = Attribute(String(body[..<colon]), String(body[body.index(after: colon)...]))
                } else {
                    attr = Attribute(body)
                }
                if media.isEmpty {
                    attributes.append(attr)
                    guard attributes.count <= Self.maximumAttributes else {
                        throw WireError.badLength("session level with more than \(Self.maximumAttributes) attributes: at most \(Self.maximumAttributes)")
                    }
                } else {
                    media[media.count - 1].attributes.append(attr)
                    guard media[media.count - 1].attributes.count <= Self.maximumAttributes else {
                        throw WireError.badLength("media section with more than \(Self.maximumAttributes) attributes: at most \(Self.maximumAttributes)")
                    }
                }
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
