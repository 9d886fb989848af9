import Foundation

/// One estimate of the individuals unique in the population.
public struct UniquenessEstimate: Codable, Sendable, Equatable {
    /// Estimated population uniques.
    public var uniques: Double
    /// As a share of the population.
    public var share: Double
}

/// Population uniqueness estimated from a sample's class sizes (see Docs/RISK.md).
public struct PopulationUniqueness: Codable, Sendable, Equatable {
    public var samplingFraction: Double
    public var populationSize: Double
    public var sampleUniques: Int
    /// nil when the model's equations have no valid solution on this sample.
    public var pitman: UniquenessEstimate?
    public var zayatz: UniquenessEstimate?
    public var snb: UniquenessEstimate?
    /// The estimate Dankar et al.'s rule picks, and which model it is.
    public var dankar: UniquenessEstimate
    public var dankarModel: String

    enum CodingKeys: String, CodingKey {
        case pitman, zayatz, snb, dankar
        case samplingFraction = "sampling_fraction"
        case populationSize = "population_size"
        case sampleUniques = "sample_uniques"
        case dankarModel = "dankar_model"
    }

    /// - Parameters:
    ///   - classSizes: class size -> number of classes of that size in the sample.
    ///   - samplingFraction: sample size / population size, in (0, 1].
    public init(classSizes: [Int: Int], samplingFraction: Double) {
        self.samplingFraction = samplingFraction
        let estimator = UniquenessEstimators(classSizes: classSizes, samplingFraction: samplingFraction)
        populationSize = estimator.populationSize
        sampleUniques = classSizes[1] ?? 0
        func estimate(_ value: Double?) -> UniquenessEstimate? {
            guard let value, value.isFinite, value > 0 else { return nil }
            return UniquenessEstimate(uniques: value, share: value / estimator.populationSize)
        }
        if sampleUniques == 0 {
            let none = UniquenessEstimate(uniques: 0, share: 0)
            pitman = none
            zayatz = none
            snb = none
            dankar = none
            dankarModel = "none"
            return
        }
        pitman = estimate(estimator.pitman())
        zayatz = estimate(estimator.zayatz())
        snb = estimate(estimator.snb())
        // Dankar et al. (2012): Pitman for small sampling fractions, else the smaller of
        // Zayatz and SNB; Zayatz when the chosen model has no solution.
        let fallback = zayatz ?? UniquenessEstimate(uniques: 0, share: 0)
        if samplingFraction <= 0.1 {
            if let pitman {
                (dankar, dankarModel) = (pitman, "pitman")
            } else {
                (dankar, dankarModel) = (fallback, "zayatz")
            }
        } else if let snb, snb.uniques <= fallback.uniques || zayatz == nil {
            (dankar, dankarModel) = (snb, "snb")
        } else {
            (dankar, dankarModel) = (fallback, "zayatz")
        }
    }
}

/// The three estimators, on the frequencies of class sizes (`classSizes[i]`: classes of size i).
struct UniquenessEstimators {
    let classSizes: [(size: Int, classes: Int)]
    /// Sample size n, classes u, sample uniques f1, classes of size 2 f2.
    let n: Double, u: Double, f1: Double, f2: Double
    let fraction: Double
    let populationSize: Double

    init(classSizes: [Int: Int], samplingFraction: Double) {
        self.classSizes = classSizes.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map {
            (size: $0.key, classes: $0.value)
        }
        n = Double(self.classSizes.reduce(0) { $0 + $1.size * $1.classes })
        u = Double(self.classSizes.reduce(0) { $0 + $1.classes })
        f1 = Double(classSizes[1] ?? 0)
        f2 = Double(classSizes[2] ?? 0)
        fraction = samplingFraction
        populationSize = (n / samplingFraction).rounded()
    }

