import Foundation
import HummingbirdWSClient
import Logging
import Synchronization
import WebRTCClient

/// One `/ws` connection of a desk participant (a shopper, or an agent in one consultation's
/// room), driven from outside: frames to send go into ``send(_:)`` in order, frames received come
/// out through `deliver` with their arrival time, ``finish()`` closes it. `hello` is sent first;
/// the caller answers `welcome` with `join`.
struct DeskRoomConnection: Sendable {
    private let outbox: AsyncStream<String>.Continuation
    /// Runs until the connection ends; returns why when it did not end by ``finish()``.
    let done: Task<String?, Never>

    /// Opens the connection in the background. `handshakes` bounds the connections waiting for
    /// `welcome` (the server takes 1,000 such at once).
    init(url: String, token: String, handshakes: AsyncLimiter, deliver: @escaping @Sendable (String, Int64) -> Void) {
        let (frames, outbox) = AsyncStream<String>.makeStream()
        self.outbox = outbox
        outbox.yield(#"{"type":"hello","v":1,"token":"\#(token)"}"#)
        done = Task {
            await handshakes.acquire()
            let welcomed = Once()
            defer { if welcomed.first() { handshakes.release() } }
            let finished = DoneFlag()
            do {
                // Frames from the desk are small; 1 MiB is the server's own bound on what it queues.
                let configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 20)
                try await WebSocketClient.connect(url: url, configuration: configuration, logger: Self.logger) { inbound, outbound, _ in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await text in frames { try await outbound.write(.text(text)) }
                            finished.value.store(true, ordering: .relaxed)
                            try await outbound.close(.normalClosure, reason: nil)
                        }
                        for try await message in inbound.messages(maxSize: 1 << 20) {
                            guard case .text(let text) = message else { continue }
                            if welcomed.first() { handshakes.release() }
                            deliver(text, monotonicMicros())
                        }
                        group.cancelAll()
                    }
                }
            } catch {
                return finished.value.load(ordering: .relaxed) ? nil : "\(error)"
            }
            return finished.value.load(ordering: .relaxed) ? nil : "the server closed the connection"
        }
    }

    func send(_ frame: String) { outbox.yield(frame) }

    /// Sends what is queued, then closes.
    func finish() { outbox.finish() }

    static let logger: Logger = {
        var l = Logger(label: "showroom-load")
        l.logLevel = .critical
        return l
    }()
}

/// True the first time only.
final class Once: Sendable {
    private let taken = Atomic<Bool>(false)
    func first() -> Bool { !taken.exchange(true, ordering: .relaxed) }
}

/// A flag set from one task and read from another.
final class DoneFlag: Sendable { let value = Atomic<Bool>(false) }

/// A JSON string literal of `text` (quotes, backslashes and control characters escaped).
func jsonString(_ text: String) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])) ?? Data("[\"\"]".utf8)
    return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
}

/// A chat text stamped with its send time (µs, monotonic; the tool's sides share one clock):
/// `t=<µs> rest`.
func stamped(_ rest: String) -> String { "t=\(monotonicMicros()) \(rest)" }

/// The send time in a stamped text.
func stamp(of text: String) -> Int64? {
    guard text.hasPrefix("t=") else { return nil }
    return Int64(text.dropFirst(2).prefix { $0 != " " })
}
