import Desk
import Dispatch
import Foundation
import Testing

/// ``DeskStore``'s promises on SQLite and on PostgreSQL: nothing of a consultation's record or
/// log is lost across a reopen, the state machine holds in the store, and of two nodes' moves of
/// one consultation that exclude each other, only one wins.
@Suite struct DeskStoreConformanceTests {
    @Test(arguments: Backend.allCases) func aConsultationsLifeIsStoredAndSurvivesAReopen(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let t0 = Date(timeIntervalSince1970: 1_800_000_000.25)
        do {
            let store = try site.deskStore()
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
            try store.note("c1", agent: "ada", text: "wants it in blue", at: t0 + 40)
            // Forbidden moves change nothing.
            #expect(throws: DeskError(.conflict, "")) { try store.move("c1", to: .bot, assignee: nil, at: t0 + 60, detail: nil) }
            #expect(throws: DeskError(.notAllowed, "")) { try store.rate("c1", score: 5, at: t0 + 60) }
            #expect(throws: DeskError(.notFound, "")) { try store.move("nope", to: .queued, assignee: nil, at: t0, detail: nil) }
            #expect(throws: DeskError(.notFound, "")) { try store.note("nope", agent: "ada", text: "x", at: t0) }
            try store.move("c1", to: .resolved, assignee: nil, at: t0 + 90, detail: nil)
            #expect(throws: DeskError(.invalidArgument, "")) { try store.rate("c1", score: 6, at: t0 + 91) }
            try store.rate("c1", score: 5, at: t0 + 91)
            #expect(throws: DeskError(.conflict, "")) { try store.rate("c1", score: 1, at: t0 + 92) }
        }
        let store = try site.deskStore()
        let c = try #require(try store.consultation("c1"))
        #expect(c.status == .resolved && c.assignee == "ada" && c.rating == 5)
        #expect(c.context.locale == "de-DE" && c.skills == ["de"] && c.priority == 10)
        #expect(c.times.created == t0)
        #expect(c.times.firstBotReply == t0 + 0.4)
        #expect(c.times.queued == t0 + 5, "the first time it was queued: its place")
        #expect(c.times.firstAgentReply == t0 + 35)
        #expect(c.times.resolved == t0 + 90)
        let events = try store.events(of: "c1")
        #expect(events.map(\.kind) == [.status, .firstBotReply, .status, .status, .status, .status, .assigned, .firstAgentReply, .note, .status, .rated])
        #expect(events.compactMap(\.to) == [.bot, .queued, .offered, .queued, .active, .resolved])
        #expect(events.map(\.seq) == events.map(\.seq).sorted())
        #expect(events.first { $0.kind == .note }?.detail == "wants it in blue")
        #expect(events.first { $0.kind == .status && $0.to == .queued }?.detail == "asked for a person")
        #expect(try store.openConsultations().isEmpty)
        #expect(try store.consultations(shopper: "sam", limit: 5).map(\.id) == ["c1"])
        #expect(try store.consultations(createdFrom: t0, to: t0 + 1).map(\.id) == ["c1"])
        #expect(try store.consultations(createdFrom: t0 + 1, to: t0 + 2).isEmpty)
        #expect(try store.assignments(createdFrom: t0, to: t0 + 1).map(\.agent) == ["ada"])
        #expect(try store.agents().first?.skills == ["de"])
        #expect(try store.departments().map(\.id) == ["sales"])
        try store.deleteAgent("ada")
        try store.deleteDepartment("sales")
        #expect(try store.agents().isEmpty && store.departments().isEmpty)
        #expect(try store.consultation("nope") == nil)
    }

    @Test(arguments: Backend.allCases) func openConsultationsAreWhatARestartRebuildsTheQueueFrom(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.deskStore()
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        for (i, status) in [ConsultationStatus.queued, .active, .resolved, .abandoned].enumerated() {
            try store.create(Consultation(id: "c\(i)", room: "r\(i)", shopper: "s\(i)", shopperName: "S", context: .init(), department: "sales", created: t0 + Double(i)))
            if status != .abandoned { try store.move("c\(i)", to: .queued, assignee: nil, at: t0 + 10, detail: nil) }
            if status == .active || status == .resolved { try store.move("c\(i)", to: .active, assignee: "ada", at: t0 + 20, detail: nil) }
            if status == .resolved { try store.move("c\(i)", to: .resolved, assignee: nil, at: t0 + 30, detail: nil) }
            if status == .abandoned { try store.move("c\(i)", to: .abandoned, assignee: nil, at: t0 + 30, detail: nil) }
        }
        let open = try site.deskStore().openConsultations()
        #expect(open.map(\.id) == ["c0", "c1"])
        #expect(open.map(\.status) == [.queued, .active])
        #expect(open[1].assignee == "ada")
    }

