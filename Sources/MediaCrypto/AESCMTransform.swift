import COpenSSL

/// SRTP for AES_CM_128_HMAC_SHA1_80 computed directly with OpenSSL's AES-NI and SHA-NI code
/// ([RFC 3711 §3–4](https://www.rfc-editor.org/rfc/rfc3711#section-3)), for RTP packets.
///
/// Why not libsrtp for this profile: Debian's libsrtp2 is built on NSS, whose per-packet HMAC
/// context costs 14 allocations and ~5 µs for a 1200-byte packet, six times this machine's crypto
/// floor. Here the HMAC inner and outer states are computed once per key and copied per packet,
/// and the AES context is re-IV'd in place: no allocation per packet. libsrtp remains the
/// implementation for SRTCP and for AEAD-GCM, and the tests check this code against it packet by
/// packet, across sequence wraps, in both directions.
final class AESCMTransform {
    /// Per-SSRC state: the rollover counter and highest sequence seen
    /// ([§3.3.1](https://www.rfc-editor.org/rfc/rfc3711#section-3.3.1)) and, inbound, the replay
    /// window ([§3.3.2](https://www.rfc-editor.org/rfc/rfc3711#section-3.3.2)).
    struct Stream {
        let ssrc: UInt32
        var roc: UInt32
        var highest: UInt16
        /// Bit i set: the index `highestIndex − i` was received.
        var window: [UInt64]

        var highestIndex: UInt64 { UInt64(roc) << 16 | UInt64(highest) }

        /// The packet index for `seq` (RFC 3711 Appendix A).
        func estimate(_ seq: UInt16) -> UInt64 {
            var v = Int64(roc)
            if highest < 32_768 {
                if Int(seq) - Int(highest) > 32_768 { v -= 1 }
            } else if Int(highest) - 32_768 > Int(seq) {
                v += 1
            }
            return UInt64(max(v, 0)) << 16 | UInt64(seq)
        }

        func isReplay(_ index: UInt64) -> Bool {
            let top = highestIndex
            guard index <= top else { return false }
            let age = top - index
            guard age < UInt64(window.count * 64) else { return true }
            return window[Int(age / 64)] & (1 << (age % 64)) != 0
        }

        mutating func accept(_ index: UInt64) {
            let top = highestIndex
            if index > top {
                shift(by: index - top)
                roc = UInt32(truncatingIfNeeded: index >> 16)
                highest = UInt16(truncatingIfNeeded: index)
                window[0] |= 1
            } else {
                let age = top - index
                if age < UInt64(window.count * 64) { window[Int(age / 64)] |= 1 << (age % 64) }
            }
        }

        private mutating func shift(by n: UInt64) {
            let words = window.count
            if n >= UInt64(words * 64) {
                for i in 0..<words { window[i] = 0 }
                return
            }
            let wordShift = Int(n / 64), bitShift = UInt64(n % 64)
            for i in stride(from: words - 1, through: 0, by: -1) {
                var v: UInt64 = 0
                let src = i - wordShift
                if src >= 0 {
                    v = window[src] << bitShift
                    if bitShift > 0 && src - 1 >= 0 { v |= window[src - 1] >> (64 - bitShift) }
                }
                window[i] = v
            }
        }
    }

    static let tagLength = 10
    let direction: SRTPSession.Direction
    private let cipher: OpaquePointer
    private var hmac = COpenSSL_HMACSHA1Key()
    private var salt = [UInt8](repeating: 0, count: 14)
    /// A peer has a handful of SSRCs: a linear search beats hashing.
    private var streams: [Stream] = []
    private let windowWords: Int