    /// Zayatz (1991): the share of sample uniques that are population uniques is
    /// P(unique | a class of size 1 drawn) / sum over sizes i of P(drawn once | size i) weighted
    /// by the share of classes of size i; hypergeometric draws of n from the population.
    func zayatz() -> Double? {
        let population = populationSize
        func drawnOnce(_ size: Int) -> Double {
            // C(size, 1) C(N - size, n - 1) / C(N, n)
            let k = Double(size)
            guard population - k >= n - 1 else { return 0 }
            return exp(log(k) + logChoose(population - k, n - 1) - logChoose(population, n))
        }
        var denominator = 0.0
        for entry in classSizes { denominator += Double(entry.classes) / u * drawnOnce(entry.size) }
        guard denominator > 0 else { return nil }
        let conditional = (f1 / u) * drawnOnce(1) / denominator
        return f1 * conditional / fraction
    }

    /// Pitman's model (Hoshino 2001): the maximum-likelihood (theta, alpha) of the Pitman
    /// sampling formula, then Gamma(theta + 1) / Gamma(theta + alpha) * N^alpha population uniques.
    func pitman() -> Double? {
        guard f1 > 0, u > 1, n > u else { return nil }
        // Moment-based starting point (Hoshino 2001).
        let c = f2 > 0 ? f1 * (f1 - 1) / f2 : f1 * (f1 - 1)
        let theta0 = (n * u * c - f1 * (n - 1) * (2 * u + c)) / (2 * f1 * u + f1 * c - n * c)
        let alpha0 = (theta0 * (f1 - n) + (n - 1) * f1) / (n * u)
        let sizes = classSizes
        let u = self.u
        let n = self.n
        // The two score equations, with their sums in closed form (digamma).
        func scores(_ theta: Double, _ alpha: Double) -> (Double, Double) {
            let s1 = (digamma(theta / alpha + u) - digamma(theta / alpha + 1)) / alpha  // sum_{i<u} 1/(theta + i alpha)
            let s3 = (u - 1) / alpha - theta / alpha * s1  // sum_{i<u} i/(theta + i alpha)
            let s2 = digamma(theta + n) - digamma(theta + 1)  // sum_{i<n} 1/(theta + i)
            var s4 = 0.0  // sum over classes of sum_{j<size} 1/(j - alpha)
            let base = digamma(1 - alpha)
            for entry in sizes where entry.size > 1 {
                s4 += Double(entry.classes) * (digamma(Double(entry.size) - alpha) - base)
            }
            return (s1 - s2, s3 - s4)
        }
        var starts = [(theta0, alpha0)]
        if !(theta0.isFinite && alpha0.isFinite && theta0 > -alpha0 && alpha0 > 0 && alpha0 < 1) { starts = [] }
        starts.append((1, 0.5))
        for (theta, alpha) in starts {
            guard let solution = newton(scores, from: (theta, alpha), valid: { $1 > 0 && $1 < 1 && $0 > -$1 }) else {
                continue
            }
            let (t, a) = solution
            let uniques = exp(lgamma(t + 1) - lgamma(t + a) + a * log(populationSize))
            if uniques.isFinite, uniques >= 0, uniques <= populationSize { return uniques }
        }
        return nil
    }

