import Foundation

/// Differential privacy for the cells of an aggregate release (Docs/AGGREGATES.md).
///
/// One entity adds at most 1 to the entity count of at most `max_cells` cells, and at most
/// `max_readings * max(|lower|, |upper|)` to a measure's sum in each: the L1 sensitivities are
/// `max_cells` and `max_cells * max_readings * max(|lower|, |upper|)` (in units of the sums'
/// last decimal). Epsilon is split evenly between the count and each measure's sum (sequential
/// composition). Which cells appear depends on the data, so a cell is published only when its
/// noisy count reaches `min_entities`; the chance that a cell made by one entity gets through
/// is the release's delta (Laplace thresholding, Wilson et al. 2020).
struct AggregateNoise {
    let privacy: AggregateReleaseSpec.Privacy
    let measures: [String]
    let threshold: Int
    /// The epsilon of each query (the count, then each sum).
    let share: DPRational
    let count: DiscreteLaplace
    let sums: [DiscreteLaplace]
    /// The sums' granularity: units of 10^-decimals.
    let unit: Double

    init(spec: AggregateReleaseSpec, privacy: AggregateReleaseSpec.Privacy) {
        self.privacy = privacy
        measures = spec.measures
        threshold = spec.minEntities
        let epsilon = DPRational(privacy.epsilon)!
        share = DPRational(
            numerator: epsilon.numerator, denominator: epsilon.denominator * UInt64(1 + spec.measures.count))
        count = DiscreteLaplace(sensitivity: UInt64(privacy.maxCells), epsilon: share)
        unit = pow(10, -Double(privacy.decimals))
        var sums: [DiscreteLaplace] = []
        for measure in spec.measures {
            let bounds = privacy.bounds[measure]!
            let largest = max(abs(bounds.lowerBound), abs(bounds.upperBound))
            let perCell = (Double(privacy.maxReadings) * largest / pow(10, -Double(privacy.decimals))).rounded(.up)
            sums.append(DiscreteLaplace(sensitivity: UInt64(perCell) * UInt64(privacy.maxCells), epsilon: share))
        }
        self.sums = sums
    }

    /// The chance that a cell only one entity made is published: that entity adds 1 to the
    /// counts of at most max_cells cells, each published when 1 + noise >= min_entities.
    var delta: Double { min(1, Double(privacy.maxCells) * count.upperTail(atLeast: threshold - 1)) }

    /// The smallest min_entities that keeps delta within the policy's limit.
    var thresholdNeeded: Int {
        var needed = max(threshold, 2)
        while Double(privacy.maxCells) * count.upperTail(atLeast: needed - 1) > privacy.maxDelta && needed < 1 << 40 {
            needed = needed < 1 << 20 ? needed + max(1, needed / 8) : needed * 2
        }
        return needed
    }

    /// The noisy rows, in the cells' order: a cell whose noisy count is below min_entities is
    /// not published. Noise is drawn for every cell, published or not, in label order.
    func rows(_ cells: [AggregateCells.Cell], random: inout some RandomNumberGenerator, counts: inout AggregateCounts)
        -> [[String]]
    {
        var rows: [[String]] = []
        for cell in cells {
            let noisyCount = Int64(cell.members.count) + count.sample(using: &random)
            var noisySums: [Int64] = []
            for (measure, mechanism) in sums.enumerated() {
                let total = cell.members.values.reduce(0.0) { $0 + $1[measure] }
                noisySums.append(Int64((total / unit).rounded()) + mechanism.sample(using: &random))
            }
            guard noisyCount >= Int64(threshold) else {
                counts.belowNoisyThreshold += 1
                continue
            }
            var fields = cell.label.map { String(decoding: $0, as: UTF8.self) }
            fields.append(String(noisyCount))
            for noisy in noisySums {
                let sum = Double(noisy) * unit
                fields.append(String(decoding: DecimalText.format(sum, decimals: privacy.decimals), as: UTF8.self))
                fields.append(
                    String(
                        decoding: DecimalText.format(sum / Double(noisyCount), decimals: privacy.decimals + 3),
                        as: UTF8.self))
            }
            rows.append(fields)
        }
        counts.published = rows.count
        counts.rows = rows.count
        return rows
    }

