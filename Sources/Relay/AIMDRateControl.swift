import MediaPipeline

/// The sending rate the delay signal allows
/// ([draft-ietf-rmcat-gcc-02 §5.5](https://datatracker.ietf.org/doc/html/draft-ietf-rmcat-gcc-02#section-5.5)):
/// on overuse, back off to 85% of what the receiver acknowledged getting and hold; on underuse,
/// hold (the queue drains); otherwise increase — by 8% a second while far from the rate where the
/// path last overflowed, and by about half a packet per response time (RTT + 100 ms) near it. The
/// rate never runs more than 1.5× ahead of the acknowledged rate. I/O-free.
public struct AIMDRateControl: Sendable {
    public enum State: Sendable, Equatable { case hold, increase, decrease }

    static let beta = 0.85
    static let multiplicativePerSecond = 1.08
    static let packetBits = 1_200.0 * 8

    public private(set) var rate: Double
    public private(set) var state = State.increase
    public let minimum: Double, maximum: Double
    /// Where the path last overflowed (kbit/s), with its normalized variance: near it, increase
    /// slowly; well above it (the path got faster), reset it and increase fast again.
    private var averageMax: Double?
    private var varianceMax = 0.4
    private var lastUpdate: MediaTime?

    public init(start: Double, minimum: Double = 30_000, maximum: Double = 20_000_000) {
        self.minimum = minimum
        self.maximum = maximum
        rate = min(max(start, minimum), maximum)
    }

    /// The detector's `signal` at `now`, with the acknowledged rate (bit/s) and the round trip.
    public mutating func update(_ signal: OveruseDetector.Signal, acknowledged: Double?, rtt: MediaTime, now: MediaTime) -> Double {
        let elapsed = lastUpdate.map { min((now - $0).milliseconds, 1_000) / 1_000 } ?? 0
        lastUpdate = now
        switch signal {
        case .overusing: state = .decrease
        case .underusing: state = .hold
        case .normal: state = .increase
        }
        let acked = acknowledged ?? rate
        switch state {
        case .hold:
            break
        case .increase:
            if let average = averageMax, acked / 1_000 > average + 3 * standardDeviation(average) {
                averageMax = nil  // the path is faster than where it overflowed: start over
            }
            if let average = averageMax, acked / 1_000 > average - 3 * standardDeviation(average) {
                let responseTime = min(max(rtt.milliseconds, 0), 10_000) + 100
                rate += max(1_000, 0.5 * Self.packetBits * 1_000 / responseTime) * elapsed
            } else {
                // 8% a second, compounded over the updates (each at most a second apart).
                rate *= 1 + (Self.multiplicativePerSecond - 1) * elapsed
            }
            rate = min(rate, 1.5 * acked + 10_000)
        case .decrease:
            let target = Self.beta * acked
            if target < rate { rate = target }
            let kbps = acked / 1_000
            if let average = averageMax, kbps < average - 3 * standardDeviation(average) { averageMax = nil }
            updateMax(kbps)
            state = .hold
        }
        rate = min(max(rate, minimum), maximum)
        return rate
    }

    /// A probe (``BandwidthProbe``) measured the path at `bitrate`: the rate starts from there when
    /// that is higher, as GCC takes a probe's result as its estimate — without it the rate would
    /// climb 8% a second from what the smaller stream it was sent needed, and the first overuse
    /// after a move up would find the estimate far below the stream the probe made room for. The
    /// path is no longer where it last overflowed.
    public mutating func probed(_ bitrate: Double) {
        guard bitrate > rate else { return }
        rate = min(bitrate, maximum)
        averageMax = nil
    }

    private func standardDeviation(_ average: Double) -> Double { (varianceMax * average).squareRoot() }

    private mutating func updateMax(_ kbps: Double) {
        let alpha = 0.05
        guard let average = averageMax else {
            averageMax = kbps
            return
        }
        let next = (1 - alpha) * average + alpha * kbps
        let norm = max(next, 1)
        varianceMax = min(max((1 - alpha) * varianceMax + alpha * (next - kbps) * (next - kbps) / norm, 0.4), 2.5)
        averageMax = next
    }
}
