import Foundation
import ShowroomTestSupport
import Synchronization
import Testing

/// The tests' way to run children (`Subprocess`) keeps the three promises the live tests rely
/// on: waiting holds no thread, a child inherits no descriptor of the test process, and nothing a
/// child started outlives it.
@Suite struct SubprocessTests {
    /// Four children waited for at once, and while every wait is under way no thread of this
    /// process sits in a wait system call: a blocking wait (`Process.waitUntilExit`) parks a
    /// thread of the pool there for the child's whole life, and two at once stopped every other
    /// test in CI. (Read from `/proc/self/task/*/syscall`, which names the call a thread is
    /// blocked in — whatever else the machine is doing, unlike a progress measurement.)
    @Test func waitingHoldsNoThread() async throws {
        // The sampler is a thread of its own: with blocking waits, the pool's threads (and a task
        // sampling on them) would be the ones stuck.
        final class Sampler: Sendable {
            let most = Atomic(0)
            let done = Atomic(false)
        }
        let sampler = Sampler()
        let children = try (0..<4).map { _ in try Subprocess("sleep", ["1.5"]) }
        let pids = Set(children.map(\.pid))
        let started = ContinuousClock.now
        Thread {
            while ContinuousClock.now - started < .seconds(1.2) {
                if ContinuousClock.now - started > .seconds(0.3) {
                    sampler.most.store(max(sampler.most.load(ordering: .relaxed), Self.threadsWaiting(for: pids)), ordering: .relaxed)
                }
                usleep(5_000)
            }
            sampler.done.store(true, ordering: .releasing)
        }.start()
        let ended = await withTaskGroup(of: Subprocess.Termination?.self) { group in
            for child in children { group.addTask { await child.exit(within: .seconds(30)) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        while !sampler.done.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(10)) }
        let blocked = sampler.most.load(ordering: .relaxed)
        #expect(ended == Array(repeating: .exited(0), count: 4))
        #expect(blocked == 0, "\(blocked) threads sat in a wait call while four children were waited for")
    }

    /// How many of this process's threads are blocked now in wait4 or waitid for one of `pids` or
    /// for any child. A wait for another child does not count: another test's `Subprocess` reaps
    /// its SIGKILLed child with a short blocking wait (CI, stop 24: one was sampled mid-wait).
    /// `/proc/self/task/*/syscall` is "number arg1 arg2 …" in hex: wait4(pid, …), waitid(idtype, id, …).
    static func threadsWaiting(for pids: Set<pid_t>) -> Int {
        #if arch(x86_64)
        let (wait4, waitid) = (61, 247)
        #else
        let (wait4, waitid) = (260, 95)  // aarch64
        #endif
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return threads.count { thread in
            let line = (try? String(contentsOfFile: "/proc/self/task/\(thread)/syscall", encoding: .utf8)) ?? ""
            let fields = line.split(separator: " ").map { field in
                UInt64(field.hasPrefix("0x") ? field.dropFirst(2) : field, radix: field.hasPrefix("0x") ? 16 : 10)
            }
            guard fields.count >= 3, let number = fields[0], let arg1 = fields[1], let arg2 = fields[2] else { return false }
            // pid_t is 32 bits: -1 ("any child") arrives as 0xffffffff or 0xffffffffffffffff.
            let asPid = { (raw: UInt64) in pid_t(truncatingIfNeeded: raw) }
            switch Int(number) {
            case wait4: return asPid(arg1) <= 0 || pids.contains(asPid(arg1))
            case waitid: return arg1 == 0 /* P_ALL */ || arg1 == 2 /* P_PGID */ || pids.contains(asPid(arg2))
            default: return false
            }
        }
    }

    /// A descriptor the test process holds open (a pipe, here) is not open in the child: a read to
    /// EOF in one test can then not wait on another test's child.
    @Test func aChildInheritsNoDescriptorButItsThreeStreams() async throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let child = try Subprocess("sh", ["-c", "ls /proc/$$/fd"], output: .capture)
        #expect(await child.exit(within: .seconds(30)) == .exited(0))
        let open = Set(child.output().split(separator: "\n").compactMap { Int32($0) })
        #expect(open == [0, 1, 2], "the child had \(open.sorted()) open; the test's pipe is \(fds)")
    }

    /// What a child started and left running goes with it, as does the child itself when its
    /// `Subprocess` goes without having been ended (a test that failed part-way).
    @Test func nothingAChildStartedOutlivesIt() async throws {
        let child = try Subprocess("sh", ["-c", "sleep 300 & echo $!; wait"], output: .capture)
        var grandchild: pid_t?
        for _ in 0..<500 where grandchild == nil {
            grandchild = pid_t(child.output().trimmingCharacters(in: .whitespacesAndNewlines))
            if grandchild == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let orphan = try #require(grandchild, "the child never told its own child's pid")
        #expect(kill(orphan, 0) == 0)
        #expect(await child.end(SIGTERM) == .signaled(SIGTERM))
        var gone = false
        for _ in 0..<500 where !gone {  // a zombie until init reaps it: its state is Z, then absent
            let state = (try? String(contentsOfFile: "/proc/\(orphan)/stat", encoding: .utf8))?.split(separator: " ").dropFirst(2).first
            gone = state == nil || state == "Z"
            if !gone { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(gone, "the sleep the child started survived it")

        var pid: pid_t = 0
        do {
            let abandoned = try Subprocess("sleep", ["300"])
            pid = abandoned.pid
            #expect(abandoned.isRunning)
        }
        #expect(kill(pid, 0) == -1 && errno == ESRCH, "a child whose Subprocess went is killed and reaped")
    }
}
