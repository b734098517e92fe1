import MediaWire
import ShowroomTestSupport
import Testing

/// A deliberately simple HMAC-SHA1 is not available here (MediaWire has no crypto); the tests
/// that need one live in the relay's tests. These check framing, CRC and addresses.
@Suite struct STUNTests {
    static let request = RFC5769.request
    /// RFC 5769 §2.2 sample IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853.
    static let response: [UInt8] = [
        0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
        0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
        0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
        0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
        0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
    ]

    @Test func parsesTheRFC5769Request() throws {
        #expect(STUNMessage.looksLikeSTUN(Self.request[...]))
        let m = try STUNMessage(parsing: Self.request)
        #expect(m.type == STUNMessage.MessageType.bindingRequest)
        #expect(m.username == "evtj:h6vY")
        #expect(m[STUNMessage.AttributeType.priority] == [0x6e, 0x00, 0x01, 0xff])
        #expect(m[STUNMessage.AttributeType.iceControlled]?.count == 8)
        #expect(STUNMessage.verifyFingerprint(Self.request))
        var damaged = Self.request
        damaged[30] ^= 1
        #expect(!STUNMessage.verifyFingerprint(damaged))
    }

    @Test func decodesTheRFC5769MappedAddress() throws {
        let m = try STUNMessage(parsing: Self.response)
        #expect(m.type == STUNMessage.MessageType.bindingSuccess)
        let value = try #require(m[STUNMessage.AttributeType.xorMappedAddress])
        let address = try STUNAddress(xorDecoding: value, transactionID: m.transactionID)
        #expect(address == STUNAddress(address: [192, 0, 2, 1], port: 32_853))
        #expect(address.xorEncoded(transactionID: m.transactionID) == value)
        #expect(STUNMessage.verifyFingerprint(Self.response))
    }

    @Test func ourMessagesRoundTripWithAFingerprint() throws {
        let tid = Array(UInt8(1)...12)
        let m = STUNMessage(
            type: STUNMessage.MessageType.bindingSuccess, transactionID: tid,
            attributes: [
                .init(type: STUNMessage.AttributeType.xorMappedAddress, value: STUNAddress(address: [127, 0, 0, 1], port: 5_000).xorEncoded(transactionID: tid)),
                .init(type: STUNMessage.AttributeType.software, value: Array("showroom".utf8)),
            ])
        let bytes = m.serialized()
        #expect(STUNMessage.verifyFingerprint(bytes))
        let parsed = try STUNMessage(parsing: bytes)
        #expect(parsed.attributes.prefix(2) == m.attributes[...])
        #expect(parsed.attributes.last?.type == STUNMessage.AttributeType.fingerprint)
    }

    @Test func rejectsMalformedAndSurvivesFuzzing() {
        #expect(throws: WireError.self) { try STUNMessage(parsing: Array(Self.request.prefix(19))) }
        var badCookie = Self.request
        badCookie[4] = 0
        #expect(throws: WireError(.invalidField, "")) { try STUNMessage(parsing: badCookie) }
        var badLength = Self.request
        badLength[3] = 0x5C
        #expect(throws: WireError(.badLength, "")) { try STUNMessage(parsing: badLength) }
        var rng = SeededRandom(seed: 55)
        var parsed = 0
        for i in 0..<200_000 {
            let input = i % 2 == 0 ? rng.mutate(Self.request) : rng.mutate(Self.response)
            if (try? STUNMessage(parsing: input)) != nil { parsed += 1 }
            _ = STUNMessage.verifyFingerprint(input)
        }
        #expect(parsed > 0)
    }
}
