import Foundation

/// A department's stored past, as ``ArrivalForecast`` reads it: when consultations reached the
/// queue, how long they held an agent, and the period the record is complete for.
///
/// ``covered`` is what tells "nobody came" from "we were not recording": a half hour inside it
/// with no arrival is an observation of zero; one outside it is no observation at all (the desk
/// did not exist yet, or the history was trimmed). Usually from the first stored event to now.
public struct ArrivalHistory: Sendable {
    /// When each consultation reached the department's queue (any order).
    public var arrivals: [Date]
    /// Handling times of ended consultations (any order).
    public var handling: [HandlingSample]
    /// The period for which ``arrivals`` holds every arrival.
    public var covered: DateInterval

    public init(arrivals: [Date], handling: [HandlingSample] = [], covered: DateInterval) {
        self.arrivals = arrivals
        self.handling = handling
        self.covered = covered
    }
}
