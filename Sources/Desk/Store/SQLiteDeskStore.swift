import Foundation
import GRDB

/// The embedded desk store: one SQLite file in the data directory (WAL, through GRDB), beside the
/// chat's. Consultations are rows with their milestone times; every change is also an event row
/// in the same transaction.
public final class SQLiteDeskStore: DeskStore {
    private let pool: DatabasePool
    public let path: String

    public init(path: String, durableAgainstPowerLoss: Bool = false) throws(DeskError) {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durableAgainstPowerLoss ? "FULL" : "NORMAL")")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            var migrator = DatabaseMigrator()
            migrator.registerMigration("v1") { db in
                try db.execute(
                    sql: """
                        CREATE TABLE consultation (
                            id TEXT PRIMARY KEY NOT NULL, shopper TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL,
                            record TEXT NOT NULL);
                        CREATE INDEX consultation_shopper ON consultation (shopper, created_at);
                        CREATE INDEX consultation_created ON consultation (created_at);
                        CREATE INDEX consultation_open ON consultation (status) WHERE status NOT IN ('resolved', 'abandoned');
                        CREATE TABLE consultation_event (
                            seq INTEGER PRIMARY KEY AUTOINCREMENT, consultation TEXT NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL,
                            from_status TEXT, to_status TEXT, agent TEXT, detail TEXT);
                        CREATE INDEX consultation_event_of ON consultation_event (consultation, seq);
                        CREATE INDEX consultation_event_at ON consultation_event (at);
                        CREATE TABLE department (id TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL);
                        CREATE TABLE agent (id TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL);
                        """)
            }
            try migrator.migrate(pool)
        } catch {
            throw DeskError(.storage, "opening \(path): \(error)")
        }
    }

    private static let encoder: JSONEncoder = {
        // Dates as Foundation keeps them (seconds since 2001): read back to the same instant.
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return e
    }()
    private static let decoder: JSONDecoder = {
        JSONDecoder()
    }()

    private static func json(_ value: some Encodable) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
    private static func value<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try decoder.decode(type, from: Data(text.utf8)) }

    private func run<T>(_ what: String, _ body: () throws -> T) throws(DeskError) -> T {
        do { return try body() } catch let e as DeskError { throw e } catch { throw DeskError(.storage, "desk store, \(what): \(error)") }
    }

    private static func load(_ db: Database, _ id: String) throws -> Consultation? {
        guard let record = try String.fetchOne(db, sql: "SELECT record FROM consultation WHERE id = ?", arguments: [id]) else { return nil }
        return try value(Consultation.self, record)
    }

    private static func write(_ db: Database, _ c: Consultation) throws {
        try db.execute(
            sql: """
                INSERT INTO consultation (id, shopper, status, created_at, record) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET status = excluded.status, record = excluded.record
                """,
            arguments: [c.id, c.shopper, c.status.rawValue, c.times.created.timeIntervalSince1970, try json(c)])
    }

    private static func append(_ db: Database, _ e: ConsultationEvent) throws {
        try db.execute(
            sql: "INSERT INTO consultation_event (consultation, at, kind, from_status, to_status, agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [e.consultation, e.at.timeIntervalSince1970, e.kind.rawValue, e.from?.rawValue, e.to?.rawValue, e.agent, e.detail])
    }

    public func create(_ consultation: Consultation) throws(DeskError) {
        try DeskError.refuseNUL(consultation.id, consultation.shopper, consultation.room)
        try run("create") {
            try pool.write { db in
                if try Self.load(db, consultation.id) != nil { throw DeskError(.conflict, "consultation \(consultation.id) exists") }
                try Self.write(db, consultation)
                try Self.append(db, ConsultationEvent(consultation: consultation.id, at: consultation.times.created, kind: .status, to: consultation.status))
            }
        }
    }

    @discardableResult
    public func move(_ id: String, to status: ConsultationStatus, assignee: String?, at: Date, detail: String?) throws(DeskError) -> Consultation {
        try DeskError.refuseNUL(id, assignee, detail)
        return try run("move") {
            try pool.write { db -> Consultation in
                guard var c = try Self.load(db, id) else { throw DeskError(.notFound, "no consultation \(id)") }
                guard c.status.canMove(to: status) else { throw DeskError(.conflict, "consultation \(id) is \(c.status.rawValue): cannot move to \(status.rawValue)") }
                let from = c.status, previousAssignee = c.assignee
                c.apply(status, assignee: assignee, at: at)
                try Self.write(db, c)
                try Self.append(db, ConsultationEvent(consultation: id, at: at, kind: .status, from: from, to: status, agent: assignee, detail: detail))
                if let now = c.assignee, now != previousAssignee {
                    try Self.append(db, ConsultationEvent(consultation: id, at: at, kind: .assigned, agent: now))
                }
                return c
            }
        }
    }

    public func recordFirstReply(_ id: String, byAgent: Bool, at: Date) throws(DeskError) {
        try DeskError.refuseNUL(id)
        try run("first reply") {
            try pool.write { db in
                guard var c = try Self.load(db, id) else { throw DeskError(.notFound, "no consultation \(id)") }
                if byAgent {
                    guard c.times.firstAgentReply == nil else { return }
                    c.times.firstAgentReply = at
                } else {
                    guard c.times.firstBotReply == nil else { return }
                    c.times.firstBotReply = at
                }
                try Self.write(db, c)
                try Self.append(db, ConsultationEvent(consultation: id, at: at, kind: byAgent ? .firstAgentReply : .firstBotReply, agent: byAgent ? c.assignee : nil))
            }
        }
    }

    public func rate(_ id: String, score: Int, at: Date) throws(DeskError) {
        guard (1...5).contains(score) else { throw DeskError(.invalidArgument, "a rating is 1 to 5") }
        try DeskError.refuseNUL(id)
        try run("rate") {
            try pool.write { db in
                guard var c = try Self.load(db, id) else { throw DeskError(.notFound, "no consultation \(id)") }
                guard c.status == .resolved else { throw DeskError(.notAllowed, "only a resolved consultation is rated") }
                guard c.rating == nil else { throw DeskError(.conflict, "consultation \(id) is rated already") }
                c.rating = score
                try Self.write(db, c)
                try Self.append(db, ConsultationEvent(consultation: id, at: at, kind: .rated, detail: String(score)))
            }
        }
    }

    public func note(_ id: String, agent: String, text: String, at: Date) throws(DeskError) {
        try DeskError.refuseNUL(id, agent, text)
        try run("note") {
            try pool.write { db in
                guard try Self.load(db, id) != nil else { throw DeskError(.notFound, "no consultation \(id)") }
                try Self.append(db, ConsultationEvent(consultation: id, at: at, kind: .note, agent: agent, detail: text))
            }
        }
    }

    public func consultation(_ id: String) throws(DeskError) -> Consultation? {
        if DeskError.holdsNUL(id) { return nil }
        return try run("read") { try pool.read { db in try Self.load(db, id) } }
    }

    private func consultations(_ sql: String, _ arguments: StatementArguments) throws(DeskError) -> [Consultation] {
        try run("read") {
            try pool.read { db in try String.fetchAll(db, sql: sql, arguments: arguments).map { try Self.value(Consultation.self, $0) } }
        }
    }

    public func openConsultations() throws(DeskError) -> [Consultation] {
        try consultations("SELECT record FROM consultation WHERE status NOT IN ('resolved', 'abandoned') ORDER BY created_at", [])
    }

    public func consultations(shopper: String, limit: Int) throws(DeskError) -> [Consultation] {
        if DeskError.holdsNUL(shopper) { return [] }
        return try consultations("SELECT record FROM consultation WHERE shopper = ? ORDER BY created_at DESC LIMIT ?", [shopper, limit])
    }

    public func consultations(createdFrom from: Date, to: Date) throws(DeskError) -> [Consultation] {
        try consultations(
            "SELECT record FROM consultation WHERE created_at >= ? AND created_at < ? ORDER BY created_at",
            [from.timeIntervalSince1970, to.timeIntervalSince1970])
    }

    public func events(of id: String) throws(DeskError) -> [ConsultationEvent] {
        if DeskError.holdsNUL(id) { return [] }
        return try events("SELECT * FROM consultation_event WHERE consultation = ? ORDER BY seq", [id])
    }

    public func assignments(createdFrom from: Date, to: Date) throws(DeskError) -> [ConsultationEvent] {
        try events(
            "SELECT e.* FROM consultation_event e JOIN consultation c ON c.id = e.consultation "
                + "WHERE e.kind = 'assigned' AND c.created_at >= ? AND c.created_at < ? ORDER BY e.seq",
            [from.timeIntervalSince1970, to.timeIntervalSince1970])
    }

    private func events(_ sql: String, _ arguments: StatementArguments) throws(DeskError) -> [ConsultationEvent] {
        try run("read") {
            try pool.read { db in
                try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                    let kind: String = row["kind"], from: String? = row["from_status"], to: String? = row["to_status"]
                    return ConsultationEvent(
                        seq: row["seq"], consultation: row["consultation"], at: Date(timeIntervalSince1970: row["at"]),
                        kind: ConsultationEvent.Kind(rawValue: kind) ?? .note, from: from.flatMap(ConsultationStatus.init(rawValue:)),
                        to: to.flatMap(ConsultationStatus.init(rawValue:)), agent: row["agent"], detail: row["detail"])
                }
            }
        }
    }

    public func save(_ department: Department) throws(DeskError) {
        try DeskError.refuseNUL(department.id)
        try run("save department") {
            try pool.write { db in
                try db.execute(
                    sql: "INSERT INTO department (id, record) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                    arguments: [department.id, try Self.json(department)])
            }
        }
    }

    public func departments() throws(DeskError) -> [Department] {
        try run("read") { try pool.read { db in try String.fetchAll(db, sql: "SELECT record FROM department ORDER BY id").map { try Self.value(Department.self, $0) } } }
    }

    public func deleteDepartment(_ id: String) throws(DeskError) {
        if DeskError.holdsNUL(id) { return }
        try run("delete department") { try pool.write { db in try db.execute(sql: "DELETE FROM department WHERE id = ?", arguments: [id]) } }
    }

    public func save(_ agent: AgentProfile) throws(DeskError) {
        try DeskError.refuseNUL(agent.id)
        try run("save agent") {
            try pool.write { db in
                try db.execute(
                    sql: "INSERT INTO agent (id, record) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                    arguments: [agent.id, try Self.json(agent)])
            }
        }
    }

    public func agents() throws(DeskError) -> [AgentProfile] {
        try run("read") { try pool.read { db in try String.fetchAll(db, sql: "SELECT record FROM agent ORDER BY id").map { try Self.value(AgentProfile.self, $0) } } }
    }

    public func deleteAgent(_ id: String) throws(DeskError) {
        if DeskError.holdsNUL(id) { return }
        try run("delete agent") { try pool.write { db in try db.execute(sql: "DELETE FROM agent WHERE id = ?", arguments: [id]) } }
    }
}
