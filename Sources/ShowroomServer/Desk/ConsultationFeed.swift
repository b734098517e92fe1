import Chat
import Logging
import Signaling

/// In a cluster, what the desk's node reads of the consultations' rooms: every message any node
/// stores in the room of an open consultation, in seq order, read from the shared store when its
/// signal arrives (docs/cluster.md, "The desk on several nodes") — a shopper on another node asks
/// the bot, and the desk hears it. Handed to the desk and agent assist (their `deliver`), as
/// ``RoomHub/observe(_:)`` does on a node of its own.
///
/// It reads a room from the last seq it delivered there; a room it has not read yet, from the
/// signal's seq (what was stored before the desk started here is not replayed). A failed read is
/// tried again, from the same place, at the next signal. After an interruption of the signals it
/// reads every room it has a position in from there (a room whose first signal was among those
/// lost is followed from its next one). Memory: one seq per room followed, dropped once the room
/// holds no open consultation (at its next signal, at the next interruption, or every
/// ``pruneEvery`` signals), and the rooms to read again.
struct ConsultationFeed {
    let hub: RoomHub
    let desk: DeskService
    let assist: AssistService?
    let logger: Logger
    /// Failed reads are logged once per 10 s, with a count.
    let failures = LogThrottle()
    /// Messages read at once (a room that stored more since is read again at once).
    static let page = 100
    static let pruneEvery = 10_000

    /// Follows the store's signals until the task is cancelled.
    func run() async {
        guard let shared = hub.store as? any SharedChatStore else { return }
        var delivered: [String: Int64] = [:]
        /// Rooms whose last read failed: read again at the next signal, whatever its room.
        var retry: Set<String> = []
        var signals = 0
        for await signal in shared.signals() {
            if Task.isCancelled { break }
            signals += 1
            if signals % Self.pruneEvery == 0 { delivered = delivered.filter { desk.consultationRooms.contains($0.key) } }
            for room in retry {
                retry.remove(room)
                if let after = delivered[room], desk.consultationRooms.contains(room), !(await read(room, after: after, into: &delivered)) {
                    retry.insert(room)
                }
            }
            switch signal {
            case .appended(let room, let seq):
                guard desk.consultationRooms.contains(room) else {
                    // Its consultation ended: a later one in the same room starts afresh, without
                    // what was said in between.
                    delivered[room] = nil
                    continue
                }
                // A room read for the first time: from this signal's message on (its position
                // kept even if the read fails, so a retry reads the same messages).
                let after = delivered[room] ?? (seq - 1)
                delivered[room] = after
                guard seq > after, !retry.contains(room) else { continue }
                if !(await read(room, after: after, into: &delivered)) { retry.insert(room) }
            case .resumed:
                delivered = delivered.filter { desk.consultationRooms.contains($0.key) }
                retry = []
                for (room, after) in delivered where !(await read(room, after: after, into: &delivered)) { retry.insert(room) }
            }
        }
    }

    /// Reads and delivers `room`'s messages after `after`, page by page; false when a read
    /// failed (logged; the room is read again from where it stopped).
    private func read(_ room: String, after: Int64, into delivered: inout [String: Int64]) async -> Bool {
        var after = after
        while !Task.isCancelled {
            let page: [StoredMessage]
            do { page = try await hub.stored(room: room, after: after, limit: Self.page) } catch {
                if let earlier = failures.admit() {
                    logger.warning(
                        "desk: reading a consultation's room failed",
                        metadata: ["room": .string(room), "error": .string(error.description), "failedSinceLastLine": .stringConvertible(earlier)])
                }
                return false
            }
            for m in page {
                desk.deliver(m)
                assist?.deliver(m)
                after = m.seq
            }
            delivered[room] = after
            if page.count < Self.page { return true }
        }
        return true
    }
}
