/// The absolute capture time header extension
/// (`http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time`): when the frame was captured,
/// as a 64-bit NTP timestamp (UQ32.32 seconds), optionally with the sender's estimate of the offset
/// between its capture clock and its own NTP clock (Q32.32). Showroom carries it from publisher
/// to subscriber, through transcoding too, so a receiver can compute glass-to-glass latency.
public struct AbsoluteCaptureTime: Hashable, Sendable {
    /// The extension's URI in SDP `a=extmap` lines.
    public static let uri = "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time"

    public var captureTimestamp: UInt64
    public var estimatedCaptureClockOffset: Int64?

    public init(captureTimestamp: UInt64, estimatedCaptureClockOffset: Int64? = nil) {
        self.captureTimestamp = captureTimestamp
        self.estimatedCaptureClockOffset = estimatedCaptureClockOffset
    }

    /// From microseconds on any clock, as UQ32.32 seconds.
    public init(microseconds: Int64) {
        let us = UInt64(max(microseconds, 0))
        captureTimestamp = (us / 1_000_000) << 32 | ((us % 1_000_000) << 32) / 1_000_000
    }

    /// Back to microseconds.
    public var microseconds: Int64 {
        Int64((captureTimestamp >> 32) * 1_000_000 + ((captureTimestamp & 0xFFFF_FFFF) * 1_000_000 + (1 << 31)) >> 32)
    }

    public init(parsing data: [UInt8]) throws(WireError) {
        guard data.count == 8 || data.count == 16 else {
            throw WireError(.badLength, "abs-capture-time of \(data.count) bytes")
        }
        var r = ByteReader(data[...])
        captureTimestamp = try r.u64()
        estimatedCaptureClockOffset = data.count == 16 ? Int64(bitPattern: try r.u64()) : nil
    }

    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.appendU64(captureTimestamp)
        if let estimatedCaptureClockOffset { out.appendU64(UInt64(bitPattern: estimatedCaptureClockOffset)) }
        return out
    }

    /// The capture time an RTP header carries under extension `id`, if it carries a valid one.
    public init?(in header: RTPHeader, id: UInt8) {
        guard let data = header.extensions?[id], let t = try? AbsoluteCaptureTime(parsing: data) else { return nil }
        self = t
    }

    /// The capture time a packet carries under extension `id`, read in place from the packet's
    /// bytes (no allocation: the relay reads it for every packet it forwards); nil when the packet
    /// has no such element or its length is neither 8 nor 16.
    public init?(inPacket bytes: UnsafeRawBufferPointer, id: UInt8) {
        guard let r = RTPHeaderView.extensionElement(id: id, in: bytes), r.count == 8 || r.count == 16 else { return nil }
        func u64(_ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[at + $1]) } }
        captureTimestamp = u64(r.lowerBound)
        estimatedCaptureClockOffset = r.count == 16 ? Int64(bitPattern: u64(r.lowerBound + 8)) : nil
    }

    /// A header-extension block that carries this capture time under `id`.
    public func headerExtensions(id: UInt8) -> RTPHeaderExtensions {
        RTPHeaderExtensions(elements: [RTPHeaderExtension(id: id, data: serialized())])
    }
}
