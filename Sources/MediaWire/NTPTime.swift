#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The wall clock on the NTP timescale (seconds since 1900), as RTCP sender reports
/// ([RFC 3550 §4](https://www.rfc-editor.org/rfc/rfc3550#section-4)) and abs-capture-time use it.
/// The relay and the load tool's client read it here, so that a capture time written by one is
/// subtracted from "now" by the other on the same scale.
public enum NTPTime {
    /// Seconds between 1900-01-01 (NTP's epoch) and 1970-01-01 (the Unix epoch).
    public static let unixEpochOffset: UInt64 = 2_208_988_800

    /// Now as a 64-bit NTP timestamp: seconds ‖ fraction of a second (UQ32.32).
    public static func now() -> UInt64 {
        let (seconds, nanoseconds) = wallClock()
        return (seconds + unixEpochOffset) << 32 | (nanoseconds << 32) / 1_000_000_000
    }

    /// Now in microseconds since 1900.
    public static func microseconds() -> Int64 {
        let (seconds, nanoseconds) = wallClock()
        return Int64(seconds + unixEpochOffset) * 1_000_000 + Int64(nanoseconds / 1_000)
    }

    private static func wallClock() -> (seconds: UInt64, nanoseconds: UInt64) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (UInt64(max(ts.tv_sec, 0)), UInt64(max(ts.tv_nsec, 0)))
    }
}
