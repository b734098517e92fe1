import Desk
import Foundation
import Testing

/// Europe/Berlin in 2026: the clocks go forward on Sunday 29 March (02:00 CET → 03:00 CEST, at
/// 01:00 UTC) and back on Sunday 25 October (03:00 CEST → 02:00 CET, at 01:00 UTC).
@Suite struct BusinessHoursTests {
    let berlin = TimeZone(identifier: "Europe/Berlin")!

    /// An instant given in UTC, "2026-03-23T08:00".
    func utc(_ text: String) -> Date {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        let p = text.split { $0 == "-" || $0 == "T" || $0 == ":" }.map { Int($0)! }
        return c.date(from: DateComponents(year: p[0], month: p[1], day: p[2], hour: p[3], minute: p[4]))!
    }

    /// A wall-clock time in Berlin (not for the hours the clocks skip or repeat).
    func local(_ text: String) -> Date {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = berlin
        let p = text.split { $0 == "-" || $0 == "T" || $0 == ":" }.map { Int($0)! }
        return c.date(from: DateComponents(year: p[0], month: p[1], day: p[2], hour: p[3], minute: p[4]))!
    }

    func shop() throws -> BusinessHours {
        let weekday = [try BusinessHours.Interval("09:00", "18:00")]
        return try BusinessHours(
            timeZone: berlin,
            week: [.monday: weekday, .tuesday: weekday, .wednesday: weekday, .thursday: weekday, .friday: weekday,
                   .saturday: [try BusinessHours.Interval("10:00", "14:00")]])
    }

