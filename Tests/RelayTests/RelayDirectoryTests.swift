import MediaPipeline
@testable import Relay
import Testing

/// ``RelayDirectory``: where rooms are placed among the media workers, and the quotas that hold
/// for the whole relay however many workers it has.
@Suite struct RelayDirectoryTests {
    static func opened(
        _ d: inout RelayDirectory, _ room: String, _ identity: String, publishing: Bool = true, now: MediaTime = .zero
    ) throws -> Int {
        let w = try d.admit(room: room, identity: identity, publishing: publishing, now: now)
        d.sessionOpened(room: room, identity: identity, worker: w)
        d.finish(room: room, identity: identity, worker: w, opened: true)
        return w
    }

    /// A new room goes to the worker with the fewest sessions; every session of the room follows
    /// it there; an empty room is forgotten and placed afresh.
    @Test func roomsGoToTheLeastLoadedWorkerAndStayThere() throws {
        var d = RelayDirectory(workers: 3, limits: RelayLimits())
        #expect(try Self.opened(&d, "a", "p1") == 0)
        #expect(try Self.opened(&d, "a", "v1") == 0)
        #expect(try Self.opened(&d, "b", "p2") == 1)
        #expect(try Self.opened(&d, "c", "p3") == 2)
        #expect(try Self.opened(&d, "d", "p4") == 1, "workers 1 and 2 hold one session each, worker 0 two")
        #expect(d.sessionsOnWorker == [2, 2, 1])
        // Room a empties: forgotten; it comes back on the least loaded worker.
        d.sessionClosed(room: "a", identity: "p1", worker: 0)
        d.sessionClosed(room: "a", identity: "v1", worker: 0)
        #expect(d.rooms["a"] == nil && d.sessionsOnWorker == [0, 2, 1])
        #expect(try Self.opened(&d, "a", "p1") == 0)
    }

    /// An open under way holds its room's place: a second open of the same new room, admitted
    /// before the first finished, goes to the same worker — a room is never split.
    @Test func anOpenUnderWayHoldsTheRoomsPlace() throws {
        var d = RelayDirectory(workers: 2, limits: RelayLimits())
        _ = try Self.opened(&d, "busy", "x")  // worker 0 has one session
        let first = try d.admit(room: "new", identity: "p", now: .zero)
        let second = try d.admit(room: "new", identity: "v", now: .zero)
        #expect(first == 1 && second == 1)
        // The first fails (no session); the second's is still pending: the place holds.
        d.finish(room: "new", identity: "p", worker: first, opened: false)
        #expect(d.rooms["new"]?.home == 1)
        d.sessionOpened(room: "new", identity: "v", worker: 1)
        d.finish(room: "new", identity: "v", worker: second, opened: true)
        #expect(d.rooms["new"] == RelayDirectory.Placement(home: 1, sessions: [1: 1], pending: [:]))
        // Failed opens leave nothing behind.
        let ghost = try d.admit(room: "ghost", identity: "g", now: .zero)
        d.finish(room: "ghost", identity: "g", worker: ghost, opened: false)
        #expect(d.rooms["ghost"] == nil)
    }

    /// An open that made its session counts once, not as a session and a pending open until its
    /// caller hears back (attacker's review: the last slot of an identity was refused meanwhile).
    @Test func anOpenThatSucceededCountsOnce() throws {
        var limits = RelayLimits()
        limits.sessionsPerIdentity = 2
        var d = RelayDirectory(workers: 2, limits: limits)
        _ = try Self.opened(&d, "call", "agent")
        let w = try d.admit(room: "call", identity: "agent", now: .zero)
        d.sessionOpened(room: "call", identity: "agent", worker: w)
        // Its caller has not finished yet; the identity holds exactly 2 and a third is refused …
        #expect(throws: RelayError(.overQuota, "")) { try d.admit(room: "call", identity: "agent", now: .zero) }
        d.finish(room: "call", identity: "agent", worker: w, opened: true)
        // … and another identity's open is not refused for the relay's total either.
        var tight = RelayLimits()
        tight.sessions = 2
        var t = RelayDirectory(workers: 1, limits: tight)
        let a = try t.admit(room: "r", identity: "a", now: .zero)
        t.sessionOpened(room: "r", identity: "a", worker: a)
        _ = try t.admit(room: "r", identity: "b", now: .zero)  // 1 session + 1 pending = 2: admitted
        t.finish(room: "r", identity: "a", worker: a, opened: true)
    }

