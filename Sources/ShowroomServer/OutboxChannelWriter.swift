import NIOCore
import NIOWebSocket
import Signaling
import Synchronization

/// Writes one `/ws` connection's ``Outbox`` to its socket on the connection's own event loop.
///
/// A delivery queues the encoded message in the outbox; if the writer is idle the outbox wakes it
/// with one `execute` on the channel's loop, and everything queued by the time it runs goes out
/// as text frames in one flush — however many rooms and sessions delivered meanwhile. No Swift
/// task is woken per message (the writer task and its hop to the loop cost a thread switch per
/// delivery: 9% of the server's CPU in a profile at 16,000 deliveries/s, docs/benchmarks.md).
///
/// **Backpressure.** A batch whose write the socket does not finish at once (a client that reads
/// slowly or not at all) holds the writer until it is written; what arrives meanwhile waits in the
/// outbox, whose byte budget (the batch being written included) ends a connection that cannot keep
/// up with `slow_consumer`. So NIO buffers at most one batch (``maximumBatch``) per connection.
///
/// Its frames enter the pipeline at its tail, like the framework's own writer's (whose
/// `NIOAsyncChannelHandler` passes writes through), and go through the same `WebSocketFrameEncoder`
/// — but not through the framework's WebSocket extensions, of which the server negotiates none.
/// The connection's Close frame is written by the framework after ``finished()`` returns; a Close
/// the framework writes first (its echo of the client's) ends the writer through the
/// ``WebSocketCloseGate``.
final class OutboxChannelWriter: @unchecked Sendable {
    /// The most one batch (one flush) holds: 64 messages and 64 KiB of encoded messages (a single
    /// larger message is a batch of its own) — what SwiftNIO buffers for one connection, each frame
    /// with its header and power-of-two storage, stays near what the budget counts.
    static let maximumBatch = 64 << 10
    static let maximumBatchMessages = 64

    private let outbox: Outbox
    private let channel: any Channel
    // Touched on the channel's loop only (hence @unchecked Sendable):
    /// A batch's write is under way: its promise has not completed.
    private var writing = false
    /// Inside ``drain()``: a write that completes at once lets the loop there go on.
    private var draining = false
    private var done = false
    private let ended = Mutex<(ended: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    init(outbox: Outbox, channel: any Channel) {
        self.outbox = outbox
        self.channel = channel
    }

    /// Starts writing what the outbox gets (and has already), behind a ``WebSocketCloseGate``.
    func start() {
        channel.eventLoop.execute { [self] in
            _ = WebSocketCloseGate.install(on: channel)
            // The outbox holds this wake-up (and so the writer) until it has ended.
            outbox.onWake { [self] in channel.eventLoop.execute { self.drain() } }
        }
    }

    /// Returns once the outbox has ended: all of it written, or dropped because the socket failed.
    func finished() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = ended.withLock { e -> Bool in
                if e.ended { return true }
                e.waiter = c
                return false
            }
            if now { c.resume() }
        }
    }

    /// Whether the outbox has ended (``finished()`` has returned or would at once).
    var hasEnded: Bool { ended.withLock { $0.ended } }

    /// Writes batches while the socket takes them at once; stops when the outbox is empty (the
    /// next delivery wakes it) or a batch's write is pending (its completion goes on).
    private func drain() {
        assert(channel.eventLoop.inEventLoop)
        guard !writing, !done else { return }
        draining = true
        defer { draining = false }
        while true {
            let (texts, ended) = outbox.takeBatch(maximumBytes: Self.maximumBatch, maximumCount: Self.maximumBatchMessages)
            if texts.isEmpty {
                if ended { end() }
                return
            }
            let written = channel.eventLoop.makePromise(of: Void.self)
            for (i, text) in texts.enumerated() {
                let frame = WebSocketFrame(fin: true, opcode: .text, data: channel.allocator.buffer(string: text))
                channel.write(frame, promise: i == texts.count - 1 ? written : nil)
            }
            writing = true
            written.futureResult.whenComplete { [self] result in
                writing = false
                // The socket is gone, or a Close went out: nothing more can be written (the next
                // batch then ends it).
                if case .failure = result { outbox.abandon(last: nil) }
                if !draining { drain() }
            }
            channel.flush()
            if writing { return }  // the socket has not taken it all yet
        }
    }

    private func end() {
        done = true
        let waiter = ended.withLock { e in
            e.ended = true
            defer { e.waiter = nil }
            return e.waiter
        }
        waiter?.resume()
    }
}
