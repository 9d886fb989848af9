import DeidCSV
import Foundation

/// Randomness for noise: the system CSPRNG (fetched in bulk), or a seeded generator when a run
/// must be reproducible (`--seed`: same seed, same output bytes).
package struct NoiseRandom: Sendable {
    private var seeded: SeededRandom?
    private var words: [UInt64] = []
    private var next = 0

    /// System randomness.
    package static func system() -> NoiseRandom { NoiseRandom(seeded: nil) }

    /// A reproducible stream for `seed`; `stream` separates independent streams of one run.
    package static func seeded(_ seed: UInt64, stream: UInt64 = 0) -> NoiseRandom {
        NoiseRandom(seeded: SeededRandom(seed: seed ^ (stream &* 0x9E37_79B9_7F4A_7C15)))
    }

    private init(seeded: SeededRandom?) { self.seeded = seeded }

    package var isSeeded: Bool { seeded != nil }

    mutating func word() -> UInt64 {
        if seeded != nil { return seeded!.next() }
        if next == words.count {
            if words.isEmpty { words = [UInt64](repeating: 0, count: 4096) }
            SystemEntropy.fill(&words)
            next = 0
        }
        defer { next += 1 }
        return words[next]
    }

    /// Uniform in the open interval (0, 1).
    mutating func unit() -> Double { (Double(word() >> 11) + 0.5) * 0x1p-53 }
}

/// Noise addition: Laplace or Gaussian noise with a fixed scale, or multiplicative noise, then
/// clamping to [min, max] and rounding.
package struct NoiseAdder: Sendable {
    package let spec: NoiseSpec

    package init(spec: NoiseSpec) { self.spec = spec }

    /// `value` with noise, clamped and rounded; written with the policy's decimals or `decimals`.
    /// - Throws: `ValueProblem` when the result is not a finite number (an input near the
    ///   largest double).
    package func perturb(_ value: Double, decimals: Int, random: inout NoiseRandom) throws(ValueProblem) -> [UInt8] {
        DecimalText.format(try noisy(value, random: &random), decimals: spec.decimals ?? decimals)
    }

    /// `value` with noise, clamped (not rounded); never infinite or NaN.
    func noisy(_ value: Double, random: inout NoiseRandom) throws(ValueProblem) -> Double {
        var noisy: Double
        switch spec.distribution {
        case .laplace(let scale):
            let u = random.unit() - 0.5
            noisy = value - scale * (u < 0 ? -1 : 1) * log(1 - 2 * abs(u))
        case .gaussian(let sigma):
            let radius = (-2 * log(random.unit())).squareRoot()
            noisy = value + sigma * radius * cos(2 * .pi * random.unit())
        case .percent(let percent):
            noisy = value * (1 + (2 * random.unit() - 1) * percent / 100)
        }
        if let minimum = spec.minimum { noisy = max(noisy, minimum) }
        if let maximum = spec.maximum { noisy = min(noisy, maximum) }
        guard noisy.isFinite else {
            throw ValueProblem("the value with noise is not a finite number (the value is too large)")
        }
        return noisy
    }

    /// Appends the noisy form of field `field` of `record` to `output` as one field; empty
    /// stays empty.
    func apply<Sink: CSVFieldSink>(_ record: CSVRecord, field: Int, random: inout NoiseRandom, to output: inout Sink)
        throws(ValueProblem)
    {
        if record.length(of: field) == 0 {
            output.append(field: [])
            return
        }
        guard let (number, decimals) = record.decimal(at: field) else {
            throw ValueProblem("not a number (noise needs numbers)")
        }
        output.append(decimal: try noisy(number, random: &random), places: spec.decimals ?? decimals)
    }

    /// Noise added to a field's number; empty stays empty.
    package func apply(_ value: ArraySlice<UInt8>, random: inout NoiseRandom) throws(ValueProblem) -> [UInt8] {
        if value.isEmpty { return [] }
        guard let (number, decimals) = DecimalText.parse(value) else {
            throw ValueProblem("not a number (noise needs numbers)")
        }
        return try perturb(number, decimals: decimals, random: &random)
    }
}
