import COpenSSL

/// One side of a DTLS-SRTP handshake ([RFC 5764](https://www.rfc-editor.org/rfc/rfc5764)) over
/// OpenSSL with memory BIOs: I/O-free. Feed it received datagrams, send what it returns, call
/// ``handleTimeout()`` when ``timeoutMicroseconds`` says so, and take the SRTP keys when
/// ``state`` is `.connected`.
///
/// Outgoing records are packed into datagrams of at most ``mtu`` bytes without splitting a
/// record (several records per datagram are allowed, RFC 6347 §4.1.1).
public final class DTLSEndpoint {
    public enum Role: Sendable { case client, server }

    public enum State: Sendable, Equatable {
        case handshaking
        case connected(SRTPProfile)
        case failed(DTLSError)
        case closed
    }

    public let role: Role
    public let mtu: Int
    public private(set) var state: State = .handshaking
    /// Shared with other endpoints of the same certificate; kept alive by this reference.
    private let context: DTLSContext
    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    private let expectedFingerprint: String?
    /// Retransmissions so far; the handshake fails after ``maxRetransmissions``.
    private var retransmissions = 0
    public static let maxRetransmissions = 7
    /// Largest DTLS datagram taken (a record is at most 2^14 bytes plus its header).
    static let maximumDatagram = 16_384 + 13

    /// - Parameter remoteFingerprint: the peer's `a=fingerprint:sha-256` value; nil skips the check
    ///   (tests only).
    public convenience init(role: Role, certificate: DTLSCertificate, remoteFingerprint: String?, mtu: Int = 1_200) throws(DTLSError) {
        try self.init(role: role, context: DTLSContext(certificate: certificate), remoteFingerprint: remoteFingerprint, mtu: mtu)
    }

    /// An endpoint on a shared ``DTLSContext`` (the relay's one per certificate).
    public init(role: Role, context: DTLSContext, remoteFingerprint: String?, mtu: Int = 1_200) throws(DTLSError) {
        self.role = role
        self.mtu = mtu
        self.context = context
        expectedFingerprint = remoteFingerprint.map(DTLSCertificate.normalise)
        guard let s = SSL_new(context.context) else { throw DTLSError(.setupFailed, "SSL_new") }
        guard let r = BIO_new(BIO_s_mem()), let w = BIO_new(BIO_s_mem()) else {
            SSL_free(s)
            throw DTLSError(.setupFailed, "BIO_new")
        }
        ssl = s
        readBIO = r
        writeBIO = w
        _ = COpenSSL_setMemEOFReturn(r, -1)
        _ = COpenSSL_setMemEOFReturn(w, -1)
        SSL_set_bio(s, r, w)  // the SSL owns both BIOs now
        COpenSSL_setOptionNoQueryMTU(s)
        _ = COpenSSL_setMTU(s, mtu - 28)  // IP and UDP headers
        if role == .client { SSL_set_connect_state(s) } else { SSL_set_accept_state(s) }
    }

    deinit { SSL_free(ssl) }

    /// The client's first flight (empty for a server, which waits for the ClientHello).
    public func start() -> [[UInt8]] {
        guard role == .client else { return [] }
        return drive()
    }

    /// Takes one received DTLS datagram and returns datagrams to send.
    public func receive(_ datagram: [UInt8]) -> [[UInt8]] {
        guard !datagram.isEmpty, datagram.count <= Self.maximumDatagram else { return [] }
        switch state {
        case .failed, .closed: return []
        default: break
        }
        _ = datagram.withUnsafeBytes { BIO_write(readBIO, $0.baseAddress, Int32($0.count)) }
        return drive()
    }

    /// Bytes received and not yet processed (what the memory BIO holds): 0 between datagrams.
    var bufferedInput: Int { COpenSSL_pending(readBIO) }

    /// Microseconds until ``handleTimeout()`` should be called; nil when no timer runs.
    public var timeoutMicroseconds: Int? {
        guard state == .handshaking else { return nil }
        let t = COpenSSL_dtlsTimeoutMicroseconds(ssl)
        return t < 0 ? nil : t
    }

    /// Retransmits the last flight if its timer expired; fails the handshake after too many.
    public func handleTimeout() -> [[UInt8]] {
        guard state == .handshaking else { return [] }
        let r = COpenSSL_dtlsHandleTimeout(ssl)
        if r > 0 {
            retransmissions += 1
            if retransmissions > Self.maxRetransmissions {
                state = .failed(DTLSError(.timedOut, "no answer after \(retransmissions) retransmissions"))
                return []
            }
        } else if r < 0 {
            state = .failed(DTLSError(.timedOut, "retransmission limit"))
            return []
        }
        return flush()
    }

