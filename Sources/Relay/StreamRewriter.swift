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
/// as it is within ``horizon`` of the newest (a packet the relay asked its publisher for again
/// comes at most 1 s late: ``NACKGenerator``); an older one is refused (mediasoup's `SeqManager`
/// works the same way), and ``restartRun`` of them in a row are a restart of the input's
/// numbering, continued like a new source. What each outgoing number carried is remembered for
/// the last ``window`` numbers, so a NACK maps back to the input packet exactly (``original(_:)``)
/// — also one sent before the last change of source (``earlier(_:)``), which a receiver lost while
/// the subscriber moved.
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
    /// Counts the changes of source: what each outgoing number carried is marked with it, so a
    /// NACK is answered from the source that number carried — the current one (``original(_:)``)
    /// or the one before (``earlier(_:)``) — and never from another. 32 bits: a publisher that
    /// restarts its numbering every few packets could wrap 8 bits within the ``window`` and make
    /// an older source's numbers read as the current one's.
    private var generation: UInt32 = 0
    /// The newest input sequence number of the current source, sent or left out.
    private var newestInput: UInt16?
    /// Input sequence numbers left out that moved later packets down one, oldest first, all
    /// within ``horizon`` of ``newestInput`` (so at most ``horizon`` of them: trimmed as it advances).
    private var skipped = LeftOutNumbers()
    /// Packets refused in a row for being more than ``horizon`` behind.
    private var refused = 0
    /// The input sequence number each recent outgoing number carried, and the source's
    /// ``generation``, at `outgoing % window`.
    private var carried: [(outgoing: UInt16, input: UInt16, generation: UInt32)?] = []
    /// The source forwarded before the current one (of the generation before): its SSRC and
    /// timestamp offset.
    private var previous: (source: UInt32, timestampOffset: UInt32)?

    /// How many outgoing numbers map back to their input for NACKs: the retransmission cache's depth.
    static let window: UInt16 = 512
    /// How far back (in input sequence numbers) a late packet is still numbered: a second of a
    /// stream of up to 2,048 packets a second (~20 Mbit/s).
    static let horizon: UInt16 = 2_048
    /// This many packets in a row beyond the window: the input restarted its numbering.
    static let restartRun = 3

    init(clockRate: Int) { self.clockRate = clockRate }

    /// The outgoing sequence number and timestamp for an input packet; nil for a packet of the
    /// current source more than ``horizon`` older than its newest (its number cannot be known).
    mutating func rewrite(ssrc: UInt32, sequenceNumber: UInt16, timestamp: UInt32, now: MediaTime) -> (UInt16, UInt32)? {
        var restart = false
        if source == ssrc, let newest = newestInput, !isNewer(sequenceNumber, than: newest), newest &- sequenceNumber >= Self.horizon {
            refused += 1
            guard refused >= Self.restartRun else { return nil }
            restart = true  // continued after the last number sent, as a new source is
        }
        refused = 0
        if source != ssrc || restart {
            // A restart renumbers the same SSRC: its earlier numbers can no longer be told apart.
            previous = restart ? nil : source.map { ($0, timestampOffset) }
            if source != nil { generation &+= 1 }
            if source != nil, let lastSent {
                // Continue one after the last number sent, and advance the clock by the time since.
                sequenceOffset = lastSequence &+ 1 &- sequenceNumber
                let elapsed = max(1, (now - lastSent).microseconds * Int64(clockRate) / 1_000_000)
                timestampOffset = lastTimestamp &+ UInt32(truncatingIfNeeded: elapsed) &- timestamp
            }
            source = ssrc
            newestInput = nil
            skipped.removeAll()
        }
        var seq = sequenceNumber &+ sequenceOffset
        if let newest = newestInput, !isNewer(sequenceNumber, than: newest) {
            // Late: above its own number by the packets left out since it was due.
            seq &+= UInt16(truncatingIfNeeded: skipped.count(after: sequenceNumber, newest: newest, mask: .max))
        } else {
            advance(to: sequenceNumber)
        }
        let ts = timestamp &+ timestampOffset
        if lastSent == nil || isNewer(seq, than: lastSequence) {
            lastSequence = seq
            lastTimestamp = ts
            lastSent = now
        }
        if carried.isEmpty { carried = .init(repeating: nil, count: Int(Self.window)) }
        carried[Int(seq % Self.window)] = (seq, sequenceNumber, generation)
        return (seq, ts)
    }

    /// An input packet of `ssrc` that is not sent. When it is the newest of the current source,
    /// later packets go out one number lower, so the receiver sees no hole; an older one (or one
    /// of another source, whose first sent packet continues the numbers anyway) changes nothing.
    mutating func skip(ssrc: UInt32, sequenceNumber: UInt16) {
        guard source == ssrc, let newest = newestInput, isNewer(sequenceNumber, than: newest) else { return }
        advance(to: sequenceNumber)
        sequenceOffset &-= 1
        skipped.append(sequenceNumber)
    }

    /// The newest input is now `sequenceNumber`: what left the window is forgotten (a late
    /// packet that far back is refused anyway).
    private mutating func advance(to sequenceNumber: UInt16) {
        newestInput = sequenceNumber
        skipped.advance(to: sequenceNumber, mask: .max, reach: Self.horizon)
    }

    /// The input sequence number behind an outgoing one (to answer a NACK from the cache); nil for
    /// one sent before the current source or too long ago.
    func original(_ sequenceNumber: UInt16) -> UInt16? {
        carried(sequenceNumber, generation: generation)
    }

    /// For an outgoing number sent before the current source (a NACK after a switch): the source
    /// it carried, its input sequence number, and the outgoing timestamp of an input timestamp of
    /// that source (its offset); nil for any other number, or one sent too long ago.
    func earlier(_ sequenceNumber: UInt16) -> (source: UInt32, input: UInt16, timestampOffset: UInt32)? {
        guard let p = previous, let input = carried(sequenceNumber, generation: generation &- 1) else { return nil }
        return (p.source, input, p.timestampOffset)
    }

    /// The input number an outgoing one carried, if it is among the last ``window`` and its source
    /// was of `generation`.
    private func carried(_ sequenceNumber: UInt16, generation: UInt32) -> UInt16? {
        guard !carried.isEmpty, let entry = carried[Int(sequenceNumber % Self.window)], entry.outgoing == sequenceNumber,
            entry.generation == generation
        else { return nil }
        return entry.input
    }
}
