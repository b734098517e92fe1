/// The distribution of packets' relative delay, with exponential forgetting, from which the
/// jitter buffer takes its target as a high quantile — the approach of WebRTC's NetEq
/// (`DelayManager`): covering, say, 95% of observed delays keeps late packets rare without
/// buffering for the worst outlier, and forgetting lets the target come back down when the
/// network calms.
struct DelayHistogram {
    let bucketMicroseconds: Int64
    private(set) var buckets: [Double]
    /// Weight kept per new sample: 1 − forget is each new sample's share.
    let forget: Double

    init(bucketMilliseconds: Int, maximumMilliseconds: Int, forget: Double) {
        bucketMicroseconds = Int64(bucketMilliseconds) * 1_000
        buckets = [Double](repeating: 0, count: maximumMilliseconds / bucketMilliseconds + 1)
        self.forget = forget
    }

    mutating func add(delayMicroseconds: Int64) {
        let i = Int(min(max(delayMicroseconds, 0) / bucketMicroseconds, Int64(buckets.count - 1)))
        for j in buckets.indices { buckets[j] *= forget }
        buckets[i] += 1 - forget
    }

    /// The smallest delay at or below which `q` of the weight lies (the bucket's upper edge).
    func quantile(_ q: Double) -> Int64 {
        let total = buckets.reduce(0, +)
        guard total > 0 else { return 0 }
        var cumulative = 0.0
        for (i, w) in buckets.enumerated() {
            cumulative += w
            if cumulative >= q * total { return Int64(i + 1) * bucketMicroseconds }
        }
        return Int64(buckets.count) * bucketMicroseconds
    }
}

/// The minimum of a value over a sliding time window (monotonic deque: O(1) amortized).
struct SlidingMinimum {
    private var entries: [(time: Int64, value: Int64)] = []
    private var head = 0
    let window: Int64

    init(windowMicroseconds: Int64) { window = windowMicroseconds }

    mutating func add(_ value: Int64, at time: Int64) {
        while entries.count > head, entries[entries.count - 1].value >= value { entries.removeLast() }
        entries.append((time, value))
        while entries[head].time < time - window { head += 1 }
        if head > 256 {
            entries.removeFirst(head)
            head = 0
        }
    }

    var minimum: Int64? { entries.count > head ? entries[head].value : nil }
}
