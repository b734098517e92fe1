import Foundation
import Logging
import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore
@testable import Relay
import ShowroomTestSupport
import Testing

func offer(_ name: String) throws -> SessionDescription {
    try SessionDescription(parsing: String(contentsOf: URL(fileURLWithPath: Fixtures.directory()).appendingPathComponent("Fixtures/\(name)"), encoding: .utf8))
}

let answerer = SDPAnswerer(iceUfrag: "abcd", icePassword: "0123456789abcdefghijkl", fingerprint: "AA:BB", candidateAddress: "127.0.0.1", candidatePort: 40_000, sessionID: 7)

@Suite struct SDPTests {
    @Test func parsesARealAiortcOffer() throws {
        let o = try offer("aiortc-publisher-offer.sdp")
        #expect(o.media.count == 2)
        let audio = o.media[0], video = o.media[1]
        #expect(audio.kind == "audio" && video.kind == "video")
        #expect(audio.mid == "0" && video.mid == "1")
        #expect(audio.codecs.first?.name == "opus" && audio.codecs.first?.channels == 2)
        let vp8 = try #require(video.codecs.first { $0.name == "VP8" })
        #expect(vp8.feedback.contains("nack pli"))
        #expect(video.extensions.contains { $0.uri.contains("sdes:mid") })
        #expect(video.ssrcs.count == 2)
        #expect(o.value("ice-ufrag", in: audio) != nil)
        #expect(o.value("group") == "BUNDLE 0 1")
        // Re-serializing gives the same description back.
        #expect(try SessionDescription(parsing: o.serialized()) == o)
    }

    @Test func rejectsGarbage() {
        #expect(throws: WireError.self) { try SessionDescription(parsing: "hello") }
        #expect(throws: WireError.self) { try SessionDescription(parsing: "v=1\r\n") }
        #expect(throws: WireError.self) { try SessionDescription(parsing: "v=0\r\nm=audio x RTP/AVP 0\r\n") }
        #expect(throws: WireError.self) { try SessionDescription(parsing: "v=0\r\n" + String(repeating: "a=x\r\n", count: 20_000)) }
        var rng = SeededRandom(seed: 12)
        let text = Array((try? String(contentsOf: URL(fileURLWithPath: Fixtures.directory()).appendingPathComponent("Fixtures/aiortc-publisher-offer.sdp"), encoding: .utf8))?.utf8 ?? "".utf8)
        for _ in 0..<20_000 {
            let mutated = rng.mutate(text)
            if let d = try? SessionDescription(parsing: String(decoding: mutated, as: UTF8.self)) {
                _ = try? answerer.answer(d, role: .publisher)
            }
        }
    }
}

@Suite struct SDPAnswererTests {
    @Test func publisherGetsARecvonlyBundleAnswer() throws {
        let (answer, media, remote) = try answerer.answer(try offer("aiortc-publisher-offer.sdp"), role: .publisher)
        #expect(answer.value("group") == "BUNDLE 0 1")
        #expect(answer.attributes.contains { $0.name == "ice-lite" })
        #expect(media.map(\.kind) == [.audio, .video])
        #expect(media[1].codec == "VP8")
        #expect(remote.setup == "actpass")
        #expect(remote.fingerprint.hasPrefix("A4:12"))
        for m in answer.media {
            #expect(m.direction == "recvonly")
            #expect(m.value("setup") == "passive")
            #expect(m.has("rtcp-mux"))
            #expect(m.values("candidate") == ["1 1 udp 2130706431 127.0.0.1 40000 typ host"])
        }
        // Audio takes Opus alone; video VP8 and its RTX (the publisher resends what the relay NACKs on it).
        #expect(answer.media[0].formats.count == 1)
        #expect(answer.media[1].formats == [String(media[1].payloadType), "98"] && media[1].rtxPayloadType == 98)
        #expect(answer.media[1].values("fmtp").contains("98 apt=\(media[1].payloadType)"))
        #expect(answer.media[0].value("fmtp")?.contains("useinbandfec=1") == true)
        #expect(answer.media[1].values("rtcp-fb").contains { $0.hasSuffix("nack pli") })
    }

