import Foundation

/// The half hours of a run of local days in a time zone: real 30-minute intervals from each
/// local midnight (or the day's first instant where midnight does not exist) to the next, each
/// labelled with its weekday and the wall-clock half hour it starts in. A 23-hour day has 46,
/// a 25-hour day 50; a day's last interval is shorter when its length is not a multiple of 30
/// minutes. The intervals are contiguous, so an instant's interval is found by binary search.
struct HalfHourGrid {
    struct Slot {
        /// Seconds since 1970.
        var start: Double
        var end: Double
        /// Index of the day in the grid, 0 = first.
        var day: Int
        /// Wall-clock half hour at ``start``: 0 (00:00) … 47 (23:30).
        var key: Int
        /// 1 Sunday … 7 Saturday.
        var weekday: Int
    }

    static let slotSeconds = 1_800.0
    static let keys = 48

    private(set) var slots: [Slot] = []

    /// The grid of `days` local days, the first being the one that contains `first`.
    init(calendar: Calendar, first: Date, days: Int) {
        slots.reserveCapacity(days * 50)
        var dayStart = calendar.startOfDay(for: first)
        for day in 0..<days {
            // A local day lasts 23 to 25 hours (a day of 0 hours, like Samoa's 30 December 2011,
            // is skipped by this step), so 36 hours on lands in the next one.
            let next = calendar.startOfDay(for: dayStart.addingTimeInterval(36 * 3_600))
            let weekday = calendar.component(.weekday, from: dayStart)
            let end = next.timeIntervalSince1970
            var t = dayStart.timeIntervalSince1970
            while t < end {
                let offset = Double(calendar.timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: t)))
                let local = (t + offset).truncatingRemainder(dividingBy: 86_400)
                let minute = Int((local < 0 ? local + 86_400 : local) / 60)
                slots.append(
                    Slot(start: t, end: min(t + Self.slotSeconds, end), day: day, key: min(Self.keys - 1, minute / 30), weekday: weekday))
                t += Self.slotSeconds
            }
            dayStart = next
        }
    }

    var start: Double { slots.first?.start ?? 0 }
    var end: Double { slots.last?.end ?? 0 }

    /// The index of the slot holding `t` (seconds since 1970), or nil outside the grid.
    func index(of t: Double) -> Int? {
        guard let first = slots.first, let last = slots.last, t >= first.start, t < last.end else { return nil }
        // Most slots are exactly 30 minutes, so the arithmetic guess is usually right.
        let guess = min(slots.count - 1, Int((t - first.start) / Self.slotSeconds))
        if slots[guess].start <= t, t < slots[guess].end { return guess }
        var lo = 0
        var hi = slots.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if slots[mid].start <= t { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }
}
