import MediaCrypto
import MediaWire
import ShowroomTestSupport
import Testing

/// The native AES-CM path (``SRTPSession/Backend/automatic``) against libsrtp, packet by packet.
@Suite struct NativeAESCMTests {
    static func randomPacket(_ rng: inout SeededRandom, seq: UInt16, ssrc: UInt32) -> [UInt8] {
        var elements: [RTPHeaderExtension] = []
        if Bool.random(using: &rng) {
            elements = [RTPHeaderExtension(id: UInt8.random(in: 1...14, using: &rng), data: rng.bytes(Int.random(in: 1...16, using: &rng)))]
        }
        return RTPPacket(
            header: RTPHeader(
                marker: Bool.random(using: &rng), payloadType: 96, sequenceNumber: seq, timestamp: UInt32(seq) &* 3_000,
                ssrc: ssrc, csrcs: (0..<Int.random(in: 0...3, using: &rng)).map { _ in UInt32.random(in: 0...UInt32.max, using: &rng) },
                extensions: elements.isEmpty ? nil : RTPHeaderExtensions(elements: elements)),
            payload: rng.bytes(Int.random(in: 0...1_200, using: &rng))
        ).serialized()
    }

    @Test func producesExactlyWhatLibsrtpProducesAndEachReadsTheOther() throws {
        let material = try Vectors.material(.aes128CmHmacSha1_80)
        let nativeOut = try SRTPSession(material, direction: .outbound)
        let referenceOut = try SRTPSession(material, direction: .outbound, backend: .libsrtp)
        let nativeIn = try SRTPSession(material, direction: .inbound)
        let referenceIn = try SRTPSession(material, direction: .inbound, backend: .libsrtp)
        var rng = SeededRandom(seed: 77)
        var mismatches = 0
        // Two streams, one starting just before the sequence wrap; 3000 packets cross it.
        for i in 0..<3_000 {
            let ssrc: UInt32 = i % 2 == 0 ? 0xAAAA : 0xBBBB
            let seq = UInt16(truncatingIfNeeded: (ssrc == 0xAAAA ? 65_000 : 10) + i / 2)
            let plain = Self.randomPacket(&rng, seq: seq, ssrc: ssrc)
            var a = plain, b = plain
            try nativeOut.protectRTP(&a)
            try referenceOut.protectRTP(&b)
            if a != b { mismatches += 1 }
            var c = a, d = b
            try referenceIn.unprotectRTP(&c)
            try nativeIn.unprotectRTP(&d)
            if c != plain || d != plain { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(nativeOut.rolloverCounter(ssrc: 0xAAAA) == 1)
        #expect(nativeIn.rolloverCounter(ssrc: 0xAAAA) == 1)
        #expect(nativeIn.rolloverCounter(ssrc: 0xBBBB) == 0)
    }

    @Test func replayWindowAcceptsReorderingAndRejectsRepeatsAndTheTooOld() throws {
        let material = try Vectors.material(.aes128CmHmacSha1_80)
        let sender = try SRTPSession(material, direction: .outbound)
        let receiver = try SRTPSession(material, direction: .inbound)
        var protected: [[UInt8]] = []
        var seq: UInt16 = 65_000
        for _ in 0..<2_000 {
            var p = RTPPacket(header: RTPHeader(payloadType: 96, sequenceNumber: seq, timestamp: 0, ssrc: 3), payload: [UInt8(seq & 0xFF)]).serialized()
            try sender.protectRTP(&p)
            protected.append(p)
            seq &+= 1
        }
        // Deliver in blocks of 8, each reversed: reordering across the wrap at index 536.
        for block in stride(from: 0, to: 1_600, by: 8) {
            for i in (block..<(block + 8)).reversed() {
                var p = protected[i]
                try receiver.unprotectRTP(&p)
            }
        }
        // Repeats inside the 1024-packet window and packets older than it are both replays.
        for i in [0, 535, 536, 1_000, 1_599] {
            var again = protected[i]
            #expect(throws: SRTPError(.replay, "")) { try receiver.unprotectRTP(&again) }
        }
        // Skipped packets still inside the window are accepted late; a gap of 300 is fine too.
        var late = protected[1_700]
        var later = protected[1_650]
        try receiver.unprotectRTP(&late)
        try receiver.unprotectRTP(&later)
        #expect(receiver.rolloverCounter(ssrc: 3) == 1)
    }

    @Test func rejectsMalformedAndForgedInput() throws {
        let material = try Vectors.material(.aes128CmHmacSha1_80)
        let receiver = try SRTPSession(material, direction: .inbound)
        var rng = SeededRandom(seed: 8)
        var accepted = 0
        for _ in 0..<20_000 {
            var junk = rng.bytes(Int.random(in: 0...200, using: &rng))
            if !junk.isEmpty { junk[0] = 0x80 | (junk[0] & 0x3F) }
            if (try? receiver.unprotectRTP(&junk)) != nil { accepted += 1 }
        }
        #expect(accepted == 0)
        // An extension length that points past the packet is refused before any crypto.
        var lying: [UInt8] = [0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 20)
        #expect(throws: SRTPError(.badPacket, "")) { try receiver.unprotectRTP(&lying) }
        let sender = try SRTPSession(material, direction: .outbound)
        var short: [UInt8] = [0x80, 96, 0]
        #expect(throws: SRTPError(.badPacket, "")) { try sender.protectRTP(&short) }
    }
}
