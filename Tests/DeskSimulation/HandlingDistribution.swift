import Foundation
import ShowroomTestSupport

/// How long a simulated consultation holds a slot.
public enum HandlingDistribution: Sendable, Hashable, CustomStringConvertible {
    /// Exponential with this mean: Erlang C's own assumption.
    case exponential(mean: Double)
    /// Log-normal with this mean and coefficient of variation: closer to real chats (most are
    /// short, a few run long).
    case logNormal(mean: Double, cv: Double)

    public var mean: Double {
        switch self {
        case .exponential(let m), .logNormal(let m, _): m
        }
    }

    public var description: String {
        switch self {
        case .exponential(let m): "exp(\(Int(m)) s)"
        case .logNormal(let m, let cv): "lognormal(\(Int(m)) s, cv \(cv))"
        }
    }

    func sample(_ rng: inout SeededRandom) -> Double {
        switch self {
        case .exponential(let m):
            return m * rng.exponential()
        case .logNormal(let m, let cv):
            let s2 = log(1 + cv * cv)
            return exp(log(m) - s2 / 2 + s2.squareRoot() * rng.gaussian(mean: 0, deviation: 1))
        }
    }
}

extension SeededRandom {
    /// An exponential draw of mean 1.
    mutating func exponential() -> Double {
        -log(1 - Double.random(in: 0..<1, using: &self))
    }
}
