import Assist
import Foundation
import PostgresNIO

/// Agent assist on PostgreSQL, for nodes sharing one database: the same rows of JSON records as
/// ``Assist/SQLiteAssistStore`` (`AssistStore`'s promises), kept under writers on different nodes.
///
/// - **Counted once**: a unique index on a conversion's kind and order (or report) id, written with
///   `INSERT … ON CONFLICT DO NOTHING`; two nodes recording one order at once both wait on the
///   index and exactly one gets `true` (the other `false`, never an error).
/// - **Short codes**: a save that races another node's save of the same short code under another
///   id gets `conflict` (the index's refusal, SQLSTATE 23505, is turned into it).
/// - **Replacements** (the library with its flows, the hint rules) are one transaction that first
///   locks the tables against other writers (`LOCK … IN EXCLUSIVE MODE`; reads go on): two imports
///   at once take turns, and the second's list is the one stored, never a mix of both.
/// - **Orders** by id, short code and department are byte orders (`COLLATE "C"`), as SQLite's,
///   whatever the database's locale.
///
/// - **NUL**: PostgreSQL's text cannot hold the NUL character, so an id, short code, department,
///   consultation, agent, item, deduplication key or endpoint with one is refused as
///   `invalid_argument` (looking one up or deleting it finds nothing), as SQLite's store does: one
///   rule for both, ``Assist/StorableText``. The records are JSON, where it is escaped.
///
/// What differs from SQLite: sends and conversions are in the order their rows were numbered (an
/// identity column), which on several nodes is not always the order their transactions committed.
public final class PostgresAssistStore: AssistStore {
    public let database: PostgresDatabase

    public static let migrations = [
        PostgresMigration(
            "assist.v1",
            [
                """
                CREATE TABLE assist_script (
                    id TEXT COLLATE "C" PRIMARY KEY, short_code TEXT COLLATE "C" NOT NULL UNIQUE, record TEXT NOT NULL)
                """,
                "CREATE TABLE assist_flow (department TEXT COLLATE \"C\" PRIMARY KEY, record TEXT NOT NULL)",
                "CREATE TABLE assist_flow_progress (consultation TEXT PRIMARY KEY, record TEXT NOT NULL)",
                "CREATE TABLE assist_hint_rule (id TEXT PRIMARY KEY, position BIGINT NOT NULL, record TEXT NOT NULL)",
                """
                CREATE TABLE assist_tracked_send (
                    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, consultation TEXT NOT NULL, agent TEXT NOT NULL,
                    item TEXT NOT NULL, issued DOUBLE PRECISION NOT NULL, record TEXT NOT NULL)
                """,
                "CREATE INDEX assist_tracked_send_issued ON assist_tracked_send (issued)",
                "CREATE INDEX assist_tracked_send_consultation ON assist_tracked_send (consultation)",
                // `dedup` is NULL for a conversion without an order or report id: never a duplicate
                // (NULLs are distinct in a unique index, as in SQLite).
                """
                CREATE TABLE assist_conversion (
                    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, dedup TEXT UNIQUE, consultation TEXT,
                    at DOUBLE PRECISION NOT NULL, record TEXT NOT NULL)
                """,
                "CREATE INDEX assist_conversion_at ON assist_conversion (at)",
                "CREATE TABLE assist_webhook_endpoint (id TEXT COLLATE \"C\" PRIMARY KEY, record TEXT NOT NULL)",
                """
                CREATE TABLE assist_webhook_delivery (
                    id TEXT COLLATE "C" PRIMARY KEY, endpoint TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, record TEXT NOT NULL)
                """,
                "CREATE INDEX assist_webhook_delivery_endpoint ON assist_webhook_delivery (endpoint)",
                "CREATE INDEX assist_webhook_delivery_created ON assist_webhook_delivery (created, id)",
            ])
    ]

