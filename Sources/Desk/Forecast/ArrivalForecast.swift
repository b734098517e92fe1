import Foundation

/// The expected consultations per half hour for the coming days, by weekday and time of day,
/// from a department's ``ArrivalHistory``. I/O-free: history and time zone in, slots out.
///
/// **Method.**
/// 1. The history's last ``Configuration/weeks`` weeks (the local days up to the one holding the
///    end of ``ArrivalHistory/covered``) are cut into half hours (see ``ForecastSlot``: real
///    30-minute intervals from local midnight, labelled with weekday and wall-clock half hour).
///    A half hour inside ``ArrivalHistory/covered`` is one observation: its arrivals, scaled to
///    30 minutes if it is shorter. Half hours outside the coverage are not observations (not
///    zeros), so a new desk, a gap in the record or today's unfinished afternoon do not pull the
///    average down.
/// 2. An observation `a` days before the last day of history weighs
///    ``Configuration/weeklyDecay``^(a / 7): default 0.8, so last week counts 1, four weeks ago
///    0.41, eight weeks ago 0.17 — recent weeks lead, which tracks a shop that is growing without
///    an explicit trend term (a trend fitted on a few weeks amplifies noise and one-off sales).
/// 3. For a coming half hour on weekday `w` at wall-clock half hour `k`: the weighted mean of the
///    observations of weekday `w` at `k` (basis `.weekday`). With fewer than
///    ``Configuration/minimumWeeks`` such observations (`n`), it is blended with the weighted mean
///    of *all* days at `k`: `(n·weekday + (m − n)·allDays) / m` (`.blended`); with none, the
///    all-days mean alone (`.allDays`); with no observation of `k` at all, 0 (`.noHistory`).
/// 4. Expected arrivals = that rate × the slot's length / 30 min × every
///    ``ForecastAdjustment`` whose interval holds the slot's middle.
/// 5. Average handling time per wall-clock half hour `k` over the same weeks, shrunk towards the
///    overall mean: `(Σ_k + p·mean) / (n_k + p)` with `p` = ``Configuration/handlingPriorSamples``
///    (a half hour with 3 samples mostly gets the overall mean); ``Configuration/defaultHandlingSeconds``
///    when no consultation has ended yet. Samples are clamped to
///    ``ForecastLimits/maximumHandlingSeconds``; non-finite or non-positive ones are ignored.
///
/// **Time zones and DST.** Days, weekdays and half hours are the shop's local ones (Foundation's
/// Gregorian calendar in the given zone). On the day clocks go back the repeated wall-clock hour
/// is two observations of the same half hours (and two forecast slots that each expect the
/// usual rate); on the day they go forward the skipped half hours are simply not observed.
///
/// **Cost.** Linear in the arrivals (one comparison each outside the looked-back weeks, a slot
/// lookup inside) plus the grid (≤ 52 weeks + 366 days of 50 slots); measured in docs/desk.md,
/// "Bounds and timings".
public struct ArrivalForecast: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Weeks of history looked back at (1…``ForecastLimits/maximumHistoryWeeks``).
        public var weeks = 8
        /// Weight of an observation one week older than another, in (0, 1].
        public var weeklyDecay = 0.8
        /// Observations of a weekday's half hour needed to use that weekday alone (≥ 1).
        public var minimumWeeks = 3
        /// Handling time when no consultation has ended in the looked-back weeks.
        public var defaultHandlingSeconds = 300.0
        /// How many samples the overall mean handling time counts for in each half hour's.
        public var handlingPriorSamples = 20.0

        public init() {}
    }

    public let timeZone: TimeZone
    public let configuration: Configuration
    private let calendar: Calendar

    /// - Parameters:
    ///   - timeZone: the shop's time zone: its weekdays and opening hours are local.
    ///   - configuration: the method's parameters; checked when forecasting.
    public init(timeZone: TimeZone, configuration: Configuration = Configuration()) {
        self.timeZone = timeZone
        self.configuration = configuration
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
    }

    /// The half hours of `days` local days, from the start of the day that holds `from`.
    /// - Throws: ``ForecastError`` `invalidArgument` for a bad configuration, factor or date,
    ///   `overLimit` past ``ForecastLimits/maximumForecastDays``, weeks or adjustments.
    public func forecast(
        history: ArrivalHistory, from: Date, days: Int, adjustments: [ForecastAdjustment] = []
    ) throws(ForecastError) -> [ForecastSlot] {
        try validate(history: history, from: from, days: days, adjustments: adjustments)
        let c = configuration
        let observed = observe(history)

        let coming = HalfHourGrid(calendar: calendar, first: from, days: days)
        var out: [ForecastSlot] = []
        out.reserveCapacity(coming.slots.count)
        for slot in coming.slots {
            let weekday = observed.weekday[slot.weekday - 1][slot.key]
            let allDays = observed.allDays[slot.key]
            var rate = 0.0
            let basis: ForecastSlot.Basis
            if weekday.count >= c.minimumWeeks {
                rate = weekday.mean
                basis = .weekday(weeks: weekday.count)
            } else if weekday.count > 0 {
                let n = Double(weekday.count)
                let m = Double(c.minimumWeeks)
                rate = (n * weekday.mean + (m - n) * allDays.mean) / m
                basis = .blended(weeks: weekday.count)
            } else if allDays.count > 0 {
                rate = allDays.mean
                basis = .allDays(days: allDays.count)
            } else {
                basis = .noHistory
            }
            let middle = (slot.start + slot.end) / 2
            var factor = 1.0
            for a in adjustments where a.interval.start.timeIntervalSince1970 <= middle && middle < a.interval.end.timeIntervalSince1970 {
                factor *= a.factor
            }
            out.append(
                ForecastSlot(
                    start: Date(timeIntervalSince1970: slot.start), end: Date(timeIntervalSince1970: slot.end),
                    weekday: slot.weekday, minuteOfDay: slot.key * 30,
                    expectedArrivals: rate * (slot.end - slot.start) / HalfHourGrid.slotSeconds * factor,
                    averageHandlingSeconds: observed.handling[slot.key], basis: basis))
        }
        return out
    }

    // MARK: Observing the history

    /// A weighted mean being summed, with the number of observations in it.
    struct Mean {
        var weightedSum = 0.0
        var weight = 0.0
        var count = 0
        var mean: Double { weight > 0 ? weightedSum / weight : 0 }
        mutating func add(_ x: Double, weight w: Double) {
            weightedSum += w * x
            weight += w
            count += 1
        }
    }

    struct Observations {
        /// [weekday − 1][key]: per-30-minute arrival rate.
        var weekday = [[Mean]](repeating: [Mean](repeating: Mean(), count: HalfHourGrid.keys), count: 7)
        /// [key]
        var allDays = [Mean](repeating: Mean(), count: HalfHourGrid.keys)
        /// [key]: average handling seconds.
        var handling = [Double](repeating: 0, count: HalfHourGrid.keys)
    }

    func observe(_ history: ArrivalHistory) -> Observations {
        let c = configuration
        var result = Observations()
        let coveredStart = history.covered.start.timeIntervalSince1970
        let coveredEnd = history.covered.end.timeIntervalSince1970

        // The looked-back days: `weeks × 7` local days ending with the one that holds the end of
        // the coverage (stepping back by local days, so DST cannot shift the count).
        let lastInstant = history.covered.end.addingTimeInterval(history.covered.duration > 0 ? -0.001 : 0)
        var firstDay = calendar.startOfDay(for: lastInstant)
        var days = 1
        while days < c.weeks * 7 {
            let previous = calendar.startOfDay(for: firstDay.addingTimeInterval(-12 * 3_600))
            // Days wholly before the coverage hold no observation.
            guard firstDay.timeIntervalSince1970 > coveredStart else { break }
            firstDay = previous
            days += 1
        }
        let grid = HalfHourGrid(calendar: calendar, first: firstDay, days: days)
        let slots = grid.slots
        guard !slots.isEmpty else {
            result.handling = [Double](repeating: c.defaultHandlingSeconds, count: HalfHourGrid.keys)
            return result
        }
        let lastDay = slots[slots.count - 1].day

        // Arrivals per slot: one comparison for an arrival outside the grid, a lookup inside.
        var counts = [Int](repeating: 0, count: slots.count)
        let gridStart = grid.start
        let gridEnd = grid.end
        for arrival in history.arrivals {
            let t = arrival.timeIntervalSince1970
            guard t >= gridStart, t < gridEnd, let i = grid.index(of: t) else { continue }
            counts[i] += 1
        }
        for (i, slot) in slots.enumerated() where slot.start >= coveredStart && slot.end <= coveredEnd {
            let rate = Double(counts[i]) * HalfHourGrid.slotSeconds / (slot.end - slot.start)
            let w = pow(c.weeklyDecay, Double(lastDay - slot.day) / 7)
            result.weekday[slot.weekday - 1][slot.key].add(rate, weight: w)
            result.allDays[slot.key].add(rate, weight: w)
        }

        // Handling time per wall-clock half hour, shrunk towards the overall mean.
        var sums = [Double](repeating: 0, count: HalfHourGrid.keys)
        var ns = [Double](repeating: 0, count: HalfHourGrid.keys)
        for sample in history.handling {
            let t = sample.arrivedAt.timeIntervalSince1970
            guard sample.seconds.isFinite, sample.seconds > 0, t >= gridStart, t < gridEnd,
                t >= coveredStart, t < coveredEnd, let i = grid.index(of: t)
            else { continue }
            sums[slots[i].key] += min(sample.seconds, ForecastLimits.maximumHandlingSeconds)
            ns[slots[i].key] += 1
        }
        let total = ns.reduce(0, +)
        let overall = total > 0 ? sums.reduce(0, +) / total : c.defaultHandlingSeconds
        let p = total > 0 ? c.handlingPriorSamples : 1
        for k in 0..<HalfHourGrid.keys {
            result.handling[k] = (sums[k] + p * overall) / (ns[k] + p)
        }
        return result
    }

    private func validate(
        history: ArrivalHistory, from: Date, days: Int, adjustments: [ForecastAdjustment]
    ) throws(ForecastError) {
        let c = configuration
        guard days >= 1 else { throw .invalid("days \(days) is not ≥ 1") }
        guard days <= ForecastLimits.maximumForecastDays else {
            throw .overLimit("\(days) days is past \(ForecastLimits.maximumForecastDays)")
        }
        guard c.weeks >= 1 else { throw .invalid("weeks \(c.weeks) is not ≥ 1") }
        guard c.weeks <= ForecastLimits.maximumHistoryWeeks else {
            throw .overLimit("\(c.weeks) weeks is past \(ForecastLimits.maximumHistoryWeeks)")
        }
        guard c.weeklyDecay.isFinite, c.weeklyDecay > 0, c.weeklyDecay <= 1 else {
            throw .invalid("weekly decay \(c.weeklyDecay) is not in (0, 1]")
        }
        guard c.minimumWeeks >= 1, c.minimumWeeks <= ForecastLimits.maximumHistoryWeeks else {
            throw .invalid("minimum weeks \(c.minimumWeeks) is not 1…\(ForecastLimits.maximumHistoryWeeks)")
        }
        guard c.defaultHandlingSeconds.isFinite, c.defaultHandlingSeconds > 0,
            c.defaultHandlingSeconds <= ForecastLimits.maximumHandlingSeconds
        else { throw .invalid("default handling time \(c.defaultHandlingSeconds) s is not in (0, 1 day]") }
        guard c.handlingPriorSamples.isFinite, c.handlingPriorSamples > 0 else {
            throw .invalid("handling prior \(c.handlingPriorSamples) is not > 0")
        }
        // Dates a calendar can work with: ±10,000 years around 1970 (Date's range is far wider,
        // and a NaN date would make every comparison false).
        let sane = -315_537_897_600.0...253_402_300_800.0
        for (name, date) in [("from", from), ("covered start", history.covered.start), ("covered end", history.covered.end)] {
            guard sane.contains(date.timeIntervalSince1970) else { throw .invalid("\(name) \(date.timeIntervalSince1970) is not a usable date") }
        }
        guard adjustments.count <= ForecastLimits.maximumAdjustments else {
            throw .overLimit("\(adjustments.count) adjustments is past \(ForecastLimits.maximumAdjustments)")
        }
        for a in adjustments {
            guard a.factor.isFinite, a.factor >= 0 else { throw .invalid("adjustment factor \(a.factor) is not ≥ 0") }
        }
    }
}
