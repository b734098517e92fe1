import COpenSSL
import Foundation
@testable import MediaCrypto
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A connected DTLS peer that writes what no browser does (found by the hardening review; each test
/// failed before its fix).
///
/// The endpoint once called `SSL_read` **once** per datagram, which consumes one record: a peer
/// packing many small records into each datagram left the rest in the memory BIO, which grew by
/// ~2 KiB a datagram for as long as the session lived. And OpenSSL answered client-initiated
/// renegotiation, a full handshake's cost per ClientHello outside the relay's open-rate quota.
@Suite struct DTLSHostilePeerTests {
    /// A DTLS client on raw OpenSSL, which can write records the endpoint's API does not.
    final class RawClient {
        let ctx: OpaquePointer
        let ssl: OpaquePointer
        let rbio: OpaquePointer
        let wbio: OpaquePointer

        init(certificate: DTLSCertificate) throws {
            ctx = try #require(SSL_CTX_new(DTLS_method()))
            #expect(SSL_CTX_use_certificate(ctx, certificate.certificate) == 1)
            #expect(SSL_CTX_use_PrivateKey(ctx, certificate.key) == 1)
            #expect(SSL_CTX_set_tlsext_use_srtp(ctx, "SRTP_AES128_CM_SHA1_80") == 0)
            COpenSSL_requirePeerCertificate(ctx)
            ssl = try #require(SSL_new(ctx))
            rbio = try #require(BIO_new(BIO_s_mem()))
            wbio = try #require(BIO_new(BIO_s_mem()))
            _ = COpenSSL_setMemEOFReturn(rbio, -1)
            _ = COpenSSL_setMemEOFReturn(wbio, -1)
            SSL_set_bio(ssl, rbio, wbio)
            COpenSSL_setOptionNoQueryMTU(ssl)
            _ = COpenSSL_setMTU(ssl, 1_172)
            SSL_set_connect_state(ssl)
        }

        deinit {
            SSL_free(ssl)
            SSL_CTX_free(ctx)
        }

        /// Everything written so far, as one buffer.
        func take() -> [UInt8] {
            var out: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while COpenSSL_pending(wbio) > 0 {
                let n = BIO_read(wbio, &chunk, Int32(chunk.count))
                if n <= 0 { break }
                out += chunk[0..<Int(n)]
            }
            return out
        }

        func give(_ datagram: [UInt8]) { _ = datagram.withUnsafeBytes { BIO_write(rbio, $0.baseAddress, Int32($0.count)) } }

        func handshake(with server: DTLSEndpoint) -> Bool {
            for _ in 0..<20 {
                let r = SSL_do_handshake(ssl)
                let flight = take()
                if !flight.isEmpty { for d in server.receive(flight) { give(d) } }
                if r == 1, case .connected = server.state { return true }
            }
            return false
        }

        /// One datagram of `records` application-data records of one byte each (under 2 KiB).
        func packedDatagram(records: Int) -> [UInt8] {
            var byte: UInt8 = 0x41
            for _ in 0..<records { _ = SSL_write(ssl, &byte, 1) }
            return take()
        }

        func closeNotify() -> [UInt8] {
            _ = SSL_shutdown(ssl)
            return take()
        }
    }

    static func connectedPair() throws -> (RawClient, DTLSEndpoint) {
        let client = try RawClient(certificate: DTLSCertificate())
        let server = try DTLSEndpoint(role: .server, certificate: DTLSCertificate(), remoteFingerprint: nil)
        try #require(client.handshake(with: server), "handshake: \(server.state)")
        return (client, server)
    }

    /// What a datagram carries is dealt with when it arrives: after 100 datagrams of 40 records
    /// each, the peer's close_notify closes the endpoint (it is left behind 3,900 unread records).
    @Test func recordsPackedAfterTheHandshakeAreNotLeftUnread() throws {
        let (client, server) = try Self.connectedPair()
        for _ in 0..<100 {
            let d = client.packedDatagram(records: 40)
            try #require(d.count <= 2_048)
            _ = server.receive(d)
        }
        _ = server.receive(client.closeNotify())
        #expect(server.state == .closed, "the close_notify is still queued behind unread records: \(server.state)")
    }

    /// A connected endpoint does not run new handshakes for its peer: each (an ECDHE key and an
    /// ECDSA signature) costs the relay's loop what opening a session does, and session opens
    /// are what the relay rate-limits per identity. OpenSSL accepts client-initiated
    /// renegotiation unless told not to (`SSL_OP_NO_RENEGOTIATION`).
    @Test func aConnectedPeerCannotRenegotiate() throws {
        let (client, server) = try Self.connectedPair()
        var answered = 0
        for _ in 0..<20 {
            _ = SSL_renegotiate(client.ssl)
            _ = SSL_do_handshake(client.ssl)
            let hello = client.take()
            guard !hello.isEmpty else { continue }
            let flight = server.receive(hello)
            // A no_renegotiation warning (an alert record, content type 21) is the refusal;
            // a handshake record (22) would be the server's new flight.
            if flight.contains(where: { $0.first == 22 }) { answered += 1 }
            // Finish it, so that the next renegotiation can start.
            for d in flight { client.give(d) }
            for _ in 0..<5 {
                _ = SSL_do_handshake(client.ssl)
                let more = client.take()
                if more.isEmpty { break }
                for d in server.receive(more) { client.give(d) }
            }
        }
        #expect(answered == 0, "the relay's endpoint answered \(answered) renegotiations of a connected peer")
    }

    /// The same, measured: 20,000 datagrams of under 2 KiB (what one peer sends in a few seconds)
    /// once left tens of megabytes in the endpoint's memory BIO; now nothing is left after each.
    @Test func memoryHeldForAConnectedPeerIsBounded() throws {
        let (client, server) = try Self.connectedPair()
        var mostBuffered = 0
        for _ in 0..<20_000 {
            _ = server.receive(client.packedDatagram(records: 45))
            mostBuffered = max(mostBuffered, server.bufferedInput)
        }
        #expect(mostBuffered == 0, "the endpoint held \(mostBuffered) unread bytes after a datagram")
        #expect(server.state != .closed)
    }
}
