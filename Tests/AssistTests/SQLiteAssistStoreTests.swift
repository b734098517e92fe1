import Assist
import Foundation
import Testing

/// The SQLite assist store on a real file, reopened: nothing is lost across a restart.
@Suite struct SQLiteAssistStoreTests {
    static func path() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("assist-\(UInt64.random(in: 0...UInt64.max)).sqlite").path
    }

    let t0 = Date(timeIntervalSince1970: 1_800_000_000.25)

    @Test func everythingSurvivesAReopen() throws {
        let path = Self.path()
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let script = Script(id: "s1", shortCode: "hi", title: "Hi", body: "Hello {{shopper.name}}", department: "sales", tags: ["greet"],
            attachment: .coupon(code: "W10", description: "10 %"))
        let flow = GuidedFlow(department: "sales", title: "Sales", steps: [FlowStep(id: "greet", title: "Greet", scripts: ["hi"])])
        var progress = FlowProgress(consultation: "c1", flow: flow, now: t0)
        progress.advance(now: t0 + 1)
        let rules = [
            HintRule(id: "r2", kind: .waitingTooLong, thresholdSeconds: 60, message: "wait"),
            HintRule(id: "r1", kind: .phrase, terms: ["cheap"], message: "no"),
        ]
        let key = try TrackingKey(Array(repeating: 3, count: 32))
        let token = TrackingToken(consultation: "c1", agent: "ada", department: "sales", item: .productCard(sku: "A"), issued: t0)
        let event = ConversionEvent(
            kind: .order, consultation: "c1", agent: "ada", department: "sales", item: .productCard(sku: "A"), orderID: "o1", reportID: nil,
            amountMinor: 100, currency: "EUR", at: t0 + 5)
        let endpoint = WebhookEndpoint(id: "shop", url: "https://shop.example/h", secret: String(repeating: "s", count: 32), events: [.consultationCreated])
        var outbox = WebhookOutbox(endpoints: [endpoint])
        let delivery = try #require(
            outbox.enqueue(try WebhookEvent(id: "e1", kind: .consultationCreated, at: t0, payload: Data("{}".utf8)), now: t0).deliveries.first)

        do {
            let store = try SQLiteAssistStore(path: path)
            try store.saveScript(script)
            #expect(throws: AssistError(.conflict, "")) { try store.saveScript(Script(id: "s2", shortCode: "hi", title: "x", body: "y")) }
            try store.saveFlow(flow)
            try store.saveProgress(progress)
            try store.replaceHintRules(rules)
            try store.recordSend(token)
            #expect(try store.recordConversion(event))
            #expect(try !store.recordConversion(event))
            try store.saveWebhookEndpoint(endpoint)
            try store.saveDelivery(delivery)
        }
        let store = try SQLiteAssistStore(path: path)
        #expect(try store.scripts() == [script])
        #expect(try store.flows() == [flow])
        #expect(try store.progress(consultation: "c1") == progress)
        #expect(try store.progress(consultation: "c2") == nil)
        #expect(try store.hintRules() == rules)
        #expect(try store.sends(from: t0 - 1, to: t0 + 1) == [token])
        #expect(try store.conversions(from: t0, to: t0 + 10) == [event])
        #expect(try store.conversions(from: t0 + 6, to: t0 + 10).isEmpty)
        #expect(try store.webhookEndpoints() == [endpoint])
        #expect(try store.pendingDeliveries() == [delivery])

        // A ledger and an outbox rebuilt from the store behave as before the restart.
        var ledger = ConversionLedger(key: key, sends: try store.sends(from: t0 - 1, to: t0 + 1), events: try store.conversions(from: t0, to: t0 + 10))
        let duplicate = ConversionReport(kind: .order, token: nil, orderID: "o1", amountMinor: 100, currency: "EUR", at: t0 + 6)
        #expect(try ledger.record(duplicate).outcome == .duplicate)
        var restored = WebhookOutbox(endpoints: try store.webhookEndpoints(), pending: try store.pendingDeliveries())
        #expect(restored.due(now: t0).map(\.id) == ["e1@shop"])

        try store.replaceScripts([], flows: [])
        #expect(try store.scripts().isEmpty)
        #expect(try store.flows().isEmpty)
        #expect(throws: AssistError(.notFound, "")) { try store.deleteScript(id: "s1") }
        try store.deleteWebhookEndpoint(id: "shop")
        #expect(try store.pendingDeliveries().isEmpty)
        try store.deleteDelivery(id: "gone")
    }
}
