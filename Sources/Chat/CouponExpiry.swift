import Foundation

/// When a coupon expires, **as the sender wrote it**: an ISO 8601 calendar date (`2027-01-31`) or
/// date and time with a zone (`2026-12-31T23:59:59Z`, `…59.500Z`, `…59+02:00`). The text is what
/// is stored and sent back, so every client sees exactly what was sent — the same instant, the
/// same precision; ``date`` reads the instant it names.
///
/// Accepted (the extended format of ISO 8601 / RFC 3339 that browsers and `Date.toISOString()`
/// write):
///
///     YYYY-MM-DD                                   a calendar date
///     YYYY-MM-DDThh:mm[:ss[.f…]](Z|+hh:mm|-hh:mm)   a time in that date, fraction 1–9 digits
///
/// A time without a zone (local time, which names no instant) is refused, as are out-of-range
/// fields (month 13, 30 February, hour 24, second 60).
public struct CouponExpiry: Sendable, Hashable, CustomStringConvertible {
    /// The value as sent.
    public let text: String

    /// Wraps what a client sent; ``date`` is nil when it is not one of the accepted forms (the
    /// content's validation refuses it with `invalid_content`).
    public init(text: String) { self.text = text }

    /// An instant, written in UTC with milliseconds when it has any (`2026-12-31T23:59:59.500Z`).
    public init(_ date: Date) {
        let total = date.timeIntervalSince1970
        var seconds = Int64(total.rounded(.down))
        var millis = Int64(((total - Double(seconds)) * 1_000).rounded())
        if millis == 1_000 {
            seconds += 1
            millis = 0
        }
        let (days, secondOfDay) = (seconds.floorDivided(by: 86_400), seconds.floorModulo(86_400))
        let (y, m, d) = Self.civil(fromDays: days)
        var s = String(format: "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", y, m, d, secondOfDay / 3_600, secondOfDay / 60 % 60, secondOfDay % 60)
        if millis > 0 { s += String(format: ".%03lld", millis) }
        text = s + "Z"
    }

    public var description: String { text }

    /// The instant it names (a date alone: the first instant of that day in UTC), or nil if the
    /// text is not an accepted ISO 8601 form.
    public var date: Date? { Self.parse(text) }

    /// Longest accepted form: `YYYY-MM-DDThh:mm:ss.fffffffff+hh:mm`.
    static let maximumLength = 35

    static func parse(_ text: String) -> Date? {
        guard text.utf8.count <= maximumLength,
            let m = text.wholeMatch(
                of: /([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?/
            )
        else { return nil }
        guard let year = Int64(m.1), let month = Int64(m.2), let day = Int64(m.3), (1...12).contains(month),
            (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        var seconds = daysFromCivil(year: year, month: month, day: day) * 86_400
        var fraction = 0.0
        if let hh = m.4, let mm = m.5, let zone = m.8 {
            guard let hour = Int64(hh), let minute = Int64(mm), hour < 24, minute < 60 else { return nil }
            let second = m.6.flatMap { Int64($0) } ?? 0
            guard second < 60 else { return nil }
            seconds += hour * 3_600 + minute * 60 + second
            if let f = m.7 { fraction = Double("0." + f) ?? 0 }
            if zone != "Z" && zone != "z" {
                let parts = zone.dropFirst().split(separator: ":")
                guard parts.count == 2, let oh = Int64(parts[0]), let om = Int64(parts[1]), oh < 24, om < 60 else { return nil }
                let offset = (oh * 3_600 + om * 60) * (zone.hasPrefix("-") ? -1 : 1)
                seconds -= offset  // 12:00+02:00 is 10:00Z
            }
        } else if m.4 != nil {
            return nil
        }
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible
    /// Low-Level Date Algorithms", days_from_civil).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = y.floorDivided(by: 400)
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The inverse (civil_from_days).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = z.floorDivided(by: 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    fileprivate func floorDivided(by d: Int64) -> Int64 { (self >= 0 ? self : self - d + 1) / d }
    fileprivate func floorModulo(_ d: Int64) -> Int64 { self - floorDivided(by: d) * d }
}
