import Foundation
import Logging
import MediaPipeline
import MediaWire
import MediaCrypto
import NIOPosix
import Relay
import Synchronization
import Testing
import WebRTCClient

/// Counts what peers report.
final class Tally: MediaPeerObserver {
    struct Counts {
        var connected = 0
        var firstMedia = 0
        var rendered = 0
        var firstFrames = 0
        var latencies: [Int64] = []
        var failures: [ClientError.Code] = []
        var dropped: [String] = []
    }
    let counts = Mutex(Counts())
    func connected(after micros: Int64) { counts.withLock { $0.connected += 1 } }
    func firstMedia(after micros: Int64) { counts.withLock { $0.firstMedia += 1 } }
    func rendered(_ frame: ReceiveMonitor.RenderedFrame, firstAfter micros: Int64?) {
        counts.withLock {
            $0.rendered += 1
            if micros != nil { $0.firstFrames += 1 }
            if let l = frame.glassToGlassMicros { $0.latencies.append(l) }
        }
    }
    func failed(_ code: ClientError.Code) { counts.withLock { $0.failures.append(code) } }
    func dropped(_ reason: String) { counts.withLock { $0.dropped.append(reason) } }
}

@Suite struct MediaPeerTests {
    @Test func offerIsAnsweredByTheRelaysAnswerer() throws {
        let cert = try DTLSCertificate()
        for direction in [ClientOffer.Direction.send, .receive] {
            let offer = ClientOffer(direction: direction, fingerprint: cert.fingerprint)
            let answerer = SDPAnswerer(iceUfrag: "su", icePassword: "spwspwspwspwspwspwspwspw", fingerprint: cert.fingerprint, candidateAddress: "127.0.0.1", candidatePort: 4242, sessionID: 1)
            let tracks = [OutgoingTrack(kind: .audio, ssrc: 11, streamID: "s", trackID: "a"), OutgoingTrack(kind: .video, ssrc: 22, streamID: "s", trackID: "v")]
            let (answer, media, remote) = try answerer.answer(.init(parsing: offer.sdp), role: direction == .send ? .publisher : .viewer, tracks: tracks)
            #expect(media.map(\.kind) == [.audio, .video])
            #expect(media.allSatisfy { $0.captureTimeExtensionID == ClientOffer.captureTimeExtensionID })
            #expect(remote.iceUfrag == offer.iceUfrag)
            let parsed = try ServerAnswer(parsing: answer.serialized())
            #expect(parsed.port == 4242 && parsed.host == "127.0.0.1" && parsed.iceUfrag == "su")
            if direction == .receive {
                #expect(parsed.audioSSRC == 11 && parsed.videoSSRC == 22)
            } else {
                #expect(media.first { $0.kind == .video }?.remoteSSRCs == [offer.videoSSRC])
            }
        }
        #expect(throws: ClientError.self) { try ServerAnswer(parsing: "v=0\r\n") }
    }

    /// A publisher and two viewers through the real relay over loopback: the viewers render the
    /// publisher's frames, and the glass-to-glass latency they measure is small and positive.
    @Test func publisherToViewersThroughTheRelay() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var config = RelayConfiguration()
        config.mediaPort = 0
        let relay = try await RelayServer.start(configuration: config, group: group, logger: Logger(label: "test"))
        let media = try EncodedMedia(width: 320, height: 180, videoBitrate: 300_000, seconds: 2)
        #expect(media.video.first?.isKeyFrame == true)
        #expect(media.video.dropFirst().allSatisfy { !$0.isKeyFrame })
        let cert = try DTLSCertificate()
        let publisherTally = Tally(), viewerTally = Tally()

