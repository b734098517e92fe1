import Foundation

/// The live hints: ``HintRule``s compiled once into a word index, evaluated for every keystroke
/// of the agent's draft and every shopper message (docs/assist.md, "Hints").
///
/// **Matching.** Text is folded (lowercase, diacritics removed, ``TextFolding``) and split into
/// words (runs of letters and digits). Every term of every rule becomes a sequence of word ids;
/// the index maps a term's first word to the terms that start with it. Evaluating walks each
/// text's words once and, at each word, checks only the terms starting with it — so the cost
/// grows with the words read (bounded below), not with the number of rules. A term matches whole
/// words only: "cheap" does not match "cheapest".
///
/// **What is read.** The draft (phrase rules, and the required terms of missing-information
/// rules), the last ``maximumMessages`` messages (shopper messages: triggers and frustration
/// terms; agent messages: required terms), the mentioned products and `now`.
///
/// **Bounds.** ``maximumRules`` rules of ``maximumTermsPerRule`` terms; a term of at most
/// ``maximumWordsPerTerm`` words and ``maximumTermLength`` characters; the draft cut at
/// ``maximumDraftLength`` characters, each message at ``maximumMessageLength``. With every bound
/// at its maximum an evaluation reads at most 84,000 characters; a typical one (a draft and 20
/// chat messages) takes tens of microseconds in a release build against 1,000 rules
/// (`runHintBenchmark()` in Benchmarks/AssistBenchmark).
public struct HintEngine: Sendable {
    public static let maximumRules = 1_000
    public static let maximumTermsPerRule = 200
    public static let maximumTermLength = 100
    public static let maximumWordsPerTerm = 8
    public static let maximumDraftLength = 4_000
    public static let maximumMessages = 20
    public static let maximumMessageLength = 4_000
    public static let maximumMentionedProducts = 50

    /// The rules, in the order given (hints of equal severity come in this order).
    public let rules: [HintRule]

    enum Role: UInt8 { case phrase, trigger, required, frustration }

    struct Entry: Sendable {
        var rule: Int32
        var role: Role
        /// The index of the term in the rule's `terms` (or `required`).
        var term: Int32
        /// The words after the first.
        var rest: [Int32]
    }

    private let vocabulary: [[UInt8]: Int32]
    /// Per rule: enabled and its department, read without copying the rule.
    private let enabled: [Bool]
    private let departments: [String?]
    /// By a term's first word id.
    private let index: [[Entry]]
    private let waitingRules: [Int]
    private let stockRules: [Int]

    /// Compiles `rules`: each validated (``HintRule/validate()``); `conflict` for a repeated id,
    /// `too_large` past ``maximumRules``. The error names the rule's position (`rules[3]`).
    public init(rules: [HintRule]) throws(AssistError) {
        guard rules.count <= Self.maximumRules else { throw AssistError(.tooLarge, "more than \(Self.maximumRules) hint rules") }
        var ids = Set<String>()
        var vocabulary: [[UInt8]: Int32] = [:]
        var index: [[Entry]] = []
        var waiting: [Int] = []
        var stock: [Int] = []
        func id(_ word: Substring) -> Int32 {
            let w = Array(word.utf8)
            if let i = vocabulary[w] { return i }
            let i = Int32(vocabulary.count)
            vocabulary[w] = i
            index.append([])
            return i
        }
        for (r, rule) in rules.enumerated() {
            do throws(AssistError) {
                try rule.validate()
            } catch {
                throw AssistError(error.code, "rules[\(r)]: \(error.detail)")
            }
            guard ids.insert(rule.id).inserted else { throw AssistError(.conflict, "rules[\(r)]: rule id \(rule.id) appears twice") }
            func add(_ terms: [String], _ role: Role) {
                for (t, term) in terms.enumerated() {
                    let words = TextFolding.words(term).map(id)
                    guard let first = words.first else { continue }
                    index[Int(first)].append(Entry(rule: Int32(r), role: role, term: Int32(t), rest: Array(words.dropFirst())))
                }
            }
            switch rule.kind {
            case .phrase: add(rule.terms, .phrase)
            case .missingInformation:
                add(rule.terms, .trigger)
                add(rule.required, .required)
            case .frustration: add(rule.terms, .frustration)
            case .waitingTooLong: waiting.append(r)
            case .outOfStock: stock.append(r)
            }
        }
        self.rules = rules
        self.vocabulary = vocabulary
        self.index = index
        self.waitingRules = waiting
        self.stockRules = stock
        self.enabled = rules.map(\.enabled)
        self.departments = rules.map(\.department)
    }

    /// An engine without rules.
    public init() {
        rules = []
        vocabulary = [:]
        index = []
        waitingRules = []
        stockRules = []
        enabled = []
        departments = []
    }

