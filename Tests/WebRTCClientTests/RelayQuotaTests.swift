import Foundation
import Logging
import MediaCrypto
import MediaPipeline
import MediaWire
@testable import Relay
import Testing
import WebRTCClient

/// A peer connected to a socket-free ``RelayState`` by the load tool's own ICE and DTLS client:
/// what a token holder who completed the handshake can send.
struct ConnectedPeer {
    let address: PeerAddress
    let srtp: SRTPSession
    /// Decrypts what the relay sends it.
    let srtpIn: SRTPSession
    /// The session's public id (a publication's id, what a subscriber names as its source).
    let id: String
    /// What the relay answered (for a viewer: the SSRCs it sends with).
    let answer: ServerAnswer
    /// The answer's SDP.
    let answerSDP: String
    /// The SSRCs this peer sends from (a publisher's offer names them).
    let offer: ClientOffer
    /// Its ICE and DTLS client, for consent checks (``consentCheck()``).
    let handshake: ClientHandshake

    /// Opens a session in `room` and completes ICE and DTLS against `relay`, shuttling datagrams
    /// by hand (no sockets, no clock but the one given).
    static func connect(
        to relay: RelayState, room: String, identity: String, publishing: Bool, port: UInt16, quality: Quality = .source, adaptive: Bool = false,
        source: String? = nil, transportWideCC: Bool = false, rtx: Bool = false, simulcastRIDs: [String] = []
    ) throws -> ConnectedPeer {
        let cert = try DTLSCertificate()
        var offer = ClientOffer(direction: publishing ? .send : .receive, fingerprint: cert.fingerprint)
        offer.simulcastRIDs = simulcastRIDs
        offer.transportWideCC = transportWideCC
        offer.rtx = rtx
        let opened = try relay.open(
            room: room, identity: identity, role: publishing ? .publisher : .viewer, quality: quality, adaptive: adaptive, source: source,
            offer: SessionDescription(parsing: offer.sdp), now: .zero)
        let answer = try ServerAnswer(parsing: opened.answer)
        let handshake = try ClientHandshake(offer: offer, answer: answer, certificate: cert)
        let address = PeerAddress(ip: [127, 0, 0, 1], port: port)
        var toRelay = handshake.start(now: 0)
        for step in 0..<50 where handshake.state != .connected {
            var toPeer: [[UInt8]] = []
            for d in toRelay { toPeer += relay.receive(d, from: address, now: .zero).map { Array($0.buffer.readableBytesView) } }
            toRelay = toPeer.flatMap { handshake.receive($0, now: Int64(step)) }
        }
        let keys = try #require(handshake.keys, "handshake: \(handshake.state)")
        return ConnectedPeer(
            address: address, srtp: try SRTPSession(keys.local, direction: .outbound), srtpIn: try SRTPSession(keys.remote, direction: .inbound),
            id: opened.id, answer: answer, answerSDP: opened.answer, offer: offer, handshake: handshake)
    }

    /// A signed STUN binding request that refreshes its consent (the relay ends a session
    /// without one for 30 s, RFC 7675).
    func consentCheck() -> [UInt8] { handshake.consentCheck() }

    func rtp(
        ssrc: UInt32, sequence: UInt16, payloadType: UInt8 = 96, payload: [UInt8] = [0x10, 0, 0, 0, 0, 0], transportSequence: UInt16? = nil,
        rid: String? = nil, repairedRID: String? = nil, marker: Bool = false, timestamp: UInt32? = nil, paddingLength: UInt8 = 0
    ) throws -> [UInt8] {
        var elements: [RTPHeaderExtension] = []
        if let transportSequence {
            elements.append(RTPHeaderExtension(id: ClientOffer.transportSequenceExtensionID, data: [UInt8(transportSequence >> 8), UInt8(transportSequence & 0xFF)]))
        }
        if let rid { elements.append(RTPHeaderExtension(id: ClientOffer.ridExtensionID, data: Array(rid.utf8))) }
        if let repairedRID { elements.append(RTPHeaderExtension(id: ClientOffer.repairedRIDExtensionID, data: Array(repairedRID.utf8))) }
        let extensions = elements.isEmpty ? nil : RTPHeaderExtensions(form: .oneByte, elements: elements)
        var bytes = RTPPacket(
            header: RTPHeader(
                marker: marker, payloadType: payloadType, sequenceNumber: sequence, timestamp: timestamp ?? UInt32(sequence) * 3_000, ssrc: ssrc,
                extensions: extensions),
            payload: payload, paddingLength: paddingLength
        ).serialized()
        try srtp.protectRTP(&bytes)
        return bytes
    }

    /// An RTCP compound packet from this peer, protected.
    func rtcp(_ packets: [RTCPPacket]) throws -> [UInt8] {
        var bytes = RTCPPacket.serializeCompound(packets)
        try srtp.protectRTCP(&bytes)
        return bytes
    }

    /// The RTP datagrams among `datagrams` sent to this peer, still protected (a test can "lose"
    /// one: SRTP's replay check refuses a packet decrypted twice), with the sequence number each
    /// carries in its clear header.
    func media(_ datagrams: [OutgoingDatagram]) -> [(datagram: OutgoingDatagram, sequence: UInt16)] {
        datagrams.compactMap { d in
            let b = d.buffer, i = b.readerIndex
            guard d.to == address, let pt = b.getInteger(at: i + 1, as: UInt8.self), !(192...223).contains(pt),
                let sequence = b.getInteger(at: i + 2, as: UInt16.self)
            else { return nil }
            return (d, sequence)
        }
    }

