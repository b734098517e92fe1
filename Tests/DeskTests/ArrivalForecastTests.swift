import Desk
import DeskSimulation
import Foundation
import Testing

/// ``ArrivalForecast``'s method, rule by rule, then against a synthetic shop whose true rates
/// are known.
@Suite struct ArrivalForecastTests {
    static let utc = TimeZone(identifier: "UTC")!
    static let berlin = TimeZone(identifier: "Europe/Berlin")!
    /// Monday 2025-01-06 00:00 UTC.
    static let monday = Date(timeIntervalSince1970: 1_736_121_600)
    static let day = 86_400.0
    static let week = 7 * 86_400.0

    func slot(_ slots: [ForecastSlot], weekday: Int, minute: Int) throws -> ForecastSlot {
        try #require(slots.first { $0.weekday == weekday && $0.minuteOfDay == minute })
    }

    /// Four weeks of Mondays with 10, 20, 30, 40 arrivals at 10:00 (most recent first): the
    /// forecast is their mean weighted 1, 0.8, 0.64, 0.512.
    @Test func sameWeekdaySameHalfHourWeightedTowardsRecentWeeks() throws {
        let end = Self.monday.addingTimeInterval(4 * Self.week)
        var arrivals: [Date] = []
        for (weeksAgo, count) in [(1, 10), (2, 20), (3, 30), (4, 40)] {
            let slotStart = end.addingTimeInterval(-Double(weeksAgo) * Self.week + 10 * 3_600)
            arrivals += (0..<count).map { slotStart.addingTimeInterval(Double($0) * 1_799 / Double(count)) }
        }
        let history = ArrivalHistory(arrivals: arrivals.shuffled(), covered: DateInterval(start: Self.monday, end: end))
        let forecast = try ArrivalForecast(timeZone: Self.utc).forecast(history: history, from: end, days: 7)
        #expect(forecast.count == 7 * 48)
        let monday10 = try slot(forecast, weekday: 2, minute: 600)
        let weights = [1, 0.8, 0.64, 0.512]
        let expected = zip(weights, [10.0, 20, 30, 40]).reduce(0) { $0 + $1.0 * $1.1 } / weights.reduce(0, +)
        #expect(abs(monday10.expectedArrivals - expected) < 1e-9)
        #expect(monday10.basis == .weekday(weeks: 4))
        #expect(monday10.start == end.addingTimeInterval(10 * 3_600))
        // Every other half hour was observed four times with nobody: zero, not unknown.
        let tuesday10 = try slot(forecast, weekday: 3, minute: 600)
        #expect(tuesday10.expectedArrivals == 0 && tuesday10.basis == .weekday(weeks: 4))
    }