        let pubOffer = ClientOffer(direction: .send, fingerprint: cert.fingerprint)
        let pubAnswer = try await relay.open(room: "r", publishing: true, offer: pubOffer.sdp).answer
        let publisher = try await MediaPeer.start(
            role: .publisher(media), offer: pubOffer, answer: ServerAnswer(parsing: pubAnswer), certificate: cert, via: nil, group: group,
            observer: publisherTally)
        var viewers: [MediaPeer] = []
        for _ in 0..<2 {
            let offer = ClientOffer(direction: .receive, fingerprint: cert.fingerprint)
            let answer = try await relay.open(room: "r", publishing: false, offer: offer.sdp).answer
            viewers.append(
                try await MediaPeer.start(
                    role: .viewer, offer: offer, answer: ServerAnswer(parsing: answer), certificate: cert, via: nil, group: group, observer: viewerTally))
        }
        // Wait (bounded, 20 s) until both viewers have a first frame and 60 are rendered in all:
        // under a loaded test run one viewer can connect seconds after the other has its 60.
        func done() -> Bool { viewerTally.counts.withLock { $0.connected == 2 && $0.firstFrames == 2 && $0.rendered >= 60 } }
        for _ in 0..<400 where !done() { try await Task.sleep(for: .milliseconds(50)) }
        let counts = viewerTally.counts.withLock { $0 }
        #expect(counts.failures.isEmpty)
        #expect(counts.connected == 2 && counts.firstMedia == 2 && counts.firstFrames == 2)
        #expect(counts.rendered >= 60)
        #expect(counts.latencies.count == counts.rendered, "every frame carries its capture time through the relay")
        #expect(counts.latencies.allSatisfy { $0 > 0 && $0 < 2_000_000 })
        #expect(counts.dropped.isEmpty)
        let v = await viewers[0].snapshot()
        #expect(v.receivedBytes > 0 && v.expectedPackets > 0)
        #expect(v.renderedFrames > 0 && v.lostPackets == 0, "loopback: frames render, nothing is lost")
        let p = await publisher.snapshot()
        #expect(p.sentPackets > 0)
        #expect(publisherTally.counts.withLock { $0.connected } == 1)
        for v in viewers { await v.stop() }
        await publisher.stop()
        await relay.stop()
        try await group.shutdownGracefully()
    }
}

/// Media on every core: with two media workers, two rooms are placed on different workers (their
/// answers name different ports), a room's publisher and subscriber share one, and media flows in
/// both rooms at once.
@Suite struct MediaWorkerTests {
    @Test func roomsOnTwoWorkersEachCarryTheirMedia() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var config = RelayConfiguration()
        config.mediaPort = 0
        config.mediaThreads = 2
        let relay = try await RelayServer.start(configuration: config, group: group, logger: Logger(label: "test"))
        #expect(relay.ports.count == 2 && Set(relay.ports).count == 2)
        let media = try EncodedMedia(width: 320, height: 180, videoBitrate: 300_000, seconds: 2)
        let cert = try DTLSCertificate()
        var peers: [MediaPeer] = []
        var tallies: [Tally] = []
        var portsByRoom: [String: Set<Int>] = [:]
        for room in ["left", "right"] {
            let pubOffer = ClientOffer(direction: .send, fingerprint: cert.fingerprint)
            let pubAnswer = try ServerAnswer(parsing: try await relay.open(room: room, identity: "p-\(room)", publishing: true, offer: pubOffer.sdp).answer)
            peers.append(try await MediaPeer.start(role: .publisher(media), offer: pubOffer, answer: pubAnswer, certificate: cert, via: nil, group: group, observer: Tally()))
            let offer = ClientOffer(direction: .receive, fingerprint: cert.fingerprint)
            let answer = try ServerAnswer(parsing: try await relay.open(room: room, identity: "v-\(room)", publishing: false, offer: offer.sdp).answer)
            let tally = Tally()
            tallies.append(tally)
            peers.append(try await MediaPeer.start(role: .viewer, offer: offer, answer: answer, certificate: cert, via: nil, group: group, observer: tally))
            portsByRoom[room] = [pubAnswer.port, answer.port]
        }
        #expect(portsByRoom["left"]?.count == 1 && portsByRoom["right"]?.count == 1, "a room's sessions share a worker: \(portsByRoom)")
        #expect(portsByRoom["left"] != portsByRoom["right"], "two rooms, two workers: \(portsByRoom)")
        #expect(relay.sessionsPerWorker() == [2, 2])
        for _ in 0..<200 where tallies.contains(where: { $0.counts.withLock { $0.rendered } < 30 }) { try await Task.sleep(for: .milliseconds(50)) }
        for tally in tallies {
            let counts = tally.counts.withLock { $0 }
            #expect(counts.failures.isEmpty && counts.rendered >= 30, "\(counts.rendered) frames rendered")
        }
        #expect(await relay.statistics().count == 4)
        #expect((await relay.snapshot()).publishers == 2)
        for p in peers { await p.stop() }
        await relay.stop()
        try await group.shutdownGracefully()
    }
}

