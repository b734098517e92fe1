import COpenSSL
import ShowroomCore

/// An ECDSA P-256 key and a self-signed certificate for DTLS-SRTP, generated at start
/// ([RFC 5763 §5](https://www.rfc-editor.org/rfc/rfc5763#section-5)); peers verify it by the
/// SHA-256 fingerprint in the SDP, not by a CA.
public final class DTLSCertificate: @unchecked Sendable {
    // Immutable after init; OpenSSL's key and certificate objects are safe to share read-only.
    let key: OpaquePointer
    let certificate: OpaquePointer
    /// `a=fingerprint:sha-256 <this>`: upper-case hex bytes joined by colons.
    public let fingerprint: String

    public init(commonName: String = "showroom") throws(DTLSError) {
        guard let key = COpenSSL_ecP256Keygen() else { throw DTLSError(.setupFailed, "EC P-256 key generation") }
        guard let cert = COpenSSL_selfSignedCertificate(key, commonName, 30) else {
            EVP_PKEY_free(key)
            throw DTLSError(.setupFailed, "self-signed certificate")
        }
        self.key = key
        certificate = cert
        guard let fp = Self.fingerprint(of: cert) else {
            X509_free(cert)
            EVP_PKEY_free(key)
            throw DTLSError(.setupFailed, "certificate digest")
        }
        fingerprint = fp
    }

    deinit {
        X509_free(certificate)
        EVP_PKEY_free(key)
    }

    static func fingerprint(of cert: OpaquePointer) -> String? {
        var digest = [UInt8](repeating: 0, count: 32)
        guard COpenSSL_certificateSHA256(cert, &digest) == 1 else { return nil }
        let hex = Array("0123456789ABCDEF")
        return digest.map { String([hex[Int($0 >> 4)], hex[Int($0 & 0x0F)]]) }.joined(separator: ":")
    }

    /// Normalises an SDP fingerprint value for comparison (case, surrounding space).
    public static func normalise(_ fingerprint: String) -> String {
        fingerprint.trimmingSpaces().uppercased()
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}

/// Why a DTLS handshake failed; compared by code.
public struct DTLSError: CodedError {
    public static let domain = "dtls"
    public enum Code: String, Sendable, Hashable {
        case setupFailed
        /// OpenSSL rejected the handshake (bad message, no common cipher or SRTP profile…).
        case handshakeFailed
        /// The peer's certificate does not match the fingerprint its SDP announced.
        case fingerprintMismatch
        /// The handshake did not finish before the retransmission schedule gave up.
        case timedOut
        /// Keys were asked for before the handshake completed.
        case notConnected
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

}
