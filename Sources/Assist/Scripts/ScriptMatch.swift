/// One result of the `/` picker's search (``ScriptLibrary/search(_:department:limit:)``).
public struct ScriptMatch: Sendable, Hashable {
    /// Why a script matched, best first: results are ordered by this, then by short code.
    public enum Rank: Int, Sendable, Hashable, Comparable, CaseIterable, Codable {
        /// The query is the short code.
        case exactShortCode = 0
        /// The short code starts with the query.
        case shortCodePrefix = 1
        /// A word of the title starts with the query (`"ret"` finds "Free returns").
        case titleWordPrefix = 2
        /// The title contains the query elsewhere.
        case titleContains = 3
        /// The body contains the query.
        case bodyContains = 4
        /// A tag starts with the query.
        case tag = 5
        /// The query was empty: every script in scope, by short code.
        case listed = 6

        public static func < (a: Rank, b: Rank) -> Bool { a.rawValue < b.rawValue }
    }

    public var script: Script
    public var rank: Rank

    public init(script: Script, rank: Rank) {
        self.script = script
        self.rank = rank
    }
}
