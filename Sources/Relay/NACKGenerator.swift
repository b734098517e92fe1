import MediaPipeline

/// Which packets of one incoming stream the relay asks its publisher for again: a gap in the
/// sequence numbers is NACKed as soon as it is not just reordering, and again while it stays
/// open, until the packet comes (on the stream itself, or decapsulated from RTX), it is too old,
/// or it was asked for too often
/// ([RFC 4585 §3.5](https://www.rfc-editor.org/rfc/rfc4585#section-3.5) leaves the policy to the
/// receiver; this is libwebrtc's `NackRequester` in short). A path that reorders makes a gap that
/// fills itself: the median of how far back the latest late packets came within
/// ``reorderingWindow`` of their gap (``reorderingDistance``, at most ``maximumReorderingWait``) is
/// how many newer packets a gap waits for before it is asked for — at once on a path that does
/// not reorder. The publisher's retransmission then reaches
/// every viewer, who would otherwise NACK the relay for a packet its cache never had. I/O-free;
/// at most ``maximumMissing`` entries.
struct NACKGenerator: Sendable {
    /// One packet not yet received.
    private struct Missing: Sendable {
        let sequence: UInt16
        let since: MediaTime
        /// Asked for once the newest packet is this one or later (reordering's allowance).
        let askAt: UInt16
        var lastAsked: MediaTime
        var tries: Int
    }

    /// The most sequence numbers waited for at once (the oldest are given up first).
    static let maximumMissing = 256
    /// A jump larger than this ahead (or back, for ``restartRun`` packets in a row) is a restart,
    /// not loss or a late packet: nothing is asked for, and the stream goes on from there.
    static let maximumGap: UInt16 = 512
    /// How often one packet is asked for.
    static let maximumTries = 10
    /// How long a packet is waited for: after this, a viewer's decoder has long moved on.
    static let maximumAge = MediaTime(microseconds: 1_000_000)
    /// The least time between two requests for one packet (the relay's timer asks every
    /// 100 ms; a publisher's own rule is at most one resend per round trip).
    static let retryInterval = MediaTime(microseconds: 90_000)

    /// The most newer packets a gap waits for (a path that reorders further is NACKed on time).
    static let maximumReorderingWait = 8
    /// How many of the latest late arrivals the reordering distance is the median of.
    static let reorderingSamples = 16

    /// Consecutive packets far behind the newest needed before the stream counts as restarted
    /// there: one stray old packet moves nothing.
    static let restartRun = 3
    /// A packet that comes this soon after its gap showed counts as reordering; later, as a
    /// resend (a publisher without RTX resends on the stream itself).
    static let reorderingWindow = MediaTime(microseconds: 20_000)

    private var newest: UInt16?
    /// The latest packet far behind the newest, and how many such came in a row.
    private var behind: (sequence: UInt16, run: Int)?
    /// Oldest first.
    private var missing: [Missing] = []
    /// How far behind the newest the latest packets that filled a gap on their own came.
    private var lateBy: [Int] = []

    /// How many newer packets a gap waits for now: the median of ``lateBy``, at most
    /// ``maximumReorderingWait``; 0 until the path has reordered. Kept as a late packet arrives,
    /// not computed per packet (every packet that shows a gap reads it).
    private(set) var reorderingDistance = 0

    /// How many sequence numbers are waited for now.
    var count: Int { missing.count }

    /// What one arriving packet means: `.recovered` for one that was missing and asked for,
    /// `.late` for one that was missing and came before it was asked for (both: forward it),
    /// `.duplicate` for a slightly older one that was not (already forwarded, or given up on),
    /// `.new(lost:)` for a newer one (or a restart), with the sequence numbers it showed lost — to
    /// be NACKed now.
    enum Arrival: Equatable, Sendable {
        case new(lost: [UInt16])
        case recovered
        case late
        case duplicate
    }

    /// Records packet `sequence` arriving at `now` on the stream itself.
    mutating func received(_ sequence: UInt16, now: MediaTime) -> Arrival {
        guard let last = newest else {
            newest = sequence
            return .new(lost: [])
        }
        let ahead = sequence &- last
        if ahead == 0 { return .duplicate }
        if ahead >= 0x8000, last &- sequence <= Self.maximumGap {
            // A little older than the newest: one we wait for, or a duplicate.
            guard let i = missing.firstIndex(where: { $0.sequence == sequence }) else { return .duplicate }
            if now - missing[i].since < Self.reorderingWindow {
                lateBy.append(Int(last &- sequence))
                if lateBy.count > Self.reorderingSamples { lateBy.removeFirst() }
                reorderingDistance = min(lateBy.sorted()[lateBy.count / 2], Self.maximumReorderingWait)
            }
            let asked = missing[i].tries > 0
            missing.remove(at: i)
            return asked ? .recovered : .late
        }
        if ahead >= 0x8000 {
            // Far behind: a stray old packet, unless enough follow it in order (a restart).
            let run = behind.map { $0.sequence &+ 1 == sequence ? $0.run + 1 : 1 } ?? 1
            behind = (sequence, run)
            guard run >= Self.restartRun else { return .duplicate }
        }
        behind = nil
        newest = sequence
        guard ahead <= Self.maximumGap else {
            // Far ahead, or a run far behind: the stream restarted (or a hostile sender jumps
            // about); the old gaps are moot, and a large gap is not asked for.
            missing.removeAll()
            return .new(lost: [])
        }
        // The newest `maximumMissing` of the gap: what is asked for is what a decoder still needs.
        let kept = min(Int(ahead) - 1, Self.maximumMissing)
        let overflow = missing.count + kept - Self.maximumMissing
        if overflow > 0 { missing.removeFirst(min(overflow, missing.count)) }
        // A packet that came `d` behind was overtaken by `d` newer ones: wait for one more.
        let wait = UInt16(reorderingDistance)
        var s = sequence &- UInt16(kept)
        while s != sequence {
            missing.append(Missing(sequence: s, since: now, askAt: s &+ wait &+ 1, lastAsked: now, tries: 0))
            s &+= 1
        }
        // Everything whose allowance this packet used up, asked for now.
        var lost: [UInt16] = []
        for i in missing.indices where missing[i].tries == 0 && sequence &- missing[i].askAt < 0x8000 {
            missing[i].tries = 1
            missing[i].lastAsked = now
            lost.append(missing[i].sequence)
        }
        return .new(lost: lost)
    }

    /// Records packet `sequence` arriving resent (decapsulated from RTX): `.recovered` when it
    /// was missing, else `.duplicate` — nothing else changes (what a publisher resends unasked,
    /// or ahead of what it sent, moves nothing here).
    mutating func repaired(_ sequence: UInt16) -> Arrival {
        guard let i = missing.firstIndex(where: { $0.sequence == sequence }) else { return .duplicate }
        missing.remove(at: i)
        return .recovered
    }

    /// The sequence numbers to ask for again at `now`: each one still missing whose last request
    /// (or, not asked for yet, its gap) is at least `retryInterval` old (the round trip, or more);
    /// those too old or asked for too often are given up.
    mutating func due(now: MediaTime, retryInterval: MediaTime) -> [UInt16] {
        missing.removeAll { now - $0.since > Self.maximumAge || $0.tries >= Self.maximumTries }
        var out: [UInt16] = []
        for i in missing.indices where now - missing[i].lastAsked >= retryInterval {
            missing[i].lastAsked = now
            missing[i].tries += 1
            out.append(missing[i].sequence)
        }
        return out
    }
}