    /// Applies assist's migrations to `database`.
    public init(database: PostgresDatabase) throws(AssistError) {
        self.database = database
        try run("migrations") { try database.migrate(Self.migrations) }
    }

    private static func json(_ value: some Encodable) throws -> String { try RecordJSON.text(value) }
    private static func value<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try RecordJSON.value(type, text) }

    @discardableResult
    private func run<T>(_ what: String, _ body: () throws -> T) throws(AssistError) -> T {
        do { return try body() } catch let e as AssistError { throw e } catch let e as PostgresStoreError {
            throw AssistError(.storage, "assist store, \(e.description)")
        } catch { throw AssistError(.storage, "assist store, \(what): \(error)") }
    }

    private func records<T: Decodable>(_ type: T.Type, _ query: PostgresQuery) throws(AssistError) -> [T] {
        try run("read") {
            try database.read("read") { session in try session.query(query).map { try Self.value(type, try $0.decode(String.self)) } }
        }
    }

    // MARK: Scripts and flows

    public func scripts() throws(AssistError) -> [Script] {
        try records(Script.self, "SELECT record FROM assist_script ORDER BY short_code")
    }

    public func saveScript(_ script: Script) throws(AssistError) {
        try StorableText.check(script.id, script.shortCode)
        let record = try run("encoding") { try Self.json(script) }
        try run("save script") {
            do {
                try database.transaction("save script") { session in
                    if let other = try session.query(
                        "SELECT id FROM assist_script WHERE short_code = \(script.shortCode) AND id <> \(script.id)"
                    ).first?.decode(String.self) {
                        throw AssistError(.conflict, "short code \(script.shortCode) is used by script \(other)")
                    }
                    try session.execute(
                        """
                        INSERT INTO assist_script (id, short_code, record) VALUES (\(script.id), \(script.shortCode), \(record))
                        ON CONFLICT (id) DO UPDATE SET short_code = excluded.short_code, record = excluded.record
                        """)
                }
            } catch let e as PostgresStoreError where e.isUniqueViolation {
                // Another node saved this short code under another id after the check above.
                throw AssistError(.conflict, "short code \(script.shortCode) is used by another script")
            }
        }
    }

    public func deleteScript(id: String) throws(AssistError) {
        guard StorableText.isStorable(id) else { throw AssistError(.notFound, "no script \(id.debugDescription)") }
        let deleted = try run("delete script") {
            try database.run("delete script") { session in try session.execute("DELETE FROM assist_script WHERE id = \(id)") }
        }
        if deleted == 0 { throw AssistError(.notFound, "no script \(id)") }
    }

    public func flows() throws(AssistError) -> [GuidedFlow] {
        try records(GuidedFlow.self, "SELECT record FROM assist_flow ORDER BY department")
    }

    public func saveFlow(_ flow: GuidedFlow) throws(AssistError) {
        try StorableText.check(flow.department)
        let record = try run("encoding") { try Self.json(flow) }
        try run("save flow") {
            try database.run("save flow") { session in
                try session.execute(
                    """
                    INSERT INTO assist_flow (department, record) VALUES (\(flow.department), \(record))
                    ON CONFLICT (department) DO UPDATE SET record = excluded.record
                    """)
            }
        }
    }

    public func deleteFlow(department: String) throws(AssistError) {
        guard StorableText.isStorable(department) else { throw AssistError(.notFound, "no flow for \(department.debugDescription)") }
        let deleted = try run("delete flow") {
            try database.run("delete flow") { session in
                try session.execute("DELETE FROM assist_flow WHERE department = \(department)")
            }
        }
        if deleted == 0 { throw AssistError(.notFound, "no flow for \(department)") }
    }

    public func replaceScripts(_ scripts: [Script], flows: [GuidedFlow]) throws(AssistError) {
        try StorableText.check(scripts.flatMap { [$0.id, $0.shortCode] } + flows.map(\.department))
        let scriptRecords = try run("encoding") { try scripts.map { try Self.json($0) } }
        let flowRecords = try run("encoding") { try flows.map { try Self.json($0) } }
        let ids = scripts.map(\.id)
        let codes = scripts.map(\.shortCode)
        let departments = flows.map(\.department)
        try run("replace scripts") {
            try database.transaction("replace scripts") { session in
                try session.execute("LOCK TABLE assist_script, assist_flow IN EXCLUSIVE MODE")
                try session.execute("DELETE FROM assist_script")
                try session.execute("DELETE FROM assist_flow")
                // A duplicate id or short code in the list is refused by the index (as SQLite's):
                // a `storage` error, and the transaction leaves the library as it was.
                if !scripts.isEmpty {
                    try session.execute(
                        """
                        INSERT INTO assist_script (id, short_code, record)
                        SELECT * FROM UNNEST(\(ids)::text[], \(codes)::text[], \(scriptRecords)::text[])
                        """)
                }
                if !flows.isEmpty {
                    try session.execute(
                        "INSERT INTO assist_flow (department, record) SELECT * FROM UNNEST(\(departments)::text[], \(flowRecords)::text[])")
                }
            }
        }
    }

    public func progress(consultation: String) throws(AssistError) -> FlowProgress? {
        guard StorableText.isStorable(consultation) else { return nil }
        return try records(FlowProgress.self, "SELECT record FROM assist_flow_progress WHERE consultation = \(consultation)").first
    }

    public func saveProgress(_ progress: FlowProgress) throws(AssistError) {
        try StorableText.check(progress.consultation)
        let record = try run("encoding") { try Self.json(progress) }
        try run("save progress") {
            try database.run("save progress") { session in
                try session.execute(
                    """
                    INSERT INTO assist_flow_progress (consultation, record) VALUES (\(progress.consultation), \(record))
                    ON CONFLICT (consultation) DO UPDATE SET record = excluded.record
                    """)
            }
        }
    }

    // MARK: Hints

    public func hintRules() throws(AssistError) -> [HintRule] {
        try records(HintRule.self, "SELECT record FROM assist_hint_rule ORDER BY position")
    }

    public func replaceHintRules(_ rules: [HintRule]) throws(AssistError) {
        try StorableText.check(rules.map(\.id))
        let ruleRecords = try run("encoding") { try rules.map { try Self.json($0) } }
        let ids = rules.map(\.id)
        let positions = rules.indices.map { Int64($0) }
        try run("replace hint rules") {
            try database.transaction("replace hint rules") { session in
                try session.execute("LOCK TABLE assist_hint_rule IN EXCLUSIVE MODE")
                try session.execute("DELETE FROM assist_hint_rule")
                if !rules.isEmpty {
                    try session.execute(
                        """
                        INSERT INTO assist_hint_rule (id, position, record)
                        SELECT * FROM UNNEST(\(ids)::text[], \(positions)::int8[], \(ruleRecords)::text[])
                        """)
                }
            }
        }
    }

    // MARK: Conversions

    /// `p:<sku>` or `c:<code>`, as SQLite's column (``Assist/TrackedItem``'s compact form is internal).
    private static func compact(_ item: TrackedItem) -> String {
        switch item {
        case .productCard(let sku): "p:" + sku
        case .coupon(let code): "c:" + code
        }
    }

    public func recordSend(_ token: TrackingToken) throws(AssistError) {
        let item = Self.compact(token.item)
        try StorableText.check(token.consultation, token.agent, item)
        let record = try run("encoding") { try Self.json(token) }
        let issued = token.issued.timeIntervalSince1970
        try run("record send") {
            try database.run("record send") { session in
                try session.execute(
                    """
                    INSERT INTO assist_tracked_send (consultation, agent, item, issued, record)
                    VALUES (\(token.consultation), \(token.agent), \(item), \(issued), \(record))
                    """)
            }
        }
    }

    public func sends(from: Date, to: Date) throws(AssistError) -> [TrackingToken] {
        let (start, end) = (from.timeIntervalSince1970, to.timeIntervalSince1970)
        return try records(TrackingToken.self, "SELECT record FROM assist_tracked_send WHERE issued >= \(start) AND issued < \(end) ORDER BY seq")
    }

    @discardableResult
    public func recordConversion(_ event: ConversionEvent) throws(AssistError) -> Bool {
        let dedup = event.deduplicationKey
        try StorableText.check(dedup, event.consultation)
        let record = try run("encoding") { try Self.json(event) }
        let at = event.at.timeIntervalSince1970
        return try run("record conversion") {
            // A second node inserting the same key at once waits for the first's commit, then
            // does nothing: one `true`, never a unique-violation error.
            try database.run("record conversion") { session in
                try session.execute(
                    """
                    INSERT INTO assist_conversion (dedup, consultation, at, record) VALUES (\(dedup), \(event.consultation), \(at), \(record))
                    ON CONFLICT DO NOTHING
                    """) > 0
            }
        }
    }

    public func conversions(from: Date, to: Date) throws(AssistError) -> [ConversionEvent] {
        let (start, end) = (from.timeIntervalSince1970, to.timeIntervalSince1970)
        return try records(ConversionEvent.self, "SELECT record FROM assist_conversion WHERE at >= \(start) AND at < \(end) ORDER BY seq")
    }

    // MARK: Webhooks

    public func webhookEndpoints() throws(AssistError) -> [WebhookEndpoint] {
        try records(WebhookEndpoint.self, "SELECT record FROM assist_webhook_endpoint ORDER BY id")
    }

    public func saveWebhookEndpoint(_ endpoint: WebhookEndpoint) throws(AssistError) {
        try StorableText.check(endpoint.id)
        let record = try run("encoding") { try Self.json(endpoint) }
        try run("save webhook") {
            try database.run("save webhook") { session in
                try session.execute(
                    """
                    INSERT INTO assist_webhook_endpoint (id, record) VALUES (\(endpoint.id), \(record))
                    ON CONFLICT (id) DO UPDATE SET record = excluded.record
                    """)
            }
        }
    }

    public func deleteWebhookEndpoint(id: String) throws(AssistError) {
        guard StorableText.isStorable(id) else { throw AssistError(.notFound, "no webhook \(id.debugDescription)") }
        try run("delete webhook") {
            try database.transaction("delete webhook") { session in
                guard try session.execute("DELETE FROM assist_webhook_endpoint WHERE id = \(id)") > 0 else {
                    throw AssistError(.notFound, "no webhook \(id)")
                }
                try session.execute("DELETE FROM assist_webhook_delivery WHERE endpoint = \(id)")
            }
        }
    }

    public func pendingDeliveries() throws(AssistError) -> [WebhookDelivery] {
        try records(WebhookDelivery.self, "SELECT record FROM assist_webhook_delivery ORDER BY created, id")
    }

    public func saveDelivery(_ delivery: WebhookDelivery) throws(AssistError) {
        try StorableText.check(delivery.id, delivery.endpoint)
        let record = try run("encoding") { try Self.json(delivery) }
        let created = delivery.created.timeIntervalSince1970
        try run("save delivery") {
            try database.run("save delivery") { session in
                try session.execute(
                    """
                    INSERT INTO assist_webhook_delivery (id, endpoint, created, record)
                    VALUES (\(delivery.id), \(delivery.endpoint), \(created), \(record))
                    ON CONFLICT (id) DO UPDATE SET endpoint = excluded.endpoint, created = excluded.created, record = excluded.record
                    """)
            }
        }
    }

    public func deleteDelivery(id: String) throws(AssistError) {
        guard StorableText.isStorable(id) else { return }
        try run("delete delivery") {
            try database.run("delete delivery") { session in try session.execute("DELETE FROM assist_webhook_delivery WHERE id = \(id)") }
        }
    }
}
