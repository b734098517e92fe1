import Desk
import Foundation
import ShowroomTestSupport

/// Seeded arrival histories with a known rate, for checking ``ArrivalForecast`` against the
/// truth and timing it on a year of a busy shop.
public enum SyntheticHistory {
    /// Arrivals of a Poisson process whose rate per hour is `ratePerHour(weekday, minuteOfDay)`
    /// (local, Gregorian weekday 1 Sunday … 7 Saturday), constant over each real half hour from
    /// `start` for `days` × 24 hours.
    public static func arrivals(
        from start: Date, days: Int, timeZone: TimeZone, seed: UInt64,
        ratePerHour: (_ weekday: Int, _ minuteOfDay: Int) -> Double
    ) -> [Date] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        var rng = SeededRandom(seed: seed)
        var out: [Date] = []
        var t = start.timeIntervalSince1970
        let end = t + Double(days) * 86_400
        while t < end {
            let date = Date(timeIntervalSince1970: t)
            let local = t + Double(timeZone.secondsFromGMT(for: date))
            let minute = Int(local.truncatingRemainder(dividingBy: 86_400) / 60) / 30 * 30
            let rate = ratePerHour(calendar.component(.weekday, from: date), minute) / 3_600
            let slotEnd = min(end, t + 1_800)
            if rate > 0 {
                var a = t + rng.exponential() / rate
                while a < slotEnd {
                    out.append(Date(timeIntervalSince1970: a))
                    a += rng.exponential() / rate
                }
            }
            t = slotEnd
        }
        return out
    }

    /// A shop's week: quiet nights, a lunch peak, a larger evening peak (live shopping), busier
    /// Fridays and Saturdays. Averages `arrivalsPerDay` consultations a day over a week.
    public static func shopProfile(arrivalsPerDay: Double) -> @Sendable (Int, Int) -> Double {
        // Sunday … Saturday.
        let dayFactors = [1.1, 0.9, 0.9, 0.95, 1.0, 1.1, 1.3]
        let dayNorm = dayFactors.reduce(0, +) / 7
        @Sendable func shape(_ minute: Int) -> Double {
            let h = Double(minute) / 60 + 0.25
            let lunch = exp(-pow((h - 12.5) / 1.5, 2))
            let evening = 1.3 * exp(-pow((h - 20) / 1.8, 2))
            return 0.05 + lunch + evening + (h >= 8 && h < 22 ? 0.4 : 0)
        }
        let perDay = stride(from: 0, to: 1_440, by: 30).reduce(0) { $0 + shape($1) * 0.5 }
        return { weekday, minute in
            arrivalsPerDay * dayFactors[(weekday - 1) % 7] / dayNorm * shape(minute) / perDay
        }
    }

    /// A handling sample for each arrival, log-normal with this mean and coefficient of variation.
    public static func handling(for arrivals: [Date], mean: Double, cv: Double, seed: UInt64) -> [HandlingSample] {
        var rng = SeededRandom(seed: seed)
        let distribution = HandlingDistribution.logNormal(mean: mean, cv: cv)
        return arrivals.map { HandlingSample(arrivedAt: $0, seconds: distribution.sample(&rng)) }
    }
}
