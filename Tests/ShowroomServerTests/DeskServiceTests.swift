import Chat
import Desk
import Foundation
import Logging
@testable import ShowroomServer
import Signaling
import Synchronization
import Testing

/// The desk service with a clock the test moves: presence grace, transfers with notes, the reply
/// target's escalation to reassignment, and a left message picked up later. The rooms are real
/// (a RoomHub on a SQLite file); the service's reading of them is driven by hand (`observed`).
@Suite struct DeskServiceTests {
    final class TestClock: Sendable {
        private let value = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        var now: Date { value.withLock { $0 } }
        func advance(_ seconds: TimeInterval) { value.withLock { $0 += seconds } }
    }

    struct Fixture {
        let desk: DeskService
        let hub: RoomHub
        let chat: SQLiteChatStore
        let clock: TestClock
        let directory: String

        init() async throws {
            directory = ShowroomServerTests.temporaryDirectory()
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            chat = try SQLiteChatStore(path: directory + "/chat.sqlite")
            hub = RoomHub(store: chat)
            let clock = TestClock()
            self.clock = clock
            desk = try DeskService(
                store: try SQLiteDeskStore(path: directory + "/desk.sqlite"), hub: hub, auth: await TokenAuthority(secret: testSecret),
                faq: try FAQ.sample(), clock: { clock.now }, logger: Logger(label: "test"))
            try await desk.save(department: Department(id: "sales", name: "Sales", replyTargetSeconds: 30, maximumWaitSeconds: 120))
            try await desk.save(agent: AgentProfile(id: "anna", name: "Anna", departments: ["sales"], capacity: 2, supervisor: false))
            try await desk.save(agent: AgentProfile(id: "ben", name: "Ben", departments: ["sales"], capacity: 2, supervisor: false))
            try await desk.save(agent: AgentProfile(id: "sue", name: "Sue", departments: ["sales"], capacity: 1, supervisor: true))
        }

        /// A shopper's line in their room, as the desk reads it.
        func shopperSays(_ room: String, _ shopper: String, _ text: String) async throws {
            let m = try await hub.post(room: room, sender: shopper, role: "shopper", clientID: UUID().uuidString, content: .text(text))
            await desk.observed(m)
        }

        func agentSays(_ room: String, _ agent: String, _ text: String) async throws {
            let m = try await hub.post(room: room, sender: agent, role: "agent", clientID: UUID().uuidString, content: .text(text))
            await desk.observed(m)
        }

        /// A consultation handed off to the queue.
        func queued(_ room: String, shopper: String) async throws -> String {
            let c = try await desk.open(shopper: shopper, room: room, name: shopper, department: "sales", context: ConsultationContext())
            try await shopperSays(room, shopper, "talk to a person")
            return c.id
        }

        /// The `system` lines of a room.
        func systemLines(_ room: String) throws -> [String] {
            try chat.messages(room: room, after: 0, limit: 1_000).compactMap { if case .system(let t) = $0.content { t } else { nil } }
        }
    }

    /// Drains what a stream has queued (without waiting for more).
    final class Inbox: Sendable {
        let task: Task<Void, Never>

        init(_ stream: AsyncStream<DeskNotice>) {
            let box = Box()
            task = Task { for await n in stream { box.append(n) } }
            self.box = box
        }
        private let box: Box
        final class Box: @unchecked Sendable {
            let lock = NSLock()
            var items: [DeskNotice] = []
            func append(_ n: DeskNotice) { lock.withLock { items.append(n) } }
        }

        func all(_ kind: DeskNotice.Kind) -> [DeskNotice] { box.lock.withLock { box.items.filter { $0.type == kind } } }

        func wait(for kind: DeskNotice.Kind, count: Int = 1) async -> [DeskNotice] {
            for _ in 0..<500 where all(kind).count < count { try? await Task.sleep(for: .milliseconds(10)) }
            return all(kind)
        }
    }

