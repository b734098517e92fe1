/// The written bounds on every input of the desk's numbers (``ErlangC``, ``WaitEstimator``,
/// ``ArrivalForecast``, ``StaffingPlan``). Past one, the call throws ``ForecastError`` with code
/// `overLimit` or `invalidArgument` and the bound in its detail, instead of looping or allocating
/// without end. The figures are far past any shop's real numbers: they exist so that a hostile
/// setting or a corrupt history costs a bounded time (docs/desk.md, "Bounds and timings").
public enum ForecastLimits {
    /// Offered traffic, in slot-erlangs (arrivals per second × handling seconds): 20,000 slots
    /// busy at once on average. Erlang C's recursion is linear in the servers it tries.
    public static let maximumTrafficErlangs = 20_000.0
    /// The most servers (agents × concurrency) ``ErlangC/agentsNeeded(arrivalsPerHour:averageHandlingSeconds:targetSeconds:serviceLevel:maxOccupancy:concurrency:)``
    /// tries before it gives up with `unreachableTarget`.
    public static let maximumServers = 50_000
    /// Consultations one agent may hold at once.
    public static let maximumConcurrency = 100
    /// The longest handling time taken, in seconds (a day). A longer sample is clamped to it by
    /// ``WaitEstimator``; a longer average is refused by ``ErlangC``.
    public static let maximumHandlingSeconds = 86_400.0
    /// Days one forecast covers.
    public static let maximumForecastDays = 366
    /// Weeks of history one forecast looks back at.
    public static let maximumHistoryWeeks = 52
    /// Adjustments (planned sales, closures) one forecast applies.
    public static let maximumAdjustments = 1_000
}
