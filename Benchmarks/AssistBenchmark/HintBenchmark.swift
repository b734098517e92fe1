import Assist
import Foundation

/// The hint engine's cost per message: 1,000 rules of 21 terms each (every kind), a draft of about
/// 300 characters and the last 20 chat messages of about 230 characters — about the busiest a
/// real consultation gets. Prints the compile time and p50/p99/max of `evaluate` over 2,000 runs;
/// the budget is 5 ms per message (issue 13). Called from main.swift.
func runHintBenchmark() {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let rules: [HintRule] = (0..<1_000).map { i in
        let words = (0..<20).map { "term\(i)x\($0)" }
        switch i % 5 {
        case 0: return HintRule(id: "p\(i)", kind: .phrase, terms: words + ["cheap"], message: "m")
        case 1: return HintRule(id: "m\(i)", kind: .missingInformation, terms: words + ["size"], required: ["height w\(i)"], message: "m")
        case 2: return HintRule(id: "f\(i)", kind: .frustration, terms: words + ["ridiculous"], message: "m")
        case 3: return HintRule(id: "w\(i)", kind: .waitingTooLong, thresholdSeconds: 60 + i, message: "m")
        default: return HintRule(id: "o\(i)", kind: .outOfStock, message: "m")
        }
    }
    let sentence = "Hello, I would like to know which size of the Aalto sofa fits my living room, it is ridiculous how long this takes. "
    var messages: [HintMessage] = []
    for i in 0..<20 {
        let role: HintMessage.Role = i % 2 == 0 ? .shopper : .agent
        messages.append(HintMessage(role: role, text: String(repeating: sentence, count: 2), at: now - TimeInterval(600 - i * 10)))
    }
    let context = HintContext(
        draft: String(repeating: "Thank you for waiting, this one is cheap and comfortable. ", count: 5), messages: messages, now: now,
        mentionedProducts: (0..<10).map { MentionedProduct(sku: "S\($0)", title: "P", stock: $0 % 3) })

    func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1_000 + Double(d.components.attoseconds) / 1e15 }

    let clock = ContinuousClock()
    var engine = HintEngine()
    let compile = clock.measure {
        do { engine = try HintEngine(rules: rules) } catch { print("hints: the rules did not compile: \(error)") }
    }
    var hints = 0
    for _ in 0..<100 { hints = engine.evaluate(context).count }  // warm up
    var times: [Double] = []
    times.reserveCapacity(2_000)
    for _ in 0..<2_000 {
        let start = clock.now
        hints = engine.evaluate(context).count
        times.append(ms(clock.now - start))
    }
    times.sort()
    func pct(_ p: Double) -> Double { times[min(times.count - 1, Int(Double(times.count) * p))] }
    print(
        String(
            format: "hints: 1,000 rules, draft %d chars + 20 messages: compile %.2f ms; evaluate p50 %.3f ms, p99 %.3f ms, max %.3f ms (%d hints; budget 5 ms)",
            context.draft?.count ?? 0, ms(compile), pct(0.5), pct(0.99), times.last ?? 0, hints))
}
