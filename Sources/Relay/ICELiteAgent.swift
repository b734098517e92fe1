import MediaCrypto
import MediaPipeline
import MediaWire

/// The ICE-lite side of one peer ([RFC 8445 §2.5](https://www.rfc-editor.org/rfc/rfc8445#section-2.5)):
/// it answers authenticated binding requests and follows the address they come from, and it
/// tracks consent ([RFC 7675](https://www.rfc-editor.org/rfc/rfc7675)). I/O-free.
public struct ICELiteAgent: Sendable {
    public let localUfrag: String
    public let localPassword: String
    public let remoteUfrag: String
    /// The address media goes to: set by the first authenticated check; moved by another until a
    /// pair is nominated, then only by a nomination.
    public private(set) var selected: PeerAddress?
    public private(set) var nominated = false
    public private(set) var lastConsent: MediaTime?
    /// Consent lapses after this long without an authenticated check (RFC 7675 §5.1: 30 s).
    public static let consentTimeout = MediaTime(microseconds: 30_000_000)

    public init(localUfrag: String, localPassword: String, remoteUfrag: String) {
        self.localUfrag = localUfrag
        self.localPassword = localPassword
        self.remoteUfrag = remoteUfrag
    }

    public enum Outcome: Sendable, Equatable {
        /// Send these bytes back to the sender.
        case respond([UInt8])
        /// Not for us, or not authentic: drop and count under this reason.
        case drop(String)
    }

    /// The local ufrag a binding request is addressed to (the part of USERNAME before ':').
    public static func localUfrag(of message: STUNMessage) -> String? {
        guard let u = message.username, let colon = u.firstIndex(of: ":") else { return nil }
        return String(u[..<colon])
    }

    public mutating func handle(_ bytes: [UInt8], message: STUNMessage, from address: PeerAddress, now: MediaTime) -> Outcome {
        guard message.type == STUNMessage.MessageType.bindingRequest else { return .drop("stun-not-binding-request") }
        guard message.username == "\(localUfrag):\(remoteUfrag)" else { return .drop("stun-wrong-username") }
        guard STUNMessage.verifyIntegrity(bytes, key: Array(localPassword.utf8), mac: HMACSHA1.digest) else {
            return .drop("stun-bad-integrity")
        }
        if message[STUNMessage.AttributeType.fingerprint] != nil && !STUNMessage.verifyFingerprint(bytes) {
            return .drop("stun-bad-fingerprint")
        }
        // Authenticated: this address may carry media. Once the controlling peer has nominated a
        // pair (USE-CANDIDATE, RFC 8445 §8.1.1), only another nomination moves media — a browser
        // with a UDP and a TCP pair keeps checking both, and media must not flip between them on
        // every check; a network change comes with a nomination on the new pair.
        if selected == nil || !nominated || message.hasUseCandidate { selected = address }
        // Consent is per pair (RFC 7675 §5.1): only a check on the pair media goes to refreshes
        // it, so a peer that nominated someone else's address cannot keep media flowing there
        // with checks from its own.
        if address == selected { lastConsent = now }
        if message.hasUseCandidate { nominated = true }
        let response = STUNMessage(
            type: STUNMessage.MessageType.bindingSuccess, transactionID: message.transactionID,
            attributes: [
                .init(
                    type: STUNMessage.AttributeType.xorMappedAddress,
                    value: STUNAddress(address: address.ip, port: address.port).xorEncoded(transactionID: message.transactionID))
            ])
        return .respond(response.serialized(integrityKey: Array(localPassword.utf8), mac: HMACSHA1.digest))
    }

    /// True once the peer has gone quiet for longer than the consent timeout.
    public func consentExpired(now: MediaTime) -> Bool {
        guard let lastConsent else { return false }
        return now - lastConsent > Self.consentTimeout
    }
}

/// An IP address (4 or 16 bytes), port and transport: the key for a peer — a source on the UDP
/// socket, or an ICE-TCP connection (RFC 6544), whose frames come from its own remote address.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    public enum Transport: UInt8, Sendable { case udp, tcp }
    public var ip: [UInt8]
    public var port: UInt16
    public var transport: Transport
    public init(ip: [UInt8], port: UInt16, transport: Transport = .udp) {
        self.ip = ip
        self.port = port
        self.transport = transport
    }
    public var description: String {
        let host = ip.count == 4 ? "\(ip.map(String.init).joined(separator: ".")):\(port)" : "[v6]:\(port)"
        return transport == .tcp ? "tcp \(host)" : host
    }
}
