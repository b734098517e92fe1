import Foundation

/// One half hour of an ``ArrivalForecast``: what the department should expect then.
///
/// Half hours are real 30-minute intervals counted from local midnight, so a day has 48 of them,
/// 46 on the day clocks go forward and 50 on the day they go back (the repeated wall-clock hour
/// appears twice, with its own ``start``).
public struct ForecastSlot: Sendable, Hashable, Codable {
    /// Where the expected arrivals come from, for the supervisor view to say how much to trust
    /// them.
    public enum Basis: Sendable, Hashable, Codable {
        /// The same weekday's same half hour, over this many weeks of history.
        case weekday(weeks: Int)
        /// Too few weeks of this weekday (this many): blended with the all-days average.
        case blended(weeks: Int)
        /// No week of this weekday: the average of all days' same half hour (over this many days).
        case allDays(days: Int)
        /// No history covers this half hour of the day: expected arrivals are 0 by default, not
        /// by observation.
        case noHistory
    }

    public var start: Date
    public var end: Date
    /// Day of the week in the forecast's time zone, Gregorian numbering: 1 Sunday … 7 Saturday.
    public var weekday: Int
    /// Local wall-clock time at ``start``, in minutes after midnight (0, 30, …, 1410).
    public var minuteOfDay: Int
    /// Consultations expected to reach the queue in this half hour.
    public var expectedArrivals: Double
    /// Seconds each is expected to hold an agent's slot.
    public var averageHandlingSeconds: Double
    public var basis: Basis

    public init(
        start: Date, end: Date, weekday: Int, minuteOfDay: Int, expectedArrivals: Double,
        averageHandlingSeconds: Double, basis: Basis
    ) {
        self.start = start
        self.end = end
        self.weekday = weekday
        self.minuteOfDay = minuteOfDay
        self.expectedArrivals = expectedArrivals
        self.averageHandlingSeconds = averageHandlingSeconds
        self.basis = basis
    }

    /// The expected arrival rate over the slot, per hour.
    public var arrivalsPerHour: Double {
        let seconds = end.timeIntervalSince(start)
        return seconds > 0 ? expectedArrivals * 3_600 / seconds : 0
    }
}