    /// What the manifest states about the noise.
    func manifest(seeded: Bool) -> AggregateManifest.DifferentialPrivacy {
        var scales = ["entities": count.scale]
        var errors = ["entities": Double(count.errorBound())]
        var split = ["entities": share.value]
        for (index, measure) in measures.enumerated() {
            let places = pow(10, Double(privacy.decimals))
            scales["\(measure)_sum"] = sums[index].scale / places
            errors["\(measure)_sum"] = Double(sums[index].errorBound()) / places
            split["\(measure)_sum"] = share.value
        }
        return AggregateManifest.DifferentialPrivacy(
            epsilon: privacy.epsilon, delta: delta, mechanism: "discrete Laplace (Canonne, Kamath, Steinke 2020)",
            composition: "sequential: epsilon split evenly between the entity count and each sum",
            split: split, maxCells: privacy.maxCells, maxReadings: privacy.maxReadings,
            bounds: privacy.bounds.mapValues { [$0.lowerBound, $0.upperBound] }, decimals: privacy.decimals,
            scales: scales, error95: errors, seeded: seeded,
            note: seeded
                ? "a seeded run reproduces its noise from the seed: it is for tests and is NOT private"
                : "noise from the system's cryptographic random generator")
    }
}

/// The `aggregate` part of manifest.json.
package struct AggregateManifest: Codable, Sendable {
    package struct Dominance: Codable, Sendable {
        package var n: Int
        package var percent: Double
    }
    package struct DifferentialPrivacy: Codable, Sendable {
        package var epsilon: Double
        package var delta: Double
        package var mechanism: String
        package var composition: String
        /// The epsilon of each query.
        package var split: [String: Double]
        package var maxCells: Int
        package var maxReadings: Int
        package var bounds: [String: [Double]]
        package var decimals: Int
        /// The noise's scale per published value (in its own units).
        package var scales: [String: Double]
        /// Per published value: |noise| is at most this with probability 95%, in every cell.
        package var error95: [String: Double]
        package var seeded: Bool
        package var note: String

        enum CodingKeys: String, CodingKey {
            case epsilon, delta, mechanism, composition, split, bounds, decimals, scales, seeded, note
            case maxCells = "max_cells"
            case maxReadings = "max_readings"
            case error95 = "error_95"
        }
    }
    package struct Budget: Codable, Sendable {
        package var dataset: String
        package var lifetimeEpsilon: Double
        /// Spent by earlier releases of the dataset, and with this one.
        package var spentBefore: Double
        package var spentAfter: Double

        enum CodingKeys: String, CodingKey {
            case dataset
            case lifetimeEpsilon = "lifetime_epsilon"
            case spentBefore = "spent_before"
            case spentAfter = "spent_after"
        }
    }

    package var by: [String]
    package var time: String
    package var every: String
    package var measures: [String]
    package var percentiles: [Double]
    package var minEntities: Int
    package var dominance: Dominance?
    package var failing: String
    package var margins: Bool
    package var cells: AggregateCounts
    package var dp: DifferentialPrivacy?
    package var budget: Budget?

    enum CodingKeys: String, CodingKey {
        case by, time, every, measures, percentiles, dominance, failing, margins, cells, dp, budget
        case minEntities = "min_entities"
    }

    init(spec: AggregateReleaseSpec, counts: AggregateCounts, dp: DifferentialPrivacy?) {
        by = spec.by
        time = spec.timeColumn
        every = spec.every.rawValue
        measures = spec.measures
        percentiles = spec.percentiles
        minEntities = spec.minEntities
        dominance = spec.dominance.map { Dominance(n: $0.n, percent: $0.percent) }
        failing = spec.failing.rawValue
        margins = spec.margins
        cells = counts
        self.dp = dp
    }
}
