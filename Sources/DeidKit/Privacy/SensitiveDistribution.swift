import Foundation

/// The sensitive attribute's distribution over the whole table and the measures of one class
/// against it: the counts behind l-diversity and the t-closeness distance (Li et al. 2007).
/// Shared by the search (which checks the models) and `deid risk` (which reports them).
struct SensitiveDistribution {
    /// The whole table's share of individuals per sensitive value code.
    let global: [Double]
    /// Each code's position in the value order (numbers by value, text by bytes).
    let rank: [Int]
    /// The distance used: given, or ordered for numeric values and equal otherwise.
    let distance: TClosenessSpec.Distance
    private var dense: [Double]
    private var touched: [Int] = []

    /// The distribution of `statistics`' whole table, or `reference` (another table's shares by
    /// value, such as the input's for the release: values it has and the table does not take
    /// codes after the table's own, held by no class).
    init(statistics: PrivacyStatistics, distance given: TClosenessSpec.Distance?, reference: SensitiveReference? = nil)
    {
        var values = statistics.sensitiveValues
        var shares: [Double]
        if let reference {
            let own = Set(values)
            values += reference.shares.keys.filter { !own.contains($0) }.sorted { $0.lexicographicallyPrecedes($1) }
            shares = values.map { reference.shares[$0] ?? 0 }
        } else {
            shares = Self.counts(statistics)
        }
        let count = values.count
        let total = shares.reduce(0, +)
        global = total > 0 ? shares.map { $0 / total } : shares
        let numbers = values.map { DecimalText.parse($0[...])?.value }
        let numeric = !numbers.isEmpty && numbers.allSatisfy { $0 != nil }
        let order = (0..<count).sorted { a, b in
            if numeric { return numbers[a]! < numbers[b]! }
            return values[a].lexicographicallyPrecedes(values[b])
        }
        var rank = [Int](repeating: 0, count: count)
        for (position, code) in order.enumerated() { rank[code] = position }
        self.rank = rank
        distance = given ?? (numeric ? .ordered : .equal)
        dense = [Double](repeating: 0, count: count)
    }

    /// The whole table's individuals per sensitive value code: an entity spanning classes
    /// counts once per value it has.
    static func counts(_ statistics: PrivacyStatistics) -> [Double] {
        var counts = [Double](repeating: 0, count: statistics.sensitiveValues.count)
        for entry in 0..<statistics.histogram.keys.count {
            counts[Int(statistics.histogram.keys[entry])] += Double(statistics.histogram.counts[entry])
        }
        for entity in 0..<(statistics.hasSensitive ? statistics.multiEntities.rowCount : 0) {
            let range = statistics.multiEntities.offsets[entity]..<statistics.multiEntities.offsets[entity + 1]
            for code in Set(range.map { statistics.multiSensitive[$0] }) { counts[Int(code)] += 1 }
        }
        return counts
    }

    /// The individuals per distinct value of a class given as (value code, individuals) entries.
    mutating func counts(_ entries: [(Int, Int)]) -> [Double] {
        _ = load(entries)
        defer { clear() }
        return touched.map { dense[$0] }
    }

    /// The entropy l of a class's counts: e to the entropy of its distribution (Machanavajjhala
    /// et al. 2007); nil for an empty class.
    static func entropyL(_ counts: [Double]) -> Double? {
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        // (Counts are whole numbers: their total is exact in any order; the terms are summed
        // sorted, so that the value does not depend on the order of the codes.)
        let entropy = -orderFreeSum(counts.map { ($0 / total) * log($0 / total) })
        return exp(entropy)
    }

    /// The distance between a class's distribution and the whole table's; nil for an empty class.
    mutating func closeness(_ entries: [(Int, Int)]) -> Double? {
        let total = load(entries)
        defer { clear() }
        guard total > 0 else { return nil }
        switch distance {
        case .equal:
            let sum = 1.0 + orderFreeSum(touched.map { abs(dense[$0] / total - global[$0]) - global[$0] })
            return max(0, sum / 2)
        case .ordered:
            let count = global.count
            guard count > 1 else { return 0 }
            var byRank = [Double](repeating: 0, count: count)
            for code in 0..<count { byRank[rank[code]] = dense[code] / total - global[code] }
            var running = 0.0
            var sum = 0.0
            for position in 0..<(count - 1) {
                running += byRank[position]
                sum += abs(running)
            }
            return sum / Double(count - 1)
        }
    }

    /// Puts a class's entries into `dense`, noting the codes in `touched`; returns the total.
    private mutating func load(_ entries: [(Int, Int)]) -> Double {
        touched.removeAll(keepingCapacity: true)
        var total = 0.0
        for (code, count) in entries {
            if dense[code] == 0 { touched.append(code) }
            dense[code] += Double(count)
            total += Double(count)
        }
        return total
    }

    private mutating func clear() {
        for code in touched { dense[code] = 0 }
    }
}

/// The distribution t-closeness is measured against when it is not the measured table's own:
/// the input's whole table (before suppression), which the privacy models are enforced against.
package struct SensitiveReference: Sendable, Equatable {
    /// Each sensitive value's share of the individuals.
    package var shares: [[UInt8]: Double]
    /// What it is, for reports (`input`).
    package var name: String

    /// The whole table's distribution of `statistics` (as the privacy search sees it).
    init(statistics: PrivacyStatistics, name: String) {
        let counts = SensitiveDistribution.counts(statistics)
        let total = counts.reduce(0, +)
        var shares: [[UInt8]: Double] = [:]
        for (code, value) in statistics.sensitiveValues.enumerated() {
            shares[value] = total > 0 ? counts[code] / total : 0
        }
        self.shares = shares
        self.name = name
    }
}
