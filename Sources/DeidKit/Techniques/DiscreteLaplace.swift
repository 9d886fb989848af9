import Foundation

/// The discrete Laplace distribution with scale `t / s` (integers): P(y) ∝ exp(-|y| s / t).
/// Sampled exactly, with integer arithmetic only, by Canonne, Kamath and Steinke's algorithm
/// ("The Discrete Gaussian for Differential Privacy", 2020, algorithms 1 and 2): no floating
/// point is involved, so the distribution has none of the holes `log(uniform)` on doubles leaves
/// (Mironov 2012). Adding it to an integer query with L1 sensitivity Δ gives ε-differential
/// privacy when t / s = Δ / ε.
package struct DiscreteLaplace: Sendable, Equatable {
    package let t: UInt64
    package let s: UInt64

    package init(t: UInt64, s: UInt64) {
        precondition(t > 0 && s > 0, "a discrete Laplace scale is positive")
        self.t = t
        self.s = s
    }

    /// The mechanism for an integer query with L1 sensitivity `sensitivity` under `epsilon`.
    package init(sensitivity: UInt64, epsilon: DPRational) {
        self.init(t: max(1, sensitivity) * epsilon.denominator, s: epsilon.numerator)
    }

    /// The scale t / s.
    package var scale: Double { Double(t) / Double(s) }

    /// exp(-1 / scale): the ratio of neighbouring probabilities.
    var ratio: Double { exp(-Double(s) / Double(t)) }

    /// The variance, 2p / (1 - p)^2 with p = exp(-1 / scale).
    package var variance: Double {
        let p = ratio
        return 2 * p / ((1 - p) * (1 - p))
    }

    /// P(Y >= m) for m >= 1: p^m / (1 + p).
    package func upperTail(atLeast m: Int) -> Double {
        let p = ratio
        if m <= 0 { return 1 - upperTail(atLeast: 1 - m) }
        return exp(Double(m) * log(p)) / (1 + p)
    }

    /// The smallest k with P(|Y| > k) <= 1 - confidence: P(|Y| > k) = 2 p^(k+1) / (1 + p).
    package func errorBound(confidence: Double = 0.95) -> Int {
        let p = ratio
        guard p > 0 else { return 0 }
        let needed = log((1 - confidence) * (1 + p) / 2) / log(p)
        return max(0, Int(needed.rounded(.up)) - 1)
    }

    /// One draw.
    package func sample<R: RandomNumberGenerator>(using random: inout R) -> Int64 {
        while true {
            let u = Self.below(t, &random)
            guard Self.bernoulliExp(numerator: u, denominator: t, &random) else { continue }
            var v: UInt64 = 0
            while Self.bernoulliExp(numerator: 1, denominator: 1, &random) { v += 1 }
            let y = (u &+ t &* v) / s
            let negative = Self.below(2, &random) == 1
            if negative && y == 0 { continue }
            return negative ? -Int64(clamping: y) : Int64(clamping: y)
        }
    }

    /// Bernoulli(exp(-γ)) for γ = numerator / denominator in [0, 1] (algorithm 1).
    static func bernoulliExp<R: RandomNumberGenerator>(
        numerator: UInt64, denominator: UInt64, _ random: inout R
    ) -> Bool {
        var k: UInt64 = 1
        // Bernoulli(γ / k): a uniform integer below denominator * k is below the numerator.
        while below(denominator &* k, &random) < numerator { k += 1 }
        return k % 2 == 1
    }

    /// A uniform integer in [0, n), by rejection (no modulo bias; the same algorithm on every
    /// platform, so a seeded run is reproducible).
    static func below<R: RandomNumberGenerator>(_ n: UInt64, _ random: inout R) -> UInt64 {
        precondition(n > 0)
        let threshold = (0 &- n) % n
        while true {
            let value = random.next()
            if value >= threshold { return value % n }
        }
    }
}
