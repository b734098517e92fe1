import Foundation

/// One ended consultation as the forecast reads it: when it reached the queue (the half hour
/// whose staffing it loaded) and the seconds it held an agent's slot.
public struct HandlingSample: Sendable, Hashable {
    public var arrivedAt: Date
    public var seconds: Double

    public init(arrivedAt: Date, seconds: Double) {
        self.arrivedAt = arrivedAt
        self.seconds = seconds
    }
}
