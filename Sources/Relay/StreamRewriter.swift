import MediaPipeline
import MediaWire

/// Keeps one outgoing stream's sequence numbers and timestamps continuous when the stream it
/// forwards changes (another rendition, a new publisher): a receiver sees one unbroken RTP
/// stream ([RFC 3550 §5.1](https://www.rfc-editor.org/rfc/rfc3550#section-5.1) — a jump would read
/// as massive loss or a reset). I/O-free.
struct StreamRewriter: Sendable {
    let clockRate: Int
    /// The input SSRC being forwarded.
    private(set) var source: UInt32?
    private(set) var sequenceOffset: UInt16 = 0
    private var timestampOffset: UInt32 = 0
    private var lastSequence: UInt16 = 0
    /// The newest outgoing sequence number written; nil before the first.
    var newestSent: UInt16? { lastSent == nil ? nil : lastSequence }
    private var lastTimestamp: UInt32 = 0
    private var lastSent: MediaTime?
    /// The first outgoing sequence number of the current source: a NACK for anything earlier names
    /// a packet of a source no longer forwarded.
    private var firstOfSource: UInt16?

    init(clockRate: Int) { self.clockRate = clockRate }

    /// The outgoing sequence number and timestamp for an input packet.
    mutating func rewrite(ssrc: UInt32, sequenceNumber: UInt16, timestamp: UInt32, now: MediaTime) -> (UInt16, UInt32) {
        if source != ssrc {
            if source != nil, let lastSent {
                // Continue one after the last number sent, and advance the clock by the time since.
                sequenceOffset = lastSequence &+ 1 &- sequenceNumber
                let elapsed = max(1, (now - lastSent).microseconds * Int64(clockRate) / 1_000_000)
                timestampOffset = lastTimestamp &+ UInt32(truncatingIfNeeded: elapsed) &- timestamp
            }
            source = ssrc
            firstOfSource = sequenceNumber &+ sequenceOffset
        }
        let seq = sequenceNumber &+ sequenceOffset, ts = timestamp &+ timestampOffset
        if lastSent == nil || isNewer(seq, than: lastSequence) {
            lastSequence = seq
            lastTimestamp = ts
            lastSent = now
        }
        return (seq, ts)
    }

    /// The input sequence number behind an outgoing one (to answer a NACK from the cache); nil for
    /// one sent before the current source.
    func original(_ sequenceNumber: UInt16) -> UInt16? {
        if let first = firstOfSource, isNewer(first, than: sequenceNumber) { return nil }
        return sequenceNumber &- sequenceOffset
    }
}
