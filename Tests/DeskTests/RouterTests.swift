import Desk
import Foundation
import Testing

/// A desk with two departments and a clock that only moves when told.
struct DeskFixture {
    var router = Router()
    var now = Date(timeIntervalSince1970: 1_800_000_000)

    init(agents: [AgentProfile] = [], configuration: Router.Configuration = Router.Configuration()) throws {
        router = Router(configuration: configuration)
        _ = try router.handle(.department(Department(id: "sales", name: "Sales")), now: now)
        _ = try router.handle(.department(Department(id: "support", name: "Support", replyTargetSeconds: 60, maximumWaitSeconds: 120)), now: now)
        for a in agents {
            _ = try router.handle(.agent(a), now: now)
            _ = try router.handle(.presence(agent: a.id, .online), now: now)
        }
    }

    @discardableResult
    mutating func send(_ event: RouterEvent) throws -> [RouterAction] { try router.handle(event, now: now) }

    @discardableResult
    mutating func advance(_ seconds: Double) throws -> [RouterAction] {
        now = now.addingTimeInterval(seconds)
        return try router.handle(.tick, now: now)
    }

    @discardableResult
    mutating func queue(_ id: String, _ department: String = "sales", priority: Int = 0, skills: Set<String> = []) throws -> [RouterAction] {
        try send(.queued(consultation: id, department: department, priority: priority, skills: skills))
    }
}

func offers(_ actions: [RouterAction]) -> [String: String] {
    var out: [String: String] = [:]
    for case .offer(let c, let a, _) in actions { out[c] = a }
    return out
}

@Suite struct RouterTests {
    static let ada = AgentProfile(id: "ada", name: "Ada", departments: ["sales"], skills: ["en", "de"], capacity: 2)
    static let bo = AgentProfile(id: "bo", name: "Bo", departments: ["sales", "support"], skills: ["en"], capacity: 3)

    @Test func theLeastBusyAgentWithTheSkillsGetsTheOffer() throws {
        var desk = try DeskFixture(agents: [Self.ada, Self.bo])
        // Both idle: the longest idle wins the tie (both came online at the same instant: then by id).
        #expect(offers(try desk.queue("c1")) == ["c1": "ada"])
        // Ada holds 1 of 2 (the offer counts), Bo 0 of 3: Bo.
        #expect(offers(try desk.queue("c2")) == ["c2": "bo"])
        try desk.send(.accept(consultation: "c1", agent: "ada"))
        try desk.send(.accept(consultation: "c2", agent: "bo"))
        // German needed: only Ada has it, though she is busier.
        #expect(offers(try desk.queue("c3", skills: ["de"])) == ["c3": "ada"])
        // Support: only Bo serves it.
        try desk.send(.accept(consultation: "c3", agent: "ada"))
        #expect(offers(try desk.queue("c4", "support")) == ["c4": "bo"])
    }

    @Test func theQueueIsPriorityThenWaitingTimeAndPositionsFollowIt() throws {
        var desk = try DeskFixture()
        try desk.queue("early")
        try desk.advance(1)
        try desk.queue("late")
        try desk.advance(1)
        try desk.queue("vip", priority: 10)
        #expect(desk.router.queue("sales").map(\.id) == ["vip", "early", "late"])
        #expect(desk.router.position(of: "late") == 3)
        // An agent comes online: the first offer goes to the head of the queue.
        try desk.send(.agent(Self.ada))
        #expect(offers(try desk.send(.presence(agent: "ada", .online))) == ["vip": "ada"])
    }

    @Test func capacityIsNeverExceededAndAFreedSlotIsFilledFromTheQueue() throws {
        var desk = try DeskFixture(agents: [Self.ada])
        for i in 0..<5 { try desk.queue("c\(i)") }
        // One offer at a time per agent; accept it and the next comes, up to capacity 2.
        try desk.send(.accept(consultation: "c0", agent: "ada"))
        #expect(desk.router.waitingConsultation("c1")?.offer?.agent == "ada")
        try desk.send(.accept(consultation: "c1", agent: "ada"))
        #expect(desk.router.load("ada") == 2)
        #expect(desk.router.queue("sales").allSatisfy { $0.offer == nil })
        // Resolving one frees a slot: the head of the queue is offered at once.
        let actions = try desk.send(.resolved(consultation: "c0", by: "ada"))
        #expect(offers(actions) == ["c2": "ada"])
    }

