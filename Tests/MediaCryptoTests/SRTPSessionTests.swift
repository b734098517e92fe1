import COpenSSL
import MediaCrypto
import MediaWire
import ShowroomTestSupport
import Testing

func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = s.filter { !$0.isWhitespace }.makeIterator()
    while let a = chars.next(), let b = chars.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

/// The vectors of libsrtp's own `srtp_driver` (its master key and salt are those of RFC 3711 B.3).
enum Vectors {
    static let cmKey = hex("e1f97a0d3e018be0d64fa32c06de4139")
    static let cmSalt = hex("0ec675ad498afeebb6960b3aabe6")
    static let rtpPlain = hex("800f1234decafbad cafebabeabababab abababababababab abababab")
    static let srtpCM = hex("800f1234decafbad cafebabe4e55dc4c e79978d88ca4d215 949d2402b78d6acc 99ea179b8dbb")
    static let rtcpPlain = hex("81c8000bcafebabe abababababababab abababababababab")
    /// The first SRTCP packet of the stream (SRTCP index 1).
    static let srtcpCM = hex("81c8000bcafebabe 7128035be487b9bd bef89041f977a5a8 80000001993e08cd 54d6c1230798")

    static let gcmKey = hex("000102030405060708090a0b0c0d0e0f")
    static let gcmSalt = hex("a0a1a2a3a4a5a6a7a8a9aaab")
    static let srtpGCM = hex("800f1234decafbad cafebabec5002ede 04cfdd2eb91159e0 880aa06ed2976826 f796b201df3131a1 27e8a392")
    static let srtcpGCM = hex("81c8000bcafebabe c98b8b5df0392a55 852b6c21ac8e7025 c52c6fbea2b3b446 ea31123ba88ce61e 80000001")

    static func material(_ profile: SRTPProfile) throws -> SRTPKeyingMaterial {
        switch profile {
        case .aes128CmHmacSha1_80: try SRTPKeyingMaterial(profile: profile, masterKey: cmKey, masterSalt: cmSalt)
        case .aeadAes128Gcm: try SRTPKeyingMaterial(profile: profile, masterKey: gcmKey, masterSalt: gcmSalt)
        }
    }
}

@Suite struct SRTPSessionTests {
    @Test(arguments: [
        (SRTPProfile.aes128CmHmacSha1_80, Vectors.srtpCM, Vectors.srtcpCM),
        (.aeadAes128Gcm, Vectors.srtpGCM, Vectors.srtcpGCM),
    ])
    func matchesReferenceVectors(_ profile: SRTPProfile, _ srtp: [UInt8], _ srtcp: [UInt8]) throws {
        let sender = try SRTPSession(Vectors.material(profile), direction: .outbound)
        var packet = Vectors.rtpPlain
        try sender.protectRTP(&packet)
        #expect(packet == srtp)
        #expect(packet.count == Vectors.rtpPlain.count + profile.rtpOverhead)

        var first = Vectors.rtcpPlain, second = Vectors.rtcpPlain
        try sender.protectRTCP(&first)
        try sender.protectRTCP(&second)
        #expect(first == srtcp)  // libsrtp 2 numbers SRTCP packets from 1

        let receiver = try SRTPSession(Vectors.material(profile), direction: .inbound)
        try receiver.unprotectRTP(&packet)
        #expect(packet == Vectors.rtpPlain)
        try receiver.unprotectRTCP(&first)
        #expect(first == Vectors.rtcpPlain)
        try receiver.unprotectRTCP(&second)
        #expect(second == Vectors.rtcpPlain)
    }

    @Test(arguments: SRTPProfile.allCases)
    func rejectsEveryFlippedBitAndTruncation(_ profile: SRTPProfile) throws {
        let sender = try SRTPSession(Vectors.material(profile), direction: .outbound)
        var protected = Vectors.rtpPlain
        try sender.protectRTP(&protected)
        // Bits of the fixed header's first byte (version, P, X, CC) and the SSRC change how libsrtp
        // parses or which stream it looks up; every flip anywhere must still be rejected.
        for i in protected.indices {
            for bit in 0..<8 {
                let receiver = try SRTPSession(Vectors.material(profile), direction: .inbound)
                var damaged = protected
                damaged[i] ^= 1 << bit
                #expect(throws: SRTPError.self) { try receiver.unprotectRTP(&damaged) }
            }
        }
        for length in 0..<protected.count {
            let receiver = try SRTPSession(Vectors.material(profile), direction: .inbound)
            var truncated = Array(protected.prefix(length))
            #expect(throws: SRTPError.self) { try receiver.unprotectRTP(&truncated) }
        }
    }

