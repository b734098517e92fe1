import FuzzSupport
import Foundation
import Logging
import MediaCrypto
import MediaPipeline
import MediaWire
@testable import Relay

/// The relay's datagram path, `RelayState.receive(_:from:now:)`: RFC 7983 demultiplexing by
/// the first byte into STUN, DTLS and SRTP/SRTCP, and behind SRTP the RTP forwarding and RTCP
/// handling (NACK from the cache, PLI/FIR, receiver reports into adaptation, REMB, SR).
///
/// The harness holds a real room: a publisher opened from the aiortc fixture offer and a viewer
/// from the aiortc viewer offer, each through an authenticated ICE check and a real DTLS
/// handshake (the fixture's fingerprints replaced by the harness's certificate), so the deep
/// paths are reachable. One input is a sequence of records `[kind][length u16 BE][bytes]`:
///
/// | kind & 7 | what the bytes are |
/// |---|---|
/// | 0 | a raw datagram from the publisher (bit 3: the viewer) — any first byte |
/// | 1 | a raw datagram from an address the relay does not know |
/// | 2, 6 | a plain RTP packet, SRTP-protected by the harness as the peer |
/// | 3, 7 | a plain RTCP compound packet, SRTCP-protected by the harness as the peer |
/// | 4 | a STUN message, re-signed with the session's ICE password (USERNAME added if absent) |
/// | 5 | a timer tick, the clock advanced by the first two bytes in milliseconds |
///
/// Kept bounded so millions of inputs do not grow state: SSRCs the harness protects are mapped
/// onto four per peer (libsrtp keeps a stream per SSRC), and RTP sequence numbers are offset by
/// 4096 per input so that a new input is never an SRTP replay of an old one. In RTCP from the
/// viewer, the words 0xFEED0001 / 0xFEED0002 stand for the relay's audio / video SSRC toward it
/// (chosen at random when the session opens), so report blocks and NACKs can name them.
/// If an input ends a session (a DTLS alert, consent), the room is built again.
let fixtureDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../../Tests/RelayTests/Fixtures").standardized

final class Peer {
    let address: PeerAddress
    let username: [UInt8]
    let password: [UInt8]
    let outbound: SRTPSession
    let ssrcs: [UInt32]

    init(address: PeerAddress, username: [UInt8], password: [UInt8], outbound: SRTPSession, ssrcs: [UInt32]) {
        self.address = address
        self.username = username
        self.password = password
        self.outbound = outbound
        self.ssrcs = ssrcs
    }

    func check() -> [UInt8] { Self.check(username: username, password: password) }

    static func check(username: [UInt8], password: [UInt8]) -> [UInt8] {
        STUNMessage(
            type: STUNMessage.MessageType.bindingRequest, transactionID: (0..<12).map { _ in UInt8.random(in: 0...255) },
            attributes: [
                .init(type: STUNMessage.AttributeType.username, value: username),
                .init(type: STUNMessage.AttributeType.useCandidate, value: []),
            ]
        ).serialized(integrityKey: password, mac: HMACSHA1.digest)
    }
}

final class World {
    let relay: RelayState
    let clientCertificate: DTLSCertificate
    var publisher: Peer!
    var viewer: Peer!
    /// The relay's SSRCs toward the viewer: audio, video.
    var viewerSlots: [UInt32] = [0, 0]
    var now = MediaTime(microseconds: 1_000_000)
    var lastConsent = MediaTime.zero
    var sequenceBase: UInt16 = 0

