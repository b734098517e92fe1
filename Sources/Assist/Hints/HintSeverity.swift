/// How a hint is shown: ordered from the strongest.
public enum HintSeverity: String, Codable, Sendable, Hashable, CaseIterable, Comparable {
    /// The workspace does not send the draft as it is (phrase rules only).
    case block
    /// Shown in colour beside the composer.
    case warn
    /// Shown quietly.
    case info

    var order: Int {
        switch self {
        case .block: 0
        case .warn: 1
        case .info: 2
        }
    }

    public static func < (a: HintSeverity, b: HintSeverity) -> Bool { a.order < b.order }
}
