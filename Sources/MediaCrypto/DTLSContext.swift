import COpenSSL

/// The OpenSSL `SSL_CTX` for DTLS-SRTP with one certificate: created once and shared by every
/// ``DTLSEndpoint`` that uses that certificate — the relay makes one for all its sessions rather
/// than one per session (a context holds the certificate, the key and the cipher setup; a session
/// only needs its `SSL`). OpenSSL allows `SSL_new` on a shared, fully configured context from
/// any thread; nothing here changes it after `init`.
public final class DTLSContext: @unchecked Sendable {
    let context: OpaquePointer

    public init(certificate: DTLSCertificate) throws(DTLSError) {
        guard let ctx = SSL_CTX_new(DTLS_method()) else { throw DTLSError(.setupFailed, "SSL_CTX_new") }
        guard SSL_CTX_use_certificate(ctx, certificate.certificate) == 1,
            SSL_CTX_use_PrivateKey(ctx, certificate.key) == 1,
            // Returns 0 on success (NOTES: an OpenSSL quirk). As a server OpenSSL picks by this
            // order: AES-CM first, because its RTP path here is native and allocation-free while
            // GCM goes through libsrtp on NSS (the relay benchmark found NSS's GCM to be half of
            // the relay core's time with 500 viewers).
            SSL_CTX_set_tlsext_use_srtp(ctx, "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM") == 0
        else {
            SSL_CTX_free(ctx)
            throw DTLSError(.setupFailed, "certificate, key or SRTP profiles")
        }
        COpenSSL_requirePeerCertificate(ctx)
        // RFC 5746 §4.4 lets a server refuse renegotiation; a connected peer's new handshake would
        // cost the relay's loop what opening a session does, outside the per-identity open rate.
        COpenSSL_refuseRenegotiation(ctx)
        _ = COpenSSL_setReadAhead(ctx, 1)
        context = ctx
    }

    deinit { SSL_CTX_free(context) }
}
