import Desk
import Foundation
import Testing

@Suite struct BotRepliesTests {
    @Test func summarizesTheWeekGroupingDaysWithTheSameHours() throws {
        let weekday = [try BusinessHours.Interval("09:00", "18:00")]
        let hours = try BusinessHours(
            timeZone: TimeZone(identifier: "Europe/Berlin")!,
            week: [.monday: weekday, .tuesday: weekday, .wednesday: weekday, .thursday: weekday, .friday: weekday,
                   .saturday: [try .init("10:00", "13:00"), try .init("14:00", "16:00")]])
        #expect(BotReplies.weekSummary(hours, .english) == "Mon–Fri 09:00–18:00; Sat 10:00–13:00, 14:00–16:00; Sun closed")
        #expect(BotReplies.weekSummary(hours, .german) == "Mo–Fr 09:00–18:00; Sa 10:00–13:00, 14:00–16:00; So geschlossen")
        // Wednesday off splits the run.
        let split = try BusinessHours(timeZone: hours.timeZone, week: [.monday: weekday, .tuesday: weekday, .thursday: weekday])
        #expect(BotReplies.weekSummary(split, .english) == "Mon–Tue 09:00–18:00; Wed closed; Thu 09:00–18:00; Fri–Sun closed")
    }

    @Test func saysWhenItOpensNext() throws {
        let hours = try BusinessHours(timeZone: TimeZone(identifier: "UTC")!, week: [.monday: [try .init("09:00", "17:00")]])
        let thursday = Date(timeIntervalSince1970: 1_774_526_400)  // Thursday 26 March 2026, 12:00 UTC
        #expect(BotReplies.openingHours(hours, at: thursday, .english).hasPrefix("We're closed right now; we open again on Monday at 09:00."))
        #expect(BotReplies.openingHours(hours, at: thursday, .german).hasPrefix("Wir sind gerade nicht erreichbar, wieder am Montag ab 09:00 Uhr."))
        let never = try BusinessHours(timeZone: TimeZone(identifier: "UTC")!, week: [:])
        #expect(BotReplies.openingHours(never, at: thursday, .english).hasPrefix("We're closed. "))
    }

    @Test func everyOrderStateHasASentenceInBothLanguages() {
        for language in BotLanguage.allCases {
            let sentences = OrderStatus.State.allCases.map {
                BotReplies.order(OrderStatus(orderID: "1", state: $0), language)
            }
            #expect(Set(sentences).count == OrderStatus.State.allCases.count)
            #expect(sentences.allSatisfy { $0.contains("#1 ") })
        }
    }
}
