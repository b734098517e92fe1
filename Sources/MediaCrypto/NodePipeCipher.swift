import COpenSSL

/// The AEAD of a media pipe between two nodes of a cluster: AES-256-GCM
/// ([NIST SP 800-38D](https://csrc.nist.gov/pubs/sp/800/38/d/final); the AEAD_AES_256_GCM of
/// [RFC 5116 §5.2](https://www.rfc-editor.org/rfc/rfc5116#section-5.2)) under a key only nodes
/// sharing the cluster's secret can compute: HMAC-SHA256(secret, "showroom node pipe v1" ‖ token ‖
/// salt), a different key for every pipe: `token` is 64 random bits the mirroring node chooses,
/// `salt` 16 random bytes the origin draws for each pipe it makes — so even a request replayed
/// with an old token gets a key of its own, and no (key, nonce) pair is ever used twice. The key
/// never crosses the wire. Each direction numbers its datagrams from 1; the nonce is the
/// direction (4 bytes) and that number (8 bytes), so no nonce repeats under one key.
///
/// Not thread-safe: one pipe end, used on its worker's loop.
public final class NodePipeCipher {
    public static let tagLength = 16
    private let sealer: OpaquePointer
    private let opener: OpaquePointer

    /// Nil when OpenSSL cannot make the contexts (out of memory).
    public static let saltLength = 16

    public init?(secret: [UInt8], token: UInt64, salt: [UInt8]) {
        guard salt.count == Self.saltLength else { return nil }
        var info = Array("showroom node pipe v1".utf8)
        for shift in stride(from: 56, through: 0, by: -8) { info.append(UInt8(truncatingIfNeeded: token >> UInt64(shift))) }
        info += salt
        var key = [UInt8](repeating: 0, count: 32)
        guard COpenSSL_hmacSHA256(secret, secret.count, info, info.count, &key) == 1,
            let s = COpenSSL_gcmNew(key, 1)
        else { return nil }
        guard let o = COpenSSL_gcmNew(key, 0) else {
            EVP_CIPHER_CTX_free(s)
            return nil
        }
        sealer = s
        opener = o
    }

    deinit {
        EVP_CIPHER_CTX_free(sealer)
        EVP_CIPHER_CTX_free(opener)
    }

    private static func nonce(direction: UInt32, counter: UInt64) -> [UInt8] {
        var n = [UInt8](repeating: 0, count: 12)
        for i in 0..<4 { n[i] = UInt8(truncatingIfNeeded: direction >> UInt32(24 - 8 * i)) }
        for i in 0..<8 { n[4 + i] = UInt8(truncatingIfNeeded: counter >> UInt64(56 - 8 * i)) }
        return n
    }

    /// Seals in place: `datagram` holds the associated data (its first `aadLength` bytes), the
    /// plaintext, and ``tagLength`` bytes at its end for the tag; the plaintext is encrypted where
    /// it is and the tag written after it — no copy. False if OpenSSL fails.
    public func sealInPlace(_ datagram: UnsafeMutableRawBufferPointer, aadLength: Int, direction: UInt32, counter: UInt64) -> Bool {
        guard aadLength >= 0, datagram.count >= aadLength + Self.tagLength, let base = datagram.bindMemory(to: UInt8.self).baseAddress else {
            return false
        }
        let length = datagram.count - aadLength - Self.tagLength
        let iv = Self.nonce(direction: direction, counter: counter)
        let body = base + aadLength
        return COpenSSL_gcmSeal(sealer, iv, base, Int32(aadLength), body, Int32(length), body, body + length) == 1
    }

    /// Opens in place: `datagram` holds the associated data (its first `aadLength` bytes), the
    /// ciphertext and the tag; when the tag matches, the ciphertext is replaced by the plaintext
    /// and true returned. False for anything forged, altered, cut or sealed under another key
    /// (the bytes are then not to be used).
    public func openInPlace(_ datagram: UnsafeMutableRawBufferPointer, aadLength: Int, direction: UInt32, counter: UInt64) -> Bool {
        guard aadLength >= 0, datagram.count >= aadLength + Self.tagLength, let base = datagram.bindMemory(to: UInt8.self).baseAddress else {
            return false
        }
        let length = datagram.count - aadLength - Self.tagLength
        let iv = Self.nonce(direction: direction, counter: counter)
        let body = base + aadLength
        return COpenSSL_gcmOpen(opener, iv, base, Int32(aadLength), body, Int32(length), body, body + length) == 1
    }

    /// `aad` followed by `plaintext` encrypted and its tag; nil if OpenSSL fails.
    public func seal(aad: [UInt8], plaintext: [UInt8], direction: UInt32, counter: UInt64) -> [UInt8]? {
        let iv = Self.nonce(direction: direction, counter: counter)
        var out = aad + [UInt8](repeating: 0, count: plaintext.count + Self.tagLength)
        let ok = out.withUnsafeMutableBufferPointer { o -> Int32 in
            let body = o.baseAddress! + aad.count
            return COpenSSL_gcmSeal(sealer, iv, aad, Int32(aad.count), plaintext, Int32(plaintext.count), body, body + plaintext.count)
        }
        return ok == 1 ? out : nil
    }

    /// The plaintext of `sealed` (ciphertext and tag) when the tag matches `aad` and the nonce;
    /// nil for anything forged, altered, cut or sealed under another key.
    public func open(aad: UnsafeRawBufferPointer, sealed: UnsafeRawBufferPointer, direction: UInt32, counter: UInt64) -> [UInt8]? {
        guard sealed.count >= Self.tagLength else { return nil }
        let length = sealed.count - Self.tagLength
        let iv = Self.nonce(direction: direction, counter: counter)
        var out = [UInt8](repeating: 0, count: max(length, 1))
        let base = sealed.bindMemory(to: UInt8.self).baseAddress!
        let a = aad.bindMemory(to: UInt8.self).baseAddress
        let ok = out.withUnsafeMutableBufferPointer { o in
            COpenSSL_gcmOpen(opener, iv, a, Int32(aad.count), base, Int32(length), o.baseAddress, base + length)
        }
        guard ok == 1 else { return nil }
        out.removeLast(out.count - length)
        return out
    }
}
