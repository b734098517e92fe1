import MediaPipeline

/// Per identity, a token bucket of session opens: ``RelayLimits/sessionOpensPerMinute``, in bursts
/// of ``RelayLimits/sessionOpenBurst``. The table forgets identities whose bucket is full again
/// (swept when it passes 10,000 entries), so it holds only recent openers. I/O-free; the time is given.
struct OpenRateLimiter {
    let perMinute: Int
    let burst: Int
    private var buckets: [String: (tokens: Double, at: MediaTime)] = [:]

    init(limits: RelayLimits) {
        perMinute = limits.sessionOpensPerMinute
        burst = limits.sessionOpenBurst
    }

    /// Takes a token for `identity` if it has one.
    mutating func admit(_ identity: String, now: MediaTime) -> Bool {
        let rate = Double(perMinute) / 60_000_000, burst = Double(burst)
        func refilled(_ b: (tokens: Double, at: MediaTime)) -> Double { min(burst, b.tokens + Double((now - b.at).microseconds) * rate) }
        if buckets.count > 10_000 { buckets = buckets.filter { refilled($0.value) < burst } }
        let tokens = buckets[identity].map(refilled) ?? burst
        guard tokens >= 1 else { return false }
        buckets[identity] = (tokens - 1, now)
        return true
    }
}
