/// A department's capacity at one instant, as the desk's routing sees it: the slots of the agents
/// online who serve the department, and how many of those a consultation holds. An agent with a
/// concurrency of 3 and one chat open adds 3 to ``totalSlots`` and 1 to ``busySlots``.
///
/// An agent who serves several departments counts in each department's picture: the estimate is
/// then optimistic by the share of that agent's freed slots another department takes.
public struct QueueCapacity: Sendable, Hashable, Codable {
    /// Slots of the agents online for this department (agents × their concurrency).
    public var totalSlots: Int
    /// Of those, slots a consultation holds (active or on hold).
    public var busySlots: Int

    public init(totalSlots: Int, busySlots: Int) {
        self.totalSlots = max(0, totalSlots)
        self.busySlots = min(max(0, busySlots), max(0, totalSlots))
    }

    /// Slots no consultation holds (an offer may be on its way to them). Never negative, even
    /// for a decoded picture that skipped ``init(totalSlots:busySlots:)``'s clamping.
    public var freeSlots: Int { max(0, totalSlots - max(0, busySlots)) }
}
