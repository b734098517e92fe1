import MediaWire
import ShowroomTestSupport
import Testing

@Suite struct RTPPacketTests {
    static let samples: [RTPPacket] = [
        RTPPacket(header: RTPHeader(payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3), payload: [1, 2, 3]),
        RTPPacket(
            header: RTPHeader(
                marker: true, payloadType: 111, sequenceNumber: 0xFFFF, timestamp: 0xFFFF_FFFF, ssrc: 0xDEAD_BEEF,
                csrcs: [1, 2, 3]),
            payload: Array(repeating: 0xAB, count: 100), paddingLength: 4),
        RTPPacket(
            header: RTPHeader(
                payloadType: 96, sequenceNumber: 9, timestamp: 10, ssrc: 11,
                extensions: RTPHeaderExtensions(elements: [
                    RTPHeaderExtension(id: 1, data: [0x30]),
                    RTPHeaderExtension(id: 3, data: [1, 2, 3]),
                    RTPHeaderExtension(id: 14, data: Array(repeating: 7, count: 16)),
                ])),
            payload: [9]),
        RTPPacket(
            header: RTPHeader(
                payloadType: 96, sequenceNumber: 9, timestamp: 10, ssrc: 11,
                extensions: RTPHeaderExtensions(elements: [
                    RTPHeaderExtension(id: 200, data: []),
                    RTPHeaderExtension(id: 2, data: Array(repeating: 5, count: 40)),
                ])),
            payload: []),
        RTPPacket(
            header: RTPHeader(
                payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0,
                extensions: RTPHeaderExtensions(form: .other(profile: 0x1234), opaque: [1, 2, 3, 4, 5, 6, 7, 8])),
            payload: [1]),
    ]

    @Test(arguments: samples)
    func roundTrips(_ packet: RTPPacket) throws {
        let bytes = packet.serialized()
        #expect(bytes.count == packet.serializedSize)
        let parsed = try RTPPacket(parsing: bytes)
        #expect(parsed == packet)
        #expect(parsed.serialized() == bytes)
    }

    @Test func picksTheExtensionForm() {
        let one = RTPHeaderExtensions(elements: [RTPHeaderExtension(id: 14, data: [1])])
        #expect(one.form == .oneByte)
        let twoById = RTPHeaderExtensions(elements: [RTPHeaderExtension(id: 15, data: [1])])
        #expect(twoById.form == .twoByte(appBits: 0))
        let twoByLength = RTPHeaderExtensions(elements: [RTPHeaderExtension(id: 1, data: Array(repeating: 0, count: 17))])
        #expect(twoByLength.form == .twoByte(appBits: 0))
    }

    @Test func oneByteParsingSkipsPaddingAndStopsAtId15() throws {
        // 0xBEDE, 2 words: [id 1 len 1: aa bb] [pad] [id 15 → stop] [junk]
        let bytes: [UInt8] = [0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0, 2, 0x11, 0xAA, 0xBB, 0, 0xF0, 0x22, 0, 0, 0x42]
        let p = try RTPPacket(parsing: bytes)
        #expect(p.header.extensions?.elements == [RTPHeaderExtension(id: 1, data: [0xAA, 0xBB])])
        #expect(p.header.extensions?[1] == [0xAA, 0xBB])
        #expect(p.payload == [0x42])
    }

    @Test(arguments: [
        ([UInt8](), WireError.Code.truncated),
        ([0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0], .truncated),  // 11 bytes
        ([0x40, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1], .badVersion),
        ([0x81, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1], .truncated),  // CC = 1 with no CSRC
        ([0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0xFF, 0xFF], .truncated),  // ext length lies
        ([0xA0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0], .badPadding),  // padding count 0
        ([0xA0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 9], .badPadding),  // padding past payload
    ])
    func rejectsMalformed(_ bytes: [UInt8], _ code: WireError.Code) {
        #expect(throws: WireError(code, "")) { try RTPPacket(parsing: bytes) }
    }