    @Test func viewerGetsSendonlyWithOurSSRCs() throws {
        let tracks = [
            OutgoingTrack(kind: .audio, ssrc: 111, streamID: "s", trackID: "a"),
            OutgoingTrack(kind: .video, ssrc: 222, streamID: "s", trackID: "v"),
        ]
        let (answer, _, _) = try answerer.answer(try offer("aiortc-viewer-offer.sdp"), role: .viewer, tracks: tracks)
        #expect(answer.media.map(\.direction) == ["sendonly", "sendonly"])
        #expect(answer.media[0].ssrcs == [111])
        #expect(answer.media[1].ssrcs == [222])
        #expect(answer.media[1].value("msid") == "s v")
        // A viewer that offers video before audio (as the web page does) gets both.
        var reversed = try offer("aiortc-viewer-offer.sdp")
        reversed.media.reverse()
        let (answer2, media2, _) = try answerer.answer(reversed, role: .viewer, tracks: tracks)
        #expect(media2.map(\.kind) == [.video, .audio])
        #expect(answer2.media.map(\.ssrcs) == [[222], [111]])
    }

    /// abs-capture-time is answered under the id the peer chose, per section, and reported in the
    /// negotiated media; a peer that did not offer it does not get it.
    @Test func captureTimeExtensionIsAcceptedWhenOffered() throws {
        var o = try offer("aiortc-publisher-offer.sdp")
        o.media[1].attributes.append(.init("extmap", "9 \(AbsoluteCaptureTime.uri)"))
        let (answer, media, _) = try answerer.answer(o, role: .publisher)
        #expect(media.map(\.captureTimeExtensionID) == [nil, 9])
        #expect(answer.media[1].extensions.contains { $0.id == 9 && $0.uri == AbsoluteCaptureTime.uri })
        #expect(!answer.media[0].extensions.contains { $0.uri == AbsoluteCaptureTime.uri })
    }

    /// A capture time read from a publisher's packet (under its id) is written for a viewer under
    /// the viewer's id and parses back the same, in both header forms; other extensions are not carried.
    @Test(arguments: [(UInt8(3), UInt8(5)), (14, 1), (5, 15), (200, 7), (7, 200)])
    func captureTimeIsRewrittenUnderTheViewersID(publisherID: UInt8, viewerID: UInt8) throws {
        let capture = AbsoluteCaptureTime(captureTimestamp: 0x0123_4567_89AB_CDEF, estimatedCaptureClockOffset: publisherID == 14 ? -5 : nil)
        var extensions = capture.headerExtensions(id: publisherID)
        extensions.elements.insert(RTPHeaderExtension(id: 1, data: [0x30]), at: 0)  // the publisher's mid: not forwarded
        let source = RTPPacket(
            header: RTPHeader(marker: true, payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3, extensions: extensions),
            payload: [1, 2, 3])
        let bytes = source.serialized()
        let read = try #require(bytes.withUnsafeBytes { AbsoluteCaptureTime(inPacket: $0, id: publisherID) })
        #expect(read == capture)
        #expect(bytes.withUnsafeBytes { AbsoluteCaptureTime(inPacket: $0, id: 13) } == nil)
        var header = [UInt8](repeating: 0xEE, count: RTPHeaderView.maximumWrittenLength)
        let length = header.withUnsafeMutableBytes {
            RTPHeaderView.write(
                into: $0, marker: true, padding: false, payloadType: 100, sequenceNumber: 9, timestamp: 10, ssrc: 11, capture: (viewerID, read))
        }
        #expect(length > 12 && length % 4 == 0)
        let forwarded = try RTPPacket(parsing: Array(header.prefix(length)) + source.payload)
        #expect(forwarded.header.extensions?.elements.count == 1)
        #expect(AbsoluteCaptureTime(in: forwarded.header, id: viewerID) == capture)
        #expect(forwarded.payload == [1, 2, 3] && forwarded.header.payloadType == 100 && forwarded.header.marker)
    }

