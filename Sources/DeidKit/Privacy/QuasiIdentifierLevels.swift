import Foundation

/// One quasi-identifier's values at every level the search may choose, as codes: level 0 is
/// the value as the first pass left it, levels 1...maxLevel its generalizations. Built from the
/// distinct values alone (each is generalized once per level), like ARX's encoded hierarchies.
package struct QuasiIdentifierLevels: Sendable {
    package let column: String
    /// The highest level (0 when the column is not searched).
    package let maxLevel: Int
    /// `codes[level][valueCode]`: the value's code at that level.
    let codes: [[UInt32]]
    /// `labels[level][code]`: the published value.
    let labels: [[[UInt8]]]
    /// Distinct values at each level.
    package let domainSizes: [Int]
    /// Non-uniform entropy of the column at each level (ARX's definition).
    package let entropy: [Double]
    /// Per level and code: how many level-0 values the code covers (for the loss metric).
    let leaves: [[Int]]

    /// - Parameters:
    ///   - generalizer: the column's generalization when the search chooses its level; nil
    ///     when the column keeps the value the first pass wrote (level 0 only).
    /// - Throws: `ValueProblem` from the generalizer, with the index of the value.
    init(column: String, values: [[UInt8]], records: [Int], generalizer: Generalizer?) throws(LevelProblem) {
        self.column = column
        let maxLevel = generalizer?.levelCount ?? 0
        self.maxLevel = maxLevel
        var codes: [[UInt32]] = [Array(0..<UInt32(values.count))]
        var labels: [[[UInt8]]] = [values]
        for level in stride(from: 1, through: maxLevel, by: 1) {
            var index: [[UInt8]: UInt32] = [:]
            var levelCodes = [UInt32](repeating: 0, count: values.count)
            var levelLabels: [[UInt8]] = []
            for (code, value) in values.enumerated() {
                let label: [UInt8]
                do { label = try generalizer!.generalize(value[...], level: level) } catch {
                    throw LevelProblem.value(index: code, problem: error)
                }
                if let existing = index[label] {
                    levelCodes[code] = existing
                } else {
                    let new = UInt32(levelLabels.count)
                    index[label] = new
                    levelLabels.append(label)
                    levelCodes[code] = new
                }
            }
            // The search prunes by monotonicity, which holds only when each level is a function
            // of the one below: values grouped at level-1 stay grouped.
            let below = codes[level - 1]
            var parent = [UInt32](repeating: UInt32.max, count: labels[level - 1].count)
            for code in 0..<values.count {
                let lower = Int(below[code])
                if parent[lower] == UInt32.max {
                    parent[lower] = levelCodes[code]
                } else if parent[lower] != levelCodes[code] {
                    throw LevelProblem.notNested(level: level)
                }
            }
            codes.append(levelCodes)
            labels.append(levelLabels)
        }
        self.codes = codes
        self.labels = labels
        domainSizes = labels.map(\.count)
        var entropy: [Double] = []
        var leaves: [[Int]] = []
        for level in 0...maxLevel {
            var groupRecords = [Int](repeating: 0, count: labels[level].count)
            var groupLeaves = [Int](repeating: 0, count: labels[level].count)
            for code in 0..<values.count {
                groupRecords[Int(codes[level][code])] += records[code]
                groupLeaves[Int(codes[level][code])] += 1
            }
            var terms: [Double] = []
            for code in 0..<values.count where records[code] > 0 {
                let count = Double(records[code])
                terms.append(count * log2(Double(groupRecords[Int(codes[level][code])]) / count))
            }
            entropy.append(orderFreeSum(terms))
            leaves.append(groupLeaves)
        }
        self.entropy = entropy
        self.leaves = leaves
    }

    /// The loss of a value at `level` (Iyengar): the share of the column's other values its
    /// generalization covers, 0 for the value itself, 1 for full suppression.
    func loss(level: Int, code: Int) -> Double {
        let domain = domainSizes[0]
        guard domain > 1 else { return 0 }
        return Double(leaves[level][code] - 1) / Double(domain - 1)
    }

    /// The published value of level-0 value `code` at `level`.
    package func label(of code: Int, level: Int) -> [UInt8] { labels[level][Int(codes[level][code])] }
}

/// The sum of `terms` whatever order they come in: a value's code depends on the order the data
/// was read in (one machine or merged shards), and a floating-point sum on the order of its
/// terms; summed sorted, the same terms give the same bits.
func orderFreeSum(_ terms: [Double]) -> Double {
    terms.sorted().reduce(0, +)
}

enum LevelProblem: Error {
    case value(index: Int, problem: ValueProblem)
    case notNested(level: Int)
}
