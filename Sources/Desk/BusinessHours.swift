import Foundation

/// When a department is staffed: per weekday, opening intervals in local (wall-clock) time of one
/// time zone, and dates it is closed. The bot reports hand-offs outside these hours
/// (``BotTriage``) and answers "when are you open?" from them; the queue uses them too.
///
/// **Wall-clock semantics.** ``isOpen(at:)`` converts the instant to the time zone's local date
/// and time and compares that with the intervals, so "09:00–18:00" means nine to six on the
/// clock on the wall, in winter and in summer.
/// - On the day the clocks go forward, a local time the clock skips does not exist: an interval
///   opening inside the gap (02:30 where 02:00 jumps to 03:00) opens at the end of the gap
///   (03:00), and one closing inside it closes there.
/// - On the day the clocks go back, the repeated hour is open both times if its wall time is.
///
/// **Midnight.** An interval whose ``Interval/close`` is not after its ``Interval/open``
/// ("22:00–02:00") runs past midnight into the next day; "24:00" as a close means the end of the
/// day. An interval belongs to the day it opens: a date in ``closedDates`` cancels the intervals
/// that open on it, and an overnight interval from the evening before runs to its close.
///
/// JSON (docs/desk.md):
/// ```json
/// { "timeZone": "Europe/Berlin",
///   "week": { "monday": [{ "open": "09:00", "close": "18:00" }], "saturday": [{ "open": "10:00", "close": "14:00" }] },
///   "closedDates": ["2026-12-25"] }
/// ```
/// A weekday left out of `week` is closed.
public struct BusinessHours: Sendable, Hashable {
    /// A day of the week, numbered as `Calendar`'s `weekday` (Sunday = 1).
    public enum Weekday: Int, Sendable, Hashable, CaseIterable, Comparable, Codable {
        case sunday = 1, monday, tuesday, wednesday, thursday, friday, saturday

        public var name: String { String(describing: self) }
        public init?(name: String) {
            guard let day = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
            self = day
        }
        /// The day after (Saturday → Sunday).
        public var next: Weekday { Weekday(rawValue: rawValue % 7 + 1) ?? .sunday }
        /// The day before (Sunday → Saturday).
        public var previous: Weekday { Weekday(rawValue: (rawValue + 5) % 7 + 1) ?? .saturday }
        public static func < (a: Weekday, b: Weekday) -> Bool { a.rawValue < b.rawValue }
        /// Monday first, as a shop lists its hours.
        public static let mondayFirst: [Weekday] = [.monday, .tuesday, .wednesday, .thursday, .friday, .saturday, .sunday]
    }

    /// A wall-clock time, "HH:mm", 00:00 to 24:00 (24:00 only as a close).
    public struct TimeOfDay: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
        /// Minutes since midnight, 0…1440.
        public let minutes: Int

        /// 00:00 and 24:00 (the end of a day, only as a close).
        public static let midnight = TimeOfDay(minutes: 0)
        public static let endOfDay = TimeOfDay(minutes: 1_440)
        private init(minutes: Int) { self.minutes = minutes }

        public init(hour: Int, minute: Int = 0) throws(DeskError) {
            guard (0...23).contains(hour) && (0...59).contains(minute) || (hour == 24 && minute == 0) else {
                throw DeskError(.invalidArgument, "time \(hour):\(minute) is not between 00:00 and 24:00")
            }
            minutes = hour * 60 + minute
        }

