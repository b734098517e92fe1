/// The server's secret for signing tracking tokens (``TrackingToken``): at least
/// ``minimumBytes`` random bytes, kept in the server's configuration. Rotating it invalidates
/// every token already sent (their conversions are then rejected as forged).
public struct TrackingKey: Sendable, Hashable, CustomStringConvertible {
    public static let minimumBytes = 32
    public static let maximumBytes = 256

    let bytes: [UInt8]

    /// `invalid_argument` for a key shorter than ``minimumBytes`` or longer than ``maximumBytes``.
    public init(_ bytes: some Collection<UInt8>) throws(AssistError) {
        guard bytes.count >= Self.minimumBytes, bytes.count <= Self.maximumBytes else {
            throw AssistError(.invalidArgument, "a tracking key needs \(Self.minimumBytes) to \(Self.maximumBytes) bytes")
        }
        self.bytes = Array(bytes)
    }

    /// Never the key itself (it may end up in a log line).
    public var description: String { "TrackingKey(\(bytes.count) bytes)" }
}
