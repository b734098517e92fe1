import MediaWire

/// Keeps the VP8 picture ID and TL0PICIDX of one outgoing stream continuous when the stream it
/// forwards changes (another simulcast layer, rendition or publisher), as ``StreamRewriter`` does
/// for sequence numbers and timestamps: a receiver that sees the picture ID jump takes the frames
/// between as lost ([RFC 7741 §4.2](https://www.rfc-editor.org/rfc/rfc7741#section-4.2)). The
/// fields are rewritten in place in a copy of the payload, in the width they arrived in
/// (7 or 15 bits: a 7-bit source spliced after a 15-bit one is continuous modulo 128 only — our
/// renditions and browsers send 15). Each field's offset is set by the first packet of a new
/// source that carries it.
///
/// A picture left out (a temporal layer the subscriber does not get: ``skip(_:ssrc:)``) closes its
/// gap in the picture IDs as ``StreamRewriter`` does in the sequence numbers: libwebrtc's VP8
/// reference finder waits for every picture ID between a frame and the frame it refers to, so a
/// gap would stall all frames after it. TL0PICIDX needs nothing there: only frames above layer 0
/// are left out; a layer held back and taken again at its key frame splices it
/// (``resumeAtKeyFrame()``). A packet of the source forwarded before the current one (sent again
/// for a NACK after a switch) gets the IDs it had the first time. I/O-free.
struct VP8PictureIDRewriter {
    private var source: UInt32?
    private var pictureOffset: UInt16 = 0
    private var tl0Offset: UInt8 = 0
    /// A new source's first picture ID / TL0PICIDX is still to come (its offset is set then).
    private var splicePicture = false
    private var spliceTL0 = false
    /// The latest values written (the next source continues after them).
    private var lastPictureID: UInt16?
    private var lastTL0: UInt8?
    /// The newest incoming picture ID of the current source, forwarded or left out.
    private var newestIncoming: UInt16?
    /// Incoming picture IDs left out that moved later ones down by one, oldest first, all within
    /// ``window`` of ``newestIncoming`` (a quarter of the space for 7-bit IDs): trimmed as it advances.
    private var skipped = LeftOutNumbers()
    /// How far back (in pictures) a late packet's ID is still corrected: as far as
    /// ``StreamRewriter/horizon`` (in packets, at least one a picture) lets a late packet through.
    static let window: UInt16 = StreamRewriter.horizon
    /// What the source before the current one was rewritten with when it was left.
    private var previous: (source: UInt32, pictureOffset: UInt16, tl0Offset: UInt8, newestIncoming: UInt16?, skipped: LeftOutNumbers)?

    /// Rewrites the descriptor at the start of `payload` (an outgoing copy) for a packet of stream
    /// `ssrc`; a payload too short for what its descriptor announces is left as it is.
    mutating func rewrite(_ payload: UnsafeMutableRawBufferPointer, ssrc: UInt32) {
        guard let fields = Self.locate(payload) else { return }
        if source != ssrc {
            // The first picture of the new source follows the last one written.
            if let source {
                previous = (source, pictureOffset, tl0Offset, newestIncoming, skipped)
                splicePicture = true
                spliceTL0 = true
            }
            source = ssrc
            newestIncoming = nil
            skipped.removeAll()
        }
        if let at = fields.pictureID {
            let incoming = Self.read(payload, at: at)
            if splicePicture {
                pictureOffset = (lastPictureID.map { $0 &+ 1 } ?? incoming.value) &- incoming.value
                splicePicture = false
            }
            var shift: UInt16 = 0
            if let newest = newestIncoming, !Self.isNewer(incoming.value, than: newest, long: incoming.long) {
                // A late packet (or another packet of the newest picture): above its own ID by the
                // pictures left out after it.
                shift = UInt16(truncatingIfNeeded: skipped.count(after: incoming.value, newest: newest, mask: Self.mask(incoming.long)))
            } else {
                advance(to: incoming.value, long: incoming.long)
            }
            let value = Self.write(payload, at: at, value: incoming.value &+ pictureOffset &+ shift, long: incoming.long)
            if lastPictureID.map({ Self.isNewer(value, than: $0, long: incoming.long) }) ?? true { lastPictureID = value }
        }
        if let at = fields.tl0 {
            if spliceTL0 {
                tl0Offset = (lastTL0.map { $0 &+ 1 } ?? payload[at]) &- payload[at]
                spliceTL0 = false
            }
            payload[at] = payload[at] &+ tl0Offset
            if lastTL0.map({ Int8(bitPattern: payload[at] &- $0) > 0 }) ?? true { lastTL0 = payload[at] }
        }
    }

    /// Whether `ssrc` is the source forwarded before the current one (``rewriteEarlier(_:ssrc:)``
    /// knows its IDs).
    func forwardedBefore(_ ssrc: UInt32) -> Bool { previous?.source == ssrc && source != ssrc }