    @Test func noCommonCodecIsAClearError() throws {
        var o = try offer("aiortc-publisher-offer.sdp")
        for i in o.media.indices {
            o.media[i].attributes = o.media[i].attributes.filter { $0.name != "rtpmap" || !($0.value ?? "").contains("opus") && !($0.value ?? "").contains("VP8") }
        }
        #expect(throws: NegotiationError(.noCommonCodec, "")) { try answerer.answer(o, role: .publisher) }
        var noICE = try offer("aiortc-publisher-offer.sdp")
        for i in noICE.media.indices { noICE.media[i].attributes.removeAll { $0.name == "ice-ufrag" } }
        #expect(throws: NegotiationError(.missingICECredentials, "")) { try answerer.answer(noICE, role: .publisher) }
    }
}

@Suite struct ICELiteAgentTests {
    static func request(username: String, password: String, useCandidate: Bool = false, tid: UInt8 = 1) -> [UInt8] {
        var attributes: [STUNMessage.Attribute] = [.init(type: STUNMessage.AttributeType.username, value: Array(username.utf8))]
        if useCandidate { attributes.append(.init(type: STUNMessage.AttributeType.useCandidate, value: [])) }
        return STUNMessage(type: STUNMessage.MessageType.bindingRequest, transactionID: Array(repeating: tid, count: 12), attributes: attributes)
            .serialized(integrityKey: Array(password.utf8), mac: HMACSHA1.digest)
    }

    @Test func answersAuthenticatedChecksAndFollowsOnlyThem() throws {
        var agent = ICELiteAgent(localUfrag: "loc", localPassword: "localpassword0123456789", remoteUfrag: "rem")
        let a = PeerAddress(ip: [127, 0, 0, 1], port: 5_000), b = PeerAddress(ip: [127, 0, 0, 1], port: 6_000)
        let good = Self.request(username: "loc:rem", password: "localpassword0123456789", useCandidate: true)
        guard case .respond(let response) = agent.handle(good, message: try STUNMessage(parsing: good), from: a, now: .zero) else {
            Issue.record("no response")
            return
        }
        let parsed = try STUNMessage(parsing: response)
        #expect(parsed.type == STUNMessage.MessageType.bindingSuccess)
        #expect(STUNMessage.verifyIntegrity(response, key: Array("localpassword0123456789".utf8), mac: HMACSHA1.digest))
        #expect(STUNMessage.verifyFingerprint(response))
        #expect(try STUNAddress(xorDecoding: parsed[STUNMessage.AttributeType.xorMappedAddress] ?? [], transactionID: parsed.transactionID) == STUNAddress(address: [127, 0, 0, 1], port: 5_000))
        #expect(agent.selected == a && agent.nominated)
        // Forged (wrong password) and misaddressed checks from another address change nothing.
        let forged = Self.request(username: "loc:rem", password: "wrong-password-xxxxxxxx")
        #expect(agent.handle(forged, message: try STUNMessage(parsing: forged), from: b, now: .zero) == .drop("stun-bad-integrity"))
        let other = Self.request(username: "loc:someone", password: "localpassword0123456789")
        #expect(agent.handle(other, message: try STUNMessage(parsing: other), from: b, now: .zero) == .drop("stun-wrong-username"))
        #expect(agent.selected == a)
        // Once a pair is nominated, an authenticated check from another address (a browser keeps
        // checking its UDP and its TCP pair) is answered but does not move media there ...
        let check = Self.request(username: "loc:rem", password: "localpassword0123456789", tid: 2)
        guard case .respond = agent.handle(check, message: try STUNMessage(parsing: check), from: b, now: .milliseconds(1_000)) else {
            Issue.record("an authenticated check went unanswered")
            return
        }
        #expect(agent.selected == a)
        // ... a nomination from it does (a network change, or the peer switching pairs).
        let moved = Self.request(username: "loc:rem", password: "localpassword0123456789", useCandidate: true, tid: 3)
        _ = agent.handle(moved, message: try STUNMessage(parsing: moved), from: b, now: .milliseconds(1_000))
        #expect(agent.selected == b)
    }

