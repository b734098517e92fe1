import Foundation
import Histogram
import Synchronization
import WebRTCClient

/// How a consultation of the run ended, as the tool saw it. Each consultation gets exactly one.
enum DeskOutcome: String, CaseIterable, Sendable {
    /// The bot answered and the shopper closed the chat, never asking for a person.
    case botOnly = "bot_only"
    /// Handed off, and resolved by an agent.
    case resolved
    /// Handed off, and the shopper gave up (closed) before an agent's first message arrived.
    case abandoned
    /// Still open when the run's drain ended: closed by the shopper then.
    case closedAtEnd = "closed_at_end"
    /// A server error or a broken connection ended it (see `errors`).
    case failed
}

/// Where a consultation is, as its shopper sees it (for the progress line and the peaks).
enum DeskPhase: Sendable {
    case withBot, queued, withAgent
}

/// What a shopper's consultation hears from the rest of the tool.
enum ShopperSignal: Sendable {
    /// Its agent resolved it (the resolve was answered 200).
    case resolved
    /// The run's drain is over: close what is still open.
    case endOfRun
}

/// What an agent's consultation hears from the agent's workspace stream.
enum AgentSignal: Sendable {
    /// `ended`: resolved, or the shopper closed it.
    case ended
    /// `revoked`: taken back (a reply overdue too long) or moved on.
    case revoked
    /// The run is over.
    case endOfRun
}

/// Everything the desk mode's shoppers and agents report into: counts, latency histograms (µs),
/// errors with one sample reason each, and the consultations open now (bounded by `--max-open`).
final class DeskLoadState: Sendable {
    /// Latencies of the consultations that arrived while `measuring` (after the warm-up, until
    /// arrivals stop) — each measured to its end, the drain included (so that long waits are not
    /// cut off by the window), but not into the closing burst at the very end.
    struct Histograms {
        var botFirstReply = DeskLoadState.histogram()
        var handOff = DeskLoadState.histogram()
        var queueWait = DeskLoadState.histogram()
        var queueToAssigned = DeskLoadState.histogram()
        var firstResponse = DeskLoadState.histogram()
        var assignment = DeskLoadState.histogram()
        var chatToShopper = DeskLoadState.histogram()
        var chatToAgent = DeskLoadState.histogram()
        var open = DeskLoadState.histogram()
        var join = DeskLoadState.histogram()
        var accept = DeskLoadState.histogram()
        var resolve = DeskLoadState.histogram()
        var agentJoin = DeskLoadState.histogram()
    }

    static func histogram() -> Histogram<UInt64> { Histogram(highestTrackableValue: 600_000_000) }

    let measuring = Atomic<Bool>(false)
    let histograms = Mutex(Histograms())

    let created = Atomic<Int>(0)
    let handedOff = Atomic<Int>(0)
    let openFailures = Atomic<Int>(0)
    let skippedAtBound = Atomic<Int>(0)
    let offers = Atomic<Int>(0)
    let accepted = Atomic<Int>(0)
    let offersWithdrawn = Atomic<Int>(0)
    let revoked = Atomic<Int>(0)
    let overdue = Atomic<Int>(0)
    let leftovers = Atomic<Int>(0)
    let assignmentSkipped = Atomic<Int>(0)
    let queueNotices = Atomic<Int>(0)
    let queueNoticeBytes = Atomic<Int>(0)
    let positionMessages = Atomic<Int>(0)
    /// Refusals explained by the other side acting first (the shopper closing while its agent
    /// accepts or resolves): expected, counted, not errors.
    let races = Mutex<[String: Int]>([:])
    let outcomes = Mutex<[DeskOutcome: Int]>([:])

    struct Open {
        /// Consultations admitted (`--max-open` bounds it), created and open (`live`), its peak.
        var count = 0, live = 0, peak = 0
        var byPhase: [DeskPhase: Int] = [:]
        var peakQueued = 0, peakWithAgent = 0
        /// Agents' open room connections, and their peak.
        var agentRooms = 0, peakAgentRooms = 0
    }
    let open = Mutex(Open())

    let errors = Mutex<[String: Int]>([:])
    /// The first reason seen for each error kind (`code: reason` from the server).
    let errorSamples = Mutex<[String: String]>([:])
    static let maximumErrorKinds = 100

    /// This run's consultations by id: their shopper's signal and what the agents need to know.
    struct Entry {
        var shopper: @Sendable (ShopperSignal) -> Void
        var agent: (@Sendable (AgentSignal) -> Void)?
        /// When its shopper saw the hand-off (µs, monotonic): was it waiting when a slot freed?
        var handedOffAt: Int64?
        /// The shopper has sent its close: an agent's refusal then is a race, not an error.
        var shopperClosing = false
        var outcome: DeskOutcome?
        /// It arrived inside the measuring window: its latencies count.
        var measured: Bool
    }
    private let entries = Mutex<[String: Entry]>([:])

    /// Distinguishes this run's identities and rooms from an earlier run's on the same server.
    let run = String(UInt32.random(in: 0...UInt32.max), radix: 36)

    // MARK: Recording

    /// Set when the drain is over and the tool closes what is still open: that burst of closes
    /// is the tool's, not a shop's, so nothing after it is recorded.
    let closing = Atomic<Bool>(false)

    func record(_ path: WritableKeyPath<Histograms, Histogram<UInt64>>, micros: Int64, measured: Bool) {
        guard measured, !closing.load(ordering: .relaxed) else { return }
        histograms.withLock { _ = $0[keyPath: path].record(UInt64(max(0, micros))) }
    }