    /// With fewer weeks of a weekday than `minimumWeeks` (3), the weekday is blended with the
    /// all-days average; with none, the all-days average alone; with no history, nothing.
    @Test func thinHistoryFallsBackToAllDays() throws {
        // Ten days, Monday to the next Wednesday: Mon/Tue/Wed seen twice, the others once.
        let end = Self.monday.addingTimeInterval(10 * Self.day)
        var arrivals: [Date] = []
        for d in 0..<10 {
            // Day d has d + 1 arrivals at 12:00.
            let noon = Self.monday.addingTimeInterval(Double(d) * Self.day + 12 * 3_600 + 60)
            arrivals += (0...d).map { noon.addingTimeInterval(Double($0)) }
        }
        let history = ArrivalHistory(arrivals: arrivals, covered: DateInterval(start: Self.monday, end: end))
        let forecast = try ArrivalForecast(timeZone: Self.utc).forecast(history: history, from: end, days: 7)
        // The all-days mean at 12:00: day d weighs 0.8^((9 − d)/7).
        let w = (0..<10).map { pow(0.8, Double(9 - $0) / 7) }
        let allDays = (0..<10).reduce(0) { $0 + w[$1] * Double($1 + 1) } / w.reduce(0, +)
        // Thursday (weekday 5, day 3 only): one week → (1 × 4 + 2 × all days) / 3.
        let thursday = try slot(forecast, weekday: 5, minute: 720)
        #expect(thursday.basis == .blended(weeks: 1))
        #expect(abs(thursday.expectedArrivals - (4 + 2 * allDays) / 3) < 1e-9)
        // Monday (days 0 and 7): two weeks, weighted.
        let monday = try slot(forecast, weekday: 2, minute: 720)
        let mondayMean = (w[0] * 1 + w[7] * 8) / (w[0] + w[7])
        #expect(monday.basis == .blended(weeks: 2))
        #expect(abs(monday.expectedArrivals - (2 * mondayMean + allDays) / 3) < 1e-9)

        // Only Monday to Wednesday recorded: Thursday has no week of its own.
        let short = ArrivalHistory(arrivals: arrivals, covered: DateInterval(start: Self.monday, end: Self.monday.addingTimeInterval(3 * Self.day)))
        let thin = try ArrivalForecast(timeZone: Self.utc).forecast(history: short, from: end, days: 7)
        let thinThursday = try slot(thin, weekday: 5, minute: 720)
        #expect(thinThursday.basis == .allDays(days: 3))
        #expect(abs(thinThursday.expectedArrivals - (pow(0.8, 2.0 / 7) * 1 + pow(0.8, 1.0 / 7) * 2 + 3) / (pow(0.8, 2.0 / 7) + pow(0.8, 1.0 / 7) + 1)) < 1e-9)

        // Nothing recorded: no basis, no arrivals; the handling time is the default.
        let none = try ArrivalForecast(timeZone: Self.utc).forecast(
            history: ArrivalHistory(arrivals: arrivals, covered: DateInterval(start: end, duration: 0)), from: end, days: 1)
        #expect(none.allSatisfy { $0.basis == .noHistory && $0.expectedArrivals == 0 && $0.averageHandlingSeconds == 300 })
    }