    /// Before any nomination, the latest authenticated check's address carries media (a peer that
    /// never nominates, as some ICE-lite-facing clients do, still gets it).
    @Test func beforeNominationTheLatestCheckLeads() throws {
        var agent = ICELiteAgent(localUfrag: "loc", localPassword: "localpassword0123456789", remoteUfrag: "rem")
        let a = PeerAddress(ip: [127, 0, 0, 1], port: 5_000), tcp = PeerAddress(ip: [127, 0, 0, 1], port: 5_000, transport: .tcp)
        #expect(a != tcp)
        for (tid, from) in [(UInt8(1), a), (2, tcp)] {
            let check = Self.request(username: "loc:rem", password: "localpassword0123456789", tid: tid)
            _ = agent.handle(check, message: try STUNMessage(parsing: check), from: from, now: .zero)
            #expect(agent.selected == from && !agent.nominated)
        }
    }

    @Test func consentLapsesAfterThirtySecondsOfSilence() throws {
        var agent = ICELiteAgent(localUfrag: "loc", localPassword: "localpassword0123456789", remoteUfrag: "rem")
        let check = Self.request(username: "loc:rem", password: "localpassword0123456789")
        _ = agent.handle(check, message: try STUNMessage(parsing: check), from: PeerAddress(ip: [127, 0, 0, 1], port: 1), now: .milliseconds(1_000))
        #expect(!agent.consentExpired(now: .milliseconds(30_000)))
        #expect(agent.consentExpired(now: .milliseconds(31_001)))
    }

    /// Consent is the selected pair's (RFC 7675 §5.1): after a nomination moved media to another
    /// address (say, a spoofed source: the victim of a media flood), checks from the peer's own
    /// address do not keep that consent alive — only checks from the address media goes to do.
    @Test func checksFromAnotherAddressDoNotRefreshTheSelectedPairsConsent() throws {
        var agent = ICELiteAgent(localUfrag: "loc", localPassword: "localpassword0123456789", remoteUfrag: "rem")
        let attacker = PeerAddress(ip: [127, 0, 0, 1], port: 5_000), victim = PeerAddress(ip: [127, 0, 0, 9], port: 9_000)
        let nominate = Self.request(username: "loc:rem", password: "localpassword0123456789", useCandidate: true, tid: 1)
        _ = agent.handle(nominate, message: try STUNMessage(parsing: nominate), from: victim, now: .zero)
        #expect(agent.selected == victim)
        for second in 1...40 {
            let check = Self.request(username: "loc:rem", password: "localpassword0123456789", tid: UInt8(1 + second))
            guard case .respond = agent.handle(check, message: try STUNMessage(parsing: check), from: attacker, now: .milliseconds(Double(second * 1_000))) else {
                Issue.record("an authenticated check went unanswered")
                return
            }
        }
        #expect(agent.selected == victim)
        #expect(agent.consentExpired(now: .milliseconds(31_000)), "checks from another address kept the selected pair's consent")
        // A check from the selected address itself refreshes it.
        let fresh = Self.request(username: "loc:rem", password: "localpassword0123456789", tid: 99)
        _ = agent.handle(fresh, message: try STUNMessage(parsing: fresh), from: victim, now: .milliseconds(40_000))
        #expect(!agent.consentExpired(now: .milliseconds(41_000)))
    }
}

@Suite struct RelayStateTests {
    static func state() throws -> RelayState {
        try RelayState(certificate: try DTLSCertificate(), announceIPs: ["127.0.0.1"], mediaPort: 40_000, logger: Logger(label: "test"))
    }

    /// How late the worker's ticks run is shown (`/metrics`): a late one is counted, one on time is not.
    @Test func lateTicksAreCounted() throws {
        let relay = try Self.state()
        let t0 = MediaTime(microseconds: 10_000_000)
        _ = relay.tick(now: t0, lag: MediaTime(microseconds: 5_000))
        #expect(relay.snapshot().lateTicks == 0 && relay.snapshot().loopLag == 0.005)
        _ = relay.tick(now: t0, lag: MediaTime(microseconds: 80_000))
        #expect(relay.snapshot().lateTicks == 1 && relay.snapshot().loopLag == 0.08)
    }