    /// New rooms admitted in a burst, before any of their sessions exist, spread over the workers.
    @Test func aBurstOfNewRoomsSpreads() throws {
        var d = RelayDirectory(workers: 2, limits: RelayLimits())
        let first = try d.admit(room: "x", identity: "p1", now: .zero)
        let second = try d.admit(room: "y", identity: "p2", now: .zero)
        #expect(first != second)
    }

    /// An identity's sessions count over all workers: rooms on different workers do not multiply
    /// its quota, nor its opens per minute, nor the relay's total.
    @Test func quotasHoldAcrossWorkers() throws {
        var limits = RelayLimits()
        limits.sessionsPerIdentity = 3
        limits.sessions = 5
        var d = RelayDirectory(workers: 4, limits: limits)
        var workers = Set<Int>()
        for room in ["r1", "r2", "r3"] { workers.insert(try Self.opened(&d, room, "greedy")) }
        #expect(workers.count == 3, "three rooms on three workers")
        #expect(throws: RelayError(.overQuota, "")) { try d.admit(room: "r4", identity: "greedy", now: .zero) }
        // Pending opens count too.
        _ = try d.admit(room: "r5", identity: "other", now: .zero)
        _ = try d.admit(room: "r6", identity: "other", now: .zero)
        #expect(throws: RelayError(.atCapacity, "")) { try d.admit(room: "r7", identity: "third", now: .zero) }
        #expect(d.refused["session-over-quota"] == 1 && d.refused["session-at-capacity"] == 1)

        var rate = RelayLimits()
        rate.sessionOpenBurst = 2
        rate.sessionOpensPerMinute = 60
        var churn = RelayDirectory(workers: 2, limits: rate)
        for room in ["a", "b"] {
            let w = try churn.admit(room: room, identity: "c", now: .zero)
            churn.finish(room: room, identity: "c", worker: w, opened: false)
        }
        #expect(throws: RelayError(.overQuota, "")) { try churn.admit(room: "c", identity: "c", now: .zero) }
        _ = try churn.admit(room: "c", identity: "c", now: MediaTime(microseconds: 1_000_000))
    }

    /// A room's subscribers stay on its home worker while it holds fewer than `spreadAbove`
    /// sessions; past that each goes to the least loaded worker (the home on a tie), so a large
    /// room uses every worker; its publishers always go home. Nothing spreads with one worker.
    @Test func aLargeRoomsSubscribersSpreadOverTheWorkers() throws {
        var limits = RelayLimits()
        limits.spreadAbove = 3
        var d = RelayDirectory(workers: 3, limits: limits)
        #expect(try Self.opened(&d, "show", "p") == 0)
        var placed: [Int] = []
        for i in 0..<9 { placed.append(try Self.opened(&d, "show", "v\(i)", publishing: false)) }
        // Home fills to 3, then the least loaded each time: 1, 2, then ties go home first.
        #expect(placed == [0, 0, 1, 2, 1, 2, 1, 2, 0], "\(placed)")
        #expect(d.sessionsOnWorker == [4, 3, 3])
        #expect(d.rooms["show"]?.workers == [0, 1, 2])
        #expect(try Self.opened(&d, "show", "p2") == 0, "a publisher goes home however busy it is")
        // The room stays known while any worker holds one of its sessions.
        for (i, w) in placed.enumerated() { d.sessionClosed(room: "show", identity: "v\(i)", worker: w) }
        d.sessionClosed(room: "show", identity: "p", worker: 0)
        #expect(d.rooms["show"]?.workers == [0])
        d.sessionClosed(room: "show", identity: "p2", worker: 0)
        #expect(d.rooms["show"] == nil)

        var one = RelayDirectory(workers: 1, limits: limits)
        for i in 0..<6 { #expect(try Self.opened(&one, "show", "v\(i)", publishing: i > 0) == 0) }
    }

    /// A room's quota counts its sessions on every worker, and opens under way.
    @Test func aRoomsQuotaCountsEveryWorker() throws {
        var limits = RelayLimits()
        limits.spreadAbove = 1
        limits.sessionsPerRoom = 4
        var d = RelayDirectory(workers: 2, limits: limits)
        _ = try Self.opened(&d, "r", "p")
        _ = try Self.opened(&d, "r", "v1", publishing: false)
        _ = try Self.opened(&d, "r", "v2", publishing: false)
        _ = try d.admit(room: "r", identity: "v3", publishing: false, now: .zero)
        #expect(d.rooms["r"]?.workers == [0, 1])
        #expect(throws: RelayError(.atCapacity, "")) { try d.admit(room: "r", identity: "v4", publishing: false, now: .zero) }
    }
}
