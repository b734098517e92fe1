import MediaCrypto
import MediaWire
import ShowroomCore

/// Why a simulated peer failed; `code` is what reports count errors by.
public struct ClientError: CodedError {
    public static let domain = "client"
    public enum Code: String, Sendable, Hashable {
        case badAnswer = "bad_answer"
        case iceTimeout = "ice_timeout"
        case dtlsFailed = "dtls_failed"
        case dtlsTimeout = "dtls_timeout"
        case signaling
        case http
    }
    public let code: Code
    public let detail: String
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
}

/// The client side of connecting to an ICE-lite server: a connectivity check with USE-CANDIDATE
/// as the controlling agent ([RFC 8445 §7.2.2](https://www.rfc-editor.org/rfc/rfc8445#section-7.2.2),
/// [§8.1.1](https://www.rfc-editor.org/rfc/rfc8445#section-8.1.1)), then the DTLS handshake as
/// client and the SRTP keys it exports ([RFC 5764 §4.2](https://www.rfc-editor.org/rfc/rfc5764#section-4.2)).
/// I/O-free: every input returns the datagrams to send; the caller owns the socket and the clock
/// (times in microseconds on any monotonic clock).
public final class ClientHandshake {
    public enum State: Equatable, Sendable {
        case checking, handshaking, connected, failed(ClientError.Code)
    }

    public private(set) var state: State = .checking
    /// The SRTP keys, once connected.
    public private(set) var keys: (local: SRTPKeyingMaterial, remote: SRTPKeyingMaterial)?
    private let check: [UInt8]
    private let serverPassword: [UInt8]
    private let dtls: DTLSEndpoint
    private var started: Int64 = 0
    private var lastCheck: Int64 = 0
    private var dtlsStarted: Int64 = 0
    /// How often the check is repeated until answered, and how long ICE and DTLS may take.
    public var checkInterval: Int64 = 100_000
    public var iceTimeout: Int64 = 5_000_000
    public var dtlsTimeout: Int64 = 10_000_000

    private let username: [UInt8]

    public init(offer: ClientOffer, answer: ServerAnswer, certificate: DTLSCertificate) throws(ClientError) {
        username = Array("\(answer.iceUfrag):\(offer.iceUfrag)".utf8)
        serverPassword = Array(answer.icePassword.utf8)
        check = Self.bindingRequest(username: username, password: serverPassword)
        do {
            dtls = try DTLSEndpoint(role: .client, certificate: certificate, remoteFingerprint: answer.fingerprint)
        } catch {
            throw ClientError(.dtlsFailed, "\(error)")
        }
    }

    /// A binding request with USE-CANDIDATE, signed with the server's password (RFC 8445 §7.1).
    private static func bindingRequest(username: [UInt8], password: [UInt8]) -> [UInt8] {
        STUNMessage(
            type: STUNMessage.MessageType.bindingRequest, transactionID: (0..<12).map { _ in UInt8.random(in: 0...255) },
            attributes: [
                .init(type: STUNMessage.AttributeType.username, value: username),
                .init(type: STUNMessage.AttributeType.useCandidate, value: []),
                .init(type: STUNMessage.AttributeType.iceControlling, value: (0..<8).map { _ in UInt8.random(in: 0...255) }),
            ]
        ).serialized(integrityKey: password, mac: HMACSHA1.digest)
    }

    /// A consent-freshness check, to send every ~5 s once connected: the server ends a session
    /// that goes 30 s without one ([RFC 7675 §5.1](https://www.rfc-editor.org/rfc/rfc7675#section-5.1)).
    public func consentCheck() -> [UInt8] { Self.bindingRequest(username: username, password: serverPassword) }

    /// The first check.
    public func start(now: Int64) -> [[UInt8]] {
        started = now
        lastCheck = now
        return [check]
    }

    /// A datagram from the server during the handshake (STUN or DTLS, told apart as RFC 7983
    /// §7 says).
    public func receive(_ datagram: [UInt8], now: Int64) -> [[UInt8]] {
        guard let first = datagram.first else { return [] }
        switch (state, first) {
        case (.checking, 0...3):
            // A success response to our check, integrity-protected with the server's password.
            guard STUNMessage.looksLikeSTUN(datagram[...]), let m = try? STUNMessage(parsing: datagram),
                m.type == STUNMessage.MessageType.bindingSuccess, m.transactionID == Array(check[8..<20]),
                STUNMessage.verifyIntegrity(datagram, key: serverPassword, mac: HMACSHA1.digest)
            else { return [] }
            state = .handshaking
            dtlsStarted = now
            return dtls.start()
        case (.handshaking, 20...63):
            let out = dtls.receive(datagram)
            advance()
            return out
        default:
            return []
        }
    }

    /// Retransmissions due by `now`: checks until answered, DTLS flights on its timer; fails
    /// after the timeouts.
    public func tick(now: Int64) -> [[UInt8]] {
        switch state {
        case .checking:
            if now - started > iceTimeout {
                state = .failed(.iceTimeout)
                return []
            }
            guard now - lastCheck >= checkInterval else { return [] }
            lastCheck = now
            return [check]
        case .handshaking:
            if now - dtlsStarted > dtlsTimeout {
                state = .failed(.dtlsTimeout)
                return []
            }
            guard let t = dtls.timeoutMicroseconds, t == 0 else { return [] }
            let out = dtls.handleTimeout()
            advance()
            return out
        case .connected, .failed:
            return []
        }
    }

    private func advance() {
        switch dtls.state {
        case .handshaking: break
        case .connected:
            if let k = try? dtls.srtpKeys() {
                keys = k
                state = .connected
            } else {
                state = .failed(.dtlsFailed)
            }
        default:
            state = .failed(.dtlsFailed)
        }
    }
}