    @Test func randomPacketsRoundTrip() throws {
        var rng = SeededRandom(seed: 42)
        for _ in 0..<2_000 {
            var elements: [RTPHeaderExtension] = []
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                elements.append(
                    RTPHeaderExtension(
                        id: UInt8.random(in: 1...255, using: &rng),
                        data: rng.bytes(Int.random(in: 1...20, using: &rng))))
            }
            let header = RTPHeader(
                marker: Bool.random(using: &rng), payloadType: UInt8.random(in: 0...127, using: &rng),
                sequenceNumber: UInt16.random(in: 0...UInt16.max, using: &rng),
                timestamp: UInt32.random(in: 0...UInt32.max, using: &rng),
                ssrc: UInt32.random(in: 0...UInt32.max, using: &rng),
                csrcs: (0..<Int.random(in: 0...15, using: &rng)).map { _ in UInt32.random(in: 0...UInt32.max, using: &rng) },
                extensions: elements.isEmpty ? nil : RTPHeaderExtensions(elements: elements))
            let packet = RTPPacket(
                header: header, payload: rng.bytes(Int.random(in: 0...1200, using: &rng)),
                paddingLength: Bool.random(using: &rng) ? UInt8.random(in: 1...255, using: &rng) : 0)
            #expect(try RTPPacket(parsing: packet.serialized()) == packet)
        }
    }
}

@Suite struct UnwrapperTests {
    @Test func sequenceNumbersUnwrapAcrossTheWrap() {
        var u = SequenceUnwrapper()
        #expect(u.unwrap(65_534) == 65_534)
        #expect(u.unwrap(65_535) == 65_535)
        #expect(u.unwrap(0) == 65_536)
        #expect(u.unwrap(65_535) == 65_535)  // a late packet from before the wrap
        #expect(u.unwrap(2) == 65_538)
        #expect(u.peek(1) == 65_537)
    }

    @Test func backwardsAtTheStartGoesNegative() {
        var u = SequenceUnwrapper()
        #expect(u.unwrap(1) == 1)
        #expect(u.unwrap(65_535) == -1)
    }

    @Test func longRunStaysMonotonic() {
        var u = SequenceUnwrapper()
        var expected: Int64 = 40_000
        var seq: UInt16 = 40_000
        var mismatches = 0
        for _ in 0..<300_000 {
            if u.unwrap(seq) != expected { mismatches += 1 }
            seq &+= 1
            expected += 1
        }
        #expect(mismatches == 0)
    }

    @Test func timestampsUnwrap() {
        var u = TimestampUnwrapper()
        #expect(u.unwrap(0xFFFF_FF00) == 0xFFFF_FF00)
        #expect(u.unwrap(0x0000_0100) == 0x1_0000_0100)
        #expect(u.unwrap(0xFFFF_FFF0) == 0xFFFF_FFF0)
    }

    @Test func serialOrder() {
        #expect(isNewer(1, than: 0))
        #expect(isNewer(0, than: 65_535))
        #expect(!isNewer(65_535, than: 0))
        #expect(!isNewer(5, than: 5))
    }
}

@Suite struct RTPHeaderViewTests {
    @Test(arguments: RTPPacketTests.samples)
    func agreesWithTheFullParser(_ packet: RTPPacket) throws {
        let bytes = packet.serialized()
        let view = try bytes.withUnsafeBytes { (raw) throws(WireError) in try RTPHeaderView(raw) }
        #expect(view.payloadType == packet.header.payloadType)
        #expect(view.sequenceNumber == packet.header.sequenceNumber)
        #expect(view.timestamp == packet.header.timestamp)
        #expect(view.ssrc == packet.header.ssrc)
        #expect(view.marker == packet.header.marker)
        #expect(view.headerLength == packet.header.serializedSize)
        // The in-place extension lookup finds what the full parser found, for every id.
        for id in UInt8(1)...UInt8(255) {
            let range = bytes.withUnsafeBytes { RTPHeaderView.extensionElement(id: id, in: $0) }
            let expected: [UInt8]? =
                if case .other = packet.header.extensions?.form { nil } else { packet.header.extensions?[id] }
            #expect(range.map { Array(bytes[$0]) } == expected, "id \(id)")
        }
    }

    @Test func neverReadsPastTheBuffer() {
        var rng = SeededRandom(seed: 31)
        var parsed = 0
        for _ in 0..<200_000 {
            let b = rng.mutate(RTPPacketTests.samples[Int.random(in: 0..<RTPPacketTests.samples.count, using: &rng)].serialized())
            if let v = try? b.withUnsafeBytes({ (raw) throws(WireError) in try RTPHeaderView(raw) }) {
                #expect(v.headerLength <= b.count)
                parsed += 1
            }
            for id: UInt8 in [1, 3, 200] {
                if let r = b.withUnsafeBytes({ RTPHeaderView.extensionElement(id: id, in: $0) }) { #expect(r.upperBound <= b.count) }
            }
        }
        #expect(parsed > 0)
    }
}