    /// Hostile ids: a NUL in an id, shopper, room, agent or note is refused as `invalid_argument`
    /// with nothing written — SQLite would cut `c1\u{0}x` to `c1`, another consultation — and a
    /// lookup or delete with one finds nothing.
    @Test(arguments: Backend.allCases) func aNULInAnIdIsRefusedAndFindsNothing(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.deskStore()
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        try store.create(Consultation(id: "c1", room: "r1", shopper: "sam", shopperName: "Sam\u{0}", context: .init(), department: "sales", created: t0))
        try store.save(AgentProfile(id: "ada", name: "Ada", departments: ["sales"]))
        for (id, shopper, room) in [("c1\u{0}x", "sam", "r2"), ("c2", "sam\u{0}", "r2"), ("c2", "sam", "r\u{0}")] {
            #expect(throws: DeskError(.invalidArgument, "")) {
                try store.create(Consultation(id: id, room: room, shopper: shopper, shopperName: "S", context: .init(), department: "sales", created: t0))
            }
        }
        #expect(throws: DeskError(.invalidArgument, "")) { try store.move("c1\u{0}x", to: .queued, assignee: nil, at: t0, detail: nil) }
        #expect(throws: DeskError(.invalidArgument, "")) { try store.move("c1", to: .queued, assignee: nil, at: t0, detail: "x\u{0}") }
        #expect(throws: DeskError(.invalidArgument, "")) { try store.note("c1", agent: "ada\u{0}", text: "hi", at: t0) }
        #expect(throws: DeskError(.invalidArgument, "")) { try store.save(AgentProfile(id: "ada\u{0}evil", name: "Eve", departments: [])) }
        #expect(try store.consultation("c1\u{0}x") == nil)
        #expect(try store.events(of: "c1\u{0}x").isEmpty)
        #expect(try store.consultations(shopper: "sam\u{0}", limit: 5).isEmpty)
        try store.deleteAgent("ada\u{0}evil")
        let c = try #require(try site.deskStore().consultation("c1"))
        #expect(c.status == .bot && c.shopperName == "Sam\u{0}", "the record (JSON) keeps it; the failed move changed nothing")
        #expect(try store.agents().map(\.name) == ["Ada"])
        #expect(try store.consultations(shopper: "sam", limit: 5).map(\.id) == ["c1"])
    }

    /// Two nodes moving one queued consultation at once, one to `offered` and one to `missed`
    /// (each move is allowed from `queued`, neither from where the other leads): exactly one wins,
    /// the other gets `conflict`, and the record and the log agree with the winner. A store that
    /// read, checked and wrote without a lock would let both pass.
    @Test(arguments: Backend.allCases) func twoNodesMovingOneConsultationAtOnceCannotBothWin(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let nodes = [try site.deskStore(), try site.deskStore()]
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let rounds = 30
        for r in 0..<rounds {
            try nodes[0].create(Consultation(id: "c\(r)", room: "r\(r)", shopper: "s", shopperName: "S", context: .init(), department: "sales", created: t0))
            try nodes[1].move("c\(r)", to: .queued, assignee: nil, at: t0 + 1, detail: nil)
        }
        let outcomes = Outcomes()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let group = DispatchGroup()
            for (n, status) in [ConsultationStatus.offered, .missed].enumerated() {
                DispatchQueue.global().async(group: group) {
                    for r in 0..<rounds {
                        do throws(DeskError) {
                            try nodes[n].move("c\(r)", to: status, assignee: nil, at: t0 + 2, detail: nil)
                            outcomes.add(r, winner: status)
                        } catch {
                            outcomes.add(r, error: error)
                        }
                    }
                }
            }
            group.notify(queue: .global()) { done.resume() }
        }
        let (winners, errors) = outcomes.result()
        #expect(errors.count == rounds && errors.allSatisfy { $0 == DeskError(.conflict, "") }, "\(errors.prefix(3))")
        for r in 0..<rounds {
            #expect(winners[r]?.count == 1, "round \(r): \(winners[r] ?? [])")
            let stored = try #require(try nodes[0].consultation("c\(r)"))
            #expect([stored.status] == winners[r])
            #expect(try nodes[1].events(of: "c\(r)").compactMap(\.to) == [.bot, .queued, stored.status])
        }
    }
}

/// Who won each round, and what the losers were told.
private final class Outcomes: @unchecked Sendable {
    private let lock = NSLock()
    private var winners: [Int: [ConsultationStatus]] = [:]
    private var errors: [DeskError] = []

    func add(_ round: Int, winner: ConsultationStatus) { lock.withLock { winners[round, default: []].append(winner) } }
    func add(_ round: Int, error: DeskError) { lock.withLock { errors.append(error) } }
    func result() -> ([Int: [ConsultationStatus]], [DeskError]) { lock.withLock { (winners, errors) } }
}
