import Foundation

/// Okapi BM25 over a shop's FAQ entries, built once per FAQ (an immutable value; rebuild it when
/// the FAQ changes) and searched for every shopper message the bot does not answer by intent.
///
/// **Fields.** An entry is one BM25 document whose term frequencies are weighted by field before
/// saturation (the "simple BM25F" of Robertson, Zaragoza & Taylor 2004): a term counts
/// ``Parameters/keywordWeight`` (3) times in ``FAQEntry/keywords``, ``Parameters/questionWeight``
/// (2) times in ``FAQEntry/question`` and once in ``FAQEntry/answer``; the document length is
/// weighted the same way. So a keyword or question word outranks the same word in an answer.
///
/// **Score.** For each query term t matched in entry d with weighted frequency f:
///
///     idf(t) · f · (k1 + 1) / (f + k1 · (1 − b + b · |d| / avg|d|))
///     idf(t) = ln(1 + (N − n(t) + 0.5) / (n(t) + 0.5))
///
/// with k1 = 1.2 and b = 0.75 (the usual defaults, Lucene's among them; not tuned here), N the number of entries and n(t) the entries containing t — over the
/// whole FAQ, every locale and department, so a score does not change with the filter. The
/// non-negative idf (Lucene's) keeps a term that is in most entries from subtracting.
///
/// **Query terms** are the message's ``Tokenizer`` terms, each counted once, the first
/// ``Parameters/maximumQueryTerms`` (32) only. A term of 4 or more characters also matches
/// partially, each partial match scoring ``Parameters/partialMatchWeight`` (0.5) of what an exact
/// one would:
/// - the indexed terms it is a prefix of ("deliver" → "delivery"), at most
///   ``Parameters/maximumPrefixExpansions`` (8, the shortest first);
/// - the indexed term that is it less its last one or two characters, of 4 or more ("liefert" →
///   "liefer"): inflections the stemmer leaves;
/// - for a query that is not English, the indexed terms of 4 or more characters it ends with,
///   leaving at least 3 before ("rotweinfleck" → "fleck", "bettgestell" → "gestell"): German
///   compounds end in their head noun.
/// Per entry a query term scores its best match only, so partial matches never add up.
///
/// **Coverage** (``Match/coverage``) is the share of the query's idf the entry matched (a partial
/// match counting at its weight; a term the FAQ does not have at all counts with the idf of a
/// term in no entry): 1 when every query term is in the entry, near 0 when the entry matched only
/// a common word of a long message. ``BotTriage`` uses it with the score to decide whether it is
/// confident (docs/desk.md, "Bot").
///
/// **Bounded work.** A message is read for at most ``Tokenizer/maximumScalars`` scalars and 32
/// terms of at most 32 characters; a term looks at no more than 37 posting lists (1 exact, 8
/// prefix, 2 inflection, 26 compound), and the prefix search stops after 64 candidates. So a
/// query walks at most 1,184 posting lists whatever is sent, each at most as long as the FAQ.
/// Measured per query on this project's 2-core machine: docs/desk.md, "Bot".
public struct FAQIndex: Sendable {
    /// The ranking's constants; the defaults are the documented ones.
    public struct Parameters: Sendable, Hashable {
        public var k1: Double = 1.2
        public var b: Double = 0.75
        public var keywordWeight: Double = 3
        public var questionWeight: Double = 2
        public var answerWeight: Double = 1
        public var partialMatchWeight: Double = 0.5
        public var maximumQueryTerms = 32
        public var maximumPrefixExpansions = 8
        public init() {}
    }

    /// One entry found for a query.
    public struct Match: Sendable, Hashable {
        public let entry: FAQEntry
        /// The BM25 score (see ``FAQIndex``); only comparable between matches of one query.
        public let score: Double
        /// The share (0…1) of the query's idf this entry matched.
        public let coverage: Double
    }

    public let parameters: Parameters
    /// The entries, in the FAQ's order.
    public let entries: [FAQEntry]

    /// One entry as the index sees it.
    private struct Document: Sendable {
        var length: Double
        /// Index into `languages` (0: any language).
        var language: Int32
        /// Index into `departments` (0: every department).
        var department: Int32
    }

    private struct Posting: Sendable {
        var document: Int32
        var frequency: Float
    }

