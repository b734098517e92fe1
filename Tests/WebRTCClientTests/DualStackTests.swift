import Foundation
import Logging
import MediaCrypto
import NIOCore
import NIOPosix
import Relay
import Testing
import WebRTCClient

/// IPv6 (issue 17): the relay binds and announces an IPv4 and an IPv6 address at once, candidates
/// for both families over UDP and TCP, and media flows to peers on ::1 beside peers on 127.0.0.1.
@Suite struct DualStackTests {
    @Test func announceAddressesAreCheckedWithTheirReason() {
        func problem(_ ips: [String]) -> String? {
            var c = RelayConfiguration()
            c.announceIPs = ips
            return c.announceProblem
        }
        #expect(problem(["127.0.0.1"]) == nil)
        #expect(problem(["203.0.113.10", "2001:db8::10"]) == nil)
        #expect(problem(["::1", "127.0.0.1"]) == nil)
        #expect(problem([]) != nil)
        #expect(problem(["127.0.0.1", "10.0.0.1"])?.contains("one family") == true)
        #expect(problem(["::1", "2001:db8::1"])?.contains("one family") == true)
        #expect(problem(["example.com"])?.contains("not an IPv4 or IPv6") == true)
        #expect(problem(["1.2.3.400"]) != nil)
        #expect(problem(["127.0.0.1", "::1", "::2"]) != nil)
        #expect(RelayConfiguration.bindHost(for: "127.0.0.1") == "127.0.0.1" && RelayConfiguration.bindHost(for: "::1") == "::1")
        #expect(RelayConfiguration.bindHost(for: "203.0.113.10") == "0.0.0.0" && RelayConfiguration.bindHost(for: "2001:db8::10") == "::")
    }

    @Test func peersOnBothFamiliesShareARoom() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var config = RelayConfiguration()
        config.mediaPort = 0
        config.announceIPs = ["127.0.0.1", "::1"]
        let relay = try await RelayServer.start(configuration: config, group: group, logger: Logger(label: "test"))
        let media = try EncodedMedia(width: 320, height: 180, videoBitrate: 300_000, seconds: 2)
        let cert = try DTLSCertificate()
        let pubOffer = ClientOffer(direction: .send, fingerprint: cert.fingerprint)
        let pubAnswerText = try await relay.open(room: "r", identity: "p", publishing: true, offer: pubOffer.sdp).answer
        // Four candidates: UDP and TCP on each family, one port number, IPv4 (given first) preferred.
        let candidates = pubAnswerText.split(separator: "\r\n").filter { $0.hasPrefix("a=candidate:") }.map { $0.split(separator: " ") }
        let firstSection = Array(candidates.prefix(4))
        #expect(firstSection.map { "\($0[2]) \($0[4]) \($0[5])" } == [
            "udp 127.0.0.1 \(relay.port)", "tcp 127.0.0.1 \(relay.port)", "udp ::1 \(relay.port)", "tcp ::1 \(relay.port)",
        ])
        let priority = firstSection.map { Int($0[3]) ?? 0 }
        #expect(priority[0] > priority[2] && priority[2] > priority[1] && priority[1] > priority[3], "\(priority)")
        let publisher = try await MediaPeer.start(
            role: .publisher(media), offer: pubOffer, answer: ServerAnswer(parsing: pubAnswerText), certificate: cert, via: nil, group: group,
            observer: Tally())
        var viewers: [(String, MediaPeer, Tally)] = []
        let v6 = try SocketAddress(ipAddress: "::1", port: relay.port)
        for (name, via, transport) in [("udp ::1", v6, MediaPeer.Transport.udp), ("tcp ::1", v6, .tcp), ("udp 127.0.0.1", nil, .udp)] {
            let offer = ClientOffer(direction: .receive, fingerprint: cert.fingerprint)
            let answer = try ServerAnswer(parsing: try await relay.open(room: "r", identity: "v-\(name)", publishing: false, offer: offer.sdp).answer)
            let tally = Tally()
            viewers.append(
                (name, try await MediaPeer.start(
                    role: .viewer, offer: offer, answer: answer, certificate: cert, via: via, transport: transport, group: group, observer: tally), tally))
        }
        for _ in 0..<200 where viewers.contains(where: { $0.2.counts.withLock { $0.rendered } < 40 }) { try await Task.sleep(for: .milliseconds(50)) }
        for (name, peer, tally) in viewers {
            let counts = tally.counts.withLock { $0 }
            #expect(counts.failures.isEmpty && counts.connected == 1, "\(name): \(counts.failures)")
            #expect(counts.rendered >= 40, "\(name) rendered \(counts.rendered)")
            #expect(await peer.snapshot().lostPackets == 0, "\(name)")
        }
        #expect(await relay.droppedCounts()["no-socket-for-family"] == nil)
        for p in [publisher] + viewers.map(\.1) { await p.stop() }
        await relay.stop()
        try await group.shutdownGracefully()
    }
}