extension MediaWorkerTests {
    /// A room larger than its home worker serves (here: past 3 sessions) spreads its subscribers
    /// over the other worker, which gets the stream through a pipe: every subscriber decodes, one
    /// of them through a rendition made on the far worker; when the publisher is replaced, the
    /// subscribers on both workers follow the new one.
    @Test func aRoomLargerThanOneWorkerSpreadsItsSubscribers() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var config = RelayConfiguration()
        config.mediaPort = 0
        config.mediaThreads = 2
        config.limits.spreadAbove = 3
        let relay = try await RelayServer.start(configuration: config, group: group, logger: Logger(label: "test"))
        let media = try EncodedMedia(width: 320, height: 180, videoBitrate: 300_000, seconds: 2)
        let cert = try DTLSCertificate()
        func publish(_ identity: String) async throws -> (MediaPeer, OpenedSession) {
            let offer = ClientOffer(direction: .send, fingerprint: cert.fingerprint)
            let opened = try await relay.open(room: "launch", identity: identity, publishing: true, offer: offer.sdp)
            let peer = try await MediaPeer.start(
                role: .publisher(media), offer: offer, answer: try ServerAnswer(parsing: opened.answer), certificate: cert, via: nil, group: group,
                observer: Tally())
            return (peer, opened)
        }
        var (publisher, published) = try await publish("merchant")
        var viewers: [MediaPeer] = []
        var tallies: [Tally] = []
        var ports: [Int] = []
        for i in 0..<5 {
            let offer = ClientOffer(direction: .receive, fingerprint: cert.fingerprint)
            let opened = try await relay.open(room: "launch", identity: "v\(i)", publishing: false, quality: i == 4 ? .low : .source, adaptive: false, offer: offer.sdp)
            let answer = try ServerAnswer(parsing: opened.answer)
            ports.append(answer.port)
            let tally = Tally()
            tallies.append(tally)
            viewers.append(try await MediaPeer.start(role: .viewer, offer: offer, answer: answer, certificate: cert, via: nil, group: group, observer: tally))
        }
        #expect(ports == [relay.ports[0], relay.ports[0], relay.ports[1], relay.ports[1], relay.ports[1]], "\(ports) of \(relay.ports)")
        #expect(relay.sessionsPerWorker() == [3, 3])
        func rendered() -> [Int] { tallies.map { $0.counts.withLock { $0.rendered } } }
        for _ in 0..<300 where rendered().contains(where: { $0 < 30 }) { try await Task.sleep(for: .milliseconds(50)) }
        #expect(rendered().allSatisfy { $0 >= 30 }, "frames rendered per viewer: \(rendered())")
        #expect(tallies.allSatisfy { $0.counts.withLock { $0.failures.isEmpty } })
        let snapshot = await relay.snapshot()
        #expect(snapshot.renditions == 1, "the far viewer's rendition runs on the far worker")
        // The far viewers rendered ≥ 30 frames each, every one of them through the pipe: ≥ 1 packet per frame.
        #expect(snapshot.pipes == 1 && snapshot.pipedPackets >= 30, "one pipe, \(snapshot.pipedPackets) packets through it")

        // The merchant's stream restarts: every viewer follows, on both workers.
        try await relay.close(room: "launch", resource: published.resource, publishing: true, identity: "merchant")
        await publisher.stop()
        let before = rendered()
        (publisher, published) = try await publish("merchant")
        func followed() -> Bool { zip(rendered(), before).allSatisfy { $0 >= $1 + 30 } }
        for _ in 0..<300 where !followed() { try await Task.sleep(for: .milliseconds(50)) }
        #expect(followed(), "frames after the new publisher: \(zip(rendered(), before).map { $0 - $1 })")
        for p in viewers + [publisher] { await p.stop() }
        await relay.stop()
        try await group.shutdownGracefully()
    }
}