    @Test func aLapsedOfferGoesToTheNextAgentAndTheConsultationKeepsItsPlace() throws {
        var desk = try DeskFixture(agents: [Self.ada, Self.bo])
        try desk.queue("c1")
        #expect(desk.router.waitingConsultation("c1")?.offer?.agent == "ada")
        try desk.advance(19)
        #expect(desk.router.waitingConsultation("c1")?.offer?.agent == "ada")
        let actions = try desk.advance(2)
        #expect(actions.contains(.offerWithdrawn(consultation: "c1", agent: "ada")))
        #expect(offers(actions) == ["c1": "bo"])
        // Bo declines: nobody else may take it; it waits, first in line.
        try desk.send(.decline(consultation: "c1", agent: "bo"))
        #expect(desk.router.waitingConsultation("c1")?.offer == nil)
        try desk.queue("c2")
        #expect(desk.router.position(of: "c1") == 1)
        // c2 is offered to Ada, idle longer than Bo (whose declined offer just freed him).
        #expect(desk.router.waitingConsultation("c2")?.offer?.agent == "ada")
    }

    @Test func anAgentWhoLeavesLosesTheirOfferNotTheirConsultations() throws {
        var desk = try DeskFixture(agents: [Self.ada])
        try desk.queue("c1")
        try desk.send(.accept(consultation: "c1", agent: "ada"))
        try desk.queue("c2")
        #expect(desk.router.waitingConsultation("c2")?.offer?.agent == "ada")
        let actions = try desk.send(.presence(agent: "ada", .offline))
        #expect(actions.contains(.offerWithdrawn(consultation: "c2", agent: "ada")))
        #expect(desk.router.heldConsultation("c1")?.agent == "ada")
        #expect(desk.router.load("ada") == 1)
        // Back online, the offer comes again (leaving is not declining).
        #expect(offers(try desk.send(.presence(agent: "ada", .online))) == ["c2": "ada"])
    }

    @Test func transferHoldAndReturnToQueue() throws {
        var desk = try DeskFixture(agents: [Self.ada, Self.bo])
        try desk.queue("c1")
        try desk.send(.accept(consultation: "c1", agent: "ada"))
        try desk.send(.transferToAgent(consultation: "c1", from: "ada", to: "bo"))
        #expect(desk.router.heldConsultation("c1")?.agent == "bo")
        #expect(desk.router.load("ada") == 0 && desk.router.load("bo") == 1)
        try desk.send(.hold(consultation: "c1", by: "bo", on: true))
        #expect(desk.router.heldConsultation("c1")?.onHold == true)
        #expect(desk.router.load("bo") == 1, "on hold still holds the slot")
        // Transfer to support: it waits there, at its old place, and Bo (who serves support) is offered it again.
        let actions = try desk.send(.requeue(consultation: "c1", by: "bo", department: "support"))
        #expect(desk.router.waitingConsultation("c1")?.department == "support")
        #expect(offers(actions) == ["c1": "bo"])
    }

    @Test func aManualPickTakesFromTheQueueWithinCapacity() throws {
        var desk = try DeskFixture(agents: [Self.bo])
        try desk.send(.agent(Self.ada))  // offline: offered nothing, may still pick
        try desk.queue("c1")
        try desk.queue("c2")
        #expect(desk.router.waitingConsultation("c1")?.offer?.agent == "bo")
        // Ada picks c2 from the queue.
        try desk.send(.pick(consultation: "c2", agent: "ada"))
        #expect(desk.router.heldConsultation("c2")?.agent == "ada")
        // She cannot pick what is offered to Bo, nor take a third past her capacity of 2.
        #expect(throws: DeskError(.conflict, "")) { try desk.send(.pick(consultation: "c1", agent: "ada")) }
        try desk.queue("c3")
        try desk.queue("c4")
        try desk.send(.pick(consultation: "c3", agent: "ada"))
        #expect(throws: DeskError(.notAllowed, "")) { try desk.send(.pick(consultation: "c4", agent: "ada")) }
    }

