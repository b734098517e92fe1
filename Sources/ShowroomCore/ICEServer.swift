/// One STUN or TURN server a WebRTC client may use, with the field names of the W3C
/// `RTCIceServer` dictionary (`urls`, `username`, `credential`): what the `/ws` `welcome` and
/// `GET /ice-servers/{room}` carry as JSON, and what WHIP and WHEP answers carry as `Link` headers.
public struct ICEServer: Codable, Sendable, Equatable {
    /// `turn:`, `turns:` or `stun:` URIs (RFC 7065, RFC 7064), e.g. `turn:turn.shop.example:3478?transport=udp`.
    public var urls: [String]
    /// TURN only: the long-term credential's user name and password (RFC 8489 §9.2).
    public var username: String?
    public var credential: String?

    public init(urls: [String], username: String? = nil, credential: String? = nil) {
        self.urls = urls
        self.username = username
        self.credential = credential
    }

    /// One `Link` header value per URL, as WHIP and WHEP endpoints announce ICE servers
    /// ([RFC 9725 §4.6](https://www.rfc-editor.org/rfc/rfc9725#section-4.6)):
    /// `<turn:host:3478?transport=udp>; rel="ice-server"; username="…"; credential="…"; credential-type="password"`.
    /// The parameters are quoted strings (RFC 8288 §3, RFC 9110 §5.6.4).
    public var linkValues: [String] {
        urls.map { url in
            var value = "<\(url)>; rel=\"ice-server\""
            if let username, let credential {
                value += "; username=\(Self.quoted(username)); credential=\(Self.quoted(credential)); credential-type=\"password\""
            }
            return value
        }
    }

    /// `text` as an HTTP quoted-string: `"` and `\` escaped with a backslash. Callers pass
    /// printable ASCII only (``TURNCredentials`` makes sure of it), so nothing else needs escaping.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for c in text {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }
}
