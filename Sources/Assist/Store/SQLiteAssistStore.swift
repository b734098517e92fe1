import Foundation
import GRDB

/// The embedded assist store: one SQLite file (WAL, through GRDB), rows of JSON records with the
/// columns queried beside them — the same shape as the desk's store.
///
/// A value kept as a column (an id, short code, department, consultation, agent, item,
/// deduplication key, endpoint) with a NUL character is refused as `invalid_argument`, and looking
/// one up or deleting it finds nothing (``StorableText``): SQLite's bindings would cut it at the
/// NUL, and PostgreSQL's store cannot hold it. The records are JSON, where it is escaped.
public final class SQLiteAssistStore: AssistStore {
    private let pool: DatabasePool
    public let path: String

    public init(path: String, durableAgainstPowerLoss: Bool = false) throws(AssistError) {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durableAgainstPowerLoss ? "FULL" : "NORMAL")")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            var migrator = DatabaseMigrator()
            migrator.registerMigration("assist-v1") { db in
                try db.execute(
                    sql: """
                        CREATE TABLE assist_script (id TEXT PRIMARY KEY NOT NULL, short_code TEXT NOT NULL UNIQUE, record TEXT NOT NULL);
                        CREATE TABLE assist_flow (department TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL);
                        CREATE TABLE assist_flow_progress (consultation TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL);
                        CREATE TABLE assist_hint_rule (id TEXT PRIMARY KEY NOT NULL, position INTEGER NOT NULL, record TEXT NOT NULL);
                        CREATE TABLE assist_tracked_send (
                            seq INTEGER PRIMARY KEY AUTOINCREMENT, consultation TEXT NOT NULL, agent TEXT NOT NULL, item TEXT NOT NULL,
                            issued REAL NOT NULL, record TEXT NOT NULL);
                        CREATE INDEX assist_tracked_send_issued ON assist_tracked_send (issued);
                        CREATE INDEX assist_tracked_send_consultation ON assist_tracked_send (consultation);
                        CREATE TABLE assist_conversion (
                            seq INTEGER PRIMARY KEY AUTOINCREMENT, dedup TEXT UNIQUE, consultation TEXT, at REAL NOT NULL, record TEXT NOT NULL);
                        CREATE INDEX assist_conversion_at ON assist_conversion (at);
                        CREATE TABLE assist_webhook_endpoint (id TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL);
                        CREATE TABLE assist_webhook_delivery (
                            id TEXT PRIMARY KEY NOT NULL, endpoint TEXT NOT NULL, created REAL NOT NULL, record TEXT NOT NULL);
                        CREATE INDEX assist_webhook_delivery_endpoint ON assist_webhook_delivery (endpoint);
                        """)
            }
            try migrator.migrate(pool)
        } catch {
            throw AssistError(.storage, "opening \(path): \(error)")
        }
    }

    // Dates as Foundation keeps them (seconds since 2001): read back to the same instant.
    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return e
    }()
    private static let decoder = JSONDecoder()

    private static func json(_ value: some Encodable) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
    private static func value<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try decoder.decode(type, from: Data(text.utf8)) }

    private func run<T>(_ what: String, _ body: () throws -> T) throws(AssistError) -> T {
        do { return try body() } catch let e as AssistError { throw e } catch { throw AssistError(.storage, "assist store, \(what): \(error)") }
    }

    private func records<T: Decodable>(_ type: T.Type, _ sql: String, _ arguments: StatementArguments = []) throws(AssistError) -> [T] {
        try run("read") { try pool.read { db in try String.fetchAll(db, sql: sql, arguments: arguments).map { try Self.value(type, $0) } } }
    }

    // MARK: Scripts and flows

    public func scripts() throws(AssistError) -> [Script] {
        try records(Script.self, "SELECT record FROM assist_script ORDER BY short_code")
    }

    public func saveScript(_ script: Script) throws(AssistError) {
        try StorableText.check(script.id, script.shortCode)
        try run("save script") {
            try pool.write { db in
                if let other = try String.fetchOne(
                    db, sql: "SELECT id FROM assist_script WHERE short_code = ? AND id <> ?", arguments: [script.shortCode, script.id])
                {
                    throw AssistError(.conflict, "short code \(script.shortCode) is used by script \(other)")
                }
                try db.execute(
                    sql: "INSERT OR REPLACE INTO assist_script (id, short_code, record) VALUES (?, ?, ?)",
                    arguments: [script.id, script.shortCode, try Self.json(script)])
            }
        }
    }

    public func deleteScript(id: String) throws(AssistError) {
        guard StorableText.isStorable(id) else { throw AssistError(.notFound, "no script \(id.debugDescription)") }
        try run("delete script") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM assist_script WHERE id = ?", arguments: [id])
                if db.changesCount == 0 { throw AssistError(.notFound, "no script \(id)") }
            }
        }
    }

    public func flows() throws(AssistError) -> [GuidedFlow] {
        try records(GuidedFlow.self, "SELECT record FROM assist_flow ORDER BY department")
    }

    public func saveFlow(_ flow: GuidedFlow) throws(AssistError) {
        try StorableText.check(flow.department)
        try run("save flow") {
            try pool.write { db in
                try db.execute(
                    sql: "INSERT OR REPLACE INTO assist_flow (department, record) VALUES (?, ?)", arguments: [flow.department, try Self.json(flow)])
            }
        }
    }

    public func deleteFlow(department: String) throws(AssistError) {
        guard StorableText.isStorable(department) else { throw AssistError(.notFound, "no flow for \(department.debugDescription)") }
        try run("delete flow") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM assist_flow WHERE department = ?", arguments: [department])
                if db.changesCount == 0 { throw AssistError(.notFound, "no flow for \(department)") }
            }
        }
    }

    public func replaceScripts(_ scripts: [Script], flows: [GuidedFlow]) throws(AssistError) {
        try StorableText.check(scripts.flatMap { [$0.id, $0.shortCode] } + flows.map(\.department))
        try run("replace scripts") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM assist_script; DELETE FROM assist_flow;")
                for s in scripts {
                    try db.execute(
                        sql: "INSERT INTO assist_script (id, short_code, record) VALUES (?, ?, ?)", arguments: [s.id, s.shortCode, try Self.json(s)])
                }
                for f in flows {
                    try db.execute(sql: "INSERT INTO assist_flow (department, record) VALUES (?, ?)", arguments: [f.department, try Self.json(f)])
                }
            }
        }
    }

    public func progress(consultation: String) throws(AssistError) -> FlowProgress? {
        guard StorableText.isStorable(consultation) else { return nil }
        return try records(FlowProgress.self, "SELECT record FROM assist_flow_progress WHERE consultation = ?", [consultation]).first
    }

    public func saveProgress(_ progress: FlowProgress) throws(AssistError) {
        try StorableText.check(progress.consultation)
        try run("save progress") {
            try pool.write { db in
                try db.execute(
                    sql: "INSERT OR REPLACE INTO assist_flow_progress (consultation, record) VALUES (?, ?)",
                    arguments: [progress.consultation, try Self.json(progress)])
            }
        }
    }

    // MARK: Hints

    public func hintRules() throws(AssistError) -> [HintRule] {
        try records(HintRule.self, "SELECT record FROM assist_hint_rule ORDER BY position")
    }

    public func replaceHintRules(_ rules: [HintRule]) throws(AssistError) {
        try StorableText.check(rules.map(\.id))
        try run("replace hint rules") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM assist_hint_rule")
                for (i, r) in rules.enumerated() {
                    try db.execute(
                        sql: "INSERT INTO assist_hint_rule (id, position, record) VALUES (?, ?, ?)", arguments: [r.id, i, try Self.json(r)])
                }
            }
        }
    }

    // MARK: Conversions

    public func recordSend(_ token: TrackingToken) throws(AssistError) {
        try StorableText.check(token.consultation, token.agent, token.item.compact)
        try run("record send") {
            try pool.write { db in
                try db.execute(
                    sql: "INSERT INTO assist_tracked_send (consultation, agent, item, issued, record) VALUES (?, ?, ?, ?, ?)",
                    arguments: [token.consultation, token.agent, token.item.compact, token.issued.timeIntervalSince1970, try Self.json(token)])
            }
        }
    }

    public func sends(from: Date, to: Date) throws(AssistError) -> [TrackingToken] {
        try records(
            TrackingToken.self, "SELECT record FROM assist_tracked_send WHERE issued >= ? AND issued < ? ORDER BY seq",
            [from.timeIntervalSince1970, to.timeIntervalSince1970])
    }

    @discardableResult
    public func recordConversion(_ event: ConversionEvent) throws(AssistError) -> Bool {
        try StorableText.check(event.deduplicationKey, event.consultation)
        return try run("record conversion") {
            try pool.write { db -> Bool in
                try db.execute(
                    sql: "INSERT OR IGNORE INTO assist_conversion (dedup, consultation, at, record) VALUES (?, ?, ?, ?)",
                    arguments: [event.deduplicationKey, event.consultation, event.at.timeIntervalSince1970, try Self.json(event)])
                return db.changesCount > 0
            }
        }
    }

    public func conversions(from: Date, to: Date) throws(AssistError) -> [ConversionEvent] {
        try records(
            ConversionEvent.self, "SELECT record FROM assist_conversion WHERE at >= ? AND at < ? ORDER BY seq",
            [from.timeIntervalSince1970, to.timeIntervalSince1970])
    }

    // MARK: Webhooks

    public func webhookEndpoints() throws(AssistError) -> [WebhookEndpoint] {
        try records(WebhookEndpoint.self, "SELECT record FROM assist_webhook_endpoint ORDER BY id")
    }

    public func saveWebhookEndpoint(_ endpoint: WebhookEndpoint) throws(AssistError) {
        try StorableText.check(endpoint.id)
        try run("save webhook") {
            try pool.write { db in
                try db.execute(
                    sql: "INSERT OR REPLACE INTO assist_webhook_endpoint (id, record) VALUES (?, ?)", arguments: [endpoint.id, try Self.json(endpoint)])
            }
        }
    }

    public func deleteWebhookEndpoint(id: String) throws(AssistError) {
        guard StorableText.isStorable(id) else { throw AssistError(.notFound, "no webhook \(id.debugDescription)") }
        try run("delete webhook") {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM assist_webhook_endpoint WHERE id = ?", arguments: [id])
                if db.changesCount == 0 { throw AssistError(.notFound, "no webhook \(id)") }
                try db.execute(sql: "DELETE FROM assist_webhook_delivery WHERE endpoint = ?", arguments: [id])
            }
        }
    }

    public func pendingDeliveries() throws(AssistError) -> [WebhookDelivery] {
        try records(WebhookDelivery.self, "SELECT record FROM assist_webhook_delivery ORDER BY created, id")
    }

    public func saveDelivery(_ delivery: WebhookDelivery) throws(AssistError) {
        try StorableText.check(delivery.id, delivery.endpoint)
        try run("save delivery") {
            try pool.write { db in
                try db.execute(
                    sql: "INSERT OR REPLACE INTO assist_webhook_delivery (id, endpoint, created, record) VALUES (?, ?, ?, ?)",
                    arguments: [delivery.id, delivery.endpoint, delivery.created.timeIntervalSince1970, try Self.json(delivery)])
            }
        }
    }

    public func deleteDelivery(id: String) throws(AssistError) {
        guard StorableText.isStorable(id) else { return }
        try run("delete delivery") {
            try pool.write { db in try db.execute(sql: "DELETE FROM assist_webhook_delivery WHERE id = ?", arguments: [id]) }
        }
    }
}
