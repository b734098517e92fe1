import Desk
import Foundation
import Testing

/// The report's definitions on consultations whose every time is known.
@Suite struct DeskReportTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// A consultation created at `t0 + created`, queued `queuedAfter` seconds later, taken after
    /// `waited`, first answered after `answered` (from queued), resolved `handled` after taken.
    static func consultation(
        _ id: String, department: String = "sales", created: Double = 0, botReply: Double? = 1, queuedAfter: Double? = 5, waited: Double? = nil,
        answered: Double? = nil, handled: Double? = nil, status: ConsultationStatus, agent: String? = nil, rating: Int? = nil
    ) -> (Consultation, ConsultationEvent?) {
        var c = Consultation(
            id: id, room: "r-\(id)", shopper: "s-\(id)", shopperName: "S", context: ConsultationContext(), department: department,
            created: t0.addingTimeInterval(created))
        c.status = status
        c.assignee = agent
        c.rating = rating
        c.times.firstBotReply = botReply.map { c.times.created.addingTimeInterval($0) }
        let queued = queuedAfter.map { c.times.created.addingTimeInterval($0) }
        c.times.queued = queued
        var event: ConsultationEvent?
        if let queued, let waited {
            let taken = queued.addingTimeInterval(waited)
            event = ConsultationEvent(consultation: id, at: taken, kind: .assigned, agent: agent)
            if let handled { c.times.resolved = taken.addingTimeInterval(handled) }
        }
        if let queued, let answered { c.times.firstAgentReply = queued.addingTimeInterval(answered) }
        return (c, event)
    }

    @Test func figuresFollowTheirDefinitions() {
        let rows = [
            Self.consultation("bot-only", botReply: 0.5, queuedAfter: nil, status: .resolved),
            Self.consultation("a", waited: 10, answered: 12, handled: 100, status: .resolved, agent: "anna", rating: 5),
            Self.consultation("b", waited: 20, answered: 25, handled: 200, status: .resolved, agent: "anna", rating: 3),
            Self.consultation("c", waited: 40, answered: 45, handled: 300, status: .resolved, agent: "ben", rating: 4),
            Self.consultation("d", status: .abandoned),
            Self.consultation("e", department: "support", waited: 5, answered: 6, status: .active, agent: "ben"),
        ]
        let report = DeskReport(
            from: Self.t0, to: Self.t0.addingTimeInterval(3_600), consultations: rows.map(\.0), assignments: rows.compactMap(\.1),
            replyTargets: ["sales": 30, "support": 30], now: Self.t0.addingTimeInterval(3_600))
        let all = report.overall
        #expect(all.created == 6 && all.resolved == 4 && all.abandoned == 1 && all.open == 1)
        #expect(all.answeredByBotOnly == 1 && all.handedOff == 5)
        #expect(all.botFirstReply.count == 6 && all.botFirstReply.max == 1)
        #expect(all.wait.count == 4 && all.wait.p50 == 10 && all.wait.max == 40)
        #expect(all.firstResponse.p50 == 12 && all.firstResponse.p90 == 45)
        #expect(all.handling.count == 3 && all.handling.mean == 200)
        // Answered within 30 s: a (12), b (25), e (6); c (45) late; d ended unanswered: 3 of 5.
        #expect(all.slaAttainment == 3.0 / 5.0)
        #expect(all.abandonmentRate == 1.0 / 5.0)
        #expect(all.ratings == 3 && all.csatMean == 4 && all.csatSatisfiedShare == 2.0 / 3.0)
        #expect(report.departments["support"]?.created == 1 && report.departments["sales"]?.created == 5)
        #expect(report.agents["anna"]?.resolved == 2 && report.agents["anna"]?.csatMean == 4)
        #expect(report.agents["ben"]?.created == 2 && report.agents["ben"]?.slaAttainment == 0.5)
    }

    @Test func nearestRankPercentiles() {
        let d = DeskReport.Durations((1...100).map(Double.init))
        #expect(d.p50 == 50 && d.p90 == 90 && d.p99 == 99 && d.max == 100 && d.count == 100)
        let one = DeskReport.Durations([7])
        #expect(one.p50 == 7 && one.p99 == 7)
        let none = DeskReport.Durations([.nan, .infinity])
        #expect(none.count == 0 && none.p50 == nil)
    }

    /// A consultation still waiting inside its target is not counted against the SLA yet.
    @Test func aWaitInsideItsTargetIsNotJudgedYet() {
        let waiting = Self.consultation("w", created: 0, queuedAfter: 5, status: .queued)
        let early = DeskReport(
            from: Self.t0, to: Self.t0.addingTimeInterval(60), consultations: [waiting.0], assignments: [], replyTargets: ["sales": 30],
            now: Self.t0.addingTimeInterval(20))
        #expect(early.overall.slaAttainment == nil)
        let late = DeskReport(
            from: Self.t0, to: Self.t0.addingTimeInterval(60), consultations: [waiting.0], assignments: [], replyTargets: ["sales": 30],
            now: Self.t0.addingTimeInterval(40))
        #expect(late.overall.slaAttainment == 0)
    }
}
