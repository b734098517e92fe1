import MediaPipeline
import MediaWire
import Synchronization

/// Renditions running on the whole relay, shared by its media workers: a rendition reserves its
/// place before its codecs are built and gives it back when it stops, so workers starting
/// renditions at the same moment cannot together pass ``RelayLimits/renditions`` (a check of a
/// count that only grows after the codecs exist could; attacker's review).
final class RenditionBudget: Sendable {
    private let count = Atomic<Int>(0)

    var running: Int { count.load(ordering: .relaxed) }

    /// Takes a place if fewer than `limit` are taken.
    func reserve(limit: Int) -> Bool {
        var current = count.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = count.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func release() { count.subtract(1, ordering: .relaxed) }
}

/// A rendition's encoder holding a place in a ``RenditionBudget`` from its start until it stops.
final class BudgetedEncoder: RenditionEncoder {
    private let encoder: any RenditionEncoder
    private let budget: RenditionBudget
    private var stopped = false

    init(_ encoder: any RenditionEncoder, budget: RenditionBudget) {
        self.encoder = encoder
        self.budget = budget
    }

    var captureTimeExtensionID: UInt8? { encoder.captureTimeExtensionID }
    func feed(_ packet: RTPPacket, kind: MediaKind, arrival: MediaTime) -> Bool { encoder.feed(packet, kind: kind, arrival: arrival) }
    func requestKeyFrame() { encoder.requestKeyFrame() }

    func stop() {
        guard !stopped else { return }
        stopped = true
        budget.release()
        encoder.stop()
    }

    deinit {
        if !stopped { budget.release() }
    }
}
