import Foundation

/// A known departure from the usual week that history cannot show: a sale (factor 3), a
/// holiday (factor 0.2), a closure (factor 0). ``ArrivalForecast`` multiplies the expected
/// arrivals of every half hour whose middle lies in ``interval`` by ``factor``; overlapping
/// adjustments multiply.
public struct ForecastAdjustment: Sendable, Hashable, Codable {
    public var interval: DateInterval
    public var factor: Double

    public init(interval: DateInterval, factor: Double) {
        self.interval = interval
        self.factor = factor
    }
}
