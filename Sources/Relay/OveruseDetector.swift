import MediaPipeline

/// What the delay trend says about the path
/// ([draft-ietf-rmcat-gcc-02 §5.4](https://datatracker.ietf.org/doc/html/draft-ietf-rmcat-gcc-02#section-5.4)):
/// overusing once the (scaled) trend has stayed above an adaptive threshold for 10 ms and is not
/// falling, underusing below its negative (a queue draining), normal between. The threshold
/// follows the trend's magnitude — slowly up, faster down — so that a path whose delay is
/// merely noisy (or a competing TCP flow keeping a queue) does not starve the sender, and a
/// real queue still crosses it. I/O-free.
public struct OveruseDetector: Sendable {
    public enum Signal: Sendable, Equatable { case normal, overusing, underusing }

    static let overuseTime = 10.0  // ms the trend must stay above the threshold
    static let adaptUp = 0.0087, adaptDown = 0.039
    static let thresholdRange = 6.0...600.0

    /// The current threshold (starts at 12.5, as in libwebrtc).
    public private(set) var threshold = 12.5
    public private(set) var signal = Signal.normal
    private var timeOverUsing = -1.0
    private var overuseCount = 0
    private var previousTrend = 0.0
    private var lastUpdate: MediaTime?

    public init() {}

    /// One new scaled trend (``TrendlineEstimator/update(delayDelta:arrival:)``) after `sendGap`
    /// milliseconds of send time, at `now`.
    public mutating func detect(_ trend: Double, sendGap: Double, now: MediaTime) -> Signal {
        if trend > threshold {
            timeOverUsing = timeOverUsing < 0 ? sendGap / 2 : timeOverUsing + sendGap
            overuseCount += 1
            if timeOverUsing > Self.overuseTime, overuseCount > 1, trend >= previousTrend {
                timeOverUsing = 0
                overuseCount = 0
                signal = .overusing
            }
        } else if trend < -threshold {
            timeOverUsing = -1
            overuseCount = 0
            signal = .underusing
        } else {
            timeOverUsing = -1
            overuseCount = 0
            signal = .normal
        }
        previousTrend = trend
        adapt(to: trend, now: now)
        return signal
    }

    private mutating func adapt(to trend: Double, now: MediaTime) {
        defer { lastUpdate = now }
        guard let last = lastUpdate else { return }
        // A spike far above the threshold (a route change, a burst) does not drag it up.
        guard abs(trend) <= threshold + 15 else { return }
        let k = abs(trend) < threshold ? Self.adaptDown : Self.adaptUp
        let elapsed = min((now - last).milliseconds, 100)
        threshold = min(max(threshold + k * (abs(trend) - threshold) * elapsed, Self.thresholdRange.lowerBound), Self.thresholdRange.upperBound)
    }
}
