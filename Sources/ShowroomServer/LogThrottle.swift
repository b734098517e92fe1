import Synchronization

/// One log line per interval for a failure that can repeat with every request (a placement lookup
/// while the database is down: one per offer or publish, as fast as clients send them): the first
/// is written at once, the rest are counted and written as one number when the interval is over,
/// so a log grows by one line per interval whatever the request rate.
final class LogThrottle: Sendable {
    let interval: Duration
    private let state = Mutex<(last: ContinuousClock.Instant?, suppressed: Int)>((nil, 0))

    init(interval: Duration = .seconds(10)) { self.interval = interval }

    /// Whether to write this occurrence now, and how many were left unwritten since the last line
    /// (nil: count it, write nothing).
    func admit(now: ContinuousClock.Instant = .now) -> Int? {
        state.withLock { s in
            if let last = s.last, now - last < interval {
                s.suppressed += 1
                return nil
            }
            let suppressed = s.suppressed
            s = (now, 0)
            return suppressed
        }
    }
}
