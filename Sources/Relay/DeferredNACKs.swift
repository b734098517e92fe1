import MediaPipeline

/// Video packets a subscriber without transport-wide feedback NACKed that the relay did not
/// resend when asked — it had resent them within the round trip, or the subscriber's
/// ``RetransmissionBudget`` was spent — answered again when their time is due, up to
/// ``attempts`` times: a round trip after the last answer, then two, then four
/// (``RelayState/answer(_:kind:to:from:now:deferred:left:)``). A receiver that NACKs only when it sees
/// a new gap (aiortc, which then lists every packet it still lacks) sends its last NACK while its
/// congested path is still full, and the answers to it are lost in the queue or never sent; a
/// packet it never gets stalls it until 512 more have come.
///
/// Bounded: at most ``capacity`` packets wait (a NACK flood fills it and no more), each once (a
/// packet already waiting keeps its time and attempts), each answered at most ``attempts`` more
/// times for one stay (a NACK after the stay may start another; every answer is still within the
/// budget and at most one per interval), and only while it is among the last ``reach`` the
/// subscriber was sent. Adding costs a set lookup; the tick's ``takeDue(now:)`` one pass.
struct DeferredNACKs {
    /// The most packets that wait.
    static let capacity = 128
    /// How far behind the newest packet sent one may be and still be answered again: aiortc
    /// takes a packet more than 100 behind what it has released for the start of a new stream
    /// and discards all it holds.
    static let reach: UInt16 = 96
    /// The most further answers a packet gets for one stay.
    static let attempts = 3

    private var waiting: [(seq: UInt16, due: MediaTime, left: Int)] = []
    private var members = Set<UInt16>()
    /// The earliest time any waits for (none when empty).
    private var earliest: MediaTime?

    var isEmpty: Bool { waiting.isEmpty }
    var count: Int { waiting.count }

    /// Queues `seq` for its next answer at `due`, with `left` answers after that one. False when
    /// it is full (nothing queued); true when queued or already waiting.
    mutating func add(_ seq: UInt16, due: MediaTime, left: Int = attempts - 1) -> Bool {
        if members.contains(seq) { return true }
        guard waiting.count < Self.capacity else { return false }
        waiting.append((seq, due, left))
        members.insert(seq)
        earliest = min(earliest ?? due, due)
        return true
    }

    /// The packets whose time has come, oldest request first, taken out, each with the answers it
    /// has left after this one.
    mutating func takeDue(now: MediaTime) -> [(seq: UInt16, left: Int)] {
        guard let earliest, earliest <= now else { return [] }
        var due: [(seq: UInt16, left: Int)] = []
        var kept: [(seq: UInt16, due: MediaTime, left: Int)] = []
        var next: MediaTime?
        for entry in waiting {
            if entry.due <= now {
                due.append((entry.seq, entry.left))
                members.remove(entry.seq)
            } else {
                kept.append(entry)
                next = min(next ?? entry.due, entry.due)
            }
        }
        waiting = kept
        self.earliest = next
        return due
    }
}