        /// Parses "HH:mm" ("9:00" is accepted too).
        public init(_ text: String) throws(DeskError) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, (1...2).contains(parts[0].count), parts[1].count == 2,
                parts.allSatisfy({ $0.allSatisfy(\.isASCII) }),
                let h = Int(parts[0]), let m = Int(parts[1])
            else { throw DeskError(.invalidArgument, "time \"\(text.prefix(20))\" is not HH:mm") }
            try self.init(hour: h, minute: m)
        }

        public var hour: Int { minutes / 60 }
        public var minute: Int { minutes % 60 }
        public var description: String {
            (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
        }
        public static func < (a: TimeOfDay, b: TimeOfDay) -> Bool { a.minutes < b.minutes }

        public init(from decoder: any Decoder) throws {
            let text = try decoder.singleValueContainer().decode(String.self)
            do { try self.init(text) } catch {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.detail))
            }
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(description)
        }
    }

    /// One opening on one day, from ``open`` to ``close`` (exclusive), past midnight when
    /// ``close`` ≤ ``open``.
    public struct Interval: Sendable, Hashable, Codable {
        public let open: TimeOfDay
        public let close: TimeOfDay

        /// 00:00–24:00.
        public static let wholeDay = Interval(checkedOpen: .midnight, close: .endOfDay)
        private init(checkedOpen open: TimeOfDay, close: TimeOfDay) {
            self.open = open
            self.close = close
        }

        public init(open: TimeOfDay, close: TimeOfDay) throws(DeskError) {
            guard open.minutes < 1440 else { throw DeskError(.invalidArgument, "an interval cannot open at 24:00") }
            guard open != close else {
                throw DeskError(.invalidArgument, "an interval opening and closing at \(open) is empty (use 00:00–24:00)")
            }
            self.open = open
            self.close = close
        }

        /// "09:00"–"18:00".
        public init(_ open: String, _ close: String) throws(DeskError) {
            try self.init(open: TimeOfDay(open), close: TimeOfDay(close))
        }

        /// Whether it runs past midnight into the next day.
        public var isOvernight: Bool { close <= open }
        /// Its length in wall-clock minutes.
        public var minutes: Int { isOvernight ? 1440 - open.minutes + close.minutes : close.minutes - open.minutes }

        private enum CodingKeys: String, CodingKey { case open, close }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            do {
                try self.init(open: c.decode(TimeOfDay.self, forKey: .open), close: c.decode(TimeOfDay.self, forKey: .close))
            } catch let error as DeskError {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.detail))
            }
        }
    }

    /// A calendar date in the business's time zone, "YYYY-MM-DD".
    public struct LocalDate: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
        public let year: Int
        public let month: Int
        public let day: Int

        public init(year: Int, month: Int, day: Int) throws(DeskError) {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            guard (1...9999).contains(year), (1...12).contains(month), (1...31).contains(day),
                let date = calendar.date(from: DateComponents(year: year, month: month, day: day)),
                calendar.component(.day, from: date) == day
            else { throw DeskError(.invalidArgument, "\(year)-\(month)-\(day) is not a date") }
            self.year = year
            self.month = month
            self.day = day
        }

        /// Parses "YYYY-MM-DD".
        public init(_ text: String) throws(DeskError) {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
                parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
                let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
            else { throw DeskError(.invalidArgument, "date \"\(text.prefix(20))\" is not YYYY-MM-DD") }
            try self.init(year: y, month: m, day: d)
        }

        public var description: String {
            func pad(_ v: Int, _ n: Int) -> String { String(repeating: "0", count: max(0, n - String(v).count)) + String(v) }
            return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
        }
        public static func < (a: LocalDate, b: LocalDate) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }

        public init(from decoder: any Decoder) throws {
            let text = try decoder.singleValueContainer().decode(String.self)
            do { try self.init(text) } catch {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.detail))
            }
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(description)
        }
    }

    public let timeZone: TimeZone
    /// The intervals of each weekday, sorted by opening time; a day missing is closed.
    public let week: [Weekday: [Interval]]
    /// Dates with no opening (holidays).
    public let closedDates: Set<LocalDate>

    /// - Throws: ``DeskError`` `invalid_argument` when two intervals of a day overlap (counting an
    ///   overnight interval's morning part against the next day's intervals).
    /// A week known to be valid (sorted, no overlaps).
    private init(timeZone: TimeZone, checkedWeek: [Weekday: [Interval]]) {
        self.timeZone = timeZone
        week = checkedWeek
        closedDates = []
    }

    public init(timeZone: TimeZone, week: [Weekday: [Interval]], closedDates: Set<LocalDate> = []) throws(DeskError) {
        var sorted: [Weekday: [Interval]] = [:]
        for (day, intervals) in week where !intervals.isEmpty {
            sorted[day] = intervals.sorted { $0.open < $1.open }
        }
        // No overlap within a day, nor between a day's overnight interval and the next morning.
        for day in Weekday.allCases {
            let today = sorted[day] ?? []
            var spans = today.map { (start: $0.open.minutes, end: $0.open.minutes + $0.minutes) }
            for overnight in (sorted[day.previous] ?? []) where overnight.isOvernight {
                spans.append((start: overnight.open.minutes - 1440, end: overnight.close.minutes))
            }
            spans.sort { $0.start < $1.start }
            for (a, b) in zip(spans, spans.dropFirst()) where b.start < a.end {
                throw DeskError(.invalidArgument, "intervals overlap on \(day.name)")
            }
        }
        self.timeZone = timeZone
        self.week = sorted
        self.closedDates = closedDates
    }

    /// Open around the clock, every day: for a department that has no hours.
    public static func always(in timeZone: TimeZone = TimeZone(secondsFromGMT: 0) ?? .current) -> BusinessHours {
        BusinessHours(timeZone: timeZone, checkedWeek: Dictionary(uniqueKeysWithValues: Weekday.allCases.map { ($0, [Interval.wholeDay]) }))
    }

    private var calendar: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = timeZone
        return c
    }

    /// Whether the department is open at `date` (see the wall-clock semantics above).
    public func isOpen(at date: Date) -> Bool {
        let calendar = calendar
        let c = calendar.dateComponents([.year, .month, .day, .weekday, .hour, .minute, .second], from: date)
        guard let weekday = c.weekday.flatMap(Weekday.init(rawValue:)), let hour = c.hour, let minute = c.minute,
            let today = try? LocalDate(year: c.year ?? 0, month: c.month ?? 0, day: c.day ?? 0)
        else { return false }
        let now = hour * 60 + minute
        if !closedDates.contains(today) {
            for interval in week[weekday] ?? [] where now >= interval.open.minutes {
                if interval.isOvernight || now < interval.close.minutes { return true }
            }
        }
        // An overnight interval that opened yesterday.
        let y = calendar.date(byAdding: .day, value: -1, to: date).map { calendar.dateComponents([.year, .month, .day], from: $0) }
        if let y, let yesterday = try? LocalDate(year: y.year ?? 0, month: y.month ?? 0, day: y.day ?? 0),
            !closedDates.contains(yesterday)
        {
            for interval in week[weekday.previous] ?? [] where interval.isOvernight && now < interval.close.minutes {
                return true
            }
        }
        return false
    }

    /// The first instant after `date` at which the department opens (goes from closed to open),
    /// looking up to 366 days ahead; `nil` if it never does (no intervals, or every day closed).
    /// When two intervals meet ("09:00–12:00" and "12:00–18:00") the second is not an opening.
    public func nextOpening(after date: Date) -> Date? {
        let calendar = calendar
        let startOfToday = calendar.startOfDay(for: date)
        for offset in 0...366 {
            guard let day = calendar.date(byAdding: .day, value: offset, to: startOfToday) else { return nil }
            let c = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            guard let weekday = c.weekday.flatMap(Weekday.init(rawValue:)),
                let local = try? LocalDate(year: c.year ?? 0, month: c.month ?? 0, day: c.day ?? 0),
                !closedDates.contains(local)
            else { continue }
            for interval in week[weekday] ?? [] {
                guard let opening = instant(of: interval.open, on: c, calendar: calendar), opening > date else { continue }
                // Not an opening when it was already open just before (adjacent intervals).
                if isOpen(at: opening.addingTimeInterval(-1)) { continue }
                return opening
            }
        }
        return nil
    }

    /// The first instant after `date` at which the department closes, if it is open at `date`
    /// (adjacent intervals count as one opening); `nil` if it is closed, or stays open for the
    /// next eight days (open around the clock).
    public func nextClosing(after date: Date) -> Date? {
        guard isOpen(at: date) else { return nil }
        // Every interval's close from yesterday's (an overnight one) on, in time order; the first
        // after which it is not open again at once.
        let calendar = calendar
        let startOfYesterday = calendar.date(byAdding: .day, value: -1, to: calendar.startOfDay(for: date)) ?? date
        var closings: [Date] = []
        for offset in 0...8 {
            guard let day = calendar.date(byAdding: .day, value: offset, to: startOfYesterday) else { break }
            let c = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            guard let weekday = c.weekday.flatMap(Weekday.init(rawValue:)) else { continue }
            for interval in week[weekday] ?? [] {
                var cc = c
                if interval.isOvernight || interval.close.minutes == 1440 {
                    guard let next = calendar.date(byAdding: .day, value: 1, to: day) else { continue }
                    cc = calendar.dateComponents([.year, .month, .day, .weekday], from: next)
                }
                let close = interval.close.minutes == 1440 ? TimeOfDay.midnight : interval.close
                if let closing = instant(of: close, on: cc, calendar: calendar), closing > date { closings.append(closing) }
            }
        }
        for closing in closings.sorted() where !isOpen(at: closing) { return closing }
        return nil
    }

    /// The instant of wall time `time` on local day `day` — the end of the gap if the clocks skip
    /// that time, the first occurrence if they repeat it.
    private func instant(of time: TimeOfDay, on day: DateComponents, calendar: Calendar) -> Date? {
        var c = DateComponents(year: day.year, month: day.month, day: day.day, hour: time.hour, minute: time.minute)
        c.timeZone = timeZone
        guard let date = calendar.date(from: c) else { return nil }
        let back = calendar.dateComponents([.day, .hour, .minute], from: date)
        if back.day == day.day && back.hour == time.hour && back.minute == time.minute { return date }
        // Skipped by a forward transition: Foundation moves it forward by the gap; the wall clock
        // reaches (and passes) `time` at the transition itself.
        guard let midnight = calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day)),
            let transition = timeZone.nextDaylightSavingTimeTransition(after: midnight.addingTimeInterval(-1)),
            transition <= date
        else { return date }
        return transition
    }
}

