import MediaCrypto
import MediaWire
import Testing

@Suite struct STUNIntegrityTests {
    static let password = Array("VOkJxbRl1RmTxUk/WvJxBt".utf8)

    /// RFC 5769 §2.1 request, with the ICE short-term password (RFC 8489 §9.1).
    static let request: [UInt8] = [
        0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
        0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
        0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
        0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
        0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
        0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
        0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
    ]

    @Test func verifiesTheRFC5769RequestIntegrity() {
        #expect(STUNMessage.verifyIntegrity(Self.request, key: Self.password, mac: HMACSHA1.digest))
        #expect(!STUNMessage.verifyIntegrity(Self.request, key: Array("wrong".utf8), mac: HMACSHA1.digest))
        var damaged = Self.request
        damaged[45] ^= 0x01  // inside PRIORITY
        #expect(!STUNMessage.verifyIntegrity(damaged, key: Self.password, mac: HMACSHA1.digest))
    }

    @Test func ourIntegrityVerifies() throws {
        let m = STUNMessage(type: STUNMessage.MessageType.bindingRequest, transactionID: Array(repeating: 7, count: 12),
                            attributes: [.init(type: STUNMessage.AttributeType.username, value: Array("a:b".utf8))])
        let bytes = m.serialized(integrityKey: Self.password, mac: HMACSHA1.digest)
        #expect(STUNMessage.verifyIntegrity(bytes, key: Self.password, mac: HMACSHA1.digest))
        #expect(STUNMessage.verifyFingerprint(bytes))
        // HMAC with a key longer than the SHA-1 block is hashed first (RFC 2104).
        let long = [UInt8](repeating: 0xAA, count: 80)  // RFC 2202 test case 6
        #expect(HMACSHA1.digest(key: long, Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
            == hex("aa4ae5e15272d00e95705637ce8a3b55ed402112"))
    }
}
