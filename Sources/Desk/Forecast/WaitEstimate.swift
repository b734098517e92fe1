/// What a queued shopper is told: the expected seconds until an agent's slot takes them, and a
/// range that holds the actual wait four times in five under the model (10th to 90th
/// percentile). Made by ``WaitEstimator/estimate(position:capacity:)``.
public struct WaitEstimate: Sendable, Hashable, Codable {
    /// Expected seconds until a slot takes this shopper.
    public var seconds: Double
    /// 10th percentile of the wait under the model, in seconds.
    public var low: Double
    /// 90th percentile of the wait under the model, in seconds.
    public var high: Double
    /// Consultations that must end before a slot is free for this shopper (0: a slot is free now).
    public var departuresAhead: Int

    public init(seconds: Double, low: Double, high: Double, departuresAhead: Int) {
        self.seconds = seconds
        self.low = low
        self.high = high
        self.departuresAhead = departuresAhead
    }

    /// A slot is free for the shopper now.
    public static let now = WaitEstimate(seconds: 0, low: 0, high: 0, departuresAhead: 0)
}
