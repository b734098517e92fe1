import MediaPipeline
import MediaWire

/// Which temporal layers of its simulcast layer a subscriber gets. Chromium encodes each simulcast
/// layer with three temporal layers (frames of TL0, TL2, TL1, TL2, …: TL0 at a quarter of the
/// frame rate, TL0–1 at half): a frame refers only to frames of its own layer or below, so
/// leaving out the top layers halves or quarters the frame rate — and about 40% or 60% of the
/// bits — without a key frame. The VP8 payload descriptor carries each packet's layer (TID) and
/// whether the frame is a layer sync (Y: it refers only to TL0, so a receiver can start that layer
/// there) ([RFC 7741 §4.2](https://www.rfc-editor.org/rfc/rfc7741#section-4.2)).
///
/// Per packet (``admits(temporalLayer:layerSync:startOfFrame:keyFrame:sequenceNumber:)``): a move
/// down happens at the start of any frame, a move up only at a layer-sync frame of the next layer
/// up (or at a key frame), and a packet above the current layer is not sent — its sequence number
/// and picture ID are closed up by ``StreamRewriter`` and ``VP8PictureIDRewriter``. Only the
/// newest packet of the stream moves the layer: a late one (reordered, or repaired) is judged by
/// the layer in force when it was due, so a frame is never cut and a frame left out never
/// shows up in part.
///
/// The choice (``estimate(_:congested:rates:lowest:now:)``, from the subscriber's transport-wide
/// feedback): on congestion, at once to the highest layer whose measured rate fits the estimate
/// (TL0 at least, and never below ``minimumFrameRate``) — relief within a frame, where a smaller
/// simulcast layer waits for its key frame; then back up one layer after ``initialUpHold`` without
/// congestion. A send-side estimate
/// cannot see past what is sent, so the way up is a try: one undone by congestion within
/// ``failureWindow`` doubles the hold (to ``maximumUpHold``); all layers kept that long set it back.
/// A move to another simulcast layer starts it with all its temporal layers (``newLayer()``): the
/// estimate chose that layer whole. Without transport-wide feedback it gets every layer
/// (``release()``). I/O-free.
struct TemporalLayerSelection {
    /// The highest temporal layer id VP8 can carry (two bits): "every layer".
    static let all: UInt8 = 3
    /// The highest temporal layer forwarded now.
    private(set) var current: UInt8 = Self.all
    /// The highest one it should get.
    private(set) var target: UInt8 = Self.all
    private var lastCongestion: MediaTime?
    private var lastChange: MediaTime?
    private var lastUp: MediaTime?
    /// How long without congestion before it tries the next layer up.
    private(set) var upHold = Self.initialUpHold
    /// The newest input sequence number of the stream; where ``current`` last changed and what
    /// it was before (for late packets from before the change).
    private var newest: UInt16?
    private var changedAt: UInt16?
    private var previous: UInt8 = Self.all

    static let initialUpHold = MediaTime(microseconds: 2_000_000)
    /// Below this many frames a second a picture stops reading as motion: a viewer is not held to
    /// fewer temporal layers than give it (a 180p layer its publisher's encoder already thins to a
    /// few frames a second keeps them all).
    static let minimumFrameRate = 7.0
    static let maximumUpHold = MediaTime(microseconds: 16_000_000)
    /// A move up undone by congestion this soon was premature.
    static let failureWindow = MediaTime(microseconds: 3_000_000)

    /// Whether a video packet goes to the subscriber. `temporalLayer`: its TID, nil when the
    /// stream carries none (every packet goes); `startOfFrame`: it begins a frame (S = 1,
    /// partition 0) — the only place the layer forwarded changes, so a frame is never cut.
    mutating func admits(temporalLayer: UInt8?, layerSync: Bool, startOfFrame: Bool, keyFrame: Bool, sequenceNumber: UInt16) -> Bool {
        guard let t = temporalLayer else { return true }
        if let n = newest, !isNewer(sequenceNumber, than: n) {
            // Late: by the layer in force when it was due.
            if let c = changedAt, isNewer(c, than: sequenceNumber) { return t <= previous }
            return t <= current
        }
        newest = sequenceNumber
        if startOfFrame && current != target {
            let before = current
            if keyFrame || target < current {
                current = target
            } else if layerSync, t == current &+ 1, t <= target {
                // Up at a frame of the next layer that refers only to TL0: that layer starts here.
                current = t
            }
            if current != before {
                previous = before
                changedAt = sequenceNumber
            }
        }
        return t <= current
    }

    /// A transport-wide estimate of the subscriber's path (bits/s) and whether it showed
    /// congestion; `rates`: what the layer it receives measures up to each temporal layer
    /// (`rates[t]` = TL0 … TLt together, bits/s; empty when it carries none); `lowest`: the
    /// lowest temporal layer it may be held to (one that still gives ``minimumFrameRate``).
    mutating func estimate(_ bitrate: Double, congested: Bool, rates: [Double], lowest: UInt8 = 0, now: MediaTime) {
        guard let top = rates.indices.last.map({ UInt8($0) }) else {
            set(Self.all, now: now)
            return
        }
        let effective = min(target, top)
        if congested {
            lastCongestion = now
            let fits = max(UInt8(rates.lastIndex { $0 <= bitrate } ?? 0), min(lowest, top))
            guard fits < effective else { return }
            if let up = lastUp, now - up < Self.failureWindow { upHold = min(upHold + upHold, Self.maximumUpHold) }
            lastUp = nil
            set(fits, now: now)
            return
        }
        // Every layer kept since the last move up: no reason to wait longer next time.
        if let up = lastUp, effective == top, now - up >= Self.failureWindow {
            upHold = Self.initialUpHold
            lastUp = nil
        }
        guard effective < top else { return }
        let calm = max(lastCongestion ?? .zero, lastChange ?? .zero)
        guard now - calm >= upHold else { return }
        lastUp = now
        set(effective + 1 == top ? Self.all : effective + 1, now: now)
    }

    /// A move to another simulcast layer (another stream, its own sequence numbers): all its
    /// temporal layers from its key frame on.
    mutating func newLayer() {
        target = Self.all
        newest = nil
        changedAt = nil
    }

    /// Its transport-wide feedback stopped: nothing steers the temporal layers, so it gets them all
    /// (from the next layer-sync frame of each).
    mutating func release() { target = Self.all }

    private mutating func set(_ layer: UInt8, now: MediaTime) {
        guard layer != target else { return }
        target = layer
        lastChange = now
    }
}
