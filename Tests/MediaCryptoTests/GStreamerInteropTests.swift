import MediaCrypto
import MediaWire
import ShowroomTestSupport
import Testing

/// SRTP against GStreamer's `srtpenc` and `srtpdec` (libsrtp inside GStreamer, a separate build
/// and a separate key handling path from ours).
@Suite struct GStreamerInteropTests {
    /// Keys that `tools/fixtures/capture.py` gave `srtpenc`: 30 bytes for CM, 28 for GCM.
    static let keys: [SRTPProfile: String] = [
        .aes128CmHmacSha1_80: "e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6",
        .aeadAes128Gcm: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b",
    ]

    static func material(_ profile: SRTPProfile) throws -> SRTPKeyingMaterial {
        let bytes = hex(keys[profile]!)
        return try SRTPKeyingMaterial(
            profile: profile, masterKey: Array(bytes.prefix(16)), masterSalt: Array(bytes.dropFirst(16)))
    }

    static func fixtureName(_ profile: SRTPProfile) -> String {
        profile == .aes128CmHmacSha1_80 ? "gstreamer-aes-cm-hmac-sha1-80" : "gstreamer-aead-aes-128-gcm"
    }

    @Test(arguments: SRTPProfile.allCases)
    func unprotectsWhatSrtpencProtected(_ profile: SRTPProfile) throws {
        let dir = Fixtures.directory()
        let clear = try Fixtures.records(Self.fixtureName(profile) + ".clear.rtp", in: dir)
        let protected = try Fixtures.records(Self.fixtureName(profile) + ".srtp", in: dir)
        #expect(clear.count == protected.count)
        #expect(clear.count >= 30)
        let receiver = try SRTPSession(Self.material(profile), direction: .inbound)
        for (plain, srtp) in zip(clear, protected) {
            #expect(srtp.count == plain.count + profile.rtpOverhead)
            var p = srtp
            try receiver.unprotectRTP(&p)
            #expect(p == plain)
            #expect((try? RTPPacket(parsing: p))?.header.ssrc == 0x0BAD_CAFE)
        }
        // And our sender reproduces srtpenc's bytes exactly.
        let sender = try SRTPSession(Self.material(profile), direction: .outbound)
        for (plain, srtp) in zip(clear, protected) {
            var p = plain
            try sender.protectRTP(&p)
            #expect(p == srtp)
        }
    }

    /// Live: we protect, `srtpdec` in a real gst-launch process decrypts and sends the clear RTP back.
    @Test(arguments: SRTPProfile.allCases)
    func srtpdecDecryptsWhatWeProtect(_ profile: SRTPProfile) throws {
        let sink = try UDPSocket()
        // A port that was free a moment ago; the socket closes at once so gst-launch can bind it.
        let port = try UDPSocket().port
        let cipher = profile == .aes128CmHmacSha1_80 ? "aes-128-icm" : "aes-128-gcm"
        let auth = profile == .aes128CmHmacSha1_80 ? "hmac-sha1-80" : "null"
        let ssrc: UInt32 = 0x1234_5678
        let caps =
            "application/x-srtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111,ssrc=(uint)\(ssrc),"
            + "srtp-key=(buffer)\(Self.keys[profile]!),srtp-cipher=\(cipher),srtp-auth=\(auth),"
            + "srtcp-cipher=\(cipher),srtcp-auth=\(auth)"
        let gst = try Subprocess(
            "gst-launch-1.0",
            ["-q", "udpsrc", "address=127.0.0.1", "port=\(port)", "caps=\(caps)", "!", "srtpdec", "!",
             "udpsink", "host=127.0.0.1", "port=\(sink.port)", "sync=false", "async=false"])
        let sender = try SRTPSession(Self.material(profile), direction: .outbound)
        var seq: UInt16 = 1_000
        func send(_ payload: [UInt8]) throws -> [UInt8] {
            let plain = RTPPacket(
                header: RTPHeader(payloadType: 111, sequenceNumber: seq, timestamp: UInt32(seq) * 960, ssrc: ssrc),
                payload: payload
            ).serialized()
            seq &+= 1
            var p = plain
            try sender.protectRTP(&p)
            sink.send(p, toPort: port)
            return plain
        }
        // gst-launch needs a moment to bind: send warm-up packets until the first one comes back
        // decrypted (bounded: 200 tries over at most ~20 s), then the real sequence.
        var ready = false
        for _ in 0..<200 where !ready {
            _ = try send([0xF8, 0xFF, 0xFE])
            if sink.receive(timeout: 0.1) != nil { ready = true }
        }
        try #require(ready, "srtpdec never answered on port \(port)")
        while sink.receive(timeout: 0.2) != nil {}  // drain late warm-ups
        var sent: [[UInt8]] = []
        for i in 0..<50 { sent.append(try send([0xF8] + Array(repeating: UInt8(i), count: 100 + i))) }
        var received: [[UInt8]] = []
        while received.count < sent.count, let p = sink.receive(timeout: 5) { received.append(p) }
        #expect(received == sent)
        withExtendedLifetime(gst) {}
    }
}