    /// The RTP packets among `datagrams` sent to this peer, decrypted (others are left out).
    func received(_ datagrams: [OutgoingDatagram]) -> [RTPPacket] {
        datagrams.filter { $0.to == address }.compactMap { d in
            var bytes = Array(d.buffer.readableBytesView)
            guard bytes.count > 1, !(192...223).contains(bytes[1]), (try? srtpIn.unprotectRTP(&bytes)) != nil else { return nil }
            return try? RTPPacket(parsing: bytes)
        }
    }
}

@Suite struct RelayQuotaTests {
    static func relay(_ configure: (inout RelayLimits) -> Void = { _ in }) throws -> RelayState {
        var limits = RelayLimits()
        configure(&limits)
        return try RelayState(certificate: DTLSCertificate(), announceIPs: ["127.0.0.1"], mediaPort: 40_000, limits: limits, logger: Logger(label: "test"))
    }

    static func offer(_ d: ClientOffer.Direction) throws -> SessionDescription {
        try SessionDescription(parsing: ClientOffer(direction: d, fingerprint: DTLSCertificate().fingerprint).sdp)
    }

    /// The review's attack: one viewer token opened 3,007 WHEP sessions in 5 s, all accepted.
    @Test func sessionsPerIdentityRoomAndRelayAreCapped() throws {
        let relay = try Self.relay {
            $0.sessionsPerIdentity = 3
            $0.sessionsPerRoom = 5
            $0.sessions = 7
        }
        _ = try relay.open(room: "a", identity: "merchant", role: .publisher, offer: Self.offer(.send), now: .zero)
        var mine: [String] = []
        for _ in 0..<3 { mine.append(try relay.open(room: "a", identity: "greedy", role: .viewer, offer: Self.offer(.receive), now: .zero).id) }
        #expect(throws: RelayError(.overQuota, "")) { try relay.open(room: "a", identity: "greedy", role: .viewer, offer: Self.offer(.receive), now: .zero) }
        // Another identity is not affected; the room fills at 5.
        _ = try relay.open(room: "a", identity: "other", role: .viewer, offer: Self.offer(.receive), now: .zero)
        #expect(throws: RelayError(.atCapacity, "")) { try relay.open(room: "a", identity: "third", role: .viewer, offer: Self.offer(.receive), now: .zero) }
        // Another room still gets sessions, until the relay holds 7.
        _ = try relay.open(room: "b", identity: "merchant-b", role: .publisher, offer: Self.offer(.send), now: .zero)
        _ = try relay.open(room: "b", identity: "v", role: .viewer, offer: Self.offer(.receive), now: .zero)
        #expect(throws: RelayError(.atCapacity, "")) { try relay.open(room: "b", identity: "w", role: .viewer, offer: Self.offer(.receive), now: .zero) }
        // Ending a session gives its quota back.
        #expect(relay.close(id: mine[0], reason: "test"))
        _ = try relay.open(room: "a", identity: "greedy", role: .viewer, offer: Self.offer(.receive), now: .zero)
        #expect(relay.dropped["session-over-quota"] == 1)
        #expect(relay.dropped["session-at-capacity"] == 2)
    }

    /// Opening and ending sessions in a loop costs the relay's loop each time: an identity opens a
    /// burst, then at the rate.
    @Test func sessionOpensPerIdentityAreRateLimited() throws {
        let relay = try Self.relay {
            $0.sessionOpenBurst = 5
            $0.sessionOpensPerMinute = 60
        }
        _ = try relay.open(room: "r", identity: "p", role: .publisher, offer: Self.offer(.send), now: .zero)
        var opened = 0
        for _ in 0..<20 {
            guard let s = try? relay.open(room: "r", identity: "churn", role: .viewer, offer: Self.offer(.receive), now: .zero) else { continue }
            opened += 1
            relay.close(id: s.id, reason: "test")
        }
        #expect(opened == 5)
        #expect(relay.dropped["session-open-rate"] == 15)
        // One a second comes back; other identities were never limited.
        _ = try relay.open(room: "r", identity: "churn", role: .viewer, offer: Self.offer(.receive), now: .milliseconds(1_000))
        #expect(throws: RelayError(.overQuota, "")) {
            try relay.open(room: "r", identity: "churn", role: .viewer, offer: Self.offer(.receive), now: .milliseconds(1_000))
        }
        _ = try relay.open(room: "r", identity: "calm", role: .viewer, offer: Self.offer(.receive), now: .milliseconds(1_000))
    }

    /// Each new SSRC an authenticated peer sends from costs an SRTP stream context: a session has
    /// a few, and a viewer's RTP is dropped before decryption.
    @Test func ssrcsPerSessionAreCappedAndViewerRTPIsNotDecrypted() throws {
        let relay = try Self.relay { $0.ssrcsPerSession = 4 }
        let publisher = try ConnectedPeer.connect(to: relay, room: "r", identity: "p", publishing: true, port: 5_000)
        for ssrc in UInt32(1)...20 {
            _ = relay.receive(try publisher.rtp(ssrc: ssrc, sequence: UInt16(ssrc)), from: publisher.address, now: .zero)
        }
        #expect(relay.dropped["ssrc-quota"] == 16)
        let viewer = try ConnectedPeer.connect(to: relay, room: "r", identity: "v", publishing: false, port: 5_001)
        // Its RTP is not even decrypted: a corrupted authentication tag goes unnoticed.
        for seq in UInt16(0)..<10 {
            var bytes = try viewer.rtp(ssrc: 99, sequence: seq)
            bytes[bytes.count - 1] ^= 0xFF
            _ = relay.receive(bytes, from: viewer.address, now: .zero)
        }
        #expect(relay.dropped["rtp-from-viewer"] == 10)
        #expect(relay.dropped.keys.filter { $0.hasPrefix("srtp-") }.isEmpty, "\(relay.dropped)")
    }
}
