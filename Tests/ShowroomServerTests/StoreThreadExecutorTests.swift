import Chat
import Desk
import Foundation
import Logging
import ShowroomServer
import Signaling
import Synchronization
import Testing

/// A desk store that notes the thread of every call.
final class WatchedDeskStore: DeskStore {
    let inner: SQLiteDeskStore
    let threads = Mutex<[String]>([])

    init(inner: SQLiteDeskStore) { self.inner = inner }

    private func note() {
        let name = StoreThreadExecutor.currentName ?? "another thread"
        threads.withLock { $0.append(name) }
    }

    func create(_ c: Consultation) throws(DeskError) { note(); try inner.create(c) }
    func move(_ id: String, to s: ConsultationStatus, assignee: String?, at: Date, detail: String?) throws(DeskError) -> Consultation {
        note()
        return try inner.move(id, to: s, assignee: assignee, at: at, detail: detail)
    }
    func recordFirstReply(_ id: String, byAgent: Bool, at: Date) throws(DeskError) { note(); try inner.recordFirstReply(id, byAgent: byAgent, at: at) }
    func rate(_ id: String, score: Int, at: Date) throws(DeskError) { note(); try inner.rate(id, score: score, at: at) }
    func note(_ id: String, agent: String, text: String, at: Date) throws(DeskError) { note(); try inner.note(id, agent: agent, text: text, at: at) }
    func consultation(_ id: String) throws(DeskError) -> Consultation? { note(); return try inner.consultation(id) }
    func openConsultations() throws(DeskError) -> [Consultation] { try inner.openConsultations() }
    func consultations(shopper: String, limit: Int) throws(DeskError) -> [Consultation] { note(); return try inner.consultations(shopper: shopper, limit: limit) }
    func consultations(createdFrom from: Date, to: Date) throws(DeskError) -> [Consultation] { note(); return try inner.consultations(createdFrom: from, to: to) }
    func events(of id: String) throws(DeskError) -> [ConsultationEvent] { note(); return try inner.events(of: id) }
    func assignments(createdFrom from: Date, to: Date) throws(DeskError) -> [ConsultationEvent] { note(); return try inner.assignments(createdFrom: from, to: to) }
    func save(_ d: Department) throws(DeskError) { note(); try inner.save(d) }
    func departments() throws(DeskError) -> [Department] { try inner.departments() }
    func deleteDepartment(_ id: String) throws(DeskError) { note(); try inner.deleteDepartment(id) }
    func save(_ a: AgentProfile) throws(DeskError) { note(); try inner.save(a) }
    func agents() throws(DeskError) -> [AgentProfile] { try inner.agents() }
    func deleteAgent(_ id: String) throws(DeskError) { note(); try inner.deleteAgent(id) }
}

/// The desk's store calls block (a slow disk, a slow PostgreSQL): they run on the desk's own
/// thread (`StoreThreadExecutor`), never on Swift's cooperative pool — one thread per core, two
/// on CI, which a call held while the database was slow (the review of issue 15's first slice).
@Suite struct StoreThreadExecutorTests {
    @Test func theDesksStoreCallsRunOnItsOwnThread() async throws {
        let directory = ShowroomServerTests.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = WatchedDeskStore(inner: try SQLiteDeskStore(path: directory + "/desk.sqlite"))
        let hub = RoomHub(store: try SQLiteChatStore(path: directory + "/chat.sqlite"))
        let desk = try DeskService(store: store, hub: hub, auth: await TokenAuthority(secret: testSecret), faq: try FAQ.sample(), logger: Logger(label: "test"))
        // The service's start (its init seeds departments) runs where it is made; from then on:
        store.threads.withLock { $0.removeAll() }
        try await desk.save(department: Department(id: "sales", name: "Sales"))
        #expect(store.threads.withLock { $0 } == ["showroom-desk"])

        // More of the desk's work, from many tasks at once: every store call on the desk's thread.
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask { _ = try? await desk.save(agent: AgentProfile(id: "agent-\(i)", name: "A\(i)", departments: ["sales"])) }
            }
        }
        #expect(store.threads.withLock { $0.count } == 9)
        #expect(Set(store.threads.withLock { $0 }) == ["showroom-desk"])
    }
}