@Suite struct ClientHandshakeTests {
    /// The first check and every consent check are signed binding requests the relay's ICE agent
    /// accepts; each refreshes consent (else the relay ends the session after 30 s, RFC 7675).
    @Test func checksAndConsentChecksAreAcceptedAndRefreshConsent() throws {
        let cert = try DTLSCertificate()
        let offer = ClientOffer(direction: .receive, fingerprint: cert.fingerprint)
        let answer = try ServerAnswer(
            parsing: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 127.0.0.1\r\n"
                + "a=ice-ufrag:srv\r\na=ice-pwd:serverpasswordserverpassword\r\na=fingerprint:sha-256 \(cert.fingerprint)\r\n"
                + "a=candidate:1 1 udp 2130706431 127.0.0.1 4000 typ host\r\n")
        let handshake = try ClientHandshake(offer: offer, answer: answer, certificate: cert)
        var agent = ICELiteAgent(localUfrag: "srv", localPassword: "serverpasswordserverpassword", remoteUfrag: offer.iceUfrag)
        let from = PeerAddress(ip: [127, 0, 0, 1], port: 5000)
        let first = try #require(handshake.start(now: 0).first)
        guard case .respond(let response) = agent.handle(first, message: try STUNMessage(parsing: first), from: from, now: .zero) else {
            Issue.record("the first check was not answered")
            return
        }
        #expect(agent.nominated)
        // The response moves the handshake on to DTLS (its ClientHello goes out).
        #expect(!handshake.receive(response, now: 1).isEmpty)
        #expect(handshake.state == .handshaking)
        let consent = handshake.consentCheck()
        #expect(consent != first, "a new transaction each time")
        let later = MediaTime(microseconds: 25_000_000)
        guard case .respond = agent.handle(consent, message: try STUNMessage(parsing: consent), from: from, now: later) else {
            Issue.record("the consent check was not answered")
            return
        }
        #expect(agent.lastConsent == later)
        #expect(!agent.consentExpired(now: MediaTime(microseconds: 50_000_000)))
        // A check signed with another password is not.
        var stranger = ICELiteAgent(localUfrag: "srv", localPassword: "anotherpasswordanotherpass", remoteUfrag: offer.iceUfrag)
        #expect(stranger.handle(consent, message: try STUNMessage(parsing: consent), from: from, now: later) != .respond(response))
        #expect(stranger.lastConsent == nil)
    }
}

/// Found with showroom-load: under overload, adaptation moved hundreds of viewers to renditions,
/// each a transcoding branch on the one codec thread, whose queue then grew to gigabytes. The relay
/// now caps renditions and bounds each branch's backlog.
@Suite struct RenditionCapacityTests {
    @Test func renditionsBeyondTheCapAreRefusedAndAFailedMoveKeepsTheViewerWhereItWas() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var config = RelayConfiguration()
        config.mediaPort = 0
        config.limits.renditions = 1
        let relay = try await RelayServer.start(configuration: config, group: group, logger: Logger(label: "test"))
        let cert = try DTLSCertificate()
        func offer(_ d: ClientOffer.Direction) -> String { ClientOffer(direction: d, fingerprint: cert.fingerprint).sdp }
        _ = try await relay.open(room: "r", publishing: true, offer: offer(.send))
        let low = try await relay.open(room: "r", publishing: false, quality: .low, offer: offer(.receive))
        // A second rendition would be a second branch: refused, with the reason.
        await #expect(throws: RelayError(.atCapacity, "")) {
            _ = try await relay.open(room: "r", publishing: false, quality: .medium, offer: offer(.receive))
        }
        // The same rendition is shared: no new branch.
        _ = try await relay.open(room: "r", publishing: false, quality: .low, offer: offer(.receive))
        let source = try await relay.open(room: "r", publishing: false, quality: .source, offer: offer(.receive))
        // Moving a source viewer to a new rendition fails and leaves it on the source.
        await #expect(throws: RelayError(.atCapacity, "")) { try await relay.setQuality(id: source.id, room: "r", quality: .medium) }
        let stats = await relay.statistics()
        #expect(stats.first { $0.id == source.id }?.quality == .source)
        #expect(stats.first { $0.id == low.id }?.quality == .low)
        // A low viewer moving to medium needs a second branch while the other low viewer keeps the first.
        await #expect(throws: RelayError(.atCapacity, "")) { try await relay.setQuality(id: low.id, room: "r", quality: .medium) }
        #expect(await relay.statistics().first { $0.id == low.id }?.quality == .low)
        #expect(await relay.droppedCounts()["rendition-at-capacity"] == 3)
        await relay.stop()
        try await group.shutdownGracefully()
    }
}