    /// In a cluster a desk's turn ends when its node loses the desk's lock: a request that reached
    /// it just before is refused (`unavailable`) — no stream that would never hear a notice, no
    /// store write behind the next node's back.
    @Test func aStoppedDeskRefusesStreamsAndWrites() async throws {
        let f = try await Fixture()
        defer { try? FileManager.default.removeItem(atPath: f.directory) }
        let opened = try await f.desk.open(shopper: "sam", room: "shop-1", name: "Sam", department: "sales", context: ConsultationContext())
        let run = Task { await f.desk.run() }
        run.cancel()
        await run.value
        await #expect(throws: DeskError(.unavailable, "")) { _ = try await f.desk.connect(agent: "anna") }
        await #expect(throws: DeskError(.unavailable, "")) {
            _ = try await f.desk.open(shopper: "kim", room: "shop-2", name: "Kim", department: "sales", context: ConsultationContext())
        }
        await #expect(throws: DeskError(.unavailable, "")) {
            try await f.desk.save(agent: AgentProfile(id: "zed", name: "Zed", departments: ["sales"], capacity: 1, supervisor: false))
        }
        await #expect(throws: DeskError(.unavailable, "")) { _ = try await f.desk.close(opened.id, shopper: "sam") }
    }

    @Test func aClosedWorkspaceGoesOfflineAfterTheGracePeriod() async throws {
        let f = try await Fixture()
        defer { try? FileManager.default.removeItem(atPath: f.directory) }
        let inbox = Inbox(try await f.desk.connect(agent: "anna"))
        #expect(await f.desk.overview().agents.first { $0.id == "anna" }?.presence == .online)
        inbox.task.cancel()  // the browser closed the workspace
        // The stream's termination hops onto the desk's actor: wait for it (bounded).
        for _ in 0..<500 where await f.desk.lastStreamClosedForTesting("anna") == nil { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await f.desk.lastStreamClosedForTesting("anna") != nil)
        f.clock.advance(DeskService.offlineGrace - 1)
        await f.desk.tick()
        #expect(await f.desk.overview().agents.first { $0.id == "anna" }?.presence == .online, "offline before the grace period ended")
        f.clock.advance(2)
        await f.desk.tick()
        #expect(await f.desk.overview().agents.first { $0.id == "anna" }?.presence == .offline)
    }

    @Test func aTransferCarriesTheNoteAndTheShoppersHistory() async throws {
        let f = try await Fixture()
        defer { try? FileManager.default.removeItem(atPath: f.directory) }
        let anna = Inbox(try await f.desk.connect(agent: "anna"))
        let id = try await f.queued("r1", shopper: "sam")
        let offer = try #require(await anna.wait(for: .offer).first)
        #expect(offer.consultation?.id == id)
        try await f.desk.accept(id, agent: "anna")
        let ben = Inbox(try await f.desk.connect(agent: "ben"))
        // Only the holder may transfer; the note is bounded.
        await #expect(throws: DeskError.self) { try await f.desk.transfer(id, from: "ben", to: "anna") }
        await #expect(throws: DeskError.self) { try await f.desk.transfer(id, from: "anna", to: "ben", note: String(repeating: "x", count: 2_001)) }
        try await f.desk.transfer(id, from: "anna", to: "ben", note: "Wants the grey SOFA-1; asked about delivery to Basel.")
        let assigned = try #require(await ben.wait(for: .assigned).first)
        #expect(assigned.consultation?.id == id && assigned.consultation?.assignee == "ben")
        #expect(assigned.notes?.map(\.text) == ["Wants the grey SOFA-1; asked about delivery to Basel."])
        #expect(assigned.roomToken != nil)
        #expect(await anna.wait(for: .revoked).count == 1)
        #expect(try await f.desk.consultation(id, viewer: .admin).assignee == "ben")
    }

    /// Reply target 30 s: an unanswered shopper alerts the agent at 30 s, the supervisor at 60 s,
    /// and at 90 s the consultation is taken back and offered to another agent.
    @Test func anUnansweredShopperEscalatesToReassignment() async throws {
        let f = try await Fixture()
        defer { try? FileManager.default.removeItem(atPath: f.directory) }
        let anna = Inbox(try await f.desk.connect(agent: "anna"))
        let sue = Inbox(try await f.desk.connect(agent: "sue"))
        let id = try await f.queued("r2", shopper: "sam")
        // Whoever got the offer, Anna takes it (Sue's declined first if it was hers).
        for _ in 0..<500 where anna.all(.offer).isEmpty && sue.all(.offer).isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        if sue.all(.offer).first?.consultation?.id == id { try await f.desk.decline(id, agent: "sue") }
        _ = await anna.wait(for: .offer)
        try await f.desk.accept(id, agent: "anna")
        try await f.agentSays("r2", "anna", "Hello!")
        try await f.shopperSays("r2", "sam", "Is the sofa in stock?")
        f.clock.advance(31)
        await f.desk.tick()
        #expect(await anna.wait(for: .overdue).count == 1)
        let held = await f.desk.overview().agents.first { $0.id == "anna" }?.held.first
        #expect(held?.id == id && held?.targetsMissed == 1 && held?.unansweredSince != nil, "the supervisor sees the breach")
        #expect(sue.all(.overdue).isEmpty)
        f.clock.advance(30)
        await f.desk.tick()
        #expect(await sue.wait(for: .overdue).count == 1, "the supervisor is told at two targets")
        f.clock.advance(30)
        await f.desk.tick()
        #expect(await anna.wait(for: .revoked).count == 1, "taken back at three targets")
        let after = try await f.desk.consultation(id, viewer: .admin)
        #expect(after.status == .offered || after.status == .queued, "\(after.status)")
        #expect(after.assignee == nil)
        #expect(try f.systemLines("r2").contains { $0.contains("another colleague") })
    }

    /// Past the maximum wait the shopper is offered to leave a message; the missed consultation
    /// is picked up later by an agent.
    @Test func aLeftMessageIsPickedUpLater() async throws {
        let f = try await Fixture()
        defer { try? FileManager.default.removeItem(atPath: f.directory) }
        let id = try await f.queued("r3", shopper: "sam")
        #expect(try f.systemLines("r3").contains { $0.contains("number 1 in the queue") })
        f.clock.advance(121)
        await f.desk.tick()
        #expect(try f.systemLines("r3").contains { $0.contains("leave us a message") })
        let missed = try await f.desk.leaveMessage(id, shopper: "sam")
        #expect(missed.status == .missed)
        #expect(await f.desk.leftMessages("sales").map(\.id) == [id])
        await #expect(throws: DeskError.self) { _ = try await f.desk.leaveMessage(id, shopper: "sam") }
        let anna = Inbox(try await f.desk.connect(agent: "anna"))
        try await f.desk.pick(id, agent: "anna")
        #expect(await anna.wait(for: .assigned).first?.consultation?.id == id)
        #expect(try await f.desk.consultation(id, viewer: .admin).status == .active)
        #expect(await f.desk.leftMessages("sales").isEmpty)
        try await f.desk.resolve(id, agent: "anna")
        #expect(try await f.desk.consultation(id, viewer: .admin).status == .resolved)
    }

    /// A department's business hours reach the bot: outside them it says when the desk opens,
    /// and a shopper asking for a person is told the desk is closed (and queued for the opening).
    @Test func outsideBusinessHoursTheBotSaysWhenTheDeskOpens() async throws {
        let f = try await Fixture()
        defer { try? FileManager.default.removeItem(atPath: f.directory) }
        // The test clock is Friday 15 January 2027, 08:00 UTC; the desk opens on Mondays only.
        let hours = try BusinessHours(timeZone: TimeZone(identifier: "UTC")!, week: [.monday: [try .init("09:00", "17:00")]])
        try await f.desk.save(department: Department(id: "sales", name: "Sales", hours: hours))
        #expect(await f.desk.departments().first { $0.id == "sales" }?.hours == hours)
        let c = try await f.desk.open(shopper: "sam", room: "r4", name: "Sam", department: "sales", context: ConsultationContext(locale: "en"))
        try await f.shopperSays("r4", "sam", "When are you open?")
        let botLines = try f.chat.messages(room: "r4", after: 0, limit: 100).filter { $0.senderRole == DeskService.botRole }
        #expect(botLines.contains { if case .text(let t) = $0.content { t.contains("Monday") } else { false } }, "\(botLines)")
        try await f.shopperSays("r4", "sam", "talk to a person")
        #expect(try f.systemLines("r4").contains { $0.contains("closed") })
        #expect(try await f.desk.consultation(c.id, viewer: .admin).status == .queued)
    }

    /// A live stream's chat is not the desk's business: only rooms holding an open consultation
    /// reach it. Before this, every room's messages went into the desk's 10,000-message buffer, so
    /// a busy broadcast chat (or a desk behind under load) pushed shoppers' questions out of it.
    @Test func aBusyLiveChatNeverCrowdsOutTheDesk() async throws {
        let f = try await Fixture()
        let c = try await f.desk.open(shopper: "sam", room: "shop-9", name: "Sam", department: "sales", context: ConsultationContext())
        #expect(f.desk.consultationRooms.contains("shop-9") && !f.desk.consultationRooms.contains("live-1"))
        // More messages than the desk's buffer holds, in a room without a consultation, while the
        // desk reads nothing (its run loop is not started here).
        for i in 0..<(DeskService.maximumUnreadMessages + 2_000) {
            _ = try await f.hub.post(room: "live-1", sender: "viewer-\(i % 50)", role: "viewer", clientID: "\(i)", content: .text("wow"))
        }
        _ = try await f.hub.post(room: "shop-9", sender: "sam", role: "shopper", clientID: "q", content: .text("How long does delivery take?"))
        #expect(f.desk.consultationRooms.dropped.load(ordering: .relaxed) == 0)
        // Once it ends, its room is no longer read either.
        _ = try await f.desk.close(c.id, shopper: "sam")
        #expect(!f.desk.consultationRooms.contains("shop-9"))
    }

    /// Shoppers' and agents' identities are separate namespaces: an agent whose id happens to be
    /// a shopper's (the shop mints the one, staff have the other) does not see that shopper's
    /// consultation — before, `consultation(_:viewer:)` compared a bare identity with both.
    @Test func anAgentNamedLikeAShopperDoesNotSeeTheirConsultation() async throws {
        let f = try await Fixture()
        let c = try await f.desk.open(shopper: "anna", room: "shop-7", name: "Anna", department: "sales", context: ConsultationContext())
        #expect(try await f.desk.consultation(c.id, viewer: .shopper("anna")).id == c.id)
        await #expect(throws: DeskError(.notFound, "")) { try await f.desk.consultation(c.id, viewer: .agent("anna")) }
        // A supervisor sees it; an admin too.
        #expect(try await f.desk.consultation(c.id, viewer: .agent("sue")).id == c.id)
        #expect(try await f.desk.consultation(c.id, viewer: .admin).id == c.id)
    }
}
