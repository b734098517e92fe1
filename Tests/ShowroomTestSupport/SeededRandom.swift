import Foundation

/// SplitMix64: a tiny, fast generator whose sequence depends only on its seed, so every
/// randomized test and simulation replays exactly.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func bytes(_ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        var i = 0
        while i < n {
            var word = next()
            for _ in 0..<8 where i < n {
                out[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        return out
    }

    /// A normally distributed value (Box–Muller).
    public mutating func gaussian(mean: Double, deviation: Double) -> Double {
        let u1 = max(Double.random(in: 0..<1, using: &self), 1e-12)
        let u2 = Double.random(in: 0..<1, using: &self)
        return mean + deviation * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Damages a valid buffer the way a fuzzer would: flips bits, overwrites bytes, truncates,
    /// extends, or duplicates a span.
    public mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var b = input
        for _ in 0..<Int.random(in: 1...4, using: &self) {
            switch Int.random(in: 0..<6, using: &self) {
            case 0 where !b.isEmpty:
                let i = Int.random(in: 0..<b.count, using: &self)
                b[i] ^= 1 << UInt8.random(in: 0..<8, using: &self)
            case 1 where !b.isEmpty:
                b[Int.random(in: 0..<b.count, using: &self)] = UInt8.random(in: 0...255, using: &self)
            case 2 where !b.isEmpty:
                b.removeLast(Int.random(in: 0...b.count, using: &self))
            case 3:
                b.append(contentsOf: bytes(Int.random(in: 1...16, using: &self)))
            case 4 where b.count > 4:
                let i = Int.random(in: 0..<(b.count - 2), using: &self)
                b.insert(contentsOf: b[i..<min(b.count, i + 4)], at: i)
            default:
                // Interesting values in a length-like position.
                if b.count > 3 {
                    let i = Int.random(in: 0..<(b.count - 1), using: &self)
                    b[i] = [0x00, 0xFF, 0x7F, 0x80][Int.random(in: 0..<4, using: &self)]
                }
            }
        }
        return b
    }
}

