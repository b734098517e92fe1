import COpenSSL

/// HMAC-SHA256 (RFC 2104 with SHA-256, test vectors in RFC 4231) through OpenSSL, and the
/// constant-time comparison that every check of a MAC goes through: tracking tokens
/// (``TrackingToken``) and outgoing webhook signatures (``WebhookSignature``).
public enum HMACSHA256 {
    /// The length of a MAC in bytes.
    public static let length = 32

    /// The 32-byte MAC of `message` under `key`; `nil` only if OpenSSL fails (out of memory) —
    /// callers then refuse to sign or to accept a signature (fail closed).
    public static func mac(key: some Collection<UInt8>, message: some Collection<UInt8>) -> [UInt8]? {
        let k = Array(key)
        let m = Array(message)
        var out = [UInt8](repeating: 0, count: length)
        let ok = k.withUnsafeBufferPointer { kp in
            m.withUnsafeBufferPointer { mp in
                out.withUnsafeMutableBufferPointer { op in
                    COpenSSL_hmacSHA256(kp.baseAddress, kp.count, mp.baseAddress, mp.count, op.baseAddress)
                }
            }
        }
        return ok == 1 ? out : nil
    }

    /// Lowercase hex of `bytes`.
    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `a` and `b` are equal, in time that depends on their lengths only (a MAC compared
    /// byte by byte with an early exit leaks how many leading bytes a forger got right).
    public static func constantTimeEqual(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
