import MediaPipeline
import MediaWire

/// What the relay's workers share, kept by ``RelayServer`` under one lock and touched only on the
/// control path (opening and ending sessions, never per packet): which worker holds each room, and
/// the quotas that are relay-wide rather than per room — sessions on the relay, sessions of one
/// identity, session opens per identity. I/O-free; the time is given.
///
/// **Placement.** A room has a home worker, where its publishers are and its subscribers start,
/// so that a call or a small broadcast shares one event loop and forwarding needs no hand-off. A
/// room is placed when its first session opens, on the worker with the fewest sessions and opens
/// under way (the lowest index on a tie), and keeps its home while it has a session or an open
/// under way; then its entry is dropped, and it is placed afresh next time.
///
/// **Spreading.** A subscriber goes to its room's home while that worker holds fewer than
/// ``RelayLimits/spreadAbove`` sessions (of every room); past that, to the least loaded worker —
/// the home on a tie —, which gets a mirror of the publication through a pipe from the home
/// (``PipeOut``): the home's loop hands each packet once to each other worker that has the room's
/// subscribers, and those fan out to their own. A room larger than one loop can serve so uses
/// several, and rooms that fit stay whole.
///
/// The table holds at most one entry per live session or open in flight.
struct RelayDirectory {
    struct Placement: Equatable {
        /// The worker its publishers are on.
        var home: Int
        /// Sessions of the room open, by worker.
        var sessions: [Int: Int] = [:]
        /// Opens admitted and not yet finished, by worker.
        var pending: [Int: Int] = [:]

        var total: Int { sessions.values.reduce(0, +) + pending.values.reduce(0, +) }
        /// Workers holding a session or an open of the room, the home first.
        var workers: [Int] {
            let others = Set(sessions.filter { $0.value > 0 }.keys).union(pending.filter { $0.value > 0 }.keys).subtracting([home])
            return [home] + others.sorted()
        }
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

    private func load(_ w: Int) -> Int { sessionsOnWorker[w] + pendingOnWorker[w] }

    /// Checks the relay-wide and per-room quotas for an open by `identity` (empty: an internal
    /// caller, no identity quota) in `room`, reserves its place, and answers the worker it goes
    /// to: a publisher's is the room's home, a subscriber's as the spreading rule says. Every
    /// admitted open must be followed by ``finish(room:identity:worker:opened:)``; one that made a
    /// session is counted as a session from ``sessionOpened(room:identity:worker:)`` on, not twice.
    mutating func admit(room: String, identity: String, publishing: Bool = true, now: MediaTime) throws(RelayError) -> Int {
        guard sessions + pendingTotal < limits.sessions else {
            refused["session-at-capacity", default: 0] += 1
            throw RelayError(.atCapacity, "the relay holds \(limits.sessions) sessions, the most it takes; try again later")
        }
        guard (rooms[room]?.total ?? 0) < limits.sessionsPerRoom else {
            refused["session-at-capacity", default: 0] += 1
            throw RelayError(.atCapacity, "room \(room) holds \(limits.sessionsPerRoom) sessions, the most a room takes")
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
        let home: Int
        if let placed = rooms[room] {
            home = placed.home
        } else {
            // Opens under way count: a burst of new rooms spreads before their sessions exist.
            home = sessionsOnWorker.indices.min { load($0) < load($1) } ?? 0
            rooms[room] = Placement(home: home)
        }
        var worker = home
        if !publishing && load(home) >= limits.spreadAbove {
            // The home is busy: the least loaded worker, the home when it is no busier.
            worker = sessionsOnWorker.indices.min { (load($0), $0 == home ? 0 : 1, $0) < (load($1), $1 == home ? 0 : 1, $1) } ?? home
        }
        rooms[room]?.pending[worker, default: 0] += 1
        pendingOnWorker[worker] += 1
        return worker
    }

    /// An admitted open (to `worker`) has finished. If it made a session, its pending place was
    /// already turned into that session by ``sessionOpened(room:identity:worker:)``; else it is
    /// given back here.
    mutating func finish(room: String, identity: String, worker: Int, opened: Bool) {
        if !opened { releasePending(room: room, identity: identity, worker: worker) }
        dropIfEmpty(room)
    }

    private mutating func releasePending(room: String, identity: String, worker: Int) {
        guard let p = rooms[room], p.pending[worker, default: 0] > 0, pendingOnWorker.indices.contains(worker) else { return }
        pendingTotal = max(0, pendingTotal - 1)
        if !identity.isEmpty { Self.decrement(&pendingOfIdentity, identity) }
        Self.decrement(&rooms[room, default: p].pending, worker)
        pendingOnWorker[worker] = max(0, pendingOnWorker[worker] - 1)
    }

    /// A worker opened a session (called from its loop, inside the open): the open's pending
    /// place becomes the session.
    mutating func sessionOpened(room: String, identity: String, worker: Int) {
        releasePending(room: room, identity: identity, worker: worker)
        if sessionsOnWorker.indices.contains(worker) { sessionsOnWorker[worker] += 1 }
        if !identity.isEmpty { sessionsOfIdentity[identity, default: 0] += 1 }
        // A room opened on a worker without an admit (tests) is recorded where it is.
        rooms[room, default: Placement(home: worker)].sessions[worker, default: 0] += 1
    }

    /// A worker ended a session (deleted, stopped, or its consent lapsed).
    mutating func sessionClosed(room: String, identity: String, worker: Int) {
        if sessionsOnWorker.indices.contains(worker) { sessionsOnWorker[worker] = max(0, sessionsOnWorker[worker] - 1) }
        if !identity.isEmpty { Self.decrement(&sessionsOfIdentity, identity) }
        if rooms[room] != nil { Self.decrement(&rooms[room, default: Placement(home: worker)].sessions, worker) }
        dropIfEmpty(room)
    }

    private mutating func dropIfEmpty(_ room: String) {
        if let p = rooms[room], p.total <= 0 { rooms[room] = nil }
    }

    private static func decrement<Key: Hashable>(_ counts: inout [Key: Int], _ key: Key) {
        if let n = counts[key], n > 1 { counts[key] = n - 1 } else { counts[key] = nil }
    }
}