    /// The hints for `context`, strongest first (block, warn, info), then in rule order. At most
    /// one hint per rule, except out-of-stock rules (one per product without stock).
    public func evaluate(_ context: HintContext) -> [Hint] {
        let n = rules.count
        guard n > 0 else { return [] }
        var phraseHit = [Int32](repeating: -1, count: n)
        var triggerHit = [Int32](repeating: -1, count: n)
        var requiredHit = [Bool](repeating: false, count: n)
        var frustrationHits = [Int32](repeating: 0, count: n)
        var frustrationFirst = [Int32](repeating: -1, count: n)

        // Rules with a hit in the text, in the order of their first hit.
        var touched: [Int] = []
        func applies(_ r: Int) -> Bool {
            enabled[r] && (departments[r] == nil || departments[r] == context.department)
        }
        func scan(_ text: String, limit: Int, roles: (Role) -> Bool) {
            let words = self.wordIDs(text, limit: limit)
            for i in words.indices {
                let w = words[i]
                guard w >= 0 else { continue }
                for entry in index[Int(w)] where roles(entry.role) {
                    let end = i + 1 + entry.rest.count
                    guard end <= words.count, entry.rest.isEmpty || words[(i + 1)..<end].elementsEqual(entry.rest) else { continue }
                    let r = Int(entry.rule)
                    if phraseHit[r] < 0, triggerHit[r] < 0, frustrationFirst[r] < 0, !requiredHit[r] { touched.append(r) }
                    switch entry.role {
                    case .phrase: if phraseHit[r] < 0 { phraseHit[r] = entry.term }
                    case .trigger: if triggerHit[r] < 0 { triggerHit[r] = entry.term }
                    case .required: requiredHit[r] = true
                    case .frustration:
                        frustrationHits[r] += 1
                        if frustrationFirst[r] < 0 { frustrationFirst[r] = entry.term }
                    }
                }
            }
        }

        if let draft = context.draft {
            scan(draft, limit: Self.maximumDraftLength) { $0 == .phrase || $0 == .required }
        }
        let recent = context.messages.suffix(Self.maximumMessages)
        for m in recent {
            switch m.role {
            case .shopper: scan(m.text, limit: Self.maximumMessageLength) { $0 == .trigger || $0 == .frustration }
            case .agent: scan(m.text, limit: Self.maximumMessageLength) { $0 == .required }
            case .bot: continue
            }
        }

        var hints: [(rule: Int, hint: Hint)] = []
        func hint(_ r: Int, matched: String?, value: Int? = nil) -> Hint {
            let rule = rules[r]
            return Hint(
                ruleID: rule.id, kind: rule.kind, severity: rule.severity, message: rule.message, suggestion: rule.suggestion,
                matched: matched, value: value)
        }
        for r in touched where applies(r) {
            let rule = rules[r]
            switch rule.kind {
            case .phrase:
                if phraseHit[r] >= 0 { hints.append((r, hint(r, matched: rule.terms[Int(phraseHit[r])]))) }
            case .missingInformation:
                if triggerHit[r] >= 0, !requiredHit[r] { hints.append((r, hint(r, matched: rule.terms[Int(triggerHit[r])]))) }
            case .frustration:
                let hits = Int(frustrationHits[r])
                if hits >= (rule.minimumHits ?? HintRule.defaultMinimumHits), frustrationFirst[r] >= 0 {
                    hints.append((r, hint(r, matched: rule.terms[Int(frustrationFirst[r])], value: hits)))
                }
            case .waitingTooLong, .outOfStock: break
            }
        }
        if !waitingRules.isEmpty, let since = Self.oldestUnanswered(recent) {
            let waited = context.now.timeIntervalSince(since)
            for r in waitingRules where applies(r) {
                if let threshold = rules[r].thresholdSeconds, waited > Double(threshold) {
                    hints.append((r, hint(r, matched: nil, value: Int(waited))))
                }
            }
        }
        if !stockRules.isEmpty {
            let empty = context.mentionedProducts.prefix(Self.maximumMentionedProducts).filter { ($0.stock ?? 1) <= 0 }
            for r in stockRules where applies(r) {
                for p in empty { hints.append((r, hint(r, matched: p.sku))) }
            }
        }
        hints.sort { ($0.hint.severity.order, $0.rule) < ($1.hint.severity.order, $1.rule) }
        return hints.map(\.hint)
    }

    /// Whether any hint blocks sending.
    public static func blocks(_ hints: [Hint]) -> Bool { hints.contains { $0.severity == .block } }

    /// The time of the shopper's oldest message that no agent message followed; bot messages are
    /// not answers.
    static func oldestUnanswered(_ messages: some Sequence<HintMessage>) -> Date? {
        var since: Date?
        for m in messages {
            switch m.role {
            case .shopper: if since == nil { since = m.at }
            case .agent: since = nil
            case .bot: break
            }
        }
        return since
    }

    /// The text's words as vocabulary ids; -1 for a word no rule uses. The same words as
    /// ``TextFolding/words(_:maximumScalars:)``, read byte by byte with an ASCII fast path (the
    /// hot path of every keystroke: no `String` per word).
    func wordIDs(_ text: String, limit: Int) -> [Int32] {
        var out: [Int32] = []
        var word: [UInt8] = []
        word.reserveCapacity(32)
        var folded = String.UnicodeScalarView()
        var read = 0
        for s in text.unicodeScalars {
            read += 1
            if read > limit { break }
            let v = s.value
            if v < 0x80 {
                if (0x61...0x7A).contains(v) || (0x30...0x39).contains(v) {
                    word.append(UInt8(v))
                } else if (0x41...0x5A).contains(v) {
                    word.append(UInt8(v + 0x20))
                } else if v == 0x27, !word.isEmpty {
                    continue
                } else if !word.isEmpty {
                    out.append(vocabulary[word] ?? -1)
                    word.removeAll(keepingCapacity: true)
                }
                continue
            }
            folded.removeAll()
            TextFolding.append(s, to: &folded)
            for f in folded {
                if TextFolding.isWordScalar(f) {
                    word.append(contentsOf: String(f).utf8)
                } else if f == "\u{2019}", !word.isEmpty {
                    continue
                } else if !word.isEmpty {
                    out.append(vocabulary[word] ?? -1)
                    word.removeAll(keepingCapacity: true)
                }
            }
        }
        if !word.isEmpty { out.append(vocabulary[word] ?? -1) }
        return out
    }
}