    @Test func opensAndClosesOnTheWallClockAndSundayIsClosed() throws {
        let hours = try shop()
        #expect(!hours.isOpen(at: local("2026-03-23T08:59")))  // Monday
        #expect(hours.isOpen(at: local("2026-03-23T09:00")))
        #expect(hours.isOpen(at: local("2026-03-23T17:59")))
        #expect(!hours.isOpen(at: local("2026-03-23T18:00")))
        #expect(hours.isOpen(at: local("2026-03-28T13:59")))  // Saturday
        #expect(!hours.isOpen(at: local("2026-03-28T14:00")))
        for hour in 0..<24 { #expect(!hours.isOpen(at: local("2026-03-22T\(hour):30"))) }  // Sunday
        #expect(hours.nextClosing(after: local("2026-03-23T10:00")) == local("2026-03-23T18:00"))
        #expect(hours.nextClosing(after: local("2026-03-23T19:00")) == nil)
    }

    @Test func nineToSixStaysNineToSixAcrossTheSpringChange() throws {
        let hours = try shop()
        // Friday before: 09:00 CET is 08:00 UTC; Monday after: 09:00 CEST is 07:00 UTC.
        #expect(hours.isOpen(at: utc("2026-03-27T08:00")) && !hours.isOpen(at: utc("2026-03-27T07:59")))
        #expect(hours.isOpen(at: utc("2026-03-30T07:00")) && !hours.isOpen(at: utc("2026-03-30T06:59")))
        // Saturday 14:00 → over the change → Monday 09:00 CEST.
        #expect(hours.nextOpening(after: local("2026-03-28T15:00")) == utc("2026-03-30T07:00"))
        // And across the autumn change: Monday 26 October, 09:00 CET is 08:00 UTC.
        #expect(hours.nextOpening(after: local("2026-10-24T15:00")) == utc("2026-10-26T08:00"))
    }

    @Test func anOpeningOrClosingTheClockSkipsHappensAtTheEndOfTheGap() throws {
        // Sunday 29 March: 02:30 does not exist; at 01:00 UTC the wall clock jumps to 03:00.
        let opening = try BusinessHours(timeZone: berlin, week: [.sunday: [try .init("02:30", "05:00")]])
        #expect(opening.nextOpening(after: utc("2026-03-28T23:30")) == utc("2026-03-29T01:00"))
        #expect(opening.isOpen(at: utc("2026-03-29T01:00")) && !opening.isOpen(at: utc("2026-03-29T00:59")))
        #expect(opening.isOpen(at: utc("2026-03-29T02:59")) && !opening.isOpen(at: utc("2026-03-29T03:00")))  // 05:00 CEST
        // Saturday's 22:00–02:30 closes in the same gap: open at 01:59 CET, closed from the jump.
        let closing = try BusinessHours(timeZone: berlin, week: [.saturday: [try .init("22:00", "02:30")]])
        #expect(closing.isOpen(at: utc("2026-03-29T00:59")) && !closing.isOpen(at: utc("2026-03-29T01:00")))
        #expect(closing.nextClosing(after: local("2026-03-28T23:00")) == utc("2026-03-29T01:00"))
        // Both together are one opening across the jump.
        let both = try BusinessHours(
            timeZone: berlin, week: [.saturday: [try .init("22:00", "02:30")], .sunday: [try .init("02:30", "05:00")]])
        #expect(both.nextClosing(after: local("2026-03-28T23:00")) == utc("2026-03-29T03:00"))
    }

    @Test func theRepeatedHourIsOpenBothTimes() throws {
        let hours = try BusinessHours(timeZone: berlin, week: [.sunday: [try .init("02:00", "03:00")]])
        // Sunday 25 October: 02:00–03:00 CEST (00:00–01:00 UTC), then 02:00–03:00 CET (01:00–02:00 UTC).
        #expect(!hours.isOpen(at: utc("2026-10-24T23:59")))
        #expect(hours.isOpen(at: utc("2026-10-25T00:30")))
        #expect(hours.isOpen(at: utc("2026-10-25T01:30")))
        #expect(!hours.isOpen(at: utc("2026-10-25T02:00")))
        // It opens at the first 02:00 and closes at the (only) 03:00.
        #expect(hours.nextOpening(after: utc("2026-10-24T12:00")) == utc("2026-10-25T00:00"))
        #expect(hours.nextClosing(after: utc("2026-10-25T00:30")) == utc("2026-10-25T02:00"))
    }

    @Test func anOvernightIntervalRunsPastMidnight() throws {
        let hours = try BusinessHours(
            timeZone: berlin,
            week: [.friday: [try .init("22:00", "02:00")], .saturday: [try .init("10:00", "14:00")]])
        #expect(!hours.isOpen(at: local("2026-05-01T21:59")))  // Friday
        #expect(hours.isOpen(at: local("2026-05-01T22:00")))
        #expect(hours.isOpen(at: local("2026-05-02T01:59")))  // Saturday morning, Friday's interval
        #expect(!hours.isOpen(at: local("2026-05-02T02:00")))
        #expect(hours.nextOpening(after: local("2026-05-01T12:00")) == local("2026-05-01T22:00"))
        #expect(hours.nextOpening(after: local("2026-05-02T03:00")) == local("2026-05-02T10:00"))
        #expect(hours.nextClosing(after: local("2026-05-01T23:00")) == local("2026-05-02T02:00"))
    }

    @Test func aClosedDateCancelsTheIntervalsThatOpenOnIt() throws {
        let week: [BusinessHours.Weekday: [BusinessHours.Interval]] = [
            .friday: [try .init("22:00", "02:00")], .saturday: [try .init("10:00", "14:00")],
        ]
        // Friday 1 May closed: no Friday night, and nothing of it on Saturday morning.
        let friday = try BusinessHours(timeZone: berlin, week: week, closedDates: [try .init("2026-05-01")])
        #expect(!friday.isOpen(at: local("2026-05-01T23:00")))
        #expect(!friday.isOpen(at: local("2026-05-02T01:00")))
        #expect(friday.isOpen(at: local("2026-05-02T10:00")))
        #expect(friday.nextOpening(after: local("2026-05-01T12:00")) == local("2026-05-02T10:00"))
        // Saturday 2 May closed: Friday night still runs to 02:00, Saturday's day does not open.
        let saturday = try BusinessHours(timeZone: berlin, week: week, closedDates: [try .init("2026-05-02")])
        #expect(saturday.isOpen(at: local("2026-05-02T01:00")))
        #expect(!saturday.isOpen(at: local("2026-05-02T10:00")))
        #expect(saturday.nextOpening(after: local("2026-05-02T03:00")) == local("2026-05-08T22:00"))
    }

    @Test func intervalsThatMeetAreOneOpening() throws {
        let hours = try BusinessHours(
            timeZone: berlin,
            week: [.friday: [try .init("12:00", "18:00"), try .init("18:00", "24:00")], .saturday: [try .init("00:00", "02:00")]])
        #expect(hours.isOpen(at: local("2026-05-01T23:59")) && hours.isOpen(at: local("2026-05-02T00:00")))
        #expect(hours.nextOpening(after: local("2026-05-01T13:00")) == local("2026-05-08T12:00"))
        #expect(hours.nextClosing(after: local("2026-05-01T13:00")) == local("2026-05-02T02:00"))
    }

    @Test func neverOpenAndAlwaysOpen() throws {
        let never = try BusinessHours(timeZone: berlin, week: [:])
        #expect(!never.isOpen(at: Date()) && never.nextOpening(after: Date()) == nil)
        let always = BusinessHours.always(in: berlin)
        for hour in stride(from: 0, to: 24 * 14, by: 5) { #expect(always.isOpen(at: utc("2026-03-23T00:00").addingTimeInterval(Double(hour) * 3600))) }
        #expect(always.nextClosing(after: Date()) == nil)
    }

    @Test func refusesMalformedTimesDatesAndOverlaps() throws {
        for bad in ["25:00", "24:30", "9:5", "09:60", "0900", "", "ab:cd"] {
            #expect(throws: DeskError(.invalidArgument, "")) { try BusinessHours.TimeOfDay(bad) }
        }
        #expect(try BusinessHours.TimeOfDay("9:05").description == "09:05")
        #expect(throws: DeskError(.invalidArgument, "")) { try BusinessHours.Interval("24:00", "02:00") }
        #expect(throws: DeskError(.invalidArgument, "")) { try BusinessHours.Interval("09:00", "09:00") }
        for bad in ["2026-02-29", "2026-13-01", "26-01-01", "2026-1-1"] {
            #expect(throws: DeskError(.invalidArgument, "")) { try BusinessHours.LocalDate(bad) }
        }
        #expect(throws: DeskError(.invalidArgument, "")) {
            try BusinessHours(timeZone: berlin, week: [.monday: [try .init("09:00", "13:00"), try .init("12:00", "18:00")]])
        }
        // Sunday night's overnight interval overlaps Monday morning.
        #expect(throws: DeskError(.invalidArgument, "")) {
            try BusinessHours(timeZone: berlin, week: [.sunday: [try .init("20:00", "10:00")], .monday: [try .init("09:00", "18:00")]])
        }
    }

    @Test func readsAndWritesTheDocumentedJSON() throws {
        let json = """
            { "timeZone": "Europe/Berlin",
              "week": { "monday": [{ "open": "09:00", "close": "18:00" }], "saturday": [{ "open": "10:00", "close": "14:00" }] },
              "closedDates": ["2026-12-25"] }
            """
        let hours = try JSONDecoder().decode(BusinessHours.self, from: Data(json.utf8))
        #expect(hours.timeZone.identifier == "Europe/Berlin")
        #expect(hours.week[.monday] == [try .init("09:00", "18:00")])
        #expect(hours.week[.sunday] == nil)
        #expect(hours.closedDates == [try .init("2026-12-25")])
        #expect(try JSONDecoder().decode(BusinessHours.self, from: JSONEncoder().encode(hours)) == hours)
        for bad in [
            #"{"timeZone": "Mars/Olympus"}"#, #"{"timeZone": "UTC", "week": {"funday": []}}"#,
            #"{"timeZone": "UTC", "week": {"monday": [{"open": "9", "close": "10:00"}]}}"#,
        ] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(BusinessHours.self, from: Data(bad.utf8)) }
        }
    }
}
