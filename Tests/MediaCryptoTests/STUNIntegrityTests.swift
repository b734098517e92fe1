import MediaCrypto
import MediaWire
import ShowroomTestSupport
import Testing

@Suite struct STUNIntegrityTests {
    static let password = Array(RFC5769.password.utf8)

    static let request = RFC5769.request

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
