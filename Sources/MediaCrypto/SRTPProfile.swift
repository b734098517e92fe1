import ShowroomCore

/// The SRTP protection profiles Showroom negotiates
/// ([RFC 5764 §4.1.2](https://www.rfc-editor.org/rfc/rfc5764#section-4.1.2),
/// [RFC 7714 §14.2](https://www.rfc-editor.org/rfc/rfc7714#section-14.2)).
public enum SRTPProfile: String, Sendable, Hashable, CaseIterable {
    /// AES-128 counter mode with an 80-bit HMAC-SHA1 tag ([RFC 3711](https://www.rfc-editor.org/rfc/rfc3711)).
    case aes128CmHmacSha1_80 = "SRTP_AES128_CM_SHA1_80"
    /// AES-128 in GCM with a 16-byte tag ([RFC 7714](https://www.rfc-editor.org/rfc/rfc7714)).
    case aeadAes128Gcm = "SRTP_AEAD_AES_128_GCM"

    /// Master key length in bytes.
    public var keyLength: Int { 16 }

    /// Master salt length in bytes.
    public var saltLength: Int {
        switch self {
        case .aes128CmHmacSha1_80: 14
        case .aeadAes128Gcm: 12
        }
    }

    /// Bytes SRTP adds to an RTP packet (the authentication tag).
    public var rtpOverhead: Int {
        switch self {
        case .aes128CmHmacSha1_80: 10
        case .aeadAes128Gcm: 16
        }
    }

    /// The DTLS-SRTP protection profile id (RFC 5764 §4.1.2, RFC 7714 §14.2).
    public var dtlsProtectionProfile: UInt16 {
        switch self {
        case .aes128CmHmacSha1_80: 0x0001
        case .aeadAes128Gcm: 0x0007
        }
    }
}

/// A master key and master salt for one direction of an SRTP session.
public struct SRTPKeyingMaterial: Sendable, Hashable {
    public var profile: SRTPProfile
    public var masterKey: [UInt8]
    public var masterSalt: [UInt8]

    /// Throws ``SRTPError/badKey`` when the lengths do not match the profile.
    public init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8]) throws(SRTPError) {
        guard masterKey.count == profile.keyLength, masterSalt.count == profile.saltLength else {
            throw SRTPError(.badKey, "\(profile.rawValue) needs \(profile.keyLength)+\(profile.saltLength) bytes")
        }
        self.profile = profile
        self.masterKey = masterKey
        self.masterSalt = masterSalt
    }

    /// Splits the 2×(key+salt) bytes exported from DTLS into the client's and the server's
    /// material: client key | server key | client salt | server salt
    /// ([RFC 5764 §4.2](https://www.rfc-editor.org/rfc/rfc5764#section-4.2)).
    public static func fromDTLSExport(_ bytes: [UInt8], profile: SRTPProfile) throws(SRTPError)
        -> (client: SRTPKeyingMaterial, server: SRTPKeyingMaterial)
    {
        let k = profile.keyLength, s = profile.saltLength
        guard bytes.count == 2 * (k + s) else { throw SRTPError(.badKey, "DTLS export of \(bytes.count) bytes") }
        let client = try SRTPKeyingMaterial(
            profile: profile, masterKey: Array(bytes[0..<k]), masterSalt: Array(bytes[(2 * k)..<(2 * k + s)]))
        let server = try SRTPKeyingMaterial(
            profile: profile, masterKey: Array(bytes[k..<(2 * k)]), masterSalt: Array(bytes[(2 * k + s)...]))
        return (client, server)
    }
}

/// Why an SRTP operation failed; compared by code.
public struct SRTPError: CodedError {
    public static let domain = "srtp"
    public enum Code: String, Sendable, Hashable {
        /// The tag did not verify: forged, corrupted, or the wrong key.
        case authenticationFailed
        /// The packet index was seen before or is older than the replay window.
        case replay
        /// Too short, or not enough room for the tag.
        case badPacket
        case badKey
        /// libsrtp failed for another reason (its status is in the detail).
        case library
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

}
