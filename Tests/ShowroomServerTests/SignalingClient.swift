import Foundation
import HummingbirdWSClient
import Logging
import Synchronization
import Testing

/// A real WebSocket client of `/ws` for tests: what it receives is kept in order; `next` waits
/// (bounded) for the next message of a type.
final class SignalingClient: Sendable {
    enum Command: Sendable { case send(String), close }
    final class Box: Sendable {
        let received = Mutex<[[String: any Sendable]]>([])
        let cursor = Mutex(0)
        let closed = Mutex(false)
    }
    private let commands: AsyncStream<Command>.Continuation
    private let box = Box()
    private let task: Task<Void, Never>

    init(port: Int) {
        let (stream, continuation) = AsyncStream.makeStream(of: Command.self)
        commands = continuation
        let box = self.box
        task = Task {
            // Frames up to 4 MiB: the server's answers may be larger than the library's 16 KiB default.
            _ = try? await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)/ws", configuration: .init(maxFrameSize: 1 << 22, autoPing: .disabled), logger: Logger(label: "ws-test")
            ) { inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await command in stream {
                            switch command {
                            case .send(let text): try await outbound.write(.text(text))
                            case .close: try await outbound.close(.normalClosure, reason: nil)
                            }
                        }
                    }
                    for try await message in inbound.messages(maxSize: 1 << 22) {
                        guard case .text(let text) = message,
                            let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
                        else { continue }
                        box.received.withLock { $0.append(object.mapValues { Self.sendable($0) }) }
                    }
                    group.cancelAll()
                }
            }
            box.closed.withLock { $0 = true }
            continuation.finish()
        }
    }

    private static func sendable(_ v: Any) -> any Sendable {
        if String(describing: type(of: v)).contains("Bool") { return (v as? Bool) ?? false }  // JSON true/false
        switch v {
        case let s as String: return s
        case let n as NSNumber: return n.doubleValue == n.doubleValue.rounded() ? n.int64Value : n.doubleValue
        case let a as [Any]: return a.map(sendable)
        case let d as [String: Any]: return d.mapValues(sendable)
        default: return String(describing: v)
        }
    }
    func send(_ object: [String: Any]) {
        let data = try! JSONSerialization.data(withJSONObject: object)
        commands.yield(.send(String(decoding: data, as: UTF8.self)))
    }

    func sendRaw(_ text: String) { commands.yield(.send(text)) }

    /// Closes from this side and waits (bounded) until the connection is gone.
    func close() async {
        commands.yield(.close)
        _ = await task.value
    }

    var isClosed: Bool { box.closed.withLock { $0 } }

    /// Waits until the connection has been closed by the server (at most `seconds`).
    func waitClosed(seconds: Double = 10) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if box.closed.withLock({ $0 }) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// The next unread message whose type is `type` (messages of other types before it stay
    /// unread only if `skipping` is false), waiting at most `seconds`.
    func next(_ type: String, seconds: Double = 10, skipping: Bool = true) async throws -> [String: any Sendable] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            let found: [String: any Sendable]? = box.received.withLock { all in
                box.cursor.withLock { c in
                    while c < all.count {
                        let m = all[c]
                        c += 1
                        if m["type"] as? String == type { return m }
                        if !skipping { return m }
                    }
                    return nil
                }
            }
            if let found { return found }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw TimeoutError(
            waitingFor: type,
            received: box.received.withLock {
                $0.map { m in
                    let t = m["type"] as? String ?? "?"
                    // A closing or error says why: its code and reason are what a failure needs.
                    guard let code = m["code"] as? String else { return t }
                    return "\(t)(\(code): \(m["reason"] as? String ?? ""))"
                }
            })
    }

    /// The first unread message whose type satisfies `matches` (those before it are marked read),
    /// or none.
    func drainUntil(_ matches: (String) -> Bool) -> [[String: any Sendable]] {
        box.received.withLock { all in
            box.cursor.withLock { c in
                while c < all.count {
                    let m = all[c]
                    c += 1
                    if matches(m["type"] as? String ?? "") { return [m] }
                }
                return []
            }
        }
    }

    /// Every unread message, in order (and marks them read).
    func drain() -> [[String: any Sendable]] {
        box.received.withLock { all in
            box.cursor.withLock { c in
                defer { c = all.count }
                return Array(all[c...])
            }
        }
    }

    /// Drops the connection without a close handshake (as a network cut does).
    func abort() async {
        task.cancel()
        _ = await task.value
    }

    /// Everything received so far of one type.
    func all(_ type: String) -> [[String: any Sendable]] { box.received.withLock { $0.filter { $0["type"] as? String == type } } }

    struct TimeoutError: Error, CustomStringConvertible {
        var waitingFor: String
        var received: [String]
        var description: String { "no \(waitingFor) message; received \(received)" }
    }

    /// hello + join; returns `joined`.
    @discardableResult
    func enter(token: String, room: String, lastSeq: Int64? = nil, seconds: Double = 10) async throws -> [String: any Sendable] {
        send(["type": "hello", "v": 1, "token": token])
        _ = try await next("welcome", seconds: seconds)
        var join: [String: Any] = ["type": "join", "room": room]
        if let lastSeq { join["lastSeq"] = lastSeq }
        send(join)
        return try await next("joined", seconds: seconds)
    }
}
