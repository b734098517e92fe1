/// What is waiting to be written to one connection, bounded in **bytes** (the encoded JSON), not
/// in messages: one message can be 64 KiB and a `history` page many of them. I/O-free; ``Outbox``
/// drives it for a live connection, tests drive it directly.
///
/// Bytes count from the moment a message is queued until the writer asks for the next one (the
/// one it is writing counts too). Past the budget nothing more is taken: the caller closes the
/// connection (`slow_consumer`) and ``abandon(last:)`` drops what is queued — everything in it is
/// either stored (chat, which the client gets back by resuming) or ephemeral (typing, presence).
public struct OutboxQueue: Sendable {
    public enum Phase: Sendable, Equatable {
        /// Taking messages.
        case open
        /// Taking no more; what is queued is still written, then it ends.
        case closing
        /// Everything written (or dropped): the writer stops.
        case ended
    }

    public enum Offer: Sendable, Equatable {
        case queued
        /// It would take the queue past its budget; nothing was queued.
        case overBudget
        /// The queue is closing or ended.
        case closed
    }

    public let budget: Int
    private var items: [String] = []
    private var head = 0
    private var inFlight = 0
    /// Bytes queued, the one being written included.
    public private(set) var bytes = 0
    /// The most it has held.
    public private(set) var peak = 0
    public private(set) var phase = Phase.open

    public init(budget: Int) { self.budget = budget }

    public var isEmpty: Bool { head == items.count }

    /// Queues `text` if it fits in the budget.
    public mutating func offer(_ text: String) -> Offer {
        guard phase == .open else { return .closed }
        let n = text.utf8.count
        guard bytes + n <= budget else { return .overBudget }
        push(text, n)
        return .queued
    }

    /// Takes no more; `last` (the `closing` message) goes after what is queued — it is queued even
    /// past the budget, being small and the last.
    public mutating func close(last: String?) {
        guard phase == .open else { return }
        if let last { push(last, last.utf8.count) }
        phase = isEmpty && inFlight == 0 ? .ended : .closing
    }

    /// Drops what is queued (not the message being written) and ends after `last`.
    public mutating func abandon(last: String?) {
        guard phase != .ended else { return }
        bytes -= items[head...].reduce(0) { $0 + $1.utf8.count }
        items = []
        head = 0
        if let last {
            push(last, last.utf8.count)
            phase = .closing
        } else {
            phase = inFlight == 0 ? .ended : .closing
        }
    }

    /// The writer is done with the previous message: the next one to write, or nil when there is
    /// none (then ``phase`` says whether to wait or stop). A batch of one.
    public mutating func next() -> String? { nextBatch(maximumBytes: 0, maximumCount: 1).first }

    /// The writer is done with the previous batch: the next messages to write, in order — at most
    /// `maximumCount`, as many as fit in `maximumBytes`, at least one — or none (then ``phase``
    /// says whether to wait or stop). The batch counts as queued until the next call.
    public mutating func nextBatch(maximumBytes: Int, maximumCount: Int) -> [String] {
        bytes -= inFlight
        inFlight = 0
        var batch: [String] = []
        while head < items.count && batch.count < maximumCount {
            let n = items[head].utf8.count
            if !batch.isEmpty && inFlight + n > maximumBytes { break }
            batch.append(items[head])
            inFlight += n
            head += 1
        }
        if batch.isEmpty && phase == .closing { phase = .ended }
        compact()
        return batch
    }

    /// Lets go of messages already taken: all of them once the queue is empty (a reader of large
    /// history pages would otherwise keep up to 64 of them beyond the budget), else once the taken
    /// part dominates (amortized O(1) per message).
    private mutating func compact() {
        if head == items.count {
            items.removeAll(keepingCapacity: items.count <= 1_024)
            head = 0
        } else if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    private mutating func push(_ text: String, _ n: Int) {
        items.append(text)
        bytes += n
        peak = max(peak, bytes)
    }
}
