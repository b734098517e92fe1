import Desk
import Foundation
import PostgresNIO

/// The desk on PostgreSQL, for nodes sharing one database: the same records and event log as
/// ``Desk/SQLiteDeskStore``, with each change's read-validate-write under a row lock
/// (`SELECT … FOR UPDATE`), so two nodes moving one consultation at once take turns and the second
/// sees the first's move (an accept racing a transfer gets `conflict`, never both). Events are
/// numbered by an identity column, in the order their transactions took the lock.
///
/// Ids and names with a NUL character are refused as `invalid_argument`, as by every desk store
/// (``Desk/DeskError/refuseNUL(_:)``); lookups with one find nothing.
public final class PostgresDeskStore: DeskStore {
    public let database: PostgresDatabase

    public static let migrations = [
        PostgresMigration(
            "desk.v1",
            [
                """
                CREATE TABLE desk_consultation (
                    id TEXT PRIMARY KEY, shopper TEXT NOT NULL, status TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
                    record TEXT NOT NULL)
                """,
                "CREATE INDEX desk_consultation_shopper ON desk_consultation (shopper, created_at)",
                "CREATE INDEX desk_consultation_created ON desk_consultation (created_at)",
                "CREATE INDEX desk_consultation_open ON desk_consultation (status) WHERE status NOT IN ('resolved', 'abandoned')",
                """
                CREATE TABLE desk_consultation_event (
                    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, consultation TEXT NOT NULL, at DOUBLE PRECISION NOT NULL,
                    kind TEXT NOT NULL, from_status TEXT, to_status TEXT, agent TEXT, detail TEXT)
                """,
                "CREATE INDEX desk_consultation_event_of ON desk_consultation_event (consultation, seq)",
                "CREATE TABLE desk_department (id TEXT PRIMARY KEY, record TEXT NOT NULL)",
                "CREATE TABLE desk_agent (id TEXT PRIMARY KEY, record TEXT NOT NULL)",
            ])
    ]

    /// Applies the desk's migrations to `database`.
    public init(database: PostgresDatabase) throws(DeskError) {
        self.database = database
        try run("migrations") { try database.migrate(Self.migrations) }
    }

