/// The shop's canned replies: a validated set with unique ids and unique short codes, and the
/// search behind the workspace's `/` picker.
///
/// A value: the server keeps one, replaces it on every admin change, and stores the scripts
/// (``AssistStore``). At most ``maximumScripts`` scripts.
public struct ScriptLibrary: Sendable, Hashable {
    /// More scripts than this are refused (`too_large`): search is a linear scan of precomputed,
    /// folded keys (about a microsecond per script), so this keeps a keystroke's search well under
    /// a few milliseconds.
    public static let maximumScripts = 5_000
    /// A query longer than this is cut (nobody types more into the picker).
    public static let maximumQueryLength = 200

    /// What search compares, folded once per script (``TextFolding``).
    struct Keys: Sendable, Hashable {
        var shortCode: String
        var title: String
        /// The folded title from each word's start to its end ("free returns", "returns"): a
        /// title-word prefix is a prefix of one of these, without a scan per keystroke.
        var titleFromWords: [Substring]
        var body: String
        var tags: [String]

        init(_ s: Script) {
            shortCode = s.shortCode
            title = TextFolding.fold(s.title)
            body = TextFolding.fold(s.body)
            tags = s.tags.map(TextFolding.fold)
            var starts: [Substring] = []
            var previousIsWord = false
            for i in title.unicodeScalars.indices {
                let isWord = TextFolding.isWordScalar(title.unicodeScalars[i])
                if isWord, !previousIsWord { starts.append(Substring(title.unicodeScalars[i...])) }
                previousIsWord = isWord
            }
            titleFromWords = starts
        }
    }

    /// By short code, the order an empty query lists them in.
    public private(set) var scripts: [Script] = []
    private var keys: [Keys] = []

    /// An empty library.
    public init() {}

    /// A library of `scripts`, each validated (``Script/validate()``); `conflict` for a repeated id
    /// or short code, `too_large` past ``maximumScripts``.
    public init(_ scripts: [Script]) throws(AssistError) {
        guard scripts.count <= Self.maximumScripts else {
            throw AssistError(.tooLarge, "more than \(Self.maximumScripts) scripts")
        }
        var ids = Set<String>()
        var codes = Set<String>()
        for s in scripts {
            try s.validate()
            guard ids.insert(s.id).inserted else { throw AssistError(.conflict, "script id \(s.id) appears twice") }
            guard codes.insert(s.shortCode).inserted else { throw AssistError(.conflict, "short code \(s.shortCode) appears twice") }
        }
        self.scripts = scripts.sorted { ($0.shortCode, $0.id) < ($1.shortCode, $1.id) }
        self.keys = self.scripts.map(Keys.init)
    }

    public var count: Int { scripts.count }

    public func script(id: String) -> Script? { scripts.first { $0.id == id } }

    public func script(shortCode: String) -> Script? {
        // Sorted by short code, and short codes are unique.
        var lo = 0, hi = scripts.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if scripts[mid].shortCode < shortCode { lo = mid + 1 } else { hi = mid }
        }
        return lo < scripts.count && scripts[lo].shortCode == shortCode ? scripts[lo] : nil
    }

    /// Adds `script` or replaces the one with its id. `conflict` if another script has its short
    /// code; `too_large` for a new one past ``maximumScripts``; validation errors as
    /// ``Script/validate()``.
    public mutating func upsert(_ script: Script) throws(AssistError) {
        try script.validate()
        if let other = scripts.first(where: { $0.shortCode == script.shortCode && $0.id != script.id }) {
            throw AssistError(.conflict, "short code \(script.shortCode) is used by script \(other.id)")
        }
        var all = scripts.filter { $0.id != script.id }
        guard all.count < Self.maximumScripts else { throw AssistError(.tooLarge, "more than \(Self.maximumScripts) scripts") }
        all.append(script)
        self = try ScriptLibrary(all)
    }

    /// Removes the script with `id` and returns it; `not_found` if there is none.
    @discardableResult
    public mutating func remove(id: String) throws(AssistError) -> Script {
        guard let i = scripts.firstIndex(where: { $0.id == id }) else { throw AssistError(.notFound, "no script \(id)") }
        keys.remove(at: i)
        return scripts.remove(at: i)
    }

    /// The `/` picker's search, as the agent types.
    ///
    /// The query is folded like the scripts (case and diacritics ignored), trimmed, and a leading
    /// `/` dropped. A script matches by the best of, in order (``ScriptMatch/Rank``): the exact
    /// short code, a short-code prefix, a title word starting with the query, the title containing
    /// it, the body containing it, a tag starting with it. Results are ordered by rank, then short
    /// code, then id (deterministic). An empty query lists every script in scope by short code.
    ///
    /// - Parameters:
    ///   - department: the consultation's department: scripts for every department and those of
    ///     this one are searched. `nil` searches all (the admin view).
    ///   - limit: at most this many results (clamped to 1…500).
    public func search(_ query: String, department: String? = nil, limit: Int = 20) -> [ScriptMatch] {
        let limit = min(max(limit, 1), 500)
        var q = TextFolding.fold(String(query.prefix(Self.maximumQueryLength))).trimmingSpaces()
        if q.hasPrefix("/") { q.removeFirst() }
        var found: [(rank: ScriptMatch.Rank, index: Int)] = []
        for (i, s) in scripts.enumerated() {
            if let department, let own = s.department, own != department { continue }
            if q.isEmpty {
                found.append((.listed, i))
            } else if let rank = Self.rank(keys[i], q) {
                found.append((rank, i))
            }
        }
        // Scripts are sorted by (short code, id) already, so the index breaks ties the same way.
        found.sort { ($0.rank.rawValue, $0.index) < ($1.rank.rawValue, $1.index) }
        return found.prefix(limit).map { ScriptMatch(script: scripts[$0.index], rank: $0.rank) }
    }

    static func rank(_ k: Keys, _ q: String) -> ScriptMatch.Rank? {
        if k.shortCode == q { return .exactShortCode }
        if k.shortCode.hasPrefix(q) { return .shortCodePrefix }
        if k.titleFromWords.contains(where: { $0.hasPrefix(q) }) { return .titleWordPrefix }
        if k.title.contains(q) { return .titleContains }
        if k.body.contains(q) { return .bodyContains }
        if k.tags.contains(where: { $0.hasPrefix(q) }) { return .tag }
        return nil
    }
}