    init() throws {
        relay = try RelayState(
            certificate: try DTLSCertificate(), announceIPs: ["127.0.0.1"], mediaPort: 40_000,
            logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))
        clientCertificate = try DTLSCertificate(commonName: "fuzz")
        publisher = try join(
            "aiortc-publisher-offer.sdp", role: .publisher, address: PeerAddress(ip: [127, 0, 0, 1], port: 50_000),
            ssrcs: [3_261_413_563, 2_918_757_263, 2_936_382_545, 0x1234_5678])
        viewer = try join(
            "aiortc-viewer-offer.sdp", role: .viewer, address: PeerAddress(ip: [127, 0, 0, 2], port: 50_001),
            ssrcs: [2_470_170_330, 3_153_261_317, 1_213_523_469, 0x8765_4321])
        precondition(relay.sessionCount() == 2, "the fuzz room did not open")
    }

    struct SetupError: Error { var what: String }

    private func join(_ fixture: String, role: PeerSession.Role, address: PeerAddress, ssrcs: [UInt32]) throws -> Peer {
        let text = try String(contentsOf: fixtureDirectory.appendingPathComponent(fixture), encoding: .utf8)
        // The fixture's own fingerprints name aiortc's certificate; ours must be the one checked.
        let offer = text.replacingOccurrences(
            of: "a=fingerprint:sha-256 [0-9A-Fa-f:]+", with: "a=fingerprint:sha-256 \(clientCertificate.fingerprint)",
            options: .regularExpression)
        let parsedOffer = try SessionDescription(parsing: offer)
        let offerUfrag = parsedOffer.media[0].value("ice-ufrag") ?? ""
        let opened = try relay.open(room: "fuzz", role: role, offer: parsedOffer, now: now)
        let answer = try SessionDescription(parsing: opened.answer)
        guard let ufrag = answer.media[0].value("ice-ufrag"), let pwd = answer.media[0].value("ice-pwd") else {
            throw SetupError(what: "answer without ICE credentials")
        }
        if role == .viewer {
            for m in answer.media { viewerSlots[m.kind == "audio" ? 0 : 1] = m.ssrcs.first ?? 0 }
        }
        let username = Array("\(ufrag):\(offerUfrag)".utf8), password = Array(pwd.utf8)
        let check = Peer.check(username: username, password: password)
        guard relay.receive(check, from: address, now: now).count == 1 else { throw SetupError(what: "ICE check unanswered") }
        let dtls = try DTLSEndpoint(role: .client, certificate: clientCertificate, remoteFingerprint: relay.certificate.fingerprint)
        var flight = dtls.start()
        for _ in 0..<20 where !flight.isEmpty {
            var replies: [[UInt8]] = []
            for datagram in flight {
                for o in relay.receive(datagram, from: address, now: now) where o.to == address {
                    replies += dtls.receive(Array(o.buffer.readableBytesView))
                }
            }
            flight = replies
        }
        guard case .connected = dtls.state else { throw SetupError(what: "DTLS handshake: \(dtls.state)") }
        let keys = try dtls.srtpKeys()
        return Peer(
            address: address, username: username, password: password,
            outbound: try SRTPSession(keys.local, direction: .outbound), ssrcs: ssrcs)
    }

    /// Consent freshness (RFC 7675) from both peers, so the session outlives any clock.
    func refreshConsent() {
        for p in [publisher!, viewer!] { _ = relay.receive(p.check(), from: p.address, now: now) }
        _ = relay.tick(now: now)
        lastConsent = now
    }

    static func u32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    static func put(_ v: UInt32, _ b: inout [UInt8], _ i: Int) {
        b[i] = UInt8(truncatingIfNeeded: v >> 24)
        b[i + 1] = UInt8(truncatingIfNeeded: v >> 16)
        b[i + 2] = UInt8(truncatingIfNeeded: v >> 8)
        b[i + 3] = UInt8(truncatingIfNeeded: v)
    }

    func run(_ input: [UInt8]) {
        now = now + MediaTime(microseconds: 20_000)
        if now - lastConsent > MediaTime(microseconds: 5_000_000) { refreshConsent() }
        sequenceBase &+= 4_096
        let stranger = PeerAddress(ip: [10, 9, 8, 7], port: 9)
        var i = 0
        while i < input.count {
            let kind = input[i]
            var n = input.count - i - 1
            if i + 3 <= input.count { n = min(Int(input[i + 1]) << 8 | Int(input[i + 2]), input.count - i - 3) }
            let start = min(i + 3, input.count)
            var body = Array(input[start..<min(start + n, input.count)])
            i = start + n
            let peer = kind & 0x08 == 0 ? publisher! : viewer!
            var from = peer.address
            switch kind & 7 {
            case 0: break
            case 1: from = stranger
            case 2, 6:
                guard body.count >= 12 else { break }
                body[0] = 0x80 | (body[0] & 0x3F)
                let seq = sequenceBase &+ (UInt16(body[2]) << 8 | UInt16(body[3])) & 0x0FFF
                body[2] = UInt8(seq >> 8)
                body[3] = UInt8(truncatingIfNeeded: seq)
                World.put(peer.ssrcs[Int(World.u32(body, 8) % 4)], &body, 8)
                try? peer.outbound.protectRTP(&body)
            case 3, 7:
                guard body.count >= 8 else { break }
                body[0] = 0x80 | (body[0] & 0x3F)
                if peer === viewer {
                    for w in stride(from: 4, through: body.count - 4, by: 4) {
                        switch World.u32(body, w) {
                        case 0xFEED_0001: World.put(viewerSlots[0], &body, w)
                        case 0xFEED_0002: World.put(viewerSlots[1], &body, w)
                        default: break
                        }
                    }
                }
                World.put(peer.ssrcs[Int(World.u32(body, 4) % 4)], &body, 4)
                try? peer.outbound.protectRTCP(&body)
            case 4:
                guard let m = try? STUNMessage(parsing: body) else { break }
                var message = m
                if message.username == nil {
                    message.attributes.insert(.init(type: STUNMessage.AttributeType.username, value: peer.username), at: 0)
                }
                body = message.serialized(integrityKey: peer.password, mac: HMACSHA1.digest)
            default:
                let ms = body.count >= 2 ? Int64(body[0]) << 8 | Int64(body[1]) : 0
                now = now + MediaTime(microseconds: ms * 1_000)
                if now - lastConsent > MediaTime(microseconds: 5_000_000) { refreshConsent() }
                _ = relay.tick(now: now)
                continue
            }
            let started = profile ? ContinuousClock.now : nil
            let sent = relay.receive(body, from: from, now: now)
            if let started {
                FileHandle.standardError.write(
                    Data("profile relay: record kind \(kind) of \(body.count) bytes: \(ContinuousClock.now - started), \(sent.count) sent\n".utf8))
            }
            for o in sent {
                precondition(o.buffer.readableBytes > 0, "the relay sends an empty datagram")
            }
        }
    }
}

nonisolated(unsafe) var world: World?
let profile = ProcessInfo.processInfo.environment["FUZZ_PROFILE"] != nil

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRelay(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if world == nil || world!.relay.sessionCount() != 2 {
        do { world = try World() } catch { fatalError("fuzz room setup failed: \(error)") }
    }
    world!.run(Array(UnsafeBufferPointer(start: data, count: size)))
    if profile {
        // What the input reached: `FUZZ_PROFILE=1 tools/fuzz repro relay FILE`.
        let t = world!.relay.snapshot().totals
        FileHandle.standardError.write(Data("""
            profile relay: in \(t.packetsIn) out \(t.packetsOut) nacks \(t.nacksIn) retransmitted \(t.retransmitted) \
            key frame requests \(t.keyFrameRequests) dropped \(world!.relay.dropped.sorted { $0.key < $1.key })

            """.utf8))
    }
    return 0
}

@_cdecl("FuzzRelay_main")
public func fuzzRelayMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzerMain(argc, argv, fuzzRelay)
}
