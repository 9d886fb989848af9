/// The information loss of transformations, by the policy's metric (ARX's definitions; see
/// Docs/PRIVACY.md): non-uniform entropy, known without the data; Iyengar's loss metric,
/// discernibility and the normalized average class size, measured on a checked class table.
struct LossMeasure {
    let metric: InformationLossMetric
    let statistics: PrivacyStatistics
    let levels: [QuasiIdentifierLevels]
    let k: Int

    var width: Int { levels.count }

    /// Non-uniform entropy of a transformation (suppression does not change it). Monotone:
    /// it grows with generalization.
    func entropy(_ transformation: Transformation) -> Double {
        zip(levels, transformation.levels).reduce(0) { $0 + $1.0.entropy[$1.1] }
    }

    /// A bound no transformation at `transformation` can beat, for pruning candidates.
    func lowerBound(_ transformation: Transformation) -> Double {
        switch metric {
        case .loss:
            var terms: [Double] = []
            for (column, level) in transformation.levels.enumerated() {
                for code in 0..<levels[column].domainSizes[0] {
                    terms.append(
                        Double(statistics.valueRecords[column][code])
                            * levels[column].loss(level: level, code: Int(levels[column].codes[level][code])))
                }
            }
            return orderFreeSum(terms) / Double(max(1, statistics.records * width))
        default: return 0
        }
    }

    /// The metric's information loss of a checked transformation.
    func loss(_ table: ClassTable, _ evaluation: PrivacyCriteria.Evaluation) -> Double {
        switch metric {
        case .entropy:
            return entropy(table.node)
        case .loss:
            // Summed in an order that does not depend on the data's (`orderFreeSum`).
            var terms: [Double] = []
            var published = 0
            for found in 0..<table.count where !evaluation.failing[found] {
                let base = Int(table.representative[found]) * width
                var cell = 0.0
                for column in 0..<width {
                    let level = table.node[column]
                    cell += levels[column].loss(
                        level: level, code: Int(levels[column].codes[level][Int(statistics.tuples[base + column])]))
                }
                terms.append(Double(table.records[found]) * cell)
                published += table.records[found]
            }
            let suppressed = statistics.records - published
            return (orderFreeSum(terms) + Double(suppressed * width)) / Double(max(1, statistics.records * width))
        case .discernibility:
            var sum = 0.0
            for found in 0..<table.count where !evaluation.failing[found] {
                sum += Double(evaluation.sizes[found]) * Double(evaluation.sizes[found])
            }
            return sum + Double(evaluation.suppressedIndividuals) * Double(statistics.individuals)
        case .averageClassSize:
            let classes = (0..<table.count).filter { !evaluation.failing[$0] }.count
            guard classes > 0 else { return Double(statistics.individuals) }
            return Double(statistics.individuals - evaluation.suppressedIndividuals) / Double(classes) / Double(k)
        }
    }
}
