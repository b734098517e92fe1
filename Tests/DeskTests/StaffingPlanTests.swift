import Desk
import Foundation
import Testing

@Suite struct StaffingPlanTests {
    static let start = Date(timeIntervalSince1970: 1_736_121_600)

    func slot(_ i: Int, arrivals: Double, handling: Double = 180, minutes: Double = 30) -> ForecastSlot {
        let s = Self.start.addingTimeInterval(Double(i) * 1_800)
        return ForecastSlot(
            start: s, end: s.addingTimeInterval(minutes * 60), weekday: 2, minuteOfDay: i * 30,
            expectedArrivals: arrivals, averageHandlingSeconds: handling, basis: .weekday(weeks: 8))
    }

    @Test func eachHalfHourIsStaffedByErlangC() throws {
        // 100 in a half hour = 200 an hour of 180 s: the worked example's 14 agents at 80 % in 20 s.
        let forecast = [slot(0, arrivals: 0), slot(1, arrivals: 100), slot(2, arrivals: 3), slot(3, arrivals: 50, minutes: 15)]
        let plan = try StaffingPlan(forecast: forecast, target: .init(replySeconds: 20, serviceLevel: 0.8, maxOccupancy: 1))
        #expect(plan.slots.map(\.agents) == [0, 14, 2, 14])
        #expect(abs(plan.slots[1].serviceLevel - 0.8883500191794672) < 1e-9)
        #expect(abs(plan.slots[1].averageSpeedOfAnswer - 7.83593701177722) < 1e-7)
        #expect(plan.slots[0].serviceLevel == 1 && plan.slots[0].occupancy == 0)
        #expect(plan.peakAgents == 14)
        #expect(abs(plan.agentHours - (14 * 0.5 + 2 * 0.5 + 14 * 0.25)) < 1e-9)
    }

    @Test func defaultsAreThirtySecondsEightyPercentAndAnOccupancyCap() throws {
        let target = StaffingPlan.Target()
        #expect(target.replySeconds == 30 && target.serviceLevel == 0.8 && target.maxOccupancy == 0.85 && target.concurrency == 1)
        // 400 an hour of 450 s = 50 erlangs: 80/30 alone needs 57, the 85 % cap 59.
        let plan = try StaffingPlan(forecast: [slot(0, arrivals: 200, handling: 450)])
        #expect(plan.slots[0].agents == 59)
        #expect(plan.slots[0].occupancy <= 0.85)
        let uncapped = try StaffingPlan(forecast: [slot(0, arrivals: 200, handling: 450)], target: .init(maxOccupancy: 1))
        #expect(uncapped.slots[0].agents == 57)
        // Three chats at once: a third of the slots' agents, rounded up.
        let chats = try StaffingPlan(forecast: [slot(0, arrivals: 200, handling: 450)], target: .init(maxOccupancy: 1, concurrency: 3))
        #expect(chats.slots[0].agents == 19)
    }

    @Test func badSlotsAndTargetsThrow() {
        func code(_ forecast: [ForecastSlot], _ target: StaffingPlan.Target = .init()) -> ForecastError.Code? {
            do throws(ForecastError) {
                _ = try StaffingPlan(forecast: forecast, target: target)
                return nil
            } catch { return error.code }
        }
        #expect(code([slot(0, arrivals: .nan)]) == .invalidArgument)
        #expect(code([slot(0, arrivals: 10, handling: -1)]) == .invalidArgument)
        #expect(code([slot(0, arrivals: 1e12)]) == .overLimit)
        #expect(code([slot(0, arrivals: 10)], .init(serviceLevel: 2)) == .invalidArgument)
        #expect(code([slot(0, arrivals: 10)], .init(concurrency: 0)) == .invalidArgument)
        #expect(code([slot(0, arrivals: 10)], .init(replySeconds: .nan)) == .invalidArgument)
        #expect(code([ForecastSlot](repeating: slot(0, arrivals: 0), count: 366 * 50 + 1)) == .overLimit)
        #expect(code([]) == nil)
    }
}
