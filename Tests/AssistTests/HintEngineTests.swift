import Assist
import Foundation
import Testing

/// Every hint rule kind firing and not firing, the rule bounds, per-agent counting and the cost.
@Suite struct HintEngineTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func shopper(_ text: String, _ at: Double = 0) -> HintMessage { HintMessage(role: .shopper, text: text, at: t0 + at) }
    func agent(_ text: String, _ at: Double = 0) -> HintMessage { HintMessage(role: .agent, text: text, at: t0 + at) }

    static let phrase = HintRule(
        id: "no-cheap", kind: .phrase, severity: .block, terms: ["cheap", "keine ahnung"], message: "Careless wording", suggestion: "good value")
    static let risky = HintRule(id: "risky", kind: .phrase, severity: .warn, terms: ["guarantee"], message: "Promise")
    static let size = HintRule(
        id: "size", kind: .missingInformation, terms: ["size", "fit"], required: ["height", "weight", "tall"], message: "Ask height/weight")
    static let wait = HintRule(id: "wait", kind: .waitingTooLong, thresholdSeconds: 120, message: "Waiting")
    static let angry = HintRule(
        id: "angry", kind: .frustration, terms: ["ridiculous", "still waiting"], minimumHits: 2, message: "Frustrated", suggestion: "Escalate to a supervisor")
    static let stock = HintRule(id: "oos", kind: .outOfStock, severity: .info, message: "Out of stock")

    func engine(_ rules: [HintRule] = [phrase, risky, size, wait, angry, stock]) throws -> HintEngine { try HintEngine(rules: rules) }

    @Test func phrasesMatchWholeWordsCaseAndDiacriticsFolded() throws {
        let e = try engine()
        func ids(_ draft: String) -> [String] { e.evaluate(HintContext(draft: draft, now: t0)).map(\.ruleID) }
        #expect(ids("That one is CHEAP!") == ["no-cheap"])
        #expect(ids("the cheapest") == [])
        #expect(ids("Ich habe KEINE Åhnung") == ["no-cheap"])
        #expect(ids("keine große ahnung") == [])
        #expect(ids("I guarantee it, and it's cheap") == ["no-cheap", "risky"])
        let hints = e.evaluate(HintContext(draft: "cheap", now: t0))
        #expect(hints.first?.severity == .block)
        #expect(hints.first?.matched == "cheap")
        #expect(hints.first?.suggestion == "good value")
        #expect(HintEngine.blocks(hints))
        #expect(!HintEngine.blocks(e.evaluate(HintContext(draft: "guarantee", now: t0))))
        // Phrases are for the agent's draft, not the shopper's words.
        #expect(e.evaluate(HintContext(messages: [shopper("so cheap")], now: t0)).isEmpty)
    }

    @Test func missingInformationFiresUntilTheAgentAsks() throws {
        let e = try engine()
        let asked = [shopper("Which size should I take?")]
        #expect(e.evaluate(HintContext(messages: asked, now: t0)).map(\.ruleID) == ["size"])
        #expect(e.evaluate(HintContext(messages: asked, now: t0)).first?.matched == "size")
        #expect(e.evaluate(HintContext(messages: asked + [agent("How tall are you?")], now: t0)).isEmpty)
        #expect(e.evaluate(HintContext(draft: "What is your height?", messages: asked, now: t0)).isEmpty)
        // The shopper saying the required word does not count as the agent asking.
        #expect(e.evaluate(HintContext(messages: [shopper("Does it fit? My weight is 70")], now: t0)).map(\.ruleID) == ["size"])
        #expect(e.evaluate(HintContext(messages: [shopper("Hello")], now: t0)).isEmpty)
    }

    @Test func waitingTooLongCountsFromTheOldestUnansweredMessage() throws {
        let e = try engine()
        let messages = [shopper("hi", 0), agent("hello", 10), shopper("question", 20), shopper("anyone?", 100)]
        #expect(e.evaluate(HintContext(messages: messages, now: t0 + 140)).isEmpty)
        let hints = e.evaluate(HintContext(messages: messages, now: t0 + 141))
        #expect(hints.map(\.ruleID) == ["wait"])
        #expect(hints.first?.value == 121)
        #expect(e.evaluate(HintContext(messages: messages + [agent("sorry", 150)], now: t0 + 1_000)).isEmpty)
        // A bot message is not an answer.
        let bot = [shopper("hi", 0), HintMessage(role: .bot, text: "An agent will come", at: t0 + 1)]
        #expect(e.evaluate(HintContext(messages: bot, now: t0 + 200)).map(\.ruleID) == ["wait"])
    }

    @Test func frustrationNeedsEnoughHitsInShopperMessages() throws {
        let e = try engine()
        #expect(e.evaluate(HintContext(messages: [shopper("This is ridiculous")], now: t0)).isEmpty)
        let hints = e.evaluate(HintContext(messages: [shopper("This is ridiculous"), shopper("I am still waiting, ridiculous!")], now: t0))
        #expect(hints.map(\.ruleID) == ["angry"])
        #expect(hints.first?.value == 3)
        #expect(hints.first?.suggestion == "Escalate to a supervisor")
        #expect(e.evaluate(HintContext(messages: [agent("ridiculous ridiculous")], now: t0)).isEmpty)
    }

    @Test func outOfStockFiresPerProductWithoutStock() throws {
        let e = try engine()
        let products = [
            MentionedProduct(sku: "A", title: "A", stock: 0), MentionedProduct(sku: "B", title: "B", stock: 3),
            MentionedProduct(sku: "C", title: "C", stock: nil), MentionedProduct(sku: "D", title: "D", stock: -1),
        ]
        let hints = e.evaluate(HintContext(now: t0, mentionedProducts: products))
        #expect(hints.map(\.matched) == ["A", "D"])
        #expect(hints.allSatisfy { $0.kind == .outOfStock && $0.severity == .info })
        #expect(e.evaluate(HintContext(now: t0, mentionedProducts: [products[1]])).isEmpty)
    }

    @Test func strongestFirstThenRuleOrder() throws {
        let e = try engine()
        let hints = e.evaluate(
            HintContext(
                draft: "guarantee, cheap", messages: [shopper("size?", 0)], now: t0 + 500,
                mentionedProducts: [MentionedProduct(sku: "A", title: "A", stock: 0)]))
        #expect(hints.map(\.ruleID) == ["no-cheap", "risky", "size", "wait", "oos"])
    }

    @Test func disabledAndOtherDepartmentsRulesStayQuiet() throws {
        var off = Self.phrase
        off.enabled = false
        var sales = Self.risky
        sales.department = "sales"
        let e = try engine([off, sales])
        #expect(e.evaluate(HintContext(draft: "cheap guarantee", now: t0, department: "service")).isEmpty)
        #expect(e.evaluate(HintContext(draft: "cheap guarantee", now: t0, department: "sales")).map(\.ruleID) == ["risky"])
    }

    @Test func rulesAreValidatedAndBounded() {
        #expect(throws: AssistError(.invalidArgument, "")) {
            try HintEngine(rules: [HintRule(id: "w", kind: .waitingTooLong, severity: .block, thresholdSeconds: 5, message: "m")])
        }
        #expect(throws: AssistError(.invalidArgument, "")) { try HintEngine(rules: [HintRule(id: "w", kind: .waitingTooLong, message: "m")]) }
        #expect(throws: AssistError(.invalidArgument, "")) { try HintEngine(rules: [HintRule(id: "p", kind: .phrase, message: "m")]) }
        #expect(throws: AssistError(.invalidArgument, "")) {
            try HintEngine(rules: [HintRule(id: "m", kind: .missingInformation, terms: ["size"], message: "m")])
        }
        #expect(throws: AssistError(.invalidArgument, "")) {
            try HintEngine(rules: [HintRule(id: "p", kind: .phrase, terms: ["!!!"], message: "m")])
        }
        #expect(throws: AssistError(.conflict, "")) { try HintEngine(rules: [Self.phrase, Self.phrase]) }
        #expect(throws: AssistError(.tooLarge, "")) {
            try HintEngine(rules: [HintRule(id: "p", kind: .phrase, terms: (0...200).map { "w\($0)" }, message: "m")])
        }
        #expect(throws: AssistError(.tooLarge, "")) {
            try HintEngine(rules: (0...1_000).map { HintRule(id: "r\($0)", kind: .phrase, terms: ["x"], message: "m") })
        }
    }

    @Test func theRuleFileRoundTripsAndRefusesBrokenRules() throws {
        let file = HintRuleFile(rules: [Self.phrase, Self.size, Self.wait, Self.angry, Self.stock])
        #expect(try HintRuleFile(json: file.json()) == file)
        let broken = Data(#"{"version":1,"rules":[{"id":"x","kind":"waitingTooLong","message":"m"}]}"#.utf8)
        #expect(throws: AssistError(.invalidArgument, "")) { try HintRuleFile(json: broken) }
        #expect(throws: AssistError(.invalidImport, "")) { try HintRuleFile(json: Data(#"{"version":1,"rules":[{"id":"x","kind":"nope","message":"m"}]}"#.utf8)) }
    }

    @Test func countersCountPerAgentAndRuleOncePerShowing() throws {
        let e = try engine()
        var counters = HintCounters()
        let first = e.evaluate(HintContext(draft: "cheap", now: t0))
        counters.recordShown(first, previous: [], agent: "ada")
        let second = e.evaluate(HintContext(draft: "cheap, I guarantee", now: t0))
        counters.recordShown(second, previous: first, agent: "ada")
        counters.record(first, agent: "bob")
        #expect(counters.count(agent: "ada", rule: "no-cheap") == 1)
        #expect(counters.count(agent: "ada", rule: "risky") == 1)
        #expect(counters.total(agent: "ada") == 2)
        #expect(counters.byRule(agent: "bob") == ["no-cheap": 1])
        #expect(counters.byAgent(rule: "no-cheap") == ["ada": 1, "bob": 1])
        var merged = HintCounters()
        merged.merge(counters)
        merged.merge(counters)
        #expect(merged.count(agent: "ada", rule: "risky") == 2)
    }

    @Test func aThousandRulesEvaluateWithinBudget() throws {
        let e = try HintEngine(rules: SyntheticHints.rules(count: 1_000))
        let context = SyntheticHints.context(now: t0)
        #expect(!e.evaluate(context).isEmpty)
        var times: [Double] = []
        for _ in 0..<50 {
            let start = ContinuousClock.now
            _ = e.evaluate(context)
            let d = ContinuousClock.now - start
            times.append(Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1_000)
        }
        times.sort()
        // The 5 ms budget is for the release build (runHintBenchmark: p99 under 1 ms there). An
        // unoptimized test build is about ten times slower and shares a busy machine, so it only
        // guards against a change of complexity (a scan over every rule per word would take far longer).
        #if DEBUG
        let budget = 50.0
        #else
        let budget = 5.0
        #endif
        #expect(times[times.count / 2] < budget)
    }
}

