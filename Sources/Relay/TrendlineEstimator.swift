import MediaPipeline

/// Whether a path's one-way delay is growing, from packet groups' send and arrival times — the
/// delay-based half of Google Congestion Control
/// ([draft-ietf-rmcat-gcc-02 §5.3](https://datatracker.ietf.org/doc/html/draft-ietf-rmcat-gcc-02#section-5.3)),
/// with libwebrtc's trendline filter in place of the draft's Kalman filter: the delay variation
/// between consecutive groups is accumulated, smoothed, and the slope of a least-squares line
/// through the last ``window`` points is the trend. A queue filling at the bottleneck makes every
/// group arrive a little later than it was sent: the slope turns positive. I/O-free.
public struct TrendlineEstimator: Sendable {
    /// Points the slope is fitted through.
    public static let window = 20
    /// Smoothing of the accumulated delay (exponential, per group).
    static let smoothing = 0.9
    /// The trend is scaled by this and by the number of deltas seen (at most 60) before it is
    /// compared with the detector's threshold, as libwebrtc does.
    static let gain = 4.0

    private var firstArrival: MediaTime?
    private var accumulatedDelay = 0.0
    private var smoothedDelay = 0.0
    private var points: [(x: Double, y: Double)] = []
    private var deltas = 0
    /// The latest slope (ms of delay growth per ms), 0 until the window is full.
    public private(set) var trend = 0.0

    public init() {}

    /// One group after another: `delayDelta` is (arrival gap − send gap) in milliseconds, `arrival`
    /// the group's last arrival. Returns the scaled trend the overuse detector compares.
    public mutating func update(delayDelta: Double, arrival: MediaTime) -> Double {
        let first = firstArrival ?? arrival
        firstArrival = first
        deltas = min(deltas + 1, 1_000)
        accumulatedDelay += delayDelta
        smoothedDelay = Self.smoothing * smoothedDelay + (1 - Self.smoothing) * accumulatedDelay
        points.append((x: (arrival - first).milliseconds, y: smoothedDelay))
        if points.count > Self.window { points.removeFirst(points.count - Self.window) }
        if points.count == Self.window, let slope = Self.slope(points) { trend = slope }
        return Double(min(deltas, 60)) * trend * Self.gain
    }

    /// The least-squares slope through `points`; nil when every x is the same.
    static func slope(_ points: [(x: Double, y: Double)]) -> Double? {
        let n = Double(points.count)
        let meanX = points.reduce(0) { $0 + $1.x } / n, meanY = points.reduce(0) { $0 + $1.y } / n
        var numerator = 0.0, denominator = 0.0
        for p in points {
            numerator += (p.x - meanX) * (p.y - meanY)
            denominator += (p.x - meanX) * (p.x - meanX)
        }
        return denominator == 0 ? nil : numerator / denominator
    }
}
