import Assist
import Dispatch
import Foundation
import Synchronization
import Testing

/// ``AssistStore``'s promises, kept by SQLite and by PostgreSQL alike: everything back as saved
/// after a reopen, short codes unique, conversions counted once — also with two stores ("nodes")
/// recording at once —, the documented orders, whole replacements, and `not_found` where the
/// protocol says so.
@Suite struct AssistStoreConformanceTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000.25)

    /// Runs `body(0)` and `body(1)` on two threads at once (two nodes); their results in that order.
    static func atOnce<T: Sendable>(_ body: @escaping @Sendable (Int) throws -> T) -> [Result<T, any Error>] {
        let results = Mutex<[Int: Result<T, any Error>]>([:])
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let r = Result { try body(i) }
            results.withLock { $0[i] = r }
        }
        return results.withLock { r in [0, 1].map { r[$0]! } }
    }

    static func script(_ id: String, _ shortCode: String) -> Script {
        Script(id: id, shortCode: shortCode, title: "Title \(id)", body: "Body of \(id)")
    }

    func order(_ id: String, kind: ConversionKind = .order, at: Date) -> ConversionEvent {
        ConversionEvent(
            kind: kind, consultation: "c1", agent: "ada", department: "sales", item: .productCard(sku: "A"), orderID: id, reportID: nil,
            amountMinor: 100, currency: "EUR", at: at)
    }

    @Test(arguments: Backend.allCases) func everythingSurvivesAReopen(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let script = Script(
            id: "s1", shortCode: "hi", title: "Hi", body: "Hello {{shopper.name}}", department: "sales", tags: ["greet"],
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
            let store = try site.assistStore()
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
        // A new store on the same place: a restart, or another node.
        let store = try site.assistStore()
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
        // Counted once across the restart too.
        #expect(try !store.recordConversion(event))

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

    /// A short code belongs to one script: another id taking it is a `conflict` on every node, and a
    /// race between two nodes lets exactly one in.
    @Test(arguments: Backend.allCases) func aDuplicateShortCodeIsAConflict(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let a = try site.assistStore()
        let b = try site.assistStore()
        let s1 = Self.script("s1", "hi")
        try a.saveScript(s1)
        #expect(throws: AssistError(.conflict, "")) { try b.saveScript(Self.script("s2", "hi")) }
        #expect(try a.scripts() == [s1], "the refused save changed nothing")
        // A script keeps its own code when edited, and frees it when it changes it.
        var edited = s1
        edited.title = "Hello"
        try b.saveScript(edited)
        edited.shortCode = "hello"
        try b.saveScript(edited)
        try a.saveScript(Self.script("s2", "hi"))
        #expect(try b.scripts() == [edited, Self.script("s2", "hi")])
        #expect(throws: AssistError(.conflict, "")) {
            var back = edited
            back.shortCode = "hi"
            try a.saveScript(back)
        }

        // Two nodes saving different scripts with one new code at the same moment.
        let stores = [a, b]
        for round in 0..<10 {
            let results = Self.atOnce { i in try stores[i].saveScript(Self.script("race\(round)-\(i)", "race\(round)")) }
            let saved = results.filter { if case .success = $0 { true } else { false } }.count
            #expect(saved == 1, "round \(round): \(results)")
            for case .failure(let error) in results { #expect((error as? AssistError)?.code == .conflict, "round \(round): \(error)") }
            #expect(try a.scripts().filter { $0.shortCode == "race\(round)" }.count == 1)
        }
    }

    /// "Counted once": the same kind and order id (or report id) is stored once, whichever store
    /// records it, also when two record it at the same moment; a conversion without either id is
    /// never a duplicate.
    /// The review's attack: an order id of one character and 20,000 combining marks (a short id
    /// by count) made PostgreSQL's unique index refuse the row — `storage`, a 503 to the shop —
    /// while SQLite kept it. Keys are bounded in bytes for both: `invalid_argument`, nothing stored.
    @Test(arguments: Backend.allCases) func anOverlongKeyIsRefusedAlike(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.assistStore()
        let long = "a" + String(repeating: "\u{301}", count: 20_000)
        #expect(long.count == 1)
        #expect(throws: AssistError(.invalidArgument, "")) { try store.recordConversion(order(long, at: t0)) }
        #expect(throws: AssistError(.invalidArgument, "")) { try store.saveScript(Self.script(long, "x")) }
        let fits = String(repeating: "b", count: StorableText.maximumKeyBytes - "order|".utf8.count)
        #expect(try store.recordConversion(order(fits, at: t0)), "a key of exactly the bound is kept")
        #expect(try store.conversions(from: t0 - 1, to: t0 + 1).map(\.orderID) == [fits])
    }

    @Test(arguments: Backend.allCases) func aConversionIsCountedOnceAcrossStores(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let stores = [try site.assistStore(), try site.assistStore()]
        let t0 = self.t0
        let events = (0..<40).map { order("o\($0)", at: t0 + Double($0)) }
        let results = Self.atOnce { i in try events.map { try stores[i].recordConversion($0) } }
        let counted = try results.map { try $0.get() }
        for (n, event) in events.enumerated() {
            #expect(counted[0][n] != counted[1][n], "\(event.orderID ?? ""): counted by \(counted[0][n] ? "both" : "neither")")
        }
        let stored = try stores[0].conversions(from: t0, to: t0 + 100)
        #expect(stored.count == events.count)
        #expect(Set(stored) == Set(events))

        // Another kind with the same order id counts; a report id counts like an order id.
        #expect(try stores[1].recordConversion(order("o1", kind: .click, at: t0 + 50)))
        let report = ConversionEvent(
            kind: .addToCart, consultation: nil, agent: nil, department: nil, item: nil, orderID: nil, reportID: "r1", amountMinor: 0,
            currency: nil, at: t0 + 51)
        #expect(try stores[0].recordConversion(report))
        #expect(try !stores[1].recordConversion(report))
        // Neither id: nothing to recognize a repeat by, every one is stored.
        var anonymous = report
        anonymous.reportID = nil
        #expect(try stores[0].recordConversion(anonymous))
        #expect(try stores[1].recordConversion(anonymous))
        #expect(try stores[1].conversions(from: t0 + 50, to: t0 + 52).count == 4)
    }

    /// Scripts by short code, flows by department, endpoints by id — in byte order, whatever the
    /// database's locale —, deliveries oldest first (ties by id), rules in the admin's order,
    /// sends and conversions in the order recorded.
    @Test(arguments: Backend.allCases) func listsAreInTheirDocumentedOrders(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.assistStore()
        // Byte order: "B" (0x42) < "_" (0x5F) < "a" < "b" < "é"; a locale's order differs.
        let codes = ["b", "é", "a", "_x", "B"]
        for (i, code) in codes.enumerated() { try store.saveScript(Self.script("id\(i)", code)) }
        #expect(try store.scripts().map(\.shortCode) == ["B", "_x", "a", "b", "é"])
        for department in codes { try store.saveFlow(GuidedFlow(department: department, title: "T", steps: [])) }
        #expect(try store.flows().map(\.department) == ["B", "_x", "a", "b", "é"])
        for id in codes { try store.saveWebhookEndpoint(WebhookEndpoint(id: id, url: "https://shop.example/\(id)", secret: "s")) }
        #expect(try site.assistStore().webhookEndpoints().map(\.id) == ["B", "_x", "a", "b", "é"])

        let rules = ["z", "a", "m"].map { HintRule(id: $0, kind: .phrase, terms: [$0], message: $0) }
        try store.replaceHintRules(rules)
        #expect(try store.hintRules().map(\.id) == ["z", "a", "m"])
        try store.replaceHintRules(Array(rules.reversed().prefix(2)))
        #expect(try store.hintRules().map(\.id) == ["m", "a"], "a replacement drops the rules it does not list")

        let event = try WebhookEvent(id: "e", kind: .consultationCreated, at: t0, payload: Data("{}".utf8))
        for (endpoint, created) in [("b", t0 + 2), ("B", t0 + 1), ("a", t0 + 2), ("_x", t0)] {
            try store.saveDelivery(WebhookDelivery(endpoint: endpoint, event: event, now: created))
        }
        #expect(try store.pendingDeliveries().map(\.id) == ["e@_x", "e@B", "e@a", "e@b"])
        // Saving one again replaces it (by id), with its new time.
        var later = WebhookDelivery(endpoint: "_x", event: event, now: t0 + 3)
        later.attempts = 2
        try store.saveDelivery(later)
        #expect(try store.pendingDeliveries().map(\.id) == ["e@B", "e@a", "e@b", "e@_x"])
        #expect(try store.pendingDeliveries().last?.attempts == 2)

        // Tokens keep whole seconds: a whole-second base, so the bounds below fall on them.
        let second = Date(timeIntervalSince1970: 1_800_000_000)
        let issued = [5, 1, 3]
        let tokens = issued.map {
            TrackingToken(consultation: "c1", agent: "ada", department: nil, item: .coupon(code: "C\($0)"), issued: second + Double($0))
        }
        for token in tokens { try store.recordSend(token) }
        #expect(try store.sends(from: second, to: second + 10) == tokens)
        #expect(try store.sends(from: second + 1, to: second + 5).map(\.item) == [.coupon(code: "C1"), .coupon(code: "C3")], "[from, to)")
        let conversions = issued.map { order("o\($0)", at: t0 + Double($0)) }
        for c in conversions { try store.recordConversion(c) }
        #expect(try store.conversions(from: t0, to: t0 + 10) == conversions)
        #expect(try store.conversions(from: t0 + 3, to: t0 + 10) == [conversions[0], conversions[2]], "[from, to): from is in")
        #expect(try store.conversions(from: t0, to: t0 + 3) == [conversions[1]], "[from, to): to is out")
    }

    /// A replacement is whole: the new library and flows, or (when it fails) the old ones.
    @Test(arguments: Backend.allCases) func aFailedReplacementChangesNothing(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.assistStore()
        let old = [Self.script("s1", "hi"), Self.script("s2", "bye")]
        let flow = GuidedFlow(department: "sales", title: "Sales", steps: [])
        try store.replaceScripts(old, flows: [flow])
        #expect(try store.scripts() == [old[1], old[0]])
        // Two scripts with one short code: refused, and the stored library is as it was.
        #expect(throws: AssistError.self) {
            try store.replaceScripts([Self.script("n1", "same"), Self.script("n2", "same")], flows: [])
        }
        #expect(try store.scripts() == [old[1], old[0]])
        #expect(try site.assistStore().flows() == [flow])
        let new = [Self.script("n1", "x")]
        let flows = [GuidedFlow(department: "care", title: "Care", steps: []), GuidedFlow(department: "b2b", title: "B2B", steps: [])]
        try store.replaceScripts(new, flows: flows)
        #expect(try store.scripts() == new)
        #expect(try store.flows() == [flows[1], flows[0]])
    }

    /// Two nodes replacing the rules and the library at the same moment: one list is stored
    /// whole, never a mix of both.
    @Test(arguments: Backend.allCases) func replacementsAtOnceStoreOneListWhole(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let stores = [try site.assistStore(), try site.assistStore()]
        for round in 0..<10 {
            let rules = (0..<2).map { node in (0..<5).map { HintRule(id: "r\(node)-\($0)", kind: .phrase, terms: ["t"], message: "m") } }
            let scripts = (0..<2).map { node in (0..<5).map { Self.script("s\(node)-\($0)-\(round)", "c\(node)-\($0)") } }
            let results = Self.atOnce { node in
                try stores[node].replaceHintRules(rules[node])
                try stores[node].replaceScripts(scripts[node], flows: [GuidedFlow(department: "d\(node)", title: "T", steps: [])])
            }
            for r in results { try r.get() }
            let storedRules = try stores[0].hintRules()
            #expect(storedRules == rules[0] || storedRules == rules[1], "round \(round): \(storedRules.map(\.id))")
            let storedScripts = try stores[1].scripts()
            let flows = try stores[1].flows().map(\.department)
            #expect(storedScripts == scripts[0] && flows == ["d0"] || storedScripts == scripts[1] && flows == ["d1"], "round \(round)")
        }
    }

    /// What is missing is `not_found` where the protocol says so; a delivery gone already is not an
    /// error; removing an endpoint removes only its own deliveries.
    @Test(arguments: Backend.allCases) func deletesAndWhatIsMissing(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.assistStore()
        #expect(throws: AssistError(.notFound, "")) { try store.deleteScript(id: "nope") }
        #expect(throws: AssistError(.notFound, "")) { try store.deleteFlow(department: "nope") }
        #expect(throws: AssistError(.notFound, "")) { try store.deleteWebhookEndpoint(id: "nope") }
        try store.deleteDelivery(id: "nope")
        #expect(try store.progress(consultation: "nope") == nil)

        try store.saveScript(Self.script("s1", "hi"))
        try store.saveScript(Self.script("s2", "ho"))
        try store.deleteScript(id: "s1")
        #expect(try store.scripts().map(\.id) == ["s2"])
        let sales = GuidedFlow(department: "sales", title: "Sales", steps: [FlowStep(id: "a", title: "A")])
        try store.saveFlow(sales)
        try store.saveFlow(GuidedFlow(department: "care", title: "Care", steps: []))
        var renamed = sales
        renamed.title = "Sales 2"
        try store.saveFlow(renamed)
        try store.deleteFlow(department: "care")
        #expect(try store.flows() == [renamed])

        var progress = FlowProgress(consultation: "c1", flow: sales, now: t0)
        try store.saveProgress(progress)
        progress.advance(now: t0 + 2)
        try store.saveProgress(progress)
        #expect(try site.assistStore().progress(consultation: "c1") == progress)

        let event = try WebhookEvent(id: "e1", kind: .consultationCreated, at: t0, payload: Data("{}".utf8))
        for id in ["shop", "crm"] {
            try store.saveWebhookEndpoint(WebhookEndpoint(id: id, url: "https://\(id).example/h", secret: "s"))
            try store.saveDelivery(WebhookDelivery(endpoint: id, event: event, now: t0))
        }
        try store.deleteWebhookEndpoint(id: "shop")
        #expect(try store.webhookEndpoints().map(\.id) == ["crm"])
        #expect(try store.pendingDeliveries().map(\.id) == ["e1@crm"])
        try store.deleteDelivery(id: "e1@crm")
        try store.deleteDelivery(id: "e1@crm")
        #expect(try store.pendingDeliveries().isEmpty)
    }

    /// Hostile text: SQL in a value is a value; a NUL inside a record's text comes back; a key with
    /// a NUL is refused (`invalid_argument`, nothing written) by every store (`StorableText`), and
    /// never finds, replaces or deletes the key it starts with.
    @Test(arguments: Backend.allCases) func hostileTextIsOnlyText(backend: Backend) async throws {
        let site = try await StoreSite.make(backend)
        defer { site.remove() }
        let store = try site.assistStore()
        let s1 = Self.script("s1", "hi")
        let sql = Script(id: "'; DROP TABLE assist_script; --", shortCode: "x'--", title: "\"quoted\" \\ back", body: "$1 ?1 %s")
        let nulInside = Script(id: "s3", shortCode: "nul", title: "a\u{0}b", body: "\u{0}\u{1}\u{1F600}", tags: ["\u{0}"])
        for s in [s1, sql, nulInside] { try store.saveScript(s) }
        #expect(try site.assistStore().scripts() == [s1, nulInside, sql])
        let flow = GuidedFlow(department: "sales", title: "S", steps: [])
        try store.saveProgress(FlowProgress(consultation: "c1", flow: flow, now: t0))

        #expect(throws: AssistError(.notFound, "")) { try store.deleteScript(id: "s1\u{0}x") }
        #expect(try store.progress(consultation: "c1\u{0}x") == nil)
        #expect(try store.progress(consultation: "c1") != nil)
        let hostile = Script(id: "s1\u{0}x", shortCode: "evil", title: "Evil", body: "evil")
        #expect(throws: AssistError(.invalidArgument, "")) { try store.saveScript(hostile) }
        #expect(try store.scripts() == [s1, nulInside, sql], "refused: nothing changed")
    }
}
