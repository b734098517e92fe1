import CSRTP

/// One direction of SRTP and SRTCP protection over libsrtp2
/// ([RFC 3711](https://www.rfc-editor.org/rfc/rfc3711)), for every SSRC of a peer.
///
/// An outbound session protects what we send, an inbound one unprotects what we receive. libsrtp
/// keeps the rollover counter per SSRC ([RFC 3711 §3.3.1](https://www.rfc-editor.org/rfc/rfc3711#section-3.3.1))
/// and a replay window ([§3.3.2](https://www.rfc-editor.org/rfc/rfc3711#section-3.3.2)).
///
/// For AES_CM_128_HMAC_SHA1_80, RTP goes through ``AESCMTransform`` (OpenSSL's AES-NI and
/// SHA-NI, no allocation per packet) unless ``Backend/libsrtp`` is asked for; SRTCP and
/// AEAD-GCM always go through libsrtp.
///
/// Not thread-safe: a session belongs to the event loop of its peer connection.
public final class SRTPSession {
    public enum Direction: Sendable { case outbound, inbound }

    /// Which implementation protects RTP.
    public enum Backend: Sendable {
        /// The fastest correct one: the native AES-CM path where it applies, libsrtp otherwise.
        case automatic
        /// libsrtp for everything (the reference the native path is tested against).
        case libsrtp
    }

    /// Replay window in packets: large enough for video that arrives out of order after a NACK.
    public static let replayWindow = 1_024

    public let profile: SRTPProfile
    public let direction: Direction
    private var session: srtp_t?
    private let native: AESCMTransform?

    private static let initialized: Bool = srtp_init() == srtp_err_status_ok

    public init(_ material: SRTPKeyingMaterial, direction: Direction, backend: Backend = .automatic) throws(SRTPError) {
        guard Self.initialized else { throw SRTPError(.library, "srtp_init failed") }
        profile = material.profile
        self.direction = direction
        native =
            backend == .automatic && material.profile == .aes128CmHmacSha1_80
            ? try AESCMTransform(material, direction: direction, replayWindow: Self.replayWindow) : nil
        var policy = srtp_policy_t()
        switch material.profile {
        case .aes128CmHmacSha1_80:
            srtp_crypto_policy_set_rtp_default(&policy.rtp)
            srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
        case .aeadAes128Gcm:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
        }
        policy.ssrc.type = direction == .outbound ? ssrc_any_outbound : ssrc_any_inbound
        policy.window_size = UInt(Self.replayWindow)
        // An SFU resends a packet it already protected when answering a NACK without RTX.
        policy.allow_repeat_tx = direction == .outbound ? 1 : 0
        var key = material.masterKey + material.masterSalt
        var created: srtp_t?
        let status = key.withUnsafeMutableBufferPointer { buf in
            policy.key = buf.baseAddress
            return srtp_create(&created, &policy)
        }
        for i in key.indices { key[i] = 0 }
        guard status == srtp_err_status_ok, let created else {
            throw SRTPError(.library, "srtp_create status \(status.rawValue)")
        }
        session = created
    }

    deinit {
        if let session { srtp_dealloc(session) }
    }

    /// Bytes a caller must leave free after an RTP packet before ``protectRTP(_:length:)``.
    public static let maxTrailer = Int(CSRTP_maxTrailerLength)

    // MARK: Array API

    /// Protects an RTP packet in place; the array grows by the tag.
    public func protectRTP(_ packet: inout [UInt8]) throws(SRTPError) {
        try transformArray(&packet) { (buf, n) throws(SRTPError) in try protectRTP(buf, length: n) }
    }

    /// Verifies and decrypts an SRTP packet in place; the array shrinks to the RTP packet.
    public func unprotectRTP(_ packet: inout [UInt8]) throws(SRTPError) {
        try transformArray(&packet) { (buf, n) throws(SRTPError) in try unprotectRTP(buf, length: n) }
    }

    /// Protects an RTCP compound packet in place (adds the SRTCP index and tag).
    public func protectRTCP(_ packet: inout [UInt8]) throws(SRTPError) {
        try transformArray(&packet) { (buf, n) throws(SRTPError) in try protectRTCP(buf, length: n) }
    }

    public func unprotectRTCP(_ packet: inout [UInt8]) throws(SRTPError) {
        try transformArray(&packet) { (buf, n) throws(SRTPError) in try unprotectRTCP(buf, length: n) }
    }

    /// The rollover counter libsrtp holds for `ssrc`, if that stream has been seen.
    public func rolloverCounter(ssrc: UInt32) -> UInt32? {
        if let native { return native.rolloverCounter(ssrc: ssrc) }
        guard let session else { return nil }
        var roc: UInt32 = 0
        return srtp_get_stream_roc(session, ssrc, &roc) == srtp_err_status_ok ? roc : nil
    }

    // MARK: Buffer API (no allocation: for the relay's preallocated buffers)

    /// Protects the `length` bytes at the start of `buffer` in place and returns the new length.
    /// `buffer` must have ``maxTrailer`` bytes free after `length`.
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        if let native {
            guard length >= 0, buffer.count - length >= Self.maxTrailer else {
                throw SRTPError(.badPacket, "length \(length) in a buffer of \(buffer.count)")
            }
            return try native.protect(buffer, length: length)
        }
        return try transform(buffer, length: length, grows: true, srtp_protect)
    }

    /// Unprotects in place and returns the RTP length.
    public func unprotectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        if let native { return try native.unprotect(buffer, length: length) }
        return try transform(buffer, length: length, grows: false, srtp_unprotect)
    }

    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try transform(buffer, length: length, grows: true, srtp_protect_rtcp)
    }

    public func unprotectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try transform(buffer, length: length, grows: false, srtp_unprotect_rtcp)
    }

    private typealias Operation = (srtp_t?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> srtp_err_status_t

    private func transformArray(
        _ packet: inout [UInt8], _ op: (UnsafeMutableRawBufferPointer, Int) throws(SRTPError) -> Int
    ) throws(SRTPError) {
        let length = packet.count
        packet.append(contentsOf: repeatElement(0, count: Self.maxTrailer))
        let result: Result<Int, SRTPError> = packet.withUnsafeMutableBytes { buf in
            do throws(SRTPError) {
                return .success(try op(buf, length))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let n): packet.removeLast(packet.count - n)
        case .failure(let e):
            packet.removeLast(Self.maxTrailer)
            throw e
        }
    }

    private func transform(_ buffer: UnsafeMutableRawBufferPointer, length: Int, grows: Bool, _ op: Operation)
        throws(SRTPError) -> Int
    {
        guard let session else { throw SRTPError(.library, "session closed") }
        guard length >= 4, length <= buffer.count, !grows || buffer.count - length >= Self.maxTrailer
        else { throw SRTPError(.badPacket, "length \(length) in a buffer of \(buffer.count)") }
        var len = Int32(length)
        let status = op(session, buffer.baseAddress, &len)
        switch status {
        case srtp_err_status_ok: return Int(len)
        case srtp_err_status_auth_fail: throw SRTPError(.authenticationFailed, "tag did not verify")
        case srtp_err_status_replay_fail, srtp_err_status_replay_old: throw SRTPError(.replay, "index seen or too old")
        case srtp_err_status_bad_param, srtp_err_status_parse_err: throw SRTPError(.badPacket, "status \(status.rawValue)")
        default: throw SRTPError(.library, "status \(status.rawValue)")
        }
    }
}
