/// The shape of every Showroom error: a small closed set of codes (fit for counters and metric
/// labels) plus a human-readable detail (for logs only). Two errors are equal when their codes
/// are, whatever the detail — so tests and callers match on what went wrong, not on wording.
public protocol CodedError: Error, Hashable, Sendable, CustomStringConvertible {
    associatedtype Code: RawRepresentable & Hashable & Sendable where Code.RawValue == String
    var code: Code { get }
    var detail: String { get }
    /// A short prefix naming the layer, for log lines ("srtp", "dtls", …).
    static var domain: String { get }
}

extension CodedError {
    public static func == (a: Self, b: Self) -> Bool { a.code == b.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(Self.domain) \(code.rawValue): \(detail)" }
}