    /// Rewrites a packet of the source forwarded before the current one, sent again (a NACK
    /// answered after a switch): the IDs it had the first time — a late packet's, above its own
    /// ID by the pictures left out after it (TL0PICIDX with the offset the source had when it was
    /// left: one taken again after a hold in between was spliced, so its earlier packets' differ).
    /// Nothing changes for the current source; a packet of any other source is left as it is (false).
    @discardableResult
    func rewriteEarlier(_ payload: UnsafeMutableRawBufferPointer, ssrc: UInt32) -> Bool {
        guard let p = previous, p.source == ssrc, source != ssrc, let fields = Self.locate(payload) else { return false }
        if let at = fields.pictureID {
            let incoming = Self.read(payload, at: at)
            var shift: UInt16 = 0
            if let newest = p.newestIncoming, !Self.isNewer(incoming.value, than: newest, long: incoming.long) {
                shift = UInt16(truncatingIfNeeded: p.skipped.count(after: incoming.value, newest: newest, mask: Self.mask(incoming.long)))
            }
            Self.write(payload, at: at, value: incoming.value &+ p.pictureOffset &+ shift, long: incoming.long)
        }
        if let at = fields.tl0 { payload[at] = payload[at] &+ p.tl0Offset }
        return true
    }

    /// The source goes on at a key frame after a run of its pictures was left out, base-layer ones
    /// among them (a layer held back, ``LayerSelection/holding``): the next TL0PICIDX follows the
    /// last one written, as at a new source. (Picture IDs were closed up by ``skip(_:ssrc:)``.)
    mutating func resumeAtKeyFrame() {
        if lastTL0 != nil { spliceTL0 = true }
    }

    /// A packet of `ssrc` that is not sent: when it begins a picture newer than any seen, later
    /// pictures go out one ID lower. Other packets of that picture, older pictures, packets of
    /// another source (whose first sent picture continues the IDs anyway) change nothing.
    mutating func skip(_ payload: UnsafeRawBufferPointer, ssrc: UInt32) {
        guard source == ssrc, !splicePicture, let at = Self.locate(payload)?.pictureID else { return }
        let (value, long) = Self.read(payload, at: at)
        guard let newest = newestIncoming, Self.isNewer(value, than: newest, long: long) else { return }
        advance(to: value, long: long)
        pictureOffset &-= 1
        skipped.append(value)
    }

    /// The newest incoming picture ID is now `value`: what left the window is forgotten.
    private mutating func advance(to value: UInt16, long: Bool) {
        newestIncoming = value
        skipped.advance(to: value, mask: Self.mask(long), reach: long ? Self.window : 0x20)
    }

    private static func mask(_ long: Bool) -> UInt16 { long ? 0x7FFF : 0x7F }

    /// Where the picture ID and TL0PICIDX sit in a payload's descriptor, if it has them.
    private static func locate(_ p: UnsafeMutableRawBufferPointer) -> (pictureID: Int?, tl0: Int?)? { locate(UnsafeRawBufferPointer(p)) }

    private static func locate(_ p: UnsafeRawBufferPointer) -> (pictureID: Int?, tl0: Int?)? {
        guard p.count >= 2, p[0] & 0x80 != 0 else { return nil }
        let x = p[1]
        var i = 2
        var pictureID: Int?
        if x & 0x80 != 0 {
            guard i < p.count else { return nil }
            pictureID = i
            i += p[i] & 0x80 != 0 ? 2 : 1
        }
        var tl0: Int?
        if x & 0x40 != 0 {
            tl0 = i
            i += 1
        }
        guard i <= p.count else { return nil }
        return (pictureID, tl0)
    }

    /// Writes `value` (masked to the field's width) as the picture ID at `i`; returns what it wrote.
    @discardableResult
    private static func write(_ p: UnsafeMutableRawBufferPointer, at i: Int, value: UInt16, long: Bool) -> UInt16 {
        let value = value & mask(long)
        if long {
            p[i] = 0x80 | UInt8(value >> 8 & 0x7F)
            p[i + 1] = UInt8(truncatingIfNeeded: value)
        } else {
            p[i] = UInt8(value)
        }
        return value
    }

    private static func read(_ p: UnsafeMutableRawBufferPointer, at i: Int) -> (value: UInt16, long: Bool) { read(UnsafeRawBufferPointer(p), at: i) }

    private static func read(_ p: UnsafeRawBufferPointer, at i: Int) -> (value: UInt16, long: Bool) {
        p[i] & 0x80 != 0 ? (UInt16(p[i] & 0x7F) << 8 | UInt16(p[i + 1]), true) : (UInt16(p[i]), false)
    }

    private static func isNewer(_ a: UInt16, than b: UInt16, long: Bool) -> Bool {
        let d = (a &- b) & (long ? 0x7FFF : 0x7F)
        return d != 0 && d < (long ? 0x4000 : 0x40)
    }
}
