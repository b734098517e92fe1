/// Turns 16-bit RTP sequence numbers into a monotonic 64-bit count
/// ([RFC 3550 Appendix A.1](https://www.rfc-editor.org/rfc/rfc3550#appendix-A.1) keeps a cycle count
/// the same way): each value is placed at the extension nearest to the previous one, so a jump of
/// less than half the range in either direction is read as forward or backward, not as a wrap.
public struct SequenceUnwrapper: Sendable {
    private var last: Int64?

    public init() {}

    public mutating func unwrap(_ value: UInt16) -> Int64 {
        guard let last else {
            self.last = Int64(value)
            return Int64(value)
        }
        let delta = Int64(Int16(bitPattern: value &- UInt16(truncatingIfNeeded: last)))
        let result = last + delta
        if result > last { self.last = result }
        return result
    }

    /// What `value` would unwrap to, without moving the reference.
    public func peek(_ value: UInt16) -> Int64 {
        guard let last else { return Int64(value) }
        return last + Int64(Int16(bitPattern: value &- UInt16(truncatingIfNeeded: last)))
    }
}

/// The same for 32-bit RTP timestamps.
public struct TimestampUnwrapper: Sendable {
    private var last: Int64?

    public init() {}

    public mutating func unwrap(_ value: UInt32) -> Int64 {
        guard let last else {
            self.last = Int64(value)
            return Int64(value)
        }
        let delta = Int64(Int32(bitPattern: value &- UInt32(truncatingIfNeeded: last)))
        let result = last + delta
        if result > last { self.last = result }
        return result
    }
}

/// Sequence-number order with wrap-around ([RFC 1982](https://www.rfc-editor.org/rfc/rfc1982) serial numbers).
@inlinable
public func isNewer(_ a: UInt16, than b: UInt16) -> Bool {
    a != b && (a &- b) < 0x8000
}
