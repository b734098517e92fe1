import MediaPipeline
import MediaWire

/// Keeps one outgoing stream's sequence numbers and timestamps continuous when the stream it
/// forwards changes (another rendition, a new publisher) and when packets of it are left out (a
/// temporal layer the subscriber does not get, ``TemporalLayerSelection``): a receiver sees one
/// unbroken RTP stream ([RFC 3550 §5.1](https://www.rfc-editor.org/rfc/rfc3550#section-5.1) — a
/// jump would read as massive loss or a reset, a hole as a loss it would NACK). I/O-free.
///
/// A packet left out that is the newest of its source so far (``skip(ssrc:sequenceNumber:)``)
/// closes its hole: every later packet goes out one number lower. A packet that arrives late is
/// numbered as if it had come in order — one higher for each packet left out after it — as long
/// as it is within ``window`` of the newest; an older one is refused (mediasoup's `SeqManager`
/// works the same way). What each outgoing number carried is remembered for the last
/// ``window`` numbers, so a NACK maps back to the input packet exactly (``original(_:)``).
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
    /// The newest input sequence number of the current source, sent or left out.
    private var newestInput: UInt16?
    /// Input sequence numbers left out that moved later packets down one, oldest first, all
    /// within ``window`` of ``newestInput`` (so at most ``window`` of them).
    private var skipped: [UInt16] = []
    /// The input sequence number each recent outgoing number carried, at `outgoing % window`.
    private var carried: [(outgoing: UInt16, input: UInt16)?] = []

    /// How far back (in input sequence numbers) a late packet is still numbered, and how many
    /// outgoing numbers map back to their input for NACKs: the retransmission cache's depth.
    static let window: UInt16 = 512

    init(clockRate: Int) { self.clockRate = clockRate }

    /// The outgoing sequence number and timestamp for an input packet; nil for a packet of the
    /// current source more than ``window`` older than its newest (its number cannot be known).
    mutating func rewrite(ssrc: UInt32, sequenceNumber: UInt16, timestamp: UInt32, now: MediaTime) -> (UInt16, UInt32)? {
        if source != ssrc {
            if source != nil, let lastSent {
                // Continue one after the last number sent, and advance the clock by the time since.
                sequenceOffset = lastSequence &+ 1 &- sequenceNumber
                let elapsed = max(1, (now - lastSent).microseconds * Int64(clockRate) / 1_000_000)
                timestampOffset = lastTimestamp &+ UInt32(truncatingIfNeeded: elapsed) &- timestamp
            }
            source = ssrc
            firstOfSource = sequenceNumber &+ sequenceOffset
            newestInput = nil
            skipped.removeAll(keepingCapacity: true)
        }
        var seq = sequenceNumber &+ sequenceOffset
        if let newest = newestInput, !isNewer(sequenceNumber, than: newest) {
            // Late: above its own number by the packets left out since it was due.
            guard newest &- sequenceNumber < Self.window else { return nil }
            seq &+= UInt16(truncatingIfNeeded: skipped.reversed().prefix { isNewer($0, than: sequenceNumber) }.count)
        } else {
            newestInput = sequenceNumber
        }
        let ts = timestamp &+ timestampOffset
        if lastSent == nil || isNewer(seq, than: lastSequence) {
            lastSequence = seq
            lastTimestamp = ts
            lastSent = now
        }
        if carried.isEmpty { carried = .init(repeating: nil, count: Int(Self.window)) }
        carried[Int(seq % Self.window)] = (seq, sequenceNumber)
        return (seq, ts)
    }

    /// An input packet of `ssrc` that is not sent. When it is the newest of the current source,
    /// later packets go out one number lower, so the receiver sees no hole; an older one (or one
    /// of another source, whose first sent packet continues the numbers anyway) changes nothing.
    mutating func skip(ssrc: UInt32, sequenceNumber: UInt16) {
        guard source == ssrc, let newest = newestInput, isNewer(sequenceNumber, than: newest) else { return }
        newestInput = sequenceNumber
        sequenceOffset &-= 1
        skipped.append(sequenceNumber)
        // Only what a late packet within the window can still need.
        if let stale = skipped.firstIndex(where: { sequenceNumber &- $0 < Self.window }), stale > 0 {
            skipped.removeFirst(stale)
        } else if skipped.count > Int(Self.window) {
            skipped.removeFirst(skipped.count - Int(Self.window))
        }
    }

    /// The input sequence number behind an outgoing one (to answer a NACK from the cache); nil for
    /// one sent before the current source or too long ago.
    func original(_ sequenceNumber: UInt16) -> UInt16? {
        if let first = firstOfSource, isNewer(first, than: sequenceNumber) { return nil }
        guard !carried.isEmpty, let entry = carried[Int(sequenceNumber % Self.window)], entry.outgoing == sequenceNumber else { return nil }
        return entry.input
    }
}
