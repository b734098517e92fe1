import Foundation

/// The queue's wait estimate for a department: an average of recent handling times, divided by
/// the capacity that will free up ahead of the shopper. A value type fed events — a consultation
/// ended after so many seconds — and asked at any moment; no clock, no I/O. The desk keeps one per
/// department and asks it again whenever the shopper's position or the capacity changes, so the
/// estimate the shopper sees moves with the queue.
///
/// **Average handling time.** An exponentially weighted moving average over *consultations*
/// (not clock time), with a half-life of ``Configuration/halfLifeSamples`` (default 50: the
/// 50th-last consultation counts half as much as the last). Per sample
/// `S ← (1 − α)·S + x`, `W ← (1 − α)·W + 1`, average `S / W`, `α = 1 − 2^(−1/half-life)`.
/// It starts from ``Configuration/coldStartHandlingSeconds`` weighted as
/// ``Configuration/coldStartWeight`` samples, so the first real samples take over quickly; a
/// sample is clamped to ``Configuration/outlierFactor`` × the current average (a consultation an
/// agent forgot to close overnight moves it by one bounded step) and to
/// ``ForecastLimits/maximumHandlingSeconds``. Counting consultations rather than minutes keeps
/// the noise of the average the same at a quiet hour and at a peak; a clock would add nothing.
///
/// **Wait for position N.** With `F` free slots, positions `1…F` are taken now: wait 0.
/// Otherwise the shopper needs `k = N − F` consultations to end. Once the free slots are filled
/// all `S` slots are busy; if each remaining handling time is exponential with mean `h`, slots
/// free up as a Poisson process of rate `S / h`, so the wait is Gamma(`k`, `S / h`): mean
/// `k·h / S`, coefficient of variation `1/√k`. ``WaitEstimate/low`` and ``WaitEstimate/high`` are
/// its 10th and 90th percentiles (Wilson–Hilferty). The model ignores shoppers leaving the queue
/// ahead (the estimate is then high), later arrivals of a higher priority overtaking (low), and
/// agents logging in or out. Its error against a simulated desk is measured in
/// `Tests/DeskTests/WaitEstimatorAccuracyTests.swift` and written in docs/desk.md, "Wait estimate".
public struct WaitEstimator: Sendable, Hashable {
    /// How the average is kept.
    public struct Configuration: Sendable, Hashable {
        /// Consultations after which a sample's weight halves.
        public var halfLifeSamples: Double = 50
        /// The average before any consultation has ended.
        public var coldStartHandlingSeconds: Double = 300
        /// How many samples the cold-start value is worth.
        public var coldStartWeight: Double = 3
        /// A sample is taken as at most this many times the current average.
        public var outlierFactor: Double = 8

        public init() {}
    }

    public let configuration: Configuration
    private let alpha: Double
    private var weightedSum: Double
    private var weight: Double
    /// Samples taken so far (after the cold start).
    public private(set) var samples = 0

    public init(configuration: Configuration = Configuration()) {
        var c = configuration
        if !(c.halfLifeSamples.isFinite && c.halfLifeSamples >= 1) { c.halfLifeSamples = 50 }
        if !(c.coldStartHandlingSeconds.isFinite && c.coldStartHandlingSeconds > 0) { c.coldStartHandlingSeconds = 300 }
        c.coldStartHandlingSeconds = min(c.coldStartHandlingSeconds, ForecastLimits.maximumHandlingSeconds)
        if !(c.coldStartWeight.isFinite && c.coldStartWeight > 0) { c.coldStartWeight = 3 }
        if !(c.outlierFactor.isFinite && c.outlierFactor > 1) { c.outlierFactor = 8 }
        self.configuration = c
        alpha = 1 - pow(2, -1 / c.halfLifeSamples)
        weight = c.coldStartWeight
        weightedSum = c.coldStartWeight * c.coldStartHandlingSeconds
    }

    /// The current average handling time, in seconds.
    public var averageHandlingSeconds: Double { weightedSum / weight }

    /// Takes one ended consultation: the seconds it held an agent's slot. Values that are not
    /// finite or not above 0 are ignored.
    public mutating func record(handlingSeconds x: Double) {
        guard x.isFinite, x > 0 else { return }
        let sample = min(x, averageHandlingSeconds * configuration.outlierFactor, ForecastLimits.maximumHandlingSeconds)
        weightedSum = (1 - alpha) * weightedSum + sample
        weight = (1 - alpha) * weight + 1
        samples += 1
    }

    /// The wait for the shopper at `position` (1 = next to be served) in the department's queue.
    /// `nil` when no agent of the department is online: no wait can be promised.
    public func estimate(position: Int, capacity: QueueCapacity) -> WaitEstimate? {
        guard capacity.totalSlots > 0 else { return nil }
        let departures = max(1, position) - min(capacity.freeSlots, capacity.totalSlots)
        guard departures > 0 else { return .now }
        let k = Double(departures)
        let scale = averageHandlingSeconds / Double(capacity.totalSlots)  // seconds per departure
        return WaitEstimate(
            seconds: k * scale,
            low: Self.gammaQuantile(shape: k, z: -1.281_551_565_5) * scale,
            high: Self.gammaQuantile(shape: k, z: 1.281_551_565_5) * scale,
            departuresAhead: departures)
    }

    /// The quantile of Gamma(`shape`, 1) at the standard normal deviate `z`, by Wilson and
    /// Hilferty (1931): `k·(1 − 1/(9k) + z/(3√k))³`. At shape 1 (exponential; exact 0.105 and
    /// 2.303 at z = ∓1.28) it gives 0.098 and 2.280; it is closer as the shape grows.
    static func gammaQuantile(shape k: Double, z: Double) -> Double {
        let v = 1 - 1 / (9 * k) + z / (3 * k.squareRoot())
        return max(0, k * v * v * v)
    }
}