    @Test func malformedAndUnknownDatagramsAreDroppedAndCounted() throws {
        let s = try Self.state()
        let stranger = PeerAddress(ip: [127, 0, 0, 1], port: 9)
        var rng = SeededRandom(seed: 99)
        for i in 0..<20_000 {
            var junk = rng.bytes(Int.random(in: 0...300, using: &rng))
            if !junk.isEmpty { junk[0] = [0x00, 0x01, 22, 23, 0x80, 0x90, 0xFF][i % 7] }
            #expect(s.receive(junk, from: stranger, now: .zero).isEmpty)
        }
        let drops = s.dropped
        #expect(drops["empty", default: 0] > 0)
        #expect(drops["dtls-unknown-source", default: 0] > 0)
        #expect(drops["srtp-unknown-source", default: 0] > 0)
        #expect(drops["unknown-first-byte", default: 0] > 0)
        #expect(drops.values.reduce(0, +) == 20_000)
    }

    @Test func aSessionSurvivesGarbageAroundIt() throws {
        let s = try Self.state()
        let opened = try s.open(room: "r", role: .publisher, offer: SessionDescription(parsing: String(contentsOf: URL(fileURLWithPath: Fixtures.directory()).appendingPathComponent("Fixtures/aiortc-publisher-offer.sdp"), encoding: .utf8)), now: .zero)
        let (id, parsed) = (opened.id, try SessionDescription(parsing: opened.answer))
        let ufrag = try #require(parsed.media[0].value("ice-ufrag")), pwd = try #require(parsed.media[0].value("ice-pwd"))
        let peer = PeerAddress(ip: [127, 0, 0, 1], port: 50_676)
        // Garbage from the peer's own address before and after it authenticates.
        _ = s.receive([0x00, 0x01, 0x00], from: peer, now: .zero)
        let check = ICELiteAgentTests.request(username: "\(ufrag):RzOd", password: pwd)
        #expect(s.receive(check, from: peer, now: .zero).count == 1)
        _ = s.receive([22, 254, 253, 0, 0], from: peer, now: .zero)
        _ = s.receive([0x80, 96, 0, 1], from: peer, now: .zero)
        #expect(s.sessionCount() == 1)
        #expect(s.receive(check, from: peer, now: .zero).count == 1)  // still answered
        #expect(s.close(id: id, reason: "test"))
        #expect(s.receive(check, from: peer, now: .zero).isEmpty)
    }

    /// An ICE-TCP connection that closed takes its address off its session: a new connection from
    /// the same ip:port is nobody's until it authenticates, and then it is the session's again.
    @Test func aClosedTCPConnectionsAddressIsUnbound() throws {
        let s = try Self.state()
        let opened = try s.open(room: "r", role: .publisher, offer: SessionDescription(parsing: String(contentsOf: URL(fileURLWithPath: Fixtures.directory()).appendingPathComponent("Fixtures/aiortc-publisher-offer.sdp"), encoding: .utf8)), now: .zero)
        let parsed = try SessionDescription(parsing: opened.answer)
        let ufrag = try #require(parsed.media[0].value("ice-ufrag")), pwd = try #require(parsed.media[0].value("ice-pwd"))
        let peer = PeerAddress(ip: [127, 0, 0, 1], port: 50_677, transport: .tcp)
        let check = ICELiteAgentTests.request(username: "\(ufrag):RzOd", password: pwd, useCandidate: true)
        #expect(s.receive(check, from: peer, now: .zero).count == 1)
        #expect(s.hasSession(at: peer))
        s.transportClosed(at: peer)
        #expect(!s.hasSession(at: peer))
        #expect(s.sessionCount() == 1, "the session goes on until its consent lapses")
        // A check on another pair (UDP, not nominating) answers but does not bind the closed
        // address again: a new connection from it would inherit the session.
        let udp = PeerAddress(ip: [127, 0, 0, 1], port: 50_678)
        let other = ICELiteAgentTests.request(username: "\(ufrag):RzOd", password: pwd, tid: 2)
        #expect(s.receive(other, from: udp, now: .milliseconds(500)).count == 1)
        #expect(!s.hasSession(at: peer), "a check from another address bound the closed one again")
        #expect(s.receive(check, from: peer, now: .milliseconds(1_000)).count == 1)
        #expect(s.hasSession(at: peer), "an authenticated check from the address binds it again")
    }

