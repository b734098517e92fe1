import Synchronization

/// One send rate per identity, shared by all of that identity's connections, so that opening
/// more connections does not multiply it. The table is bounded (``SignalingLimits/trackedIdentities``):
/// when it is full, identities whose bucket has refilled (idle) are forgotten first — forgetting
/// them changes nothing — and then the least recently seen one.
public final class IdentityRateLimiter: Sendable {
    struct Entry {
        var bucket: TokenBucket
        var lastSeen: ContinuousClock.Instant
    }

    private let rate: Double
    private let burst: Double
    private let capacity: Int
    private let table = Mutex<[String: Entry]>([:])

    public init(rate: Double, burst: Double, capacity: Int) {
        self.rate = rate
        self.burst = burst
        self.capacity = max(1, capacity)
    }

    /// Takes one send for `identity` at `now`; false when it is over its rate.
    public func take(_ identity: String, now: ContinuousClock.Instant) -> Bool {
        table.withLock { t in
            if t[identity] == nil, t.count >= capacity {
                t = t.filter { !$0.value.bucket.isFull(at: now) }
                if t.count >= capacity, let oldest = t.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key {
                    t[oldest] = nil
                }
            }
            var entry = t[identity] ?? Entry(bucket: TokenBucket(rate: rate, burst: burst), lastSeen: now)
            let allowed = entry.bucket.take(now: now)
            entry.lastSeen = now
            t[identity] = entry
            return allowed
        }
    }

    /// Identities tracked now.
    public var count: Int { table.withLock { $0.count } }
}
