import COpenSSL

/// One-shot keyed hashes for control-plane messages (STUN MESSAGE-INTEGRITY), not the media
/// hot path.
public enum HMACSHA1 {
    public static func digest(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var k = COpenSSL_HMACSHA1Key()
        COpenSSL_hmacSHA1Prepare(&k, key, key.count)
        var out = [UInt8](repeating: 0, count: 20)
        COpenSSL_hmacSHA1(&k, message, message.count, nil, 0, &out)
        return out
    }
}
