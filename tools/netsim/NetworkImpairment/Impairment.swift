/// What a path does to packets: delay and jitter, random and bursty loss, reordering,
/// duplication and a bandwidth cap. This kernel has no netem; this is the userspace stand-in
/// that `showroom-netsim` and the tests use.
public struct ImpairmentProfile: Sendable, Equatable {
    public enum JitterDistribution: String, Sendable, CaseIterable {
        /// Normal around the delay (clipped at zero extra delay below it).
        case normal
        /// Uniform in delay ± jitter.
        case uniform
        /// Delay plus an exponential tail with mean `jitter`: mostly on time, sometimes late.
        case exponential
    }

    /// Bursty loss after Gilbert–Elliott: a good and a bad state with their own loss rates.
    public struct GilbertElliott: Sendable, Equatable {
        /// Per-packet chance of moving good → bad.
        public var goodToBad: Double
        /// Per-packet chance of moving bad → good (mean burst length is its inverse).
        public var badToGood: Double
        public var lossInBad: Double = 1
        public var lossInGood: Double = 0

        public init(goodToBad: Double, badToGood: Double, lossInBad: Double = 1, lossInGood: Double = 0) {
            self.goodToBad = goodToBad
            self.badToGood = badToGood
            self.lossInBad = lossInBad
            self.lossInGood = lossInGood
        }

        /// The long-run loss rate.
        public var meanLoss: Double {
            let bad = goodToBad / (goodToBad + badToGood)
            return bad * lossInBad + (1 - bad) * lossInGood
        }
    }

    public var delayMilliseconds: Double = 0
    public var jitterMilliseconds: Double = 0
    public var jitterDistribution: JitterDistribution = .normal
    /// Independent random loss, 0…1.
    public var loss: Double = 0
    public var burstLoss: GilbertElliott?
    /// Chance that a packet is held back `reorderMilliseconds` so later ones overtake it.
    public var reorder: Double = 0
    public var reorderMilliseconds: Double = 20
    public var duplicate: Double = 0
    /// Bandwidth cap in kbit/s (nil: none). Packets queue behind it; beyond `queueMilliseconds`
    /// of backlog they are dropped (a tail-drop bottleneck).
    public var rateKilobits: Double?
    public var queueMilliseconds: Double = 200

    public init() {}
}

/// Applies an ``ImpairmentProfile`` to a stream of packets. I/O-free and seeded: the same seed
/// and the same packet sizes and times give the same fates.
public struct Impairment: Sendable {
    public struct Statistics: Sendable, Equatable {
        public var packets = 0
        public var delivered = 0
        public var randomLoss = 0
        public var burstLoss = 0
        public var queueDrops = 0
        public var duplicated = 0
        public var reordered = 0
    }

    public private(set) var profile: ImpairmentProfile
    public private(set) var statistics = Statistics()
    private var rng: SplitMix
    private var inBadState = false
    /// When the capped link finishes sending what is queued (µs).
    private var linkFreeAt: Int64 = 0

    /// Changes the bandwidth cap from now on (nil: none); what is queued keeps its departure times.
    public mutating func setRate(kilobits: Double?) { profile.rateKilobits = kilobits.flatMap { $0 > 0 ? $0 : nil } }

    public init(profile: ImpairmentProfile, seed: UInt64) {
        self.profile = profile
        rng = SplitMix(seed: seed)
    }

    /// The delivery times (µs) of a packet of `size` bytes sent at `now`: none if it is lost,
    /// two if it is duplicated.
    public mutating func process(size: Int, now: Int64) -> [Int64] {
        statistics.packets += 1
        if let ge = profile.burstLoss {
            inBadState = inBadState ? !(rng.unit() < ge.badToGood) : rng.unit() < ge.goodToBad
            if rng.unit() < (inBadState ? ge.lossInBad : ge.lossInGood) {
                statistics.burstLoss += 1
                return []
            }
        }
        if profile.loss > 0 && rng.unit() < profile.loss {
            statistics.randomLoss += 1
            return []
        }
        var departure = now
        if let rate = profile.rateKilobits, rate > 0 {
            let start = max(now, linkFreeAt)
            if Double(start - now) / 1_000 > profile.queueMilliseconds {
                statistics.queueDrops += 1
                return []
            }
            let serialization = Int64(Double(size * 8) / rate * 1_000)  // µs at rate kbit/s
            linkFreeAt = start + serialization
            departure = linkFreeAt
        }
        var times = [departure + delay()]
        if profile.reorder > 0 && rng.unit() < profile.reorder {
            times[0] += Int64(profile.reorderMilliseconds * 1_000)
            statistics.reordered += 1
        }
        if profile.duplicate > 0 && rng.unit() < profile.duplicate {
            times.append(departure + delay())
            statistics.duplicated += 1
        }
        statistics.delivered += 1
        return times
    }

    private mutating func delay() -> Int64 {
        let base = profile.delayMilliseconds, j = profile.jitterMilliseconds
        var ms = base
        if j > 0 {
            switch profile.jitterDistribution {
            case .normal: ms = base + j * rng.normal()
            case .uniform: ms = base + j * (2 * rng.unit() - 1)
            case .exponential: ms = base - j * logNatural(max(rng.unit(), 1e-12))
            }
        }
        return Int64(max(ms, 0) * 1_000)
    }
}

/// SplitMix64 with the few distributions the model needs.
struct SplitMix: Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Standard normal (Box–Muller).
    mutating func normal() -> Double {
        let u1 = max(unit(), 1e-12), u2 = unit()
        return (-2 * logNatural(u1)).squareRoot() * cosine(2 * Double.pi * u2)
    }
}

#if canImport(Glibc)
import Glibc
func logNatural(_ x: Double) -> Double { Glibc.log(x) }
func cosine(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Darwin
func logNatural(_ x: Double) -> Double { Darwin.log(x) }
func cosine(_ x: Double) -> Double { Darwin.cos(x) }
#endif