extension BusinessHours: Codable {
    private enum CodingKeys: String, CodingKey { case timeZone, week, closedDates }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let zoneName = try c.decode(String.self, forKey: .timeZone)
        guard let zone = TimeZone(identifier: zoneName) else {
            throw DecodingError.dataCorruptedError(forKey: .timeZone, in: c, debugDescription: "unknown time zone \(zoneName)")
        }
        let named = try c.decodeIfPresent([String: [Interval]].self, forKey: .week) ?? [:]
        var week: [Weekday: [Interval]] = [:]
        for (name, intervals) in named {
            guard let day = Weekday(name: name) else {
                throw DecodingError.dataCorruptedError(forKey: .week, in: c, debugDescription: "\(name) is not a weekday")
            }
            week[day] = intervals
        }
        let closed = try c.decodeIfPresent([LocalDate].self, forKey: .closedDates) ?? []
        do {
            try self.init(timeZone: zone, week: week, closedDates: Set(closed))
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .week, in: c, debugDescription: error.detail)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(timeZone.identifier, forKey: .timeZone)
        try c.encode(Dictionary(uniqueKeysWithValues: week.map { ($0.key.name, $0.value) }), forKey: .week)
        try c.encode(closedDates.sorted(), forKey: .closedDates)
    }
}