    @Test func silentSessionsAreReaped() throws {
        let s = try Self.state()
        _ = try s.open(room: "r", role: .publisher, offer: SessionDescription(parsing: String(contentsOf: URL(fileURLWithPath: Fixtures.directory()).appendingPathComponent("Fixtures/aiortc-publisher-offer.sdp"), encoding: .utf8)), now: .zero)
        _ = s.tick(now: .milliseconds(29_000))
        #expect(s.sessionCount() == 1)
        _ = s.tick(now: .milliseconds(31_000))
        #expect(s.sessionCount() == 0)
    }
}

@Suite struct StreamRewriterTests {
    @Test func aSourceChangeContinuesTheSequenceAndTheClock() throws {
        var r = StreamRewriter(clockRate: 90_000)
        var out: [(UInt16, UInt32)] = []
        for i in 0..<10 {  // source A: seq 65530…, ts 1000 + 3000 i, every 33 ms
            let o = r.rewrite(ssrc: 0xA, sequenceNumber: UInt16(truncatingIfNeeded: 65_530 + i), timestamp: UInt32(1_000 + 3_000 * i), now: .milliseconds(Double(i) * 33))
            out.append(try #require(o))
        }
        #expect(out.map(\.0) == (0..<10).map { UInt16(truncatingIfNeeded: 65_530 + $0) })  // the first source passes through
        // Source B starts far away; 100 ms after A's last packet.
        for i in 0..<5 {
            let o = r.rewrite(ssrc: 0xB, sequenceNumber: UInt16(7_000 + i), timestamp: UInt32(500_000 + 3_000 * i), now: .milliseconds(397 + Double(i) * 33))
            out.append(try #require(o))
        }
        let seqs = out.map(\.0)
        for (a, b) in zip(seqs, seqs.dropFirst()) { #expect(b == a &+ 1) }
        let (lastA, firstB) = (out[9].1, out[10].1)
        #expect(firstB &- lastA == 9_000)  // 100 ms at 90 kHz
        #expect(r.original(seqs[12]) == 7_002)  // NACKs map back to the current source
    }

    /// A NACK maps back to the source the number carried, however long a source has run: after
    /// 40,000 packets of one source (past half the 16-bit space, where a comparison with the
    /// source's first number turns), a recent number still maps to it; after a switch, a number
    /// sent before maps to the source before (``StreamRewriter/earlier(_:)``) and never to the
    /// current one, and a number of the current source never to the one before.
    @Test func nacksMapToTheSourceTheNumberCarriedAcrossTheWrapAndASwitch() throws {
        var r = StreamRewriter(clockRate: 90_000)
        var out: UInt16 = 0
        for i in 0..<40_000 {
            let o = r.rewrite(ssrc: 0xA, sequenceNumber: UInt16(truncatingIfNeeded: 1_000 + i), timestamp: UInt32(i) * 3_000, now: .zero)
            out = try #require(o).0
        }
        let lastA = out
        #expect(r.original(lastA) == UInt16(truncatingIfNeeded: 1_000 + 39_999), "a recent number of a long-running source")
        #expect(r.original(lastA &- 10) == UInt16(truncatingIfNeeded: 1_000 + 39_989))
        #expect(r.earlier(lastA) == nil)
        // Source B, 10 packets; then the numbers of both map where they belong.
        var firstB: UInt16 = 0
        for i in 0..<10 {
            let rewritten = r.rewrite(ssrc: 0xB, sequenceNumber: UInt16(50_000 + i), timestamp: 7, now: .milliseconds(100))
            let o = try #require(rewritten)
            if i == 0 { firstB = o.0 }
        }
        #expect(firstB == lastA &+ 1)
        #expect(r.original(lastA) == nil, "sent before the switch: not the current source's")
        let before = try #require(r.earlier(lastA))
        #expect(before.source == 0xA && before.input == UInt16(truncatingIfNeeded: 1_000 + 39_999))
        #expect(r.earlier(firstB) == nil, "the current source's: not the one before")
        #expect(r.original(firstB &+ 3) == 50_003)
    }

    /// Packets left out (a temporal layer a viewer does not get) leave no hole: what is sent goes
    /// on by one, across the 16-bit wrap, and each number maps back to the packet it carried.
    @Test func skippedPacketsLeaveNoHoleAndNACKsMapBack() throws {
        var r = StreamRewriter(clockRate: 90_000)
        var sent: [(input: UInt16, output: UInt16)] = []
        for i in 0..<40 {
            let seq = UInt16(truncatingIfNeeded: 65_520 + i)
            if i >= 5 && i % 2 == 1 {
                r.skip(ssrc: 0xA, sequenceNumber: seq)
            } else {
                let o = r.rewrite(ssrc: 0xA, sequenceNumber: seq, timestamp: UInt32(i * 3_000), now: .milliseconds(Double(i) * 33))
                sent.append((seq, try #require(o).0))
            }
        }
        for (a, b) in zip(sent, sent.dropFirst()) { #expect(b.output == a.output &+ 1, "\(a) → \(b)") }
        for s in sent { #expect(r.original(s.output) == s.input) }
        #expect(r.original(sent.last!.output &+ 1) == nil, "a number not sent yet maps to nothing")
    }

    /// A packet that arrives after later ones were sent and left out gets the number it would have
    /// had in order; one more than ``StreamRewriter/horizon`` behind the newest gets none (its
    /// number cannot be known), and a skip of an old packet changes nothing.
    @Test func aLatePacketIsNumberedAsIfItHadComeInOrder() throws {
        var r = StreamRewriter(clockRate: 90_000)
        func send(_ seq: UInt16) -> UInt16? { r.rewrite(ssrc: 0xA, sequenceNumber: seq, timestamp: 0, now: .zero)?.0 }
        var got: [UInt16?] = [send(1), send(2)]
        r.skip(ssrc: 0xA, sequenceNumber: 3)
        got.append(send(5))  // 4 is still on its way
        r.skip(ssrc: 0xA, sequenceNumber: 6)
        got.append(send(4))
        got.append(send(7))
        r.skip(ssrc: 0xA, sequenceNumber: 4)  // already sent: nothing moves
        got.append(send(8))
        r.skip(ssrc: 0xB, sequenceNumber: 9)  // another source: nothing moves
        got.append(send(9))
        #expect(got == [1, 2, 4, 3, 5, 6, 7], "in order: 1 2 (3 left out) 4 5 (6 left out) 7 8 9 → 1 2 3 4 5 6 7")
        for seq in UInt16(10)...UInt16(3_000) { _ = send(seq) }
        let tooOld = send(3_000 - StreamRewriter.horizon), oldest = send(3_001 - StreamRewriter.horizon)
        #expect(tooOld == nil)
        #expect(oldest != nil)
        // A run of packets that far back is a restart of the input's numbering: continued.
        let newest = try #require(send(3_001))
        let back: UInt16 = 3_001 &- 5_000
        let restart = [send(back), send(back &+ 1), send(back &+ 2), send(back &+ 3)]
        #expect(restart == [nil, nil, newest &+ 1, newest &+ 2], "\(restart)")
    }

    /// What was left out long ago is forgotten as the stream advances: a late packet two minutes
    /// (40,000 packets) after the last skip is numbered by its neighbours, not by stale entries
    /// that the 16-bit wrap would make look newer.
    @Test func oldSkipsAreForgottenAsTheStreamAdvances() throws {
        var r = StreamRewriter(clockRate: 90_000)
        func send(_ seq: UInt16) -> UInt16? { r.rewrite(ssrc: 0xA, sequenceNumber: seq, timestamp: 0, now: .zero)?.0 }
        var seq: UInt16 = 0
        var last: UInt16?
        for i in 0..<200 {
            if i % 2 == 1 { r.skip(ssrc: 0xA, sequenceNumber: seq) } else { last = send(seq) }
            seq &+= 1
        }
        var out: [UInt16: UInt16] = [:]
        for _ in 0..<40_000 {
            out[seq] = send(seq)
            seq &+= 1
        }
        let late = seq &- 10
        let again = send(late)
        #expect(again == out[late], "a resend of \(late) got \(String(describing: again)), first sent as \(String(describing: out[late]))")
        #expect(last != nil)
    }
}
