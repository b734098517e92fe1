import MediaPipeline
import MediaWire
import Synchronization

/// Renditions running on the whole relay, shared by its media workers, in all and per room: a
/// rendition reserves its place before its codecs are built and gives it back when it stops, so
/// workers starting renditions at the same moment cannot together pass ``RelayLimits/renditions``
/// (a check of a count that only grows after the codecs exist could; attacker's review), and a
/// room whose subscribers spread over several workers cannot pass
/// ``RelayLimits/renditionsPerRoom`` by running that many on each (attacker's review of the pipe).
/// Touched only when a rendition starts or stops, never per packet; the table holds one entry
/// per room with a rendition running.
final class RenditionBudget: Sendable {
    private let state = Mutex<(total: Int, rooms: [String: Int])>((0, [:]))

    var running: Int { state.withLock { $0.total } }
    func running(in room: String) -> Int { state.withLock { $0.rooms[room] ?? 0 } }

    enum Refusal: Error { case relay, room }

    /// Takes a place for a rendition of `room` if the relay runs fewer than `limit` and the room
    /// fewer than `roomLimit`.
    func reserve(room: String, limit: Int, roomLimit: Int) -> Refusal? {
        state.withLock { s in
            guard (s.rooms[room] ?? 0) < roomLimit else { return .room }
            guard s.total < limit else { return .relay }
            s.total += 1
            s.rooms[room, default: 0] += 1
            return nil
        }
    }

    func release(room: String) {
        state.withLock { s in
            s.total = max(0, s.total - 1)
            if let n = s.rooms[room], n > 1 { s.rooms[room] = n - 1 } else { s.rooms[room] = nil }
        }
    }
}

/// A rendition's encoder holding a place in a ``RenditionBudget`` from its start until it stops.
final class BudgetedEncoder: RenditionEncoder {
    private let encoder: any RenditionEncoder
    private let budget: RenditionBudget
    private let room: String
    private var stopped = false

    init(_ encoder: any RenditionEncoder, budget: RenditionBudget, room: String) {
        self.encoder = encoder
        self.budget = budget
        self.room = room
    }

    var captureTimeExtensionID: UInt8? { encoder.captureTimeExtensionID }
    func feed(_ packet: RTPPacket, kind: MediaKind, arrival: MediaTime) -> Bool { encoder.feed(packet, kind: kind, arrival: arrival) }
    func requestKeyFrame() { encoder.requestKeyFrame() }

    func stop() {
        guard !stopped else { return }
        stopped = true
        budget.release(room: room)
        encoder.stop()
    }

    deinit {
        if !stopped { budget.release(room: room) }
    }
}
