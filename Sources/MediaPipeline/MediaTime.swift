/// A point on the injected clock, in microseconds. The pipeline never reads a clock itself: every
/// call that depends on time takes `now`, so tests drive it with simulated time.
public struct MediaTime: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }
    public static func milliseconds(_ ms: Double) -> MediaTime { MediaTime(microseconds: Int64(ms * 1_000)) }

    public var milliseconds: Double { Double(microseconds) / 1_000 }
    public static func < (a: MediaTime, b: MediaTime) -> Bool { a.microseconds < b.microseconds }
    public static func + (a: MediaTime, b: MediaTime) -> MediaTime { MediaTime(microseconds: a.microseconds + b.microseconds) }
    public static func - (a: MediaTime, b: MediaTime) -> MediaTime { MediaTime(microseconds: a.microseconds - b.microseconds) }
    public static let zero = MediaTime(microseconds: 0)
    public var description: String { "\(milliseconds) ms" }
}
