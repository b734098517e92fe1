import Dispatch
import Foundation
import PostgresStores
@testable import ShowroomServer
import Synchronization
import Testing

/// The bound on blocking database calls made for requests (`BlockingCallQueue`, the cluster's
/// placement lookups): while the database stalls, a flood of WHIP/WHEP offers holds a fixed set
/// of threads and at most `limit` waiting calls; the rest fail at once, and an urgent call (the
/// node's heartbeat) still gets in.
@Suite struct BlockingCallQueueTests {
    /// Holds every call that enters until opened; counts the calls inside.
    final class Gate: Sendable {
        private let semaphore = DispatchSemaphore(value: 0)
        let inside = Atomic<Int>(0)
        /// Calls that ran to their end (counted by the calls themselves).
        let ran = Atomic<Int>(0)
        /// Set when a caller got its answer.
        let answered = Atomic<Bool>(false)
        /// Set by an urgent call's body.
        let urgentRan = Atomic<Bool>(false)
        func pass() {
            inside.add(1, ordering: .sequentiallyConsistent)
            semaphore.wait()
            semaphore.signal()
        }
        func open() { semaphore.signal() }
    }

    /// Waits (yielding) until `condition` holds; fails after 10 s.
    static func eventually(_ what: @autoclosure () -> String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("not within 10 s: \(what())")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test func aFloodPastTheBoundIsRefusedAtOnceAndTheRestRun() async throws {
        let calls = BlockingCallQueue(threads: 2, limit: 4, maximumWait: .seconds(600))
        let gate = Gate()
        func call(_ i: Int) -> Task<Int, any Error> {
            Task { try await calls.run { gate.pass(); gate.ran.add(1, ordering: .sequentiallyConsistent); return i } }
        }
        // Two calls hold the two threads (the database stalls) ...
        var held = (0..<2).map(call)
        try await Self.eventually("two calls inside: \(gate.inside.load(ordering: .sequentiallyConsistent))") { gate.inside.load(ordering: .sequentiallyConsistent) == 2 }
        // ... four wait for them, one after another (four at once before a thread took one would
        // have been refused past the bound of four waiting, as they should) ...
        for i in 2..<6 {
            held.append(call(i))
            try await Self.eventually("call \(i) waiting: \(calls.queued)") { calls.queued == i - 1 }
        }
        #expect(gate.inside.load(ordering: .sequentiallyConsistent) == 2)
        // The seventh is refused without waiting, and runs nothing.
        let seventh = Task { () async throws -> Int in
            defer { gate.answered.store(true, ordering: .sequentiallyConsistent) }
            return try await calls.run { gate.ran.add(1, ordering: .sequentiallyConsistent); return 7 }
        }
        try await Self.eventually("the seventh call answered or waiting") { gate.answered.load(ordering: .sequentiallyConsistent) || calls.queued > 4 }
        guard gate.answered.load(ordering: .sequentiallyConsistent) else {
            Issue.record("a call past the bound was taken: \(calls.queued) waiting")
            gate.open()
            return
        }
        guard case .failure(let error) = await seventh.result else {
            Issue.record("a call past the bound ran")
            gate.open()
            return
        }
        #expect("\(error)".contains("4 database calls wait already"), "\(error)")
        // The node's heartbeat is not counted against the bound (with four waiting, another
        // call would be refused), nor does it wait behind the calls that hold the threads: it
        // runs while they still do.
        let heartbeat = Task { () async throws -> String in
            try await calls.run(urgent: true) {
                gate.urgentRan.store(true, ordering: .sequentiallyConsistent)
                return "beat"
            }
        }
        try await Self.eventually("the heartbeat ran while the threads are held") { gate.urgentRan.load(ordering: .sequentiallyConsistent) }
        gate.open()
        var results: [Int] = []
        for task in held { results.append(try await task.value) }
        #expect(results == Array(0..<6))
        #expect(try await heartbeat.value == "beat")
        #expect(gate.ran.load(ordering: .sequentiallyConsistent) == 6)
        #expect(calls.queued == 0)
    }

    /// The wait is bounded by the system's clock too: a call still waiting `maximumWait` after it
    /// came fails then, while the threads are still held (not only when one takes it).
    @Test func aCallWaitingPastItsBoundFailsWhileTheThreadsAreStillHeld() async throws {
        let calls = BlockingCallQueue(threads: 1, limit: 4, maximumWait: .milliseconds(200))
        let gate = Gate()
        let first = Task { () async throws -> Int in try await calls.run { gate.pass(); return 1 } }
        try await Self.eventually("the first call inside") { gate.inside.load(ordering: .sequentiallyConsistent) == 1 }
        let late = Task { () async throws -> Int in
            defer { gate.answered.store(true, ordering: .sequentiallyConsistent) }
            return try await calls.run { gate.ran.add(1, ordering: .sequentiallyConsistent); return 2 }
        }
        try await Self.eventually("the waiting call answered with the thread still held") { gate.answered.load(ordering: .sequentiallyConsistent) }
        guard case .failure(let error) = await late.result else {
            Issue.record("a call ran while the only thread was held")
            gate.open()
            return
        }
        #expect("\(error)".contains("waited over"), "\(error)")
        #expect(calls.queued == 0)
        gate.open()
        #expect(try await first.value == 1)
        #expect(gate.ran.load(ordering: .sequentiallyConsistent) == 0)
    }

    @Test func aCallThatWaitedTooLongForAThreadFailsUnrun() async throws {
        let clock = Mutex(ContinuousClock.now)
        let calls = BlockingCallQueue(threads: 1, limit: 4, maximumWait: .seconds(5), now: { clock.withLock { $0 } })
        let gate = Gate()
        let first = Task { () async throws -> Int in try await calls.run { gate.pass(); return 1 } }
        try await Self.eventually("the first call inside") { gate.inside.load(ordering: .sequentiallyConsistent) == 1 }
        let late = Task { () async throws -> Int in try await calls.run { gate.ran.add(1, ordering: .sequentiallyConsistent); return 2 } }
        try await Self.eventually("the second call waiting") { calls.queued == 1 }
        clock.withLock { $0 = $0 + .seconds(6) }
        gate.open()
        #expect(try await first.value == 1)
        let result = await late.result
        guard case .failure(let error) = result else {
            Issue.record("a call that waited 6 s for a thread ran")
            return
        }
        #expect("\(error)".contains("waited over"), "\(error)")
        #expect(gate.ran.load(ordering: .sequentiallyConsistent) == 0)
        // A call that comes later runs.
        #expect(try await calls.run { 1 } == 1)
    }
}

/// A failure that repeats with every request is logged once per interval, with a count.
@Suite struct LogThrottleTests {
    @Test func theFirstIsWrittenTheRestCountedUntilTheIntervalEnds() {
        let throttle = LogThrottle(interval: .seconds(10))
        let start = ContinuousClock.now
        #expect(throttle.admit(now: start) == 0, "the first is written")
        for i in 1...1_000 { #expect(throttle.admit(now: start + .milliseconds(i)) == nil) }
        #expect(throttle.admit(now: start + .seconds(10)) == 1_000, "the next line says how many were not")
        #expect(throttle.admit(now: start + .seconds(11)) == nil)
        #expect(throttle.admit(now: start + .seconds(30)) == 1)
    }
}
