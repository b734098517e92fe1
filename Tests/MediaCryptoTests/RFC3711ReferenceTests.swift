import COpenSSL
import MediaCrypto
import Testing

/// An independent, test-only computation of SRTP from RFC 3711's own definitions with plain
/// AES-CTR and HMAC-SHA1 from OpenSSL, checked against Appendix B and then against what
/// ``SRTPSession`` (libsrtp) produces — so the vectors test our use of libsrtp, not libsrtp alone.
enum Reference {
    static func aesCTR(key: [UInt8], iv: [UInt8], _ input: [UInt8]) -> [UInt8] {
        let ctx = EVP_CIPHER_CTX_new()
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: input.count + 16)
        var n: Int32 = 0
        EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), nil, key, iv)
        EVP_EncryptUpdate(ctx, &out, &n, input, Int32(input.count))
        return Array(out.prefix(Int(n)))
    }

    /// RFC 3711 §4.3.1 with key_derivation_rate 0: x = label‖r XOR master_salt, then AES-CM.
    static func derive(masterKey: [UInt8], masterSalt: [UInt8], label: UInt8, count: Int) -> [UInt8] {
        var x = masterSalt
        x[7] ^= label
        return aesCTR(key: masterKey, iv: x + [0, 0], [UInt8](repeating: 0, count: count))
    }

    static func hmacSHA1(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 20)
        var len: UInt32 = 0
        _ = HMAC(EVP_sha1(), key, Int32(key.count), data, data.count, &out, &len)
        return out
    }

    /// SRTP with AES_CM_128_HMAC_SHA1_80 for one packet (RFC 3711 §3.1, §4.1.1, §4.2).
    static func protect(_ packet: [UInt8], masterKey: [UInt8], masterSalt: [UInt8], roc: UInt32) -> [UInt8] {
        let key = derive(masterKey: masterKey, masterSalt: masterSalt, label: 0, count: 16)
        let auth = derive(masterKey: masterKey, masterSalt: masterSalt, label: 1, count: 20)
        let salt = derive(masterKey: masterKey, masterSalt: masterSalt, label: 2, count: 14)
        let headerLength = 12 + 4 * Int(packet[0] & 0x0F)
        // IV = (salt × 2^16) XOR (SSRC × 2^64) XOR (index × 2^16), index = ROC ‖ SEQ.
        var iv = salt + [0, 0]
        for i in 0..<4 { iv[4 + i] ^= packet[8 + i] }
        let index = UInt64(roc) << 16 | UInt64(packet[2]) << 8 | UInt64(packet[3])
        for i in 0..<6 { iv[8 + i] ^= UInt8(truncatingIfNeeded: index >> UInt64(8 * (5 - i))) }
        let encrypted = Array(packet.prefix(headerLength)) + aesCTR(key: key, iv: iv, Array(packet.dropFirst(headerLength)))
        let rocBytes = (0..<4).map { UInt8(truncatingIfNeeded: roc >> UInt32(8 * (3 - $0))) }
        return encrypted + hmacSHA1(key: auth, encrypted + rocBytes).prefix(10)
    }
}

@Suite struct RFC3711ReferenceTests {
    @Test func appendixB3KeyDerivation() {
        let key = hex("E1F97A0D3E018BE0D64FA32C06DE4139"), salt = hex("0EC675AD498AFEEBB6960B3AABE6")
        #expect(Reference.derive(masterKey: key, masterSalt: salt, label: 0, count: 16) == hex("C61E7A93744F39EE10734AFE3FF7A087"))
        #expect(Reference.derive(masterKey: key, masterSalt: salt, label: 2, count: 14) == hex("30CBBC08863D8C85D49DB34A9AE1"))
        #expect(Reference.derive(masterKey: key, masterSalt: salt, label: 1, count: 20) == hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"))
    }

    @Test func appendixB2Keystream() {
        let iv = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD") + [0, 0]
        let stream = Reference.aesCTR(key: hex("2B7E151628AED2A6ABF7158809CF4F3C"), iv: iv, [UInt8](repeating: 0, count: 48))
        #expect(stream == hex("E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0"))
    }

    /// The session must produce exactly what RFC 3711 defines, before and after a sequence wrap.
    @Test func sessionAgreesWithTheDefinition() throws {
        let material = try Vectors.material(.aes128CmHmacSha1_80)
        let session = try SRTPSession(material, direction: .outbound)
        var seq: UInt16 = 65_533
        for i in 0..<6 {
            let roc: UInt32 = seq >= 65_533 ? 0 : 1
            let packet: [UInt8] = [0x80, 0x60, UInt8(seq >> 8), UInt8(seq & 0xFF), 0, 0, 0, UInt8(i), 0xCA, 0xFE, 0xBA, 0xBE]
                + [UInt8](repeating: UInt8(i), count: 40)
            var protected = packet
            try session.protectRTP(&protected)
            #expect(protected == Reference.protect(packet, masterKey: material.masterKey, masterSalt: material.masterSalt, roc: roc))
            seq &+= 1
        }
    }
}