    private let documents: [Document]
    private let averageLength: Double
    private let termIDs: [String: Int32]
    /// Per term id.
    private let postings: [[Posting]]
    private let idf: [Double]
    /// Every term, sorted, for prefix matching.
    private let sortedTerms: [String]
    private let sortedTermIDs: [Int32]
    private let languages: [String: Int32]
    private let departments: [String: Int32]

    /// Builds the index; `entries` are taken as they are (validate them with ``FAQ``).
    public init(entries: [FAQEntry], parameters: Parameters = Parameters()) {
        self.parameters = parameters
        self.entries = entries
        var termIDs: [String: Int32] = [:]
        var postings: [[Posting]] = []
        var documents: [Document] = []
        var languages: [String: Int32] = [:]
        var departments: [String: Int32] = [:]
        var totalLength = 0.0
        for (i, entry) in entries.enumerated() {
            let language = BotLanguage(locale: entry.locale)
            var frequency: [String: Double] = [:]
            var length = 0.0
            func add(_ text: String, _ weight: Double) {
                for term in Tokenizer.terms(text, language: language) {
                    frequency[term, default: 0] += weight
                    length += weight
                }
            }
            for keyword in entry.keywords { add(keyword, parameters.keywordWeight) }
            add(entry.question, parameters.questionWeight)
            add(entry.answer, parameters.answerWeight)
            // Sorted, so that the index (and so every score's rounding) does not depend on hashing.
            for (term, f) in frequency.sorted(by: { $0.key < $1.key }) {
                let id: Int32
                if let known = termIDs[term] {
                    id = known
                } else {
                    id = Int32(postings.count)
                    termIDs[term] = id
                    postings.append([])
                }
                postings[Int(id)].append(Posting(document: Int32(i), frequency: Float(f)))
            }
            func code(_ key: String?, _ table: inout [String: Int32]) -> Int32 {
                guard let key else { return 0 }
                if let c = table[key] { return c }
                let c = Int32(table.count + 1)
                table[key] = c
                return c
            }
            documents.append(
                Document(
                    length: length, language: code(BotLanguage.languageSubtag(entry.locale), &languages),
                    department: code(entry.department, &departments)))
            totalLength += length
        }
        let n = Double(entries.count)
        self.documents = documents
        self.averageLength = entries.isEmpty ? 1 : max(totalLength / n, 1e-9)
        self.termIDs = termIDs
        self.postings = postings
        self.idf = postings.map { list in log(1 + (n - Double(list.count) + 0.5) / (Double(list.count) + 0.5)) }
        let sorted = termIDs.sorted { $0.key < $1.key }
        self.sortedTerms = sorted.map(\.key)
        self.sortedTermIDs = sorted.map(\.value)
        self.languages = languages
        self.departments = departments
    }

    /// The idf of a term never seen: what a query word missing from the whole FAQ weighs in
    /// ``Match/coverage``.
    private var unseenIDF: Double { log(1 + (Double(entries.count) + 0.5) / 0.5) }