    private static func json(_ value: some Encodable) throws -> String { try RecordJSON.text(value) }
    private static func value<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try RecordJSON.value(type, text) }

    @discardableResult
    private func run<T>(_ what: String, _ body: () throws -> T) throws(DeskError) -> T {
        do { return try body() } catch let e as DeskError { throw e } catch let e as PostgresStoreError {
            throw DeskError(.storage, "desk store, \(e.description)")
        } catch { throw DeskError(.storage, "desk store, \(what): \(error)") }
    }

    /// The consultation, its row locked until the transaction ends.
    private static func lock(_ session: PostgresSession, _ id: String) throws -> Consultation? {
        guard let row = try session.query("SELECT record FROM desk_consultation WHERE id = \(id) FOR UPDATE").first else { return nil }
        return try value(Consultation.self, try row.decode(String.self))
    }

    private static func write(_ session: PostgresSession, _ c: Consultation) throws {
        let record = try json(c)
        try session.execute(
            """
            INSERT INTO desk_consultation (id, shopper, status, created_at, record)
            VALUES (\(c.id), \(c.shopper), \(c.status.rawValue), \(c.times.created.timeIntervalSince1970), \(record))
            ON CONFLICT (id) DO UPDATE SET status = excluded.status, record = excluded.record
            """)
    }

    private static func append(_ session: PostgresSession, _ e: ConsultationEvent) throws {
        try session.execute(
            """
            INSERT INTO desk_consultation_event (consultation, at, kind, from_status, to_status, agent, detail)
            VALUES (\(e.consultation), \(e.at.timeIntervalSince1970), \(e.kind.rawValue), \(e.from?.rawValue), \(e.to?.rawValue),
                \(e.agent), \(e.detail))
            """)
    }

    public func create(_ consultation: Consultation) throws(DeskError) {
        let c = consultation
        try DeskError.refuseNUL(c.id, c.shopper, c.room)
        try run("create") {
            try database.transaction("create") { session in
                let inserted = try session.execute(
                    """
                    INSERT INTO desk_consultation (id, shopper, status, created_at, record)
                    VALUES (\(c.id), \(c.shopper), \(c.status.rawValue), \(c.times.created.timeIntervalSince1970), \(try Self.json(c)))
                    ON CONFLICT (id) DO NOTHING
                    """)
                guard inserted == 1 else { throw DeskError(.conflict, "consultation \(c.id) exists") }
                try Self.append(session, ConsultationEvent(consultation: c.id, at: c.times.created, kind: .status, to: c.status))
            }
        }
    }

    @discardableResult
    public func move(_ id: String, to status: ConsultationStatus, assignee: String?, at: Date, detail: String?) throws(DeskError) -> Consultation {
        try DeskError.refuseNUL(id, assignee, detail)
        return try run("move") {
            try database.transaction("move") { session -> Consultation in
                guard var c = try Self.lock(session, id) else { throw DeskError(.notFound, "no consultation \(id)") }
                guard c.status.canMove(to: status) else {
                    throw DeskError(.conflict, "consultation \(id) is \(c.status.rawValue): cannot move to \(status.rawValue)")
                }
                let from = c.status
                let previousAssignee = c.assignee
                c.apply(status, assignee: assignee, at: at)
                try Self.write(session, c)
                try Self.append(session, ConsultationEvent(consultation: id, at: at, kind: .status, from: from, to: status, agent: assignee, detail: detail))
                if let now = c.assignee, now != previousAssignee {
                    try Self.append(session, ConsultationEvent(consultation: id, at: at, kind: .assigned, agent: now))
                }
                return c
            }
        }
    }

    public func recordFirstReply(_ id: String, byAgent: Bool, at: Date) throws(DeskError) {
        try DeskError.refuseNUL(id)
        try run("first reply") {
            try database.transaction("first reply") { session in
                guard var c = try Self.lock(session, id) else { throw DeskError(.notFound, "no consultation \(id)") }
                if byAgent {
                    guard c.times.firstAgentReply == nil else { return }
                    c.times.firstAgentReply = at
                } else {
                    guard c.times.firstBotReply == nil else { return }
                    c.times.firstBotReply = at
                }
                try Self.write(session, c)
                try Self.append(
                    session,
                    ConsultationEvent(consultation: id, at: at, kind: byAgent ? .firstAgentReply : .firstBotReply, agent: byAgent ? c.assignee : nil))
            }
        }
    }

    public func rate(_ id: String, score: Int, at: Date) throws(DeskError) {
        guard (1...5).contains(score) else { throw DeskError(.invalidArgument, "a rating is 1 to 5") }
        try DeskError.refuseNUL(id)
        try run("rate") {
            try database.transaction("rate") { session in
                guard var c = try Self.lock(session, id) else { throw DeskError(.notFound, "no consultation \(id)") }
                guard c.status == .resolved else { throw DeskError(.notAllowed, "only a resolved consultation is rated") }
                guard c.rating == nil else { throw DeskError(.conflict, "consultation \(id) is rated already") }
                c.rating = score
                try Self.write(session, c)
                try Self.append(session, ConsultationEvent(consultation: id, at: at, kind: .rated, detail: String(score)))
            }
        }
    }

    public func note(_ id: String, agent: String, text: String, at: Date) throws(DeskError) {
        try DeskError.refuseNUL(id, agent, text)
        try run("note") {
            try database.transaction("note") { session in
                guard try Self.lock(session, id) != nil else { throw DeskError(.notFound, "no consultation \(id)") }
                try Self.append(session, ConsultationEvent(consultation: id, at: at, kind: .note, agent: agent, detail: text))
            }
        }
    }

    private func consultations(_ query: PostgresQuery) throws(DeskError) -> [Consultation] {
        try run("read") {
            try database.read("read") { session in
                try session.query(query).map { try Self.value(Consultation.self, try $0.decode(String.self)) }
            }
        }
    }

    public func consultation(_ id: String) throws(DeskError) -> Consultation? {
        if DeskError.holdsNUL(id) { return nil }
        return try consultations("SELECT record FROM desk_consultation WHERE id = \(id)").first
    }

    public func openConsultations() throws(DeskError) -> [Consultation] {
        try consultations("SELECT record FROM desk_consultation WHERE status NOT IN ('resolved', 'abandoned') ORDER BY created_at, id")
    }

    public func consultations(shopper: String, limit: Int) throws(DeskError) -> [Consultation] {
        guard limit > 0, !DeskError.holdsNUL(shopper) else { return [] }
        return try consultations("SELECT record FROM desk_consultation WHERE shopper = \(shopper) ORDER BY created_at DESC LIMIT \(limit)")
    }

    public func consultations(createdFrom from: Date, to: Date) throws(DeskError) -> [Consultation] {
        try consultations(
            """
            SELECT record FROM desk_consultation
            WHERE created_at >= \(from.timeIntervalSince1970) AND created_at < \(to.timeIntervalSince1970) ORDER BY created_at, id
            """)
    }

    private static let eventColumns = "e.seq, e.consultation, e.at, e.kind, e.from_status, e.to_status, e.agent, e.detail"

    public func events(of id: String) throws(DeskError) -> [ConsultationEvent] {
        if DeskError.holdsNUL(id) { return [] }
        return try events("SELECT \(unescaped: Self.eventColumns) FROM desk_consultation_event e WHERE e.consultation = \(id) ORDER BY e.seq")
    }

    public func assignments(createdFrom from: Date, to: Date) throws(DeskError) -> [ConsultationEvent] {
        try events(
            """
            SELECT \(unescaped: Self.eventColumns) FROM desk_consultation_event e JOIN desk_consultation c ON c.id = e.consultation
            WHERE e.kind = 'assigned' AND c.created_at >= \(from.timeIntervalSince1970) AND c.created_at < \(to.timeIntervalSince1970)
            ORDER BY e.seq
            """)
    }

    private func events(_ query: PostgresQuery) throws(DeskError) -> [ConsultationEvent] {
        try run("read") {
            try database.read("read") { session in
                try session.query(query).map { row in
                    let (seq, consultation, at, kind, from, to, agent, detail) = try row.decode(
                        (Int64, String, Double, String, String?, String?, String?, String?).self)
                    return ConsultationEvent(
                        seq: seq, consultation: consultation, at: Date(timeIntervalSince1970: at),
                        kind: ConsultationEvent.Kind(rawValue: kind) ?? .note, from: from.flatMap(ConsultationStatus.init(rawValue:)),
                        to: to.flatMap(ConsultationStatus.init(rawValue:)), agent: agent, detail: detail)
                }
            }
        }
    }

    private func saveRecord(_ table: String, id: String, record: () throws -> String) throws(DeskError) {
        try DeskError.refuseNUL(id)
        try run("save") {
            let record = try record()
            _ = try database.run("save") { session in
                try session.execute(
                    """
                    INSERT INTO \(unescaped: table) (id, record) VALUES (\(id), \(record))
                    ON CONFLICT (id) DO UPDATE SET record = excluded.record
                    """)
            }
        }
    }

    private func records<T: Decodable>(_ table: String, as type: T.Type) throws(DeskError) -> [T] {
        try run("read") {
            try database.read("read") { session in
                try session.query("SELECT record FROM \(unescaped: table) ORDER BY id").map { try Self.value(type, try $0.decode(String.self)) }
            }
        }
    }

    private func deleteRecord(_ table: String, id: String) throws(DeskError) {
        if DeskError.holdsNUL(id) { return }
        try run("delete") { try database.run("delete") { session in try session.execute("DELETE FROM \(unescaped: table) WHERE id = \(id)") } }
    }

    public func save(_ department: Department) throws(DeskError) { try saveRecord("desk_department", id: department.id) { try Self.json(department) } }
    public func departments() throws(DeskError) -> [Department] { try records("desk_department", as: Department.self) }
    public func deleteDepartment(_ id: String) throws(DeskError) { try deleteRecord("desk_department", id: id) }
    public func save(_ agent: AgentProfile) throws(DeskError) { try saveRecord("desk_agent", id: agent.id) { try Self.json(agent) } }
    public func agents() throws(DeskError) -> [AgentProfile] { try records("desk_agent", as: AgentProfile.self) }
    public func deleteAgent(_ id: String) throws(DeskError) { try deleteRecord("desk_agent", id: id) }
}
