import Desk
import Foundation
import Testing

/// The SQLite desk store on a real file, reopened: nothing of a consultation's record or log is
/// lost, and the state machine holds in the store too.
@Suite struct DeskStoreTests {
    static func path() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("desk-\(UInt64.random(in: 0...UInt64.max)).sqlite").path
    }

    @Test func aConsultationsLifeIsStoredAndSurvivesAReopen() throws {
        let path = Self.path()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        do {
            let store = try SQLiteDeskStore(path: path)
            try store.save(Department(id: "sales", name: "Sales"))
            try store.save(AgentProfile(id: "ada", name: "Ada", departments: ["sales"], skills: ["de"], capacity: 2))
            let c = Consultation(
                id: "c1", room: "consult-c1", shopper: "sam", shopperName: "Sam",
                context: ConsultationContext(sku: "SOFA-3", pageURL: "https://shop.example/sofa", locale: "de-DE"), department: "sales",
                priority: 10, skills: ["de"], created: t0)
            try store.create(c)
            #expect(throws: DeskError(.conflict, "")) { try store.create(c) }
            try store.recordFirstReply("c1", byAgent: false, at: t0 + 0.4)
            try store.move("c1", to: .queued, assignee: nil, at: t0 + 5, detail: "asked for a person")
            try store.move("c1", to: .offered, assignee: nil, at: t0 + 6, detail: nil)
            try store.move("c1", to: .queued, assignee: nil, at: t0 + 26, detail: "offer lapsed")
            try store.move("c1", to: .active, assignee: "ada", at: t0 + 30, detail: nil)
            try store.recordFirstReply("c1", byAgent: true, at: t0 + 35)
            try store.recordFirstReply("c1", byAgent: true, at: t0 + 50)  // only the first counts
            // Forbidden moves change nothing.
            #expect(throws: DeskError(.conflict, "")) { try store.move("c1", to: .bot, assignee: nil, at: t0 + 60, detail: nil) }
            #expect(throws: DeskError(.notAllowed, "")) { try store.rate("c1", score: 5, at: t0 + 60) }
            try store.move("c1", to: .resolved, assignee: nil, at: t0 + 90, detail: nil)
            #expect(throws: DeskError(.invalidArgument, "")) { try store.rate("c1", score: 6, at: t0 + 91) }
            try store.rate("c1", score: 5, at: t0 + 91)
            #expect(throws: DeskError(.conflict, "")) { try store.rate("c1", score: 1, at: t0 + 92) }
        }
        let store = try SQLiteDeskStore(path: path)
        let c = try #require(try store.consultation("c1"))
        #expect(c.status == .resolved && c.assignee == "ada" && c.rating == 5)
        #expect(c.context.locale == "de-DE" && c.skills == ["de"] && c.priority == 10)
        #expect(c.times.firstBotReply == t0 + 0.4)
        #expect(c.times.queued == t0 + 5, "the first time it was queued: its place")
        #expect(c.times.firstAgentReply == t0 + 35)
        #expect(c.times.resolved == t0 + 90)
        let events = try store.events(of: "c1")
        #expect(events.map(\.kind) == [.status, .firstBotReply, .status, .status, .status, .status, .assigned, .firstAgentReply, .status, .rated])
        #expect(events.compactMap(\.to) == [.bot, .queued, .offered, .queued, .active, .resolved])
        #expect(events.map(\.seq) == events.map(\.seq).sorted())
        #expect(try store.openConsultations().isEmpty)
        #expect(try store.consultations(shopper: "sam", limit: 5).map(\.id) == ["c1"])
        #expect(try store.agents().first?.skills == ["de"])
        #expect(try store.departments().map(\.id) == ["sales"])
    }

    @Test func openConsultationsAreWhatARestartRebuildsTheQueueFrom() throws {
        let path = Self.path()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteDeskStore(path: path)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        for (i, status) in [ConsultationStatus.queued, .active, .resolved, .abandoned].enumerated() {
            try store.create(Consultation(id: "c\(i)", room: "r\(i)", shopper: "s\(i)", shopperName: "S", context: .init(), department: "sales", created: t0 + Double(i)))
            if status != .abandoned { try store.move("c\(i)", to: .queued, assignee: nil, at: t0 + 10, detail: nil) }
            if status == .active || status == .resolved { try store.move("c\(i)", to: .active, assignee: "ada", at: t0 + 20, detail: nil) }
            if status == .resolved { try store.move("c\(i)", to: .resolved, assignee: nil, at: t0 + 30, detail: nil) }
            if status == .abandoned { try store.move("c\(i)", to: .abandoned, assignee: nil, at: t0 + 30, detail: nil) }
        }
        let reopened = try SQLiteDeskStore(path: path)
        let open = try reopened.openConsultations()
        #expect(open.map(\.id) == ["c0", "c1"])
        #expect(open.map(\.status) == [.queued, .active])
        #expect(open[1].assignee == "ada")
    }
}
