import MediaPipeline
import MediaWire
import NIOCore

/// One encoding of a simulcast publication (RFC 8853): a RID from the offer, the SSRC its packets
/// turned out to come from, the picture size its key frames declare, what it sends, and its own
/// packets for NACKs. A ``Publication`` holds one per encoding it negotiated, in the offer's order.
struct SimulcastLayer {
    let rid: String
    /// Learnt from the first packet that carries ``rid`` in its RID extension.
    var ssrc: UInt32?
    /// From its latest key frame (``VP8KeyFrameHeader``).
    var width: Int?
    var height: Int?
    /// When its latest packet arrived: a layer the publisher stopped sending (its uplink or CPU
    /// cannot carry it) is no longer chosen after ``SimulcastLayer/inactiveAfter``.
    var lastPacket: MediaTime?
    /// What it sent over the last reporting interval, bits/s.
    var bitrate: Double?
    /// Its rate over the last few intervals (each interval's weighing ``averageWeight``), bits/s:
    /// what it sends with its key frames spread out — a key frame of a detailed picture can
    /// double one interval's rate.
    var averageBitrate: Double?
    static let averageWeight = 0.25
    /// What a viewer moved to it must be able to take, bits/s: its last interval's rate or its
    /// average, whichever is more — a layer whose encoder skipped frames for an interval (a
    /// publisher short of CPU, paying for a key frame) measured a fraction of its rate, and a
    /// 300 kbit/s viewer was moved up to it by that (a CI run, 2026-12-04) and froze 1.7 s.
    var neededBitrate: Double? { bitrate.map { max($0, averageBitrate ?? $0) } }
    var intervalBytes = 0
    /// Bytes and frames over the interval per temporal layer (TID 0–3), of packets that carry one.
    var temporalBytes: [Int] = [0, 0, 0, 0]
    var temporalFrames: [Int] = [0, 0, 0, 0]
    /// Frames a second over the last interval up to each temporal layer (as ``temporalBitrates``).
    var temporalFrameRates: [Double] = []
    /// What it sent over the last interval up to each temporal layer (`[t]`: TL0 … TLt together,
    /// bits/s), up to the highest layer seen; empty when its packets carry no temporal layer.
    var temporalBitrates: [Double] = []
    /// When a key frame of it was last asked for (a PLI naming it, or every layer), and when its
    /// latest key frame started to arrive.
    var lastKeyFrameRequest: MediaTime?
    var lastKeyFrame: MediaTime?
    var cache = RetransmissionCache()
    /// What its stream lost on the publisher's uplink, asked for again.
    var missing = NACKGenerator()

    /// Without a packet for this long a layer counts as stopped. Chromium stops a layer outright
    /// when it drops it; but after a key frame its encoder may skip frames of a layer for several
    /// hundred milliseconds to pay for it, and leaving the layer then would cost every layer
    /// another key frame (a PLI makes libwebrtc's simulcast encoder key all of them).
    static let inactiveAfter = MediaTime(microseconds: 1_000_000)

    init(rid: String) { self.rid = rid }

    func isActive(now: MediaTime) -> Bool { lastPacket.map { now - $0 < Self.inactiveAfter } ?? false }

    /// Closes a reporting interval of `seconds`: the layer's rate, and per temporal layer.
    mutating func measure(intervalSeconds seconds: Double) {
        let per = max(seconds, 0.001)
        let rate = Double(intervalBytes * 8) / per
        bitrate = rate
        averageBitrate = averageBitrate.map { $0 + Self.averageWeight * (rate - $0) } ?? rate
        intervalBytes = 0
        temporalBitrates = []
        temporalFrameRates = []
        if let top = temporalBytes.lastIndex(where: { $0 > 0 }) {
            var bits = 0.0, frames = 0.0
            for t in 0...top {
                bits += Double(temporalBytes[t] * 8) / per
                frames += Double(temporalFrames[t]) / per
                temporalBitrates.append(bits)
                temporalFrameRates.append(frames)
            }
        }
        temporalBytes = [0, 0, 0, 0]
        temporalFrames = [0, 0, 0, 0]
    }
}