    /// The SRTP master keys and salts (RFC 5764 §4.2), ours for sending and theirs for receiving.
    public func srtpKeys() throws(DTLSError) -> (local: SRTPKeyingMaterial, remote: SRTPKeyingMaterial) {
        guard case .connected(let profile) = state else { throw DTLSError(.notConnected, "handshake not complete") }
        var out = [UInt8](repeating: 0, count: 2 * (profile.keyLength + profile.saltLength))
        let label = "EXTRACTOR-dtls_srtp"
        guard SSL_export_keying_material(ssl, &out, out.count, label, label.utf8.count, nil, 0, 0) == 1,
            let (client, server) = try? SRTPKeyingMaterial.fromDTLSExport(out, profile: profile)
        else { throw DTLSError(.handshakeFailed, "keying material export") }
        return role == .client ? (client, server) : (server, client)
    }

    private func drive() -> [[UInt8]] {
        if state == .handshaking {
            let r = SSL_do_handshake(ssl)
            if r == 1 {
                finishHandshake()
            } else {
                let e = SSL_get_error(ssl, r)
                if e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE {
                    state = .failed(DTLSError(.handshakeFailed, Self.lastError()))
                }
            }
        } else if case .connected = state {
            // After the handshake only alerts (close_notify), retransmitted finished flights and
            // application data (which the relay has no use for) arrive here. One datagram may
            // pack many records: all are read now, so that nothing is left in the memory BIO to
            // grow with every datagram. A datagram is at most ``maximumDatagram`` bytes, and a
            // record takes at least 13, which bounds the loop.
            var scratch = [UInt8](repeating: 0, count: 2_048)
            for _ in 0..<(Self.maximumDatagram / 13 + 1) {
                let n = SSL_read(ssl, &scratch, Int32(scratch.count))
                if n > 0 { continue }
                if SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN { state = .closed }
                break
            }
            // Whatever OpenSSL did not take (a fragment of no record) goes too.
            if COpenSSL_pending(readBIO) > 0 { COpenSSL_clear(readBIO) }
        }
        return flush()
    }

    private func finishHandshake() {
        guard let peer = SSL_get1_peer_certificate(ssl) else {
            state = .failed(DTLSError(.fingerprintMismatch, "peer sent no certificate"))
            return
        }
        defer { X509_free(peer) }
        let actual = DTLSCertificate.fingerprint(of: peer)
        if let expectedFingerprint, actual != expectedFingerprint {
            state = .failed(DTLSError(.fingerprintMismatch, "certificate \(actual ?? "?") is not the announced \(expectedFingerprint)"))
            return
        }
        switch COpenSSL_selectedSRTPProfile(ssl) {
        case Int32(SRTPProfile.aes128CmHmacSha1_80.dtlsProtectionProfile): state = .connected(.aes128CmHmacSha1_80)
        case Int32(SRTPProfile.aeadAes128Gcm.dtlsProtectionProfile): state = .connected(.aeadAes128Gcm)
        default: state = .failed(DTLSError(.handshakeFailed, "no common SRTP protection profile"))
        }
    }

    /// Reads what OpenSSL wrote and packs whole records into datagrams of at most `mtu` bytes.
    private func flush() -> [[UInt8]] {
        // Only during the handshake (and its retransmissions) is there anything to read here:
        // a scratch buffer per call, rather than 16 KiB held by every session for its lifetime.
        var pending: [UInt8] = []
        let waiting = Int(COpenSSL_pending(writeBIO))
        if waiting > 0 {
            var scratch = [UInt8](repeating: 0, count: min(waiting, Self.maximumDatagram * 8))
            while COpenSSL_pending(writeBIO) > 0 {
                let n = BIO_read(writeBIO, &scratch, Int32(scratch.count))
                if n <= 0 { break }
                pending.append(contentsOf: scratch[0..<Int(n)])
            }
        }
        var datagrams: [[UInt8]] = []
        var current: [UInt8] = []
        var i = 0
        while i + 13 <= pending.count {
            let length = Int(pending[i + 11]) << 8 | Int(pending[i + 12])
            let end = min(i + 13 + length, pending.count)
            if !current.isEmpty && current.count + (end - i) > mtu {
                datagrams.append(current)
                current = []
            }
            current.append(contentsOf: pending[i..<end])
            i = end
        }
        if !current.isEmpty { datagrams.append(current) }
        return datagrams
    }

    private static func lastError() -> String {
        var text = [CChar](repeating: 0, count: 256)
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return "unknown OpenSSL error" }
        ERR_error_string_n(code, &text, text.count)
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
