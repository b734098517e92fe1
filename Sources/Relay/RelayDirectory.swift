import MediaPipeline
import MediaWire

/// What the relay's workers share, kept by ``RelayServer`` under one lock and touched only on the
/// control path (opening and ending sessions, never per packet): which worker holds each room, and
/// the quotas that are relay-wide rather than per room — sessions on the relay, sessions of one
/// identity, session opens per identity. I/O-free; the time is given.
///
/// **Placement.** A room lives on one worker, so that its publisher and its subscribers share an
/// event loop and forwarding needs no hand-off. A room is placed when its first session opens, on
/// the worker with the fewest sessions (the lowest index on a tie), and stays there while it has a
/// session or an open under way; then its entry is dropped, and it is placed afresh next time.
/// The table holds at most one entry per live session or open in flight.
struct RelayDirectory {
    struct Placement: Equatable {
        var worker: Int
        /// Sessions of the room open on its worker.
        var sessions = 0
        /// Opens admitted and not yet finished.
        var pending = 0
    }

    let limits: RelayLimits
    private(set) var rooms: [String: Placement] = [:]
    /// Sessions per worker, and opens under way per worker: the load placement goes by.
    private(set) var sessionsOnWorker: [Int]
    private var pendingOnWorker: [Int]
    private var sessionsOfIdentity: [String: Int] = [:]
    private var pendingOfIdentity: [String: Int] = [:]
    private var pendingTotal = 0
    private var openRate: OpenRateLimiter
    /// Opens refused here, by reason (the relay's drop counters' names).
    private(set) var refused: [String: Int] = [:]

    init(workers: Int, limits: RelayLimits) {
        self.limits = limits
        openRate = OpenRateLimiter(limits: limits)
        sessionsOnWorker = Array(repeating: 0, count: max(1, workers))
        pendingOnWorker = sessionsOnWorker
    }

    var sessions: Int { sessionsOnWorker.reduce(0, +) }

    /// Checks the relay-wide quotas for an open by `identity` (empty: an internal caller, no
    /// identity quota) in `room`, reserves its place, and answers the worker that holds the room.
    /// Every admitted open must be followed by ``finish(room:identity:opened:)``; one that made a session
    /// is counted as a session from ``sessionOpened(room:identity:worker:)`` on, not twice.
    mutating func admit(room: String, identity: String, now: MediaTime) throws(RelayError) -> Int {
        guard sessions + pendingTotal < limits.sessions else {
            refused["session-at-capacity", default: 0] += 1
            throw RelayError(.atCapacity, "the relay holds \(limits.sessions) sessions, the most it takes; try again later")
        }
        if !identity.isEmpty {
            guard sessionsOfIdentity[identity, default: 0] + pendingOfIdentity[identity, default: 0] < limits.sessionsPerIdentity else {
                refused["session-over-quota", default: 0] += 1
                throw RelayError(
                    .overQuota, "\(identity) holds \(limits.sessionsPerIdentity) media sessions, the most one identity may; end one (DELETE) first")
            }
            guard openRate.admit(identity, now: now) else {
                refused["session-open-rate", default: 0] += 1
                throw RelayError(
                    .overQuota,
                    "\(identity) opened more than \(limits.sessionOpenBurst) sessions in a burst (\(limits.sessionOpensPerMinute) a minute); wait a few seconds")
            }
            pendingOfIdentity[identity, default: 0] += 1
        }
        pendingTotal += 1
        if rooms[room] == nil {
            // Opens under way count: a burst of new rooms spreads before their sessions exist.
            func load(_ w: Int) -> Int { sessionsOnWorker[w] + pendingOnWorker[w] }
            let least = sessionsOnWorker.indices.min { load($0) < load($1) } ?? 0
            rooms[room] = Placement(worker: least)
        }
        rooms[room]?.pending += 1
        let worker = rooms[room]?.worker ?? 0
        pendingOnWorker[worker] += 1
        return worker
    }

    /// An admitted open has finished. If it made a session, its pending place was already turned
    /// into that session by ``sessionOpened(room:identity:worker:)``; else it is given back here.
    mutating func finish(room: String, identity: String, opened: Bool) {
        if !opened { releasePending(room: room, identity: identity) }
        dropIfEmpty(room)
    }

    private mutating func releasePending(room: String, identity: String) {
        guard let p = rooms[room], p.pending > 0 else { return }
        pendingTotal = max(0, pendingTotal - 1)
        if !identity.isEmpty { Self.decrement(&pendingOfIdentity, identity) }
        rooms[room]?.pending -= 1
        pendingOnWorker[p.worker] = max(0, pendingOnWorker[p.worker] - 1)
    }

    /// A worker opened a session (called from its loop, inside the open): the open's pending
    /// place becomes the session.
    mutating func sessionOpened(room: String, identity: String, worker: Int) {
        releasePending(room: room, identity: identity)
        if sessionsOnWorker.indices.contains(worker) { sessionsOnWorker[worker] += 1 }
        if !identity.isEmpty { sessionsOfIdentity[identity, default: 0] += 1 }
        // A room opened on a worker other than its placement cannot happen through ``admit``; a
        // direct open (tests) is recorded where it is.
        rooms[room, default: Placement(worker: worker)].sessions += 1
    }

    /// A worker ended a session (deleted, stopped, or its consent lapsed).
    mutating func sessionClosed(room: String, identity: String, worker: Int) {
        if sessionsOnWorker.indices.contains(worker) { sessionsOnWorker[worker] = max(0, sessionsOnWorker[worker] - 1) }
        if !identity.isEmpty { Self.decrement(&sessionsOfIdentity, identity) }
        rooms[room]?.sessions -= 1
        dropIfEmpty(room)
    }

    private mutating func dropIfEmpty(_ room: String) {
        if let p = rooms[room], p.sessions <= 0, p.pending <= 0 { rooms[room] = nil }
    }

    private static func decrement(_ counts: inout [String: Int], _ key: String) {
        if let n = counts[key], n > 1 { counts[key] = n - 1 } else { counts[key] = nil }
    }
}