    /// A half hour outside the record is not a zero: a desk opened on Thursday with 5 arrivals a
    /// half hour forecasts 5, not 5 × (days open / days looked back).
    @Test func halfHoursOutsideTheCoverageAreNotZeros() throws {
        let opened = Self.monday.addingTimeInterval(3 * Self.day + 9 * 3_600 + 15 * 60)  // Thursday 09:15
        let end = Self.monday.addingTimeInterval(4 * Self.week)
        var arrivals: [Date] = []
        var t = opened
        while t < end {
            arrivals.append(t)
            t.addTimeInterval(360)
        }
        let history = ArrivalHistory(arrivals: arrivals, covered: DateInterval(start: opened, end: end))
        let forecast = try ArrivalForecast(timeZone: Self.utc).forecast(history: history, from: end, days: 7)
        for s in forecast { #expect(abs(s.expectedArrivals - 5) < 1e-9, "\(s.weekday) \(s.minuteOfDay)") }
        // Thursday 09:00 was only partly covered on the first day: three weeks of it, not four.
        #expect(try slot(forecast, weekday: 5, minute: 540).basis == .weekday(weeks: 3))
        #expect(try slot(forecast, weekday: 5, minute: 570).basis == .weekday(weeks: 4))
    }

    /// Berlin: clocks go forward on 30 March 2025 (46 half hours) and back on 26 October 2025
    /// (50, the 02:00 and 02:30 half hours twice). A steady 4 arrivals per real half hour
    /// through both changes forecasts 4 in every half hour, DST days included.
    @Test func daylightSavingDaysHaveTheirOwnHalfHours() throws {
        let zone = Self.berlin
        let start = Date(timeIntervalSince1970: 1_740_783_600)  // 2025-03-01 00:00 CET
        let end = Date(timeIntervalSince1970: 1_762_038_000)  // 2025-11-02 00:00 CET
        let arrivals = stride(from: start.timeIntervalSince1970, to: end.timeIntervalSince1970, by: 450).map {
            Date(timeIntervalSince1970: $0 + 1)
        }
        let history = ArrivalHistory(arrivals: arrivals, covered: DateInterval(start: start, end: end))
        let forecaster = ArrivalForecast(timeZone: zone)

        let spring = try forecaster.forecast(history: history, from: Date(timeIntervalSince1970: 1_743_292_800), days: 1)
        #expect(spring.count == 46)
        #expect(!spring.contains { $0.minuteOfDay == 120 || $0.minuteOfDay == 150 })
        #expect(spring.first?.start == Date(timeIntervalSince1970: 1_743_289_200))  // 00:00 CET
        let autumn = try forecaster.forecast(history: history, from: Date(timeIntervalSince1970: 1_761_436_800), days: 1)
        #expect(autumn.count == 50)
        #expect(autumn.map(\.minuteOfDay).filter { $0 == 120 || $0 == 150 } == [120, 150, 120, 150])
        #expect(zip(autumn, autumn.dropFirst()).allSatisfy { $0.end == $1.start })
        for s in spring + autumn { #expect(abs(s.expectedArrivals - 4) < 1e-9) }
        // History across the autumn change: the weeks before are still read by local half hour.
        let after = try forecaster.forecast(history: history, from: end, days: 7)
        #expect(after.count == 7 * 48)
        for s in after { #expect(abs(s.expectedArrivals - 4) < 1e-9) }
    }

    @Test func adjustmentsMultiplyTheHalfHoursTheyCover() throws {
        let end = Self.monday.addingTimeInterval(4 * Self.week)
        let arrivals = stride(from: Self.monday.timeIntervalSince1970, to: end.timeIntervalSince1970, by: 600).map { Date(timeIntervalSince1970: $0) }
        let history = ArrivalHistory(arrivals: arrivals, covered: DateInterval(start: Self.monday, end: end))
        let sale = ForecastAdjustment(interval: DateInterval(start: end.addingTimeInterval(18 * 3_600), duration: 4 * 3_600), factor: 3)
        let closed = ForecastAdjustment(interval: DateInterval(start: end.addingTimeInterval(Self.day), duration: Self.day), factor: 0)
        let overlap = ForecastAdjustment(interval: DateInterval(start: end.addingTimeInterval(20 * 3_600), duration: 1_800), factor: 2)
        let forecast = try ArrivalForecast(timeZone: Self.utc).forecast(history: history, from: end, days: 2, adjustments: [sale, closed, overlap])
        for s in forecast {
            let hours = s.start.timeIntervalSince(end) / 3_600
            let expected: Double =
                hours >= 24 ? 0 : hours == 20 ? 18 : (18..<22).contains(hours) ? 9 : 3
            #expect(abs(s.expectedArrivals - expected) < 1e-9, "\(hours) h")
        }
    }

    @Test func handlingTimePerHalfHourShrinksTowardsTheMean() throws {
        let end = Self.monday.addingTimeInterval(Self.week)
        // 20 samples of 600 s at 10:00 on Monday, 180 samples of 200 s at 14:00 each day.
        var samples = (0..<20).map { HandlingSample(arrivedAt: Self.monday.addingTimeInterval(10 * 3_600 + Double($0)), seconds: 600) }
        for d in 0..<7 {
            samples += (0..<180).map { HandlingSample(arrivedAt: Self.monday.addingTimeInterval(Double(d) * Self.day + 14 * 3_600 + Double($0)), seconds: 200) }
        }
        samples += [.nan, -1, 0, .infinity].map { HandlingSample(arrivedAt: Self.monday.addingTimeInterval(3_600), seconds: $0) }
        let history = ArrivalHistory(arrivals: [], handling: samples, covered: DateInterval(start: Self.monday, end: end))
        let forecast = try ArrivalForecast(timeZone: Self.utc).forecast(history: history, from: end, days: 1)
        let overall = (20 * 600 + 1_260 * 200) / 1_280.0
        #expect(abs(try slot(forecast, weekday: 2, minute: 600).averageHandlingSeconds - (20 * 600 + 20 * overall) / 40) < 1e-9)
        #expect(abs(try slot(forecast, weekday: 2, minute: 840).averageHandlingSeconds - (1_260 * 200 + 20 * overall) / 1_280) < 1e-9)
        #expect(abs(try slot(forecast, weekday: 2, minute: 0).averageHandlingSeconds - overall) < 1e-9)
    }

    @Test func hostileInputsThrowWithTheirCode() {
        let history = ArrivalHistory(arrivals: [.distantPast, .distantFuture, Date(timeIntervalSince1970: .nan)], covered: DateInterval(start: Self.monday, duration: Self.week))
        func code(_ c: ArrivalForecast.Configuration = .init(), from: Date = Self.monday, days: Int = 7, adjustments: [ForecastAdjustment] = [], history h: ArrivalHistory? = nil) -> ForecastError.Code? {
            do throws(ForecastError) {
                _ = try ArrivalForecast(timeZone: Self.utc, configuration: c).forecast(history: h ?? history, from: from, days: days, adjustments: adjustments)
                return nil
            } catch { return error.code }
        }
        #expect(code() == nil)
        #expect(code(days: 0) == .invalidArgument)
        #expect(code(days: 367) == .overLimit)
        #expect(code(days: .max) == .overLimit)
        var c = ArrivalForecast.Configuration()
        c.weeks = 53
        #expect(code(c) == .overLimit)
        c = .init()
        c.weeklyDecay = .nan
        #expect(code(c) == .invalidArgument)
        c = .init()
        c.minimumWeeks = 0
        #expect(code(c) == .invalidArgument)
        c = .init()
        c.defaultHandlingSeconds = -3
        #expect(code(c) == .invalidArgument)
        #expect(code(from: Date(timeIntervalSince1970: .nan)) == .invalidArgument)
        #expect(code(from: .distantFuture.addingTimeInterval(1e12)) == .invalidArgument)
        #expect(code(history: ArrivalHistory(arrivals: [], covered: DateInterval(start: .distantPast.addingTimeInterval(-1e12), end: Self.monday))) == .invalidArgument)
        let sale = DateInterval(start: Self.monday, duration: 3_600)
        #expect(code(adjustments: [ForecastAdjustment(interval: sale, factor: .infinity)]) == .invalidArgument)
        #expect(code(adjustments: [ForecastAdjustment(interval: sale, factor: -1)]) == .invalidArgument)
        #expect(code(adjustments: [ForecastAdjustment](repeating: ForecastAdjustment(interval: sale, factor: 2), count: 1_001)) == .overLimit)
    }

    /// Eight weeks of a synthetic shop (Poisson arrivals at a known weekday × time-of-day rate,
    /// Berlin time), forecast two weeks: the error is the Poisson noise of the averaged weeks.
    /// Figures for 200, 1,000 and 10,000 a day are in docs/desk.md, "Arrival forecast".
    @Test func forecastFindsTheTrueRatesOfASyntheticShop() throws {
        let start = Date(timeIntervalSince1970: 1_730_674_800)  // Monday 2024-11-04 00:00 CET
        let shop = SyntheticHistory.shopProfile(arrivalsPerDay: 1_000)
        let past = SyntheticHistory.arrivals(from: start, days: 56, timeZone: Self.berlin, seed: 11, ratePerHour: shop)
        #expect(abs(Double(past.count) / 56 - 1_000) < 30)
        let cut = start.addingTimeInterval(56 * Self.day)
        let forecast = try ArrivalForecast(timeZone: Self.berlin).forecast(
            history: ArrivalHistory(arrivals: past, covered: DateInterval(start: start, end: cut)), from: cut, days: 14)
        var absolute = 0.0
        var total = 0.0
        for s in forecast {
            let truth = shop(s.weekday, s.minuteOfDay) / 2
            absolute += abs(s.expectedArrivals - truth)
            total += truth
            #expect(s.basis == .weekday(weeks: 8))
        }
        let wape = absolute / total
        #expect(wape < 0.10, "WAPE \(wape)")
    }
}