/// Rules and a conversation like a shop's, for the cost test (the same shape as the benchmark's).
enum SyntheticHints {
    static func rules(count: Int) -> [HintRule] {
        (0..<count).map { i in
            let words = (0..<20).map { "term\(i)x\($0)" }
            switch i % 5 {
            case 0: return HintRule(id: "p\(i)", kind: .phrase, terms: words + ["cheap"], message: "m")
            case 1: return HintRule(id: "m\(i)", kind: .missingInformation, terms: words + ["size"], required: ["height w\(i)"], message: "m")
            case 2: return HintRule(id: "f\(i)", kind: .frustration, terms: words + ["ridiculous"], message: "m")
            case 3: return HintRule(id: "w\(i)", kind: .waitingTooLong, thresholdSeconds: 60 + i, message: "m")
            default: return HintRule(id: "o\(i)", kind: .outOfStock, message: "m")
            }
        }
    }

    static func context(now: Date) -> HintContext {
        let sentence = "Hello, I would like to know which size of the Aalto sofa fits my living room, it is ridiculous how long this takes. "
        var messages: [HintMessage] = []
        for i in 0..<20 {
            let role: HintMessage.Role = i % 2 == 0 ? .shopper : .agent
            let at = now - TimeInterval(600 - i * 10)
            messages.append(HintMessage(role: role, text: String(repeating: sentence, count: 2), at: at))
        }
        return HintContext(
            draft: String(repeating: "Thank you for waiting, this one is cheap and comfortable. ", count: 5), messages: messages, now: now,
            mentionedProducts: (0..<10).map { MentionedProduct(sku: "S\($0)", title: "P", stock: $0 % 3) })
    }
}
