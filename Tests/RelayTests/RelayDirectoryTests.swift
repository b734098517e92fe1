import MediaPipeline
@testable import Relay
import Testing

/// ``RelayDirectory``: where rooms are placed among the media workers, and the quotas that hold
/// for the whole relay however many workers it has.
@Suite struct RelayDirectoryTests {
    static func opened(_ d: inout RelayDirectory, _ room: String, _ identity: String, now: MediaTime = .zero) throws -> Int {
        let w = try d.admit(room: room, identity: identity, now: now)
        d.sessionOpened(room: room, identity: identity, worker: w)
        d.finish(room: room, identity: identity, opened: true)
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
        d.finish(room: "new", identity: "p", opened: false)
        #expect(d.rooms["new"]?.worker == 1)
        d.sessionOpened(room: "new", identity: "v", worker: 1)
        d.finish(room: "new", identity: "v", opened: true)
        #expect(d.rooms["new"] == RelayDirectory.Placement(worker: 1, sessions: 1, pending: 0))
        // Failed opens leave nothing behind.
        _ = try d.admit(room: "ghost", identity: "g", now: .zero)
        d.finish(room: "ghost", identity: "g", opened: false)
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
        d.finish(room: "call", identity: "agent", opened: true)
        // … and another identity's open is not refused for the relay's total either.
        var tight = RelayLimits()
        tight.sessions = 2
        var t = RelayDirectory(workers: 1, limits: tight)
        let a = try t.admit(room: "r", identity: "a", now: .zero)
        t.sessionOpened(room: "r", identity: "a", worker: a)
        _ = try t.admit(room: "r", identity: "b", now: .zero)  // 1 session + 1 pending = 2: admitted
        t.finish(room: "r", identity: "a", opened: true)
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
            _ = try churn.admit(room: room, identity: "c", now: .zero)
            churn.finish(room: room, identity: "c", opened: false)
        }
        #expect(throws: RelayError(.overQuota, "")) { try churn.admit(room: "c", identity: "c", now: .zero) }
        _ = try churn.admit(room: "c", identity: "c", now: MediaTime(microseconds: 1_000_000))
    }
}
