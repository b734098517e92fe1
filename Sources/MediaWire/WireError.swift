import ShowroomCore

/// The error every ``MediaWire`` parser throws for bytes that do not form a valid packet.
///
/// Compared by ``code`` only, so callers can count drops per code; ``description`` carries the
/// detail for a log line and ``code``'s raw value is short enough for a metric label.
public struct WireError: CodedError {
    public static let domain = "wire"
    /// What kind of malformation was found.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The buffer ended before a field that the header promised.
        case truncated
        /// The version field is not the one the protocol defines.
        case badVersion
        /// A length field points past the buffer or is inconsistent with another field.
        case badLength
        /// Padding is declared but its count is zero or larger than the packet.
        case badPadding
        /// A field holds a value the specification forbids.
        case invalidField
        /// A value cannot be serialized (too many items, out-of-range field).
        case notRepresentable
    }

    public let code: Code
    /// Human-readable detail, for logs only: not part of equality.
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }


    static func truncated(_ what: String) -> WireError { WireError(.truncated, what) }
    static func badLength(_ what: String) -> WireError { WireError(.badLength, what) }
    static func invalid(_ what: String) -> WireError { WireError(.invalidField, what) }
}