extension [SimulcastLayer] {
    /// Layer indices from the smallest picture to the largest: by the height their key frames
    /// declare once every active layer has sent one, by the offer's order until then (Chromium and
    /// Firefox list them smallest first when a page does).
    func ascending(now: MediaTime) -> [Int] {
        let active = indices.filter { self[$0].isActive(now: now) }
        guard active.allSatisfy({ self[$0].height != nil }) else { return active }
        return active.sorted { (self[$0].height ?? 0, $0) < (self[$1].height ?? 0, $1) }
    }

    /// The layer a subscriber of `quality` gets: `source` the largest active one, `medium` the
    /// largest no taller than 360 lines, `low` the largest no taller than 180 — or, with sizes not
    /// known yet, the top, middle and bottom of the offer's order; when none is that small, the
    /// smallest active one. Nil while no layer is active.
    func layer(for quality: Quality, now: MediaTime) -> Int? {
        let order = ascending(now: now)
        guard let smallest = order.first, let largest = order.last else { return nil }
        let limit: Int
        switch quality {
        case .source: return largest
        case .medium: limit = 360
        case .low: limit = 180
        }
        if order.allSatisfy({ self[$0].height != nil }) {
            return order.last { (self[$0].height ?? .max) <= limit } ?? smallest
        }
        return quality == .low ? smallest : order[order.count / 2]
    }
}

/// Which layer of a simulcast publication a subscriber receives, and the one it moves to: a
/// subscriber switches only at a key frame of the target layer (the relay asks for one), so its
/// decoder never gets a frame that refers to a picture it did not see.
struct LayerSelection {
    /// The layer forwarded now; nil until the first key frame of the target.
    var current: Int?
    /// The layer it should be on (set with ``aim(at:now:)``).
    private(set) var target: Int?
    /// When the target last changed to a layer other than the current one: how long a switch
    /// waited for its key frame is measured from here.
    private(set) var targetSince: MediaTime?
    /// The input sequence number of the key frame it switched at: a packet of the layer from
    /// before it (reordered on the way) is not forwarded — it would take an outgoing number the
    /// previous layer's packets already used.
    var switchedAt: UInt16?
    /// Which layer's key frame was last asked for on its behalf, and when.
    var requested: (layer: Int, at: MediaTime)?
    /// Whether the current layer is held back while it waits for the target's key frame: set on a
    /// move down when the rate the path delivers cannot carry even the current layer's lowest
    /// temporal layers — forwarding it would only keep the bottleneck's queue full, and the
    /// target's key frame would wait behind it (a freeze either way, a longer one). Ends at the
    /// switch; a move called off (the target back to the current layer) takes the layer again at
    /// its own next key frame, since its frames until then refer to ones held back
    /// (``Publication/fanOut(_:header:kind:capture:layer:temporal:now:allocator:drops:)``).
    var holding = false

    init() {}

    /// A new subscriber's: pointed at `target` from the start (its first key frame is not a switch).
    init(target: Int?) { self.target = target }

    /// Points it at `layer`; a change starts the wait for that layer's key frame.
    mutating func aim(at layer: Int?, now: MediaTime) {
        guard layer != target else { return }
        target = layer
        // A wait under way goes on from its start; a subscriber's first layer is not a switch.
        if layer == nil || layer == current || current == nil {
            targetSince = nil
        } else if targetSince == nil {
            targetSince = now
        }
    }

    /// Switches to `layer` (the target) at its key frame, at `now`; returns how long the switch
    /// waited since the target was set.
    mutating func switchTo(_ layer: Int, now: MediaTime) -> MediaTime? {
        let waited = targetSince.map { now - $0 }
        current = layer
        targetSince = nil
        holding = false
        return waited
    }
}
