import Foundation

/// SplitMix64: a tiny seeded generator (the same as ShowroomTestSupport's `SeededRandom`), here
/// so that ``SyntheticShop`` replays exactly in tests and in the benchmark.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An index in 0..<n drawn with probability ∝ 1 / (i + 1)^s (Zipf), from a precomputed CDF.
    mutating func pick(_ cdf: [Double]) -> Int {
        guard let total = cdf.last, total > 0 else { return 0 }
        let u = Double.random(in: 0..<total, using: &self)
        var lo = 0, hi = cdf.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cdf[mid] <= u { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    static func zipfCDF(_ n: Int, exponent: Double) -> [Double] {
        var cdf: [Double] = []
        cdf.reserveCapacity(n)
        var sum = 0.0
        for i in 0..<n {
            sum += 1 / pow(Double(i + 1), exponent)
            cdf.append(sum)
        }
        return cdf
    }
}