    /// A server error (or broken connection) of `kind`, with the server's reason.
    func error(_ kind: String, _ reason: String) {
        let known = errors.withLock { e -> Bool in
            guard e[kind] != nil || e.count < Self.maximumErrorKinds else {
                e["other", default: 0] += 1
                return true
            }
            e[kind, default: 0] += 1
            return e[kind]! > 1
        }
        if !known { errorSamples.withLock { $0[kind] = String(reason.prefix(500)) } }
    }

    func race(_ kind: String) { races.withLock { $0[kind, default: 0] += 1 } }

    // MARK: Consultations

    /// A new consultation is open: false when `--max-open` is reached.
    func admit(maximum: Int) -> Bool {
        open.withLock { o in
            guard o.count < maximum else { return false }
            o.count += 1
            return true
        }
    }

    /// An admitted consultation that was never created (its POST failed).
    func unadmit() { open.withLock { $0.count -= 1 } }

    func register(_ id: String, measured: Bool, shopper: @escaping @Sendable (ShopperSignal) -> Void) {
        entries.withLock { $0[id] = Entry(shopper: shopper, measured: measured) }
        open.withLock { o in
            o.live += 1
            o.peak = max(o.peak, o.live)
        }
    }

    func move(from old: DeskPhase?, to new: DeskPhase?) {
        open.withLock { o in
            if let old { o.byPhase[old, default: 0] -= 1 }
            if let new { o.byPhase[new, default: 0] += 1 }
            o.peakQueued = max(o.peakQueued, o.byPhase[.queued] ?? 0)
            o.peakWithAgent = max(o.peakWithAgent, o.byPhase[.withAgent] ?? 0)
        }
    }

    func agentRoom(opened: Bool) {
        open.withLock { o in
            o.agentRooms += opened ? 1 : -1
            o.peakAgentRooms = max(o.peakAgentRooms, o.agentRooms)
        }
    }

    func handedOff(_ id: String, at micros: Int64) {
        handedOff.add(1, ordering: .relaxed)
        entries.withLock { $0[id]?.handedOffAt = micros }
    }

    func handedOffAt(_ id: String) -> Int64? { entries.withLock { $0[id]?.handedOffAt } }

    func isOurs(_ id: String) -> Bool { entries.withLock { $0[id] != nil } }

    /// Whether this consultation's latencies count (false for one not of this run).
    func isMeasured(_ id: String) -> Bool { entries.withLock { $0[id]?.measured ?? false } }

    func shopperClosing(_ id: String) { entries.withLock { $0[id]?.shopperClosing = true } }

    /// True when the consultation's shopper closed it or it already has an outcome: an agent's
    /// refusal (404/409) is then explained.
    func isEnding(_ id: String) -> Bool { entries.withLock { $0[id].map { $0.shopperClosing || $0.outcome != nil } ?? true } }

    func attachAgent(_ id: String, _ signal: @escaping @Sendable (AgentSignal) -> Void) -> Bool {
        entries.withLock { e in
            guard e[id] != nil else { return false }
            e[id]?.agent = signal
            return true
        }
    }

    func signalAgent(_ id: String, _ signal: AgentSignal) { entries.withLock { $0[id]?.agent }?(signal) }

    func signalShopper(_ id: String, _ signal: ShopperSignal) { entries.withLock { $0[id]?.shopper }?(signal) }

    /// Sets the consultation's outcome once; false when it already had one.
    @discardableResult
    func finish(_ id: String, _ outcome: DeskOutcome) -> Bool {
        let first = entries.withLock { e -> Bool in
            guard e[id] != nil, e[id]?.outcome == nil else { return false }
            e[id]?.outcome = outcome
            return true
        }
        if first { outcomes.withLock { $0[outcome, default: 0] += 1 } }
        return first
    }

    /// The shopper's task is over: the entry goes (an outcome it never got is `failed`).
    func remove(_ id: String) {
        let entry = entries.withLock { $0.removeValue(forKey: id) }
        if let entry, entry.outcome == nil { outcomes.withLock { $0[.failed, default: 0] += 1 } }
        entry?.agent?(.endOfRun)
        open.withLock { o in
            o.count -= 1
            if entry != nil { o.live -= 1 }
        }
    }

    /// Every open consultation's shopper, told the run is over.
    func endOfRun() {
        for e in entries.withLock({ Array($0.values) }) { e.shopper(.endOfRun) }
    }

    var liveCount: Int { open.withLock { $0.live } }
}

/// A counting semaphore for tasks: bounds the WebSocket handshakes in flight (the server takes
/// 1,000 connections waiting for `hello`).
final class AsyncLimiter: Sendable {
    private let state: Mutex<(free: Int, waiters: [CheckedContinuation<Void, Never>])>

    init(_ limit: Int) { state = Mutex((limit, [])) }

    func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.free > 0 {
                    s.free -= 1
                    return true
                }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.free += 1
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}

/// The run's random draws (arrivals, think and handling times, who asks what), seeded for
/// repeatable runs.
final class DeskRandom: Sendable {
    private let state: Mutex<UInt64>
    init(seed: UInt64) { state = Mutex(seed) }

    /// SplitMix64 (Steele, Lea, Flood 2014): a fast generator good enough for load shapes.
    func next() -> UInt64 {
        state.withLock { s in
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Uniform in [0, 1).
    func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Exponential with this mean (Poisson arrivals' gaps, handling times).
    func exponential(mean: Double) -> Double { -mean * log(1 - unit()) }

    /// Uniform in [mean/2, 3·mean/2]: people's think times vary, but not down to nothing.
    func around(_ mean: Double) -> Double { mean * (0.5 + unit()) }

    func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
}
