/// A positive decimal as an exact fraction `numerator / denominator` (the policy's epsilon),
/// so that a noise scale is a ratio of integers and its sampler never rounds.
package struct DPRational: Sendable, Equatable {
    package var numerator: UInt64
    package var denominator: UInt64

    package init(numerator: UInt64, denominator: UInt64) {
        self.numerator = numerator
        self.denominator = denominator
    }

    /// The fraction of a decimal with at most 6 places; nil for another number.
    package init?(_ value: Double) {
        guard value > 0, value <= 1_000_000 else { return nil }
        var denominator: UInt64 = 1
        for _ in 0...6 {
            let scaled = value * Double(denominator)
            if abs(scaled - scaled.rounded()) < 1e-9 * max(1, scaled) {
                var numerator = UInt64(scaled.rounded())
                var divisor = denominator
                var gcd = numerator
                while divisor != 0 { (gcd, divisor) = (divisor, gcd % divisor) }
                numerator /= gcd
                self.numerator = numerator
                self.denominator = denominator / gcd
                return
            }
            denominator *= 10
        }
        return nil
    }

    package var value: Double { Double(numerator) / Double(denominator) }
}