    @Test(arguments: SRTPProfile.allCases)
    func rejectsReplays(_ profile: SRTPProfile) throws {
        let sender = try SRTPSession(Vectors.material(profile), direction: .outbound)
        let receiver = try SRTPSession(Vectors.material(profile), direction: .inbound)
        var packets: [[UInt8]] = []
        for seq in UInt16(100)..<120 {
            var p = RTPPacket(header: RTPHeader(payloadType: 96, sequenceNumber: seq, timestamp: 0, ssrc: 9), payload: [1, 2, 3]).serialized()
            try sender.protectRTP(&p)
            packets.append(p)
        }
        // Out of order inside the window is fine; any repeat is not.
        for i in [0, 2, 1, 5, 3, 4] + Array(6..<20) {
            var p = packets[i]
            try receiver.unprotectRTP(&p)
        }
        for i in [0, 7, 19] {
            var again = packets[i]
            #expect(throws: SRTPError(.replay, "")) { try receiver.unprotectRTP(&again) }
        }
        // An SFU may protect the same packet twice (retransmission without RTX).
        var resent = RTPPacket(header: RTPHeader(payloadType: 96, sequenceNumber: 119, timestamp: 0, ssrc: 9), payload: [1, 2, 3]).serialized()
        try sender.protectRTP(&resent)
        #expect(resent == packets[19])
    }

    @Test(arguments: SRTPProfile.allCases)
    func rolloverCounterFollowsTheSequenceWrap(_ profile: SRTPProfile) throws {
        let sender = try SRTPSession(Vectors.material(profile), direction: .outbound)
        let receiver = try SRTPSession(Vectors.material(profile), direction: .inbound)
        var seq: UInt16 = 65_000
        var failures = 0
        for i in 0..<2_000 {
            let original = RTPPacket(
                header: RTPHeader(payloadType: 111, sequenceNumber: seq, timestamp: UInt32(i * 960), ssrc: 0xABCD),
                payload: [UInt8(i & 0xFF), 7, 7]
            ).serialized()
            var p = original
            try sender.protectRTP(&p)
            // Drop a few packets around the wrap: the receiver must still guess the index right.
            if !(65_530...65_535).contains(seq) && seq != 0 {
                try receiver.unprotectRTP(&p)
                if p != original { failures += 1 }
            }
            seq &+= 1
        }
        #expect(failures == 0)
        #expect(sender.rolloverCounter(ssrc: 0xABCD) == 1)
        #expect(receiver.rolloverCounter(ssrc: 0xABCD) == 1)
    }

    @Test func wrongKeyFailsAuthentication() throws {
        let sender = try SRTPSession(Vectors.material(.aes128CmHmacSha1_80), direction: .outbound)
        let other = try SRTPKeyingMaterial(profile: .aes128CmHmacSha1_80, masterKey: Array(repeating: 1, count: 16), masterSalt: Vectors.cmSalt)
        let receiver = try SRTPSession(other, direction: .inbound)
        var p = Vectors.rtpPlain
        try sender.protectRTP(&p)
        #expect(throws: SRTPError(.authenticationFailed, "")) { try receiver.unprotectRTP(&p) }
    }

    @Test func keyingMaterialChecksLengthsAndSplitsDTLSExport() throws {
        #expect(throws: SRTPError(.badKey, "")) {
            try SRTPKeyingMaterial(profile: .aeadAes128Gcm, masterKey: Vectors.gcmKey, masterSalt: Vectors.cmSalt)
        }
        let export = Array(UInt8(0)..<60)
        let (client, server) = try SRTPKeyingMaterial.fromDTLSExport(export, profile: .aes128CmHmacSha1_80)
        #expect(client.masterKey == Array(0..<16))
        #expect(server.masterKey == Array(16..<32))
        #expect(client.masterSalt == Array(32..<46))
        #expect(server.masterSalt == Array(46..<60))
    }

    @Test func bufferAPIWorksInPlaceWithoutGrowingTheBuffer() throws {
        let sender = try SRTPSession(Vectors.material(.aes128CmHmacSha1_80), direction: .outbound)
        let receiver = try SRTPSession(Vectors.material(.aes128CmHmacSha1_80), direction: .inbound)
        var storage = [UInt8](repeating: 0, count: 1_500)
        let plain = RTPPacket(header: RTPHeader(payloadType: 96, sequenceNumber: 1, timestamp: 0, ssrc: 5), payload: Array(repeating: 0x42, count: 1_200)).serialized()
        storage.replaceSubrange(0..<plain.count, with: plain)
        let n = try storage.withUnsafeMutableBytes { try sender.protectRTP($0, length: plain.count) }
        #expect(n == plain.count + 10)
        let m = try storage.withUnsafeMutableBytes { try receiver.unprotectRTP($0, length: n) }
        #expect(Array(storage.prefix(m)) == plain)
        // No room for the tag: refused, not overrun.
        #expect(throws: SRTPError(.badPacket, "")) {
            try storage.withUnsafeMutableBytes { try sender.protectRTP(UnsafeMutableRawBufferPointer(rebasing: $0[0..<plain.count]), length: plain.count) }
        }
    }
}
