import MediaPipeline

/// Video packets a subscriber without transport-wide feedback NACKed that the relay did not
/// resend when asked — it had resent them within the round trip, or the subscriber's
/// ``RetransmissionBudget`` was spent — answered again when their time is due, up to
/// ``attempts`` times: a round trip after the last answer, then two, then four
/// (``RelayState/answer(_:kind:to:now:deferred:left:)``). A
/// receiver that NACKs only when it sees a new gap (aiortc, which then lists every packet it
/// still lacks) sends its last NACK while its congested path is still full, and the answers to it
/// are lost in the queue or never sent; a packet it never gets stalls it until 512 more have come.
///
/// Bounded: at most ``capacity`` packets wait (a NACK flood fills it and no more), each once (a
/// packet already waiting keeps its time and attempts), each answered at most ``attempts`` more
/// times, and only while it is among the last ``reach`` the subscriber was sent.
struct DeferredNACKs {
    /// The most packets that wait.
    static let capacity = 128
    /// How far behind the newest packet sent one may be and still be answered again: aiortc
    /// takes a packet more than 100 behind what it has released for the start of a new stream
    /// and discards all it holds.
    static let reach: UInt16 = 96
    /// The most further answers a packet gets.
    static let attempts = 3

    private var waiting: [(seq: UInt16, due: MediaTime, left: Int)] = []

    var isEmpty: Bool { waiting.isEmpty }
    var count: Int { waiting.count }

    /// Queues `seq` for its next answer at `due`, with `left` answers after that one. False when
    /// it is full (nothing queued); true when queued or already waiting.
    mutating func add(_ seq: UInt16, due: MediaTime, left: Int = attempts - 1) -> Bool {
        if waiting.contains(where: { $0.seq == seq }) { return true }
        guard waiting.count < Self.capacity else { return false }
        waiting.append((seq, due, left))
        return true
    }

    /// The packets whose time has come, oldest request first, taken out, each with the answers it
    /// has left after this one.
    mutating func takeDue(now: MediaTime) -> [(seq: UInt16, left: Int)] {
        guard waiting.contains(where: { $0.due <= now }) else { return [] }
        let due = waiting.filter { $0.due <= now }.map { ($0.seq, $0.left) }
        waiting.removeAll { $0.due <= now }
        return due
    }
}