    /// The entries matching `text`, best first (ties in FAQ order), at most `limit`.
    /// - Parameters:
    ///   - text: the shopper's message as sent; bounded as described on ``FAQIndex``.
    ///   - locale: the shopper's locale; entries of another language are left out (entries
    ///     without a locale are kept). `nil` keeps every entry.
    ///   - department: the consultation's department; entries of another department are left out
    ///     (entries without one are kept). `nil` keeps every entry.
    public func search(_ text: String, locale: String?, department: String?, limit: Int = 5) -> [Match] {
        guard limit > 0, !entries.isEmpty else { return [] }
        let queryLanguage = BotLanguage.languageSubtag(locale)
        let wantedLanguage: Int32? = queryLanguage.map { languages[$0] ?? -1 }
        let wantedDepartment: Int32? = department.map { departments[$0] ?? -1 }

        var terms: [String] = []
        var seen = Set<String>()
        for term in Tokenizer.terms(text, language: BotLanguage(locale: locale)) where seen.insert(term).inserted {
            terms.append(term)
            if terms.count == parameters.maximumQueryTerms { break }
        }
        guard !terms.isEmpty else { return [] }

        let k1 = parameters.k1
        let b = parameters.b
        var score = [Double](repeating: 0, count: documents.count)
        var covered = [Double](repeating: 0, count: documents.count)
        var best = [Double](repeating: 0, count: documents.count)
        var bestWeight = [Double](repeating: 0, count: documents.count)
        var touched: [Int32] = []
        var everTouched = [Bool](repeating: false, count: documents.count)
        var candidates: [Int32] = []
        var queryIDF = 0.0

        for term in terms {
            var lists: [(id: Int32, weight: Double)] = []
            if let id = termIDs[term] { lists.append((id, 1)) }
            lists += partialMatches(of: term, german: queryLanguage != "en").map { ($0, parameters.partialMatchWeight) }
            let ownIDF = termIDs[term].map { idf[Int($0)] } ?? unseenIDF
            queryIDF += ownIDF
            for (id, weight) in lists {
                let termIDF = idf[Int(id)]
                for posting in postings[Int(id)] {
                    let d = Int(posting.document)
                    let doc = documents[d]
                    if let wantedLanguage, doc.language != 0, doc.language != wantedLanguage { continue }
                    if let wantedDepartment, doc.department != 0, doc.department != wantedDepartment { continue }
                    let f = Double(posting.frequency)
                    let s = weight * termIDF * f * (k1 + 1) / (f + k1 * (1 - b + b * doc.length / averageLength))
                    if best[d] == 0 { touched.append(Int32(d)) }
                    if s > best[d] {
                        best[d] = s
                        bestWeight[d] = weight
                    }
                }
            }
            for d32 in touched {
                let d = Int(d32)
                score[d] += best[d]
                // Coverage counts the query term's own idf (what the shopper asked for) at the
                // weight of its best match here.
                covered[d] += bestWeight[d] * ownIDF
                best[d] = 0
                bestWeight[d] = 0
                if !everTouched[d] {
                    everTouched[d] = true
                    candidates.append(d32)
                }
            }
            touched.removeAll(keepingCapacity: true)
        }

        candidates.sort { a, b in score[Int(a)] != score[Int(b)] ? score[Int(a)] > score[Int(b)] : a < b }
        return candidates.prefix(limit).map { d in
            Match(entry: entries[Int(d)], score: score[Int(d)], coverage: queryIDF > 0 ? min(1, covered[Int(d)] / queryIDF) : 0)
        }
    }

    /// The ids of the indexed terms a query term matches partially (see ``FAQIndex``): the terms
    /// it is a prefix of, the terms that are it less an ending of 1–2 characters, and — for a
    /// German query — the terms it ends with (the head of a compound).
    private func partialMatches(of term: String, german: Bool) -> [Int32] {
        let length = term.count
        guard length >= 4 else { return [] }
        var ids = prefixExpansions(of: term)
        // "liefert" → "liefer": an inflection the stemmer leaves.
        for cut in 1...2 where length - cut >= 4 {
            if let id = termIDs[String(term.dropLast(cut))] { ids.append(id) }
        }
        // "rotweinfleck" → "fleck", "bettgestell" → "gestell": German compounds end in their head.
        if german, length >= 7 {
            for start in 3...(length - 4) {
                if let id = termIDs[String(term.dropFirst(start))] { ids.append(id) }
            }
        }
        return ids
    }

    /// The ids of the indexed terms that start with `prefix` (and are longer), shortest first,
    /// at most ``Parameters/maximumPrefixExpansions``.
    private func prefixExpansions(of prefix: String) -> [Int32] {
        // Binary search for the first term ≥ prefix; the terms with the prefix follow it.
        var lo = 0
        var hi = sortedTerms.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sortedTerms[mid] < prefix { lo = mid + 1 } else { hi = mid }
        }
        var found: [(length: Int, id: Int32)] = []
        var i = lo
        // Bounded: a very common prefix is cut after 64 candidates, of which the shortest are kept.
        while i < sortedTerms.count, found.count < 64, sortedTerms[i].hasPrefix(prefix) {
            if sortedTerms[i] != prefix { found.append((sortedTerms[i].utf8.count, sortedTermIDs[i])) }
            i += 1
        }
        found.sort { $0.length != $1.length ? $0.length < $1.length : $0.id < $1.id }
        return found.prefix(parameters.maximumPrefixExpansions).map(\.id)
    }
}
