import Assist
import Chat
import Foundation

/// The last messages of each room, as agent assist reads them (hints, products mentioned):
/// bounded per room (``perRoom``, each cut to ``maximumText`` characters), forgotten when the
/// consultation ends, and bounded in rooms (``maximumRooms``: past it the room written to
/// least recently are forgotten, a tenth at a time so that the sort is rare — a room that comes back starts empty, which costs a hint its
/// history, never correctness of the chat itself).
struct RecentMessages: Sendable {
    static let perRoom = 20
    /// What the hint engine reads of a message (``HintEngine``): no more is kept.
    static let maximumText = 4_000
    static let maximumRooms = 20_000

    private var rooms: [String: [HintMessage]] = [:]
    private var lastWrite: [String: UInt64] = [:]
    private var writes: UInt64 = 0

    /// Adds a stored message (a system line is read as the bot's: neither side's words).
    mutating func add(_ m: StoredMessage) {
        let text: String
        switch m.content {
        case .text(let t): text = t
        case .product(let sku, let title, _, _, _, _): text = "\(title) \(sku)"
        case .coupon(let code, let discount, _): text = "coupon \(code) \(discount)"
        case .image(_, _, _, let alt): text = alt
        case .video: text = "video"
        case .system(let t): text = t
        }
        let role: HintMessage.Role = m.senderRole == "shopper" ? .shopper : m.senderRole == "agent" ? .agent : .bot
        var list = rooms[m.room] ?? []
        list.append(HintMessage(role: role, text: String(text.prefix(Self.maximumText)), at: m.sentAt))
        if list.count > Self.perRoom { list.removeFirst(list.count - Self.perRoom) }
        rooms[m.room] = list
        writes += 1
        lastWrite[m.room] = writes
        if rooms.count > Self.maximumRooms {
            for (room, _) in lastWrite.sorted(by: { $0.value < $1.value }).prefix(Self.maximumRooms / 10) {
                lastWrite[room] = nil
                rooms[room] = nil
            }
        }
    }

    func messages(room: String) -> [HintMessage] { rooms[room] ?? [] }

    /// Forgets a room (its consultation ended).
    mutating func remove(room: String) {
        rooms[room] = nil
        lastWrite[room] = nil
    }
}
