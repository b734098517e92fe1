import Foundation
import MediaCrypto
import MediaWire
import ShowroomTestSupport
import Testing

@Suite struct DTLSEndpointTests {
    /// Shuttles datagrams between two endpoints until neither has anything to send.
    static func run(_ client: DTLSEndpoint, _ server: DTLSEndpoint, drop: (Int) -> Bool = { _ in false }) -> Int {
        var toServer = client.start(), toClient: [[UInt8]] = []
        var count = 0
        while !(toServer.isEmpty && toClient.isEmpty) && count < 100 {
            for d in toServer {
                count += 1
                if !drop(count) { toClient += server.receive(d) }
            }
            toServer = []
            for d in toClient {
                count += 1
                if !drop(count) { toServer += client.receive(d) }
            }
            toClient = []
        }
        return count
    }

    @Test func handshakeExportsMatchingSRTPKeysThatWork() throws {
        let a = try DTLSCertificate(), b = try DTLSCertificate()
        #expect(a.fingerprint.count == 32 * 3 - 1)
        #expect(a.fingerprint != b.fingerprint)
        let client = try DTLSEndpoint(role: .client, certificate: a, remoteFingerprint: b.fingerprint)
        let server = try DTLSEndpoint(role: .server, certificate: b, remoteFingerprint: a.fingerprint.lowercased())
        _ = Self.run(client, server)
        #expect(client.state == .connected(.aes128CmHmacSha1_80))
        #expect(server.state == .connected(.aes128CmHmacSha1_80))
        let c = try client.srtpKeys(), s = try server.srtpKeys()
        #expect(c.local == s.remote)
        #expect(c.remote == s.local)
        #expect(c.local != c.remote)
        // The keys protect real packets from one side to the other.
        let send = try SRTPSession(c.local, direction: .outbound)
        let receive = try SRTPSession(s.remote, direction: .inbound)
        var p = RTPPacket(header: RTPHeader(payloadType: 96, sequenceNumber: 1, timestamp: 1, ssrc: 1), payload: [1, 2, 3]).serialized()
        let plain = p
        try send.protectRTP(&p)
        try receive.unprotectRTP(&p)
        #expect(p == plain)
    }

    @Test func datagramsStayWithinTheMTU() throws {
        let a = try DTLSCertificate(), b = try DTLSCertificate()
        let client = try DTLSEndpoint(role: .client, certificate: a, remoteFingerprint: nil, mtu: 600)
        let server = try DTLSEndpoint(role: .server, certificate: b, remoteFingerprint: nil, mtu: 600)
        var largest = 0
        var toServer = client.start()
        for _ in 0..<10 where !toServer.isEmpty {
            var toClient: [[UInt8]] = []
            for d in toServer { largest = max(largest, d.count); toClient += server.receive(d) }
            toServer = []
            for d in toClient { largest = max(largest, d.count); toServer += client.receive(d) }
        }
        #expect(client.state == .connected(.aes128CmHmacSha1_80))
        #expect(largest <= 600)
    }

    @Test func aWrongFingerprintFailsTheHandshake() throws {
        let a = try DTLSCertificate(), b = try DTLSCertificate(), other = try DTLSCertificate()
        let client = try DTLSEndpoint(role: .client, certificate: a, remoteFingerprint: other.fingerprint)
        let server = try DTLSEndpoint(role: .server, certificate: b, remoteFingerprint: a.fingerprint)
        _ = Self.run(client, server)
        #expect(client.state == .failed(DTLSError(.fingerprintMismatch, "")))
        #expect(throws: DTLSError(.notConnected, "")) { try client.srtpKeys() }
    }

    @Test func aLostFlightIsRetransmittedOnTheTimer() async throws {
        let a = try DTLSCertificate(), b = try DTLSCertificate()
        let client = try DTLSEndpoint(role: .client, certificate: a, remoteFingerprint: b.fingerprint)
        let server = try DTLSEndpoint(role: .server, certificate: b, remoteFingerprint: a.fingerprint)
        _ = client.start()  // the ClientHello is lost
        #expect(client.state == .handshaking)
        let timeout = try #require(client.timeoutMicroseconds)
        #expect(timeout > 0 && timeout <= 1_000_000)
        // OpenSSL's timer runs on the wall clock: wait until it says it has expired (≤ 1 s),
        // without holding one of the few threads the other suites run on.
        while let t = client.timeoutMicroseconds, t > 0 { try await Task.sleep(for: .microseconds(t)) }
        var toServer = client.handleTimeout()
        #expect(!toServer.isEmpty)
        for _ in 0..<10 where !toServer.isEmpty {
            var toClient: [[UInt8]] = []
            for d in toServer { toClient += server.receive(d) }
            toServer = []
            for d in toClient { toServer += client.receive(d) }
        }
        #expect(client.state == .connected(.aes128CmHmacSha1_80))
        #expect(server.state == .connected(.aes128CmHmacSha1_80))
    }

    @Test func garbageFailsOnlyThatSession() throws {
        let b = try DTLSCertificate()
        let server = try DTLSEndpoint(role: .server, certificate: b, remoteFingerprint: nil)
        var rng = SeededRandom(seed: 4)
        for _ in 0..<200 {
            var junk = rng.bytes(Int.random(in: 1...300, using: &rng))
            junk[0] = UInt8.random(in: 20...63, using: &rng)  // the DTLS range of RFC 7983
            _ = server.receive(junk)
        }
        // Whatever state the garbage left, a fresh session still works.
        let a = try DTLSCertificate()
        let client = try DTLSEndpoint(role: .client, certificate: a, remoteFingerprint: b.fingerprint)
        let fresh = try DTLSEndpoint(role: .server, certificate: b, remoteFingerprint: a.fingerprint)
        _ = Self.run(client, fresh)
        #expect(fresh.state == .connected(.aes128CmHmacSha1_80))
    }
}
