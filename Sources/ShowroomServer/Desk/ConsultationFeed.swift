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
/// signal's seq (what was stored before the desk started here is not replayed). After an
/// interruption of the signals it reads every room it follows from where it was. Memory: one seq
/// per room followed, dropped once the room holds no open consultation (at the next interruption,
/// or every ``pruneEvery`` signals).
struct ConsultationFeed {
    let hub: RoomHub
    let desk: DeskService
    let assist: AssistService?
    let logger: Logger
    /// Messages read at once (a room that stored more since is read again at once).
    static let page = 100
    static let pruneEvery = 10_000

    /// Follows the store's signals until the task is cancelled.
    func run() async {
        guard let shared = hub.store as? any SharedChatStore else { return }
        var delivered: [String: Int64] = [:]
        var signals = 0
        for await signal in shared.signals() {
            if Task.isCancelled { break }
            signals += 1
            if signals % Self.pruneEvery == 0 { delivered = delivered.filter { desk.consultationRooms.contains($0.key) } }
            switch signal {
            case .appended(let room, let seq):
                guard desk.consultationRooms.contains(room) else { continue }
                let after = delivered[room] ?? (seq - 1)
                guard seq > after else { continue }
                await read(room, after: after, into: &delivered)
            case .resumed:
                delivered = delivered.filter { desk.consultationRooms.contains($0.key) }
                for (room, after) in delivered { await read(room, after: after, into: &delivered) }
            }
        }
    }

    /// Reads and delivers `room`'s messages after `after`, page by page. A failed read is
    /// logged and left: the room's next signal reads from the same place.
    private func read(_ room: String, after: Int64, into delivered: inout [String: Int64]) async {
        var after = after
        while !Task.isCancelled {
            let page: [StoredMessage]
            do { page = try await hub.stored(room: room, after: after, limit: Self.page) } catch {
                logger.warning("desk: reading a consultation's room failed", metadata: ["room": .string(room), "error": .string(error.description)])
                return
            }
            for m in page {
                desk.deliver(m)
                assist?.deliver(m)
                after = m.seq
            }
            delivered[room] = after
            if page.count < Self.page { return }
        }
    }
}