    /// The slide negative binomial model (Chen and Keller-McNulty 1998): population class sizes
    /// are 1 + NegBin(alpha, beta); with Bernoulli sampling at fraction f the expected classes of
    /// sample size 1 and 2 are matched to f1 and f2, and the population uniques are K beta^alpha,
    /// K the number of non-empty population classes (Shlosser's estimator as in Haas et al. 1995).
    func snb() -> Double? {
        guard f1 > 0, f2 > 0, fraction < 1 else { return nil }
        let f = fraction
        var a1 = 0.0
        var a2 = 0.0
        var b1 = 0.0
        var b2 = 0.0
        for entry in classSizes {
            let i = Double(entry.size)
            let count = Double(entry.classes)
            a1 += i * f * f * pow(1 - f * f, i - 1) * count
            a2 += pow(1 - f, i) * (pow(1 + f, i) - 1) * count
            b1 += pow(1 - f, i) * count
            b2 += i * f * pow(1 - f, i - 1) * count
        }
        guard a2 > 0, b2 > 0 else { return nil }
        let k = u + f1 * (a1 / a2) * (b1 / b2) * (b1 / b2)
        let f1 = self.f1
        let f2 = self.f2
        func equations(_ alpha: Double, _ beta: Double) -> (Double, Double) {
            let d = (1 - f) * (1 - beta)
            let q = pow(beta / (1 - d), alpha)
            let one = k * f * q * (1 + alpha * d / (1 - d))
            let two = k * alpha * q * (1 - beta) * f * f / (2 * (1 - d) * (1 - d)) * (2 - (1 - alpha) * d)
            return ((one - f1) / f1, (two - f2) / f2)
        }
        for start in [(1.0, 0.5), (0.5, 0.1), (2.0, 0.9), (0.1, 0.01)] {
            guard let (alpha, beta) = newton(equations, from: start, valid: { $0 > 0 && $1 > 0 && $1 < 1 }) else {
                continue
            }
            let uniques = k * pow(beta, alpha)
            if uniques.isFinite, uniques > 0, uniques <= populationSize { return uniques }
        }
        return nil
    }
}

/// Newton's method in two unknowns with a finite-difference Jacobian and step halving to stay
/// where `valid` holds; nil when it does not converge.
func newton(
    _ function: (Double, Double) -> (Double, Double), from start: (Double, Double),
    valid: (Double, Double) -> Bool
) -> (Double, Double)? {
    var (x, y) = start
    for _ in 0..<200 {
        let (f, g) = function(x, y)
        guard f.isFinite, g.isFinite else { return nil }
        if abs(f) < 1e-10 && abs(g) < 1e-10 { return (x, y) }
        let hx = max(1e-7, abs(x) * 1e-7)
        let hy = max(1e-9, abs(y) * 1e-7)
        let (fx, gx) = function(x + hx, y)
        let (fy, gy) = function(x, y + hy)
        let a = (fx - f) / hx
        let b = (fy - f) / hy
        let c = (gx - g) / hx
        let d = (gy - g) / hy
        let determinant = a * d - b * c
        guard determinant.isFinite, determinant != 0 else { return nil }
        var dx = (d * f - b * g) / determinant
        var dy = (a * g - c * f) / determinant
        var halvings = 0
        while !valid(x - dx, y - dy) {
            dx /= 2
            dy /= 2
            halvings += 1
            if halvings > 60 { return nil }
        }
        x -= dx
        y -= dy
        if abs(dx) < 1e-13 * max(1, abs(x)) && abs(dy) < 1e-13 * max(1, abs(y)) {
            let (f, g) = function(x, y)
            return abs(f) < 1e-6 && abs(g) < 1e-6 ? (x, y) : nil
        }
    }
    return nil
}

/// log C(n, k) for real n >= k >= 0.
func logChoose(_ n: Double, _ k: Double) -> Double {
    lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)
}

/// The digamma function: recurrence up to x >= 6, then the asymptotic series.
func digamma(_ value: Double) -> Double {
    var x = value
    var result = 0.0
    if x <= 0 && x == x.rounded(.down) { return .nan }
    if x < 0 {
        // Reflection: psi(1 - x) - psi(x) = pi cot(pi x).
        return digamma(1 - x) - Double.pi / tan(Double.pi * x)
    }
    while x < 6 {
        result -= 1 / x
        x += 1
    }
    let inverse = 1 / x
    let square = inverse * inverse
    result +=
        log(x) - 0.5 * inverse
        - square * (1.0 / 12 - square * (1.0 / 120 - square * (1.0 / 252 - square * (1.0 / 240 - square / 132))))
    return result
}