    @Test func anUnansweredShopperEscalatesToTheAgentTheSupervisorThenAnotherAgent() throws {
        let sam = AgentProfile(id: "sam", name: "Sam", departments: ["sales"], capacity: 5, supervisor: true)
        var desk = try DeskFixture(agents: [Self.ada, sam])
        try desk.queue("c1")
        try desk.send(.accept(consultation: "c1", agent: "ada"))
        try desk.send(.shopperMessage(consultation: "c1"))
        #expect(try desk.advance(29).isEmpty)
        #expect(try desk.advance(1) == [.replyOverdue(consultation: "c1", agent: "ada", notify: ["ada"], targetsMissed: 1)])
        #expect(try desk.advance(15).isEmpty, "each step once")
        #expect(try desk.advance(15) == [.replyOverdue(consultation: "c1", agent: "ada", notify: ["sam"], targetsMissed: 2)])
        let actions = try desk.advance(30)
        #expect(actions.contains(.reassigned(consultation: "c1", from: "ada")))
        #expect(offers(actions) == ["c1": "sam"])
        // An answer in time resets it.
        try desk.send(.accept(consultation: "c1", agent: "sam"))
        try desk.send(.shopperMessage(consultation: "c1"))
        try desk.advance(20)
        try desk.send(.agentMessage(consultation: "c1"))
        #expect(try desk.advance(100).isEmpty)
    }

    @Test func pastTheMaximumWaitTheShopperIsOfferedToLeaveAMessageOnce() throws {
        var desk = try DeskFixture()
        try desk.queue("c1", "support")  // maximum wait 120 s
        #expect(try desk.advance(119).isEmpty)
        #expect(try desk.advance(1) == [.offerToLeaveMessage(consultation: "c1")])
        #expect(try desk.advance(60).isEmpty)
    }

    @Test func aRestartKeepsPlacesAndAssignmentsAndVoidsOffers() throws {
        var desk = try DeskFixture(agents: [Self.ada, Self.bo])
        try desk.queue("c1")
        try desk.send(.accept(consultation: "c1", agent: "ada"))
        try desk.queue("c2")  // offered to Bo
        try desk.advance(5)
        try desk.queue("c3")  // offered to Ada
        try desk.advance(5)
        try desk.queue("c4")
        let waiting = ["c2", "c3", "c4"].compactMap { desk.router.waitingConsultation($0) }
        let held = ["c1"].compactMap { desk.router.heldConsultation($0) }
        // A new process: departments and agents from the store (offline until they reconnect), then what was open.
        var after = try DeskFixture()
        after.now = desk.now
        try after.send(.agent(Self.ada))
        try after.send(.agent(Self.bo))
        after.router.restore(waiting: waiting, held: held)
        #expect(after.router.queue("sales").map(\.id) == ["c2", "c3", "c4"])
        #expect(after.router.queue("sales").allSatisfy { $0.offer == nil })
        #expect(after.router.heldConsultation("c1")?.agent == "ada" && after.router.load("ada") == 1)
        // Bo reconnects: the head of the queue is his.
        #expect(offers(try after.send(.presence(agent: "bo", .online))) == ["c2": "bo"])
    }

    @Test func badInputIsRefusedAndChangesNothing() throws {
        var desk = try DeskFixture(agents: [Self.ada])
        #expect(throws: DeskError(.unknownDepartment, "")) { try desk.queue("x", "nowhere") }
        #expect(throws: DeskError(.invalidArgument, "")) {
            try desk.send(.agent(AgentProfile(id: "zero", name: "Z", departments: ["sales"], capacity: 0)))
        }
        #expect(throws: DeskError(.unknownDepartment, "")) {
            try desk.send(.agent(AgentProfile(id: "lost", name: "L", departments: ["nowhere"])))
        }
        try desk.queue("c1")
        #expect(throws: DeskError(.conflict, "")) { try desk.queue("c1") }
        try desk.send(.accept(consultation: "c1", agent: "ada"))
        // Accepting what another took, or what does not exist.
        try desk.send(.agent(Self.bo))
        #expect(throws: DeskError(.conflict, "")) { try desk.send(.accept(consultation: "c1", agent: "bo")) }
        #expect(throws: DeskError(.notFound, "")) { try desk.send(.accept(consultation: "ghost", agent: "bo")) }
        #expect(throws: DeskError(.conflict, "")) { try desk.send(.resolved(consultation: "c1", by: "bo")) }
        #expect(desk.router.heldConsultation("c1")?.agent == "ada")
        #expect(desk.router.load("ada") == 1 && desk.router.load("bo") == 0)
    }
}
