import Chat
import Foundation

/// A test store that hands every call to a real SQLite store (`inner`) except the ones it
/// declares itself — to stall, fail or watch them.
protocol ForwardingChatStore: ChatStore {
    var inner: SQLiteChatStore { get }
}

extension ForwardingChatStore {
    func append(room: String, clientID: String, sender: String, senderRole: String, content: ChatContent, at: Date) throws(ChatError) -> (
        message: StoredMessage, duplicate: Bool
    ) { try inner.append(room: room, clientID: clientID, sender: sender, senderRole: senderRole, content: content, at: at) }
    func messages(room: String, after: Int64, limit: Int, maxBytes: Int) throws(ChatError) -> [StoredMessage] {
        try inner.messages(room: room, after: after, limit: limit, maxBytes: maxBytes)
    }
    func messages(room: String, before: Int64, limit: Int, maxBytes: Int) throws(ChatError) -> [StoredMessage] {
        try inner.messages(room: room, before: before, limit: limit, maxBytes: maxBytes)
    }
    func lastSeq(room: String) throws(ChatError) -> Int64 { try inner.lastSeq(room: room) }
    func firstSeq(room: String) throws(ChatError) -> Int64 { try inner.firstSeq(room: room) }
    func markRead(room: String, participant: String, seq: Int64) throws(ChatError) -> Int64 {
        try inner.markRead(room: room, participant: participant, seq: seq)
    }
    func readReceipts(room: String, limit: Int) throws(ChatError) -> [String: Int64] { try inner.readReceipts(room: room, limit: limit) }
    func prune(sentBefore: Date?, keepPerRoom: Int?) throws(ChatError) -> Int { try inner.prune(sentBefore: sentBefore, keepPerRoom: keepPerRoom) }
}