    init(_ material: SRTPKeyingMaterial, direction: SRTPSession.Direction, replayWindow: Int) throws(SRTPError) {
        guard material.profile == .aes128CmHmacSha1_80 else { throw SRTPError(.badKey, "not an AES-CM profile") }
        self.direction = direction
        windowWords = max(1, replayWindow / 64)
        var key = Self.derive(material, label: 0, count: 16)
        var auth = Self.derive(material, label: 1, count: 20)
        salt = Self.derive(material, label: 2, count: 14)
        guard let ctx = EVP_CIPHER_CTX_new() else { throw SRTPError(.library, "EVP_CIPHER_CTX_new") }
        cipher = ctx
        guard EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), nil, key, nil) == 1 else {
            EVP_CIPHER_CTX_free(ctx)
            throw SRTPError(.library, "AES-CTR init")
        }
        COpenSSL_hmacSHA1Prepare(&hmac, auth, auth.count)
        for i in key.indices { key[i] = 0 }
        for i in auth.indices { auth[i] = 0 }
    }

    deinit {
        EVP_CIPHER_CTX_free(cipher)
        _ = withUnsafeMutableBytes(of: &hmac) { $0.initializeMemory(as: UInt8.self, repeating: 0) }
    }

    /// RFC 3711 §4.3.1 with key_derivation_rate 0: AES-CM of the master key over
    /// (label ‖ 0⁴⁸) XOR master salt.
    static func derive(_ material: SRTPKeyingMaterial, label: UInt8, count: Int) -> [UInt8] {
        var iv = material.masterSalt + [0, 0]
        iv[7] ^= label
        var out = [UInt8](repeating: 0, count: count)
        if let ctx = EVP_CIPHER_CTX_new() {
            var n: Int32 = 0
            EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), nil, material.masterKey, iv)
            EVP_EncryptUpdate(ctx, &out, &n, out, Int32(count))
            EVP_CIPHER_CTX_free(ctx)
        }
        return out
    }

    func rolloverCounter(ssrc: UInt32) -> UInt32? { slot(ssrc).map { streams[$0].roc } }

    private func slot(_ ssrc: UInt32) -> Int? { streams.firstIndex { $0.ssrc == ssrc } }

    private func newStream(_ ssrc: UInt32, seq: UInt16) -> Int {
        streams.append(Stream(ssrc: ssrc, roc: 0, highest: seq, window: [UInt64](repeating: 0, count: windowWords)))
        return streams.count - 1
    }

    /// Length of the RTP header (fixed part, CSRCs, extension), or nil if the packet is too short.
    private static func headerLength(_ p: UnsafeMutableRawBufferPointer, length: Int) -> Int? {
        guard length >= 12, p[0] >> 6 == 2 else { return nil }
        var n = 12 + 4 * Int(p[0] & 0x0F)
        if p[0] & 0x10 != 0 {
            guard length >= n + 4 else { return nil }
            n += 4 + 4 * (Int(p[n + 2]) << 8 | Int(p[n + 3]))
        }
        return n <= length ? n : nil
    }

    /// The counter-mode IV (§4.1.1): (salt·2¹⁶) XOR (SSRC·2⁶⁴) XOR (index·2¹⁶).
    private func crypt(_ p: UnsafeMutableRawBufferPointer, header: Int, length: Int, ssrc: UInt32, index: UInt64) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { iv in
            for i in 0..<14 { iv[i] = salt[i] }
            iv[14] = 0
            iv[15] = 0
            iv[4] ^= UInt8(truncatingIfNeeded: ssrc >> 24)
            iv[5] ^= UInt8(truncatingIfNeeded: ssrc >> 16)
            iv[6] ^= UInt8(truncatingIfNeeded: ssrc >> 8)
            iv[7] ^= UInt8(truncatingIfNeeded: ssrc)
            for i in 0..<6 { iv[8 + i] ^= UInt8(truncatingIfNeeded: index >> UInt64(40 - 8 * i)) }
            let data = p.baseAddress!.assumingMemoryBound(to: UInt8.self) + header
            return COpenSSL_aesCTRInPlace(cipher, iv.baseAddress, data, Int32(length - header)) == 1
        }
    }

    /// Tag (§4.2): HMAC-SHA1 over the packet ‖ ROC, truncated to 80 bits, written at `at`.
    private func tag(_ p: UnsafeMutableRawBufferPointer, length: Int, roc: UInt32, into out: UnsafeMutablePointer<UInt8>) {
        var rocBytes = roc.bigEndian
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digest in
            withUnsafeBytes(of: &rocBytes) { r in
                COpenSSL_hmacSHA1(
                    &hmac, p.baseAddress!.assumingMemoryBound(to: UInt8.self), length,
                    r.baseAddress!.assumingMemoryBound(to: UInt8.self), 4, digest.baseAddress)
            }
            out.update(from: digest.baseAddress!, count: Self.tagLength)
        }
    }

    func protect(_ p: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        guard let header = Self.headerLength(p, length: length) else { throw SRTPError(.badPacket, "RTP header") }
        guard p.count - length >= Self.tagLength else { throw SRTPError(.badPacket, "no room for the tag") }
        let seq = UInt16(p[2]) << 8 | UInt16(p[3])
        let ssrc = UInt32(p[8]) << 24 | UInt32(p[9]) << 16 | UInt32(p[10]) << 8 | UInt32(p[11])
        let i = slot(ssrc) ?? newStream(ssrc, seq: seq)
        let index = streams[i].estimate(seq)
        // A sender may protect the same packet again (retransmission without RTX): no replay check.
        streams[i].accept(index)
        guard crypt(p, header: header, length: length, ssrc: ssrc, index: index) else {
            throw SRTPError(.library, "AES-CTR")
        }
        tag(p, length: length, roc: UInt32(truncatingIfNeeded: index >> 16), into: p.baseAddress!.assumingMemoryBound(to: UInt8.self) + length)
        return length + Self.tagLength
    }

    func unprotect(_ p: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        guard length <= p.count, length >= 12 + Self.tagLength,
            let header = Self.headerLength(p, length: length - Self.tagLength)
        else { throw SRTPError(.badPacket, "SRTP packet of \(length) bytes") }
        let body = length - Self.tagLength
        let seq = UInt16(p[2]) << 8 | UInt16(p[3])
        let ssrc = UInt32(p[8]) << 24 | UInt32(p[9]) << 16 | UInt32(p[10]) << 8 | UInt32(p[11])
        let known = slot(ssrc)
        let index = known.map { streams[$0].estimate(seq) } ?? UInt64(seq)
        if let known, streams[known].isReplay(index) { throw SRTPError(.replay, "index \(index) seen or too old") }
        let ok: Bool = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.tagLength) { expected in
            tag(p, length: body, roc: UInt32(truncatingIfNeeded: index >> 16), into: expected.baseAddress!)
            return CRYPTO_memcmp(expected.baseAddress, p.baseAddress! + body, Self.tagLength) == 0
        }
        guard ok else { throw SRTPError(.authenticationFailed, "tag did not verify") }
        guard crypt(p, header: header, length: body, ssrc: ssrc, index: index) else { throw SRTPError(.library, "AES-CTR") }
        let i = known ?? newStream(ssrc, seq: seq)
        streams[i].accept(index)
        return body
    }
}
