import DeidCSV
import DeidEngine
import Foundation

/// Why a cell was not published as it was.
enum CellFailure: String, Sendable, Codable {
    case minEntities = "min_entities"
    case dominance
}

/// What became of the cells of an aggregate release (manifest.json's `aggregate.cells`).
package struct AggregateCounts: Codable, Sendable, Equatable {
    /// Cells the data made (combinations of `by` values and bucket).
    package var cells = 0
    /// Published as they were.
    package var published = 0
    /// Merged into a coarser cell that was published (`merged_rows` of them).
    package var merged = 0
    package var mergedRows = 0
    /// Suppressed: fewer entities than min_entities / a dominant entity (after any merging).
    package var suppressedMinEntities = 0
    package var suppressedDominance = 0
    /// Suppressed so that no suppressed cell can be recovered from a margin by subtraction.
    package var suppressedComplementary = 0
    package var marginsPublished = 0
    package var marginsSuppressed = 0
    /// With dp: cells whose noisy entity count was below min_entities.
    package var belowNoisyThreshold = 0
    /// With dp: (cell, entity) pairs left out by max_cells, and pairs scaled down by max_readings.
    package var pairsDropped = 0
    package var pairsScaled = 0
    /// Rows in the data file.
    package var rows = 0

    enum CodingKeys: String, CodingKey {
        case cells, published, merged, rows
        case mergedRows = "merged_rows"
        case suppressedMinEntities = "suppressed_min_entities"
        case suppressedDominance = "suppressed_dominance"
        case suppressedComplementary = "suppressed_complementary"
        case marginsPublished = "margins_published"
        case marginsSuppressed = "margins_suppressed"
        case belowNoisyThreshold = "below_noisy_threshold"
        case pairsDropped = "pairs_dropped"
        case pairsScaled = "pairs_scaled"
    }
}

/// The cells of an aggregate release, from the run's (cell, entity) pairs: the rules applied
/// (merge, suppression, complementary suppression) or the noise added, and the rows written.
struct AggregateCells {
    /// One cell: its label (the `by` values, then the bucket) and per entity its totals.
    struct Cell {
        var label: [[UInt8]]
        /// The code of the first `by` value the cell was made from (its representative input
        /// value gives the coarser levels).
        var firstCode: Int
        var members: [UInt32: [Double]]
        /// The cells of the data inside it (1 unless merged).
        var cellCount = 1
        var isMargin = false
    }

    let spec: AggregateReleaseSpec
    let pairs: CellPairs
    /// The first `by` column's generalization and the level the policy applies, for merging.
    let generalizer: Generalizer?
    let level: Int
    private(set) var counts = AggregateCounts()
    private(set) var rows: [Cell] = []

    init(spec: AggregateReleaseSpec, pairs: CellPairs, generalizer: Generalizer?, level: Int) {
        self.spec = spec
        self.pairs = pairs
        self.generalizer = generalizer
        self.level = level
    }

    /// The cells of the data, in label order (bucket first).
    func cells(capping privacy: AggregateReleaseSpec.Privacy? = nil, random: inout some RandomNumberGenerator)
        -> ([Cell], dropped: Int, scaled: Int)
    {
        let width = pairs.pairs.width
        let measures = pairs.measures
        let tuples = pairs.pairs.tuples
        var kept = [Bool](repeating: true, count: pairs.pairs.count)
        var dropped = 0
        if let privacy {
            // An entity in more cells than max_cells keeps max_cells of them, drawn at random.
            var byEntity: [UInt32: [Int]] = [:]
            for pair in 0..<pairs.pairs.count { byEntity[tuples[pair * width + width - 1], default: []].append(pair) }
            for entity in byEntity.keys.sorted() {
                var list = byEntity[entity]!
                guard list.count > privacy.maxCells else { continue }
                for index in 0..<privacy.maxCells {
                    let other = index + Int(DiscreteLaplace.below(UInt64(list.count - index), &random))
                    list.swapAt(index, other)
                }
                for pair in list[privacy.maxCells...] { kept[pair] = false }
                dropped += list.count - privacy.maxCells
            }
        }
        var scaled = 0
        var index: [[UInt32]: Int] = [:]
        var cells: [Cell] = []
        var key = [UInt32](repeating: 0, count: width - 1)
        for pair in 0..<pairs.pairs.count where kept[pair] {
            for field in 0..<(width - 1) { key[field] = tuples[pair * width + field] }
            var totals = Array(pairs.sums[(pair * measures)..<((pair + 1) * measures)])
            if let privacy {
                for measure in 0..<measures {
                    let count = Int(pairs.readings[pair * measures + measure])
                    if count > privacy.maxReadings {
                        totals[measure] *= Double(privacy.maxReadings) / Double(count)
                        scaled += 1
                    }
                }
            }
            let entity = tuples[pair * width + width - 1]
            if let existing = index[key] {
                cells[existing].members[entity] = totals
            } else {
                index[key] = cells.count
                let label = (0..<(width - 1)).map { pairs.keys[$0].values[Int(key[$0])] }
                cells.append(Cell(label: label, firstCode: width > 2 ? Int(key[0]) : -1, members: [entity: totals]))
            }
        }
        return (cells.sorted(by: Self.ordered), dropped, scaled)
    }

    /// Bucket first, then the `by` values, margins after the cells of their bucket.
    static func ordered(_ left: Cell, _ right: Cell) -> Bool {
        let leftKey = [left.label.last!] + [left.isMargin ? [1] : [0]] + left.label.dropLast()
        let rightKey = [right.label.last!] + [right.isMargin ? [1] : [0]] + right.label.dropLast()
        return leftKey.lexicographicallyPrecedes(rightKey) { $0.lexicographicallyPrecedes($1) }
    }

    /// The rule `members` fails, if any.
    func failure(_ members: [UInt32: [Double]]) -> CellFailure? {
        if members.count < spec.minEntities { return .minEntities }
        guard let dominance = spec.dominance else { return nil }
        for measure in 0..<pairs.measures {
            var values = members.values.map { $0[measure] }
            let total = values.reduce(0, +)
            guard total > 0 else { continue }
            values.sort(by: >)
            let largest = values.prefix(dominance.n).reduce(0, +)
            if largest > dominance.percent / 100 * total * (1 + 1e-12) { return .dominance }
        }
        return nil
    }

    static func union(_ cells: [Cell]) -> [UInt32: [Double]] {
        var members: [UInt32: [Double]] = [:]
        for cell in cells {
            for (entity, totals) in cell.members {
                if let existing = members[entity] {
                    members[entity] = zip(existing, totals).map { $0 + $1 }
                } else {
                    members[entity] = totals
                }
            }
        }
        return members
    }

    /// Applies the rules: publishes the cells that pass, merges or suppresses the others, adds
    /// the margins with complementary suppression.
    mutating func applyRules(_ cells: [Cell]) {
        counts.cells = cells.count
        var published: [Cell] = []
        var failing: [(Cell, CellFailure)] = []
        for cell in cells {
            if let failure = failure(cell.members) { failing.append((cell, failure)) } else { published.append(cell) }
        }
        counts.published = published.count
        var suppressed: [(Cell, CellFailure)] = []
        if spec.failing == .merge, let generalizer {
            var current = failing
            var step = level + 1
            while !current.isEmpty && step <= generalizer.levelCount {
                var groups: [[[UInt8]]: [Cell]] = [:]
                var order: [[[UInt8]]] = []
                for (cell, _) in current {
                    var label = cell.label
                    let value = pairs.representatives[cell.firstCode]
                    label[0] = (try? generalizer.generalize(value[...], level: step)) ?? Array("*".utf8)
                    if groups[label] == nil { order.append(label) }
                    groups[label, default: []].append(cell)
                }
                current = []
                for label in order {
                    let children = groups[label]!
                    var merged = Cell(
                        label: label, firstCode: children[0].firstCode, members: Self.union(children),
                        cellCount: children.reduce(0) { $0 + $1.cellCount })
                    merged.isMargin = false
                    if let failure = failure(merged.members) {
                        current.append((merged, failure))
                    } else {
                        published.append(merged)
                        counts.merged += merged.cellCount
                        counts.mergedRows += 1
                    }
                }
                step += 1
            }
            suppressed = current
        } else {
            suppressed = failing
        }
        for (cell, failure) in suppressed {
            if failure == .minEntities {
                counts.suppressedMinEntities += cell.cellCount
            } else {
                counts.suppressedDominance += cell.cellCount
            }
        }
        if spec.margins {
            published += margins(cells: cells, published: &published, suppressed: suppressed.map(\.0))
        }
        rows = published.sorted(by: Self.ordered)
        counts.rows = rows.count
    }

    /// One margin per bucket (every `by` column `*`), and the complementary suppression that
    /// keeps the suppressed cells of a published margin from being recovered by subtraction:
    /// the suppressed cells of a bucket together must pass the rules too (so never one alone).
    mutating func margins(cells: [Cell], published: inout [Cell], suppressed: [Cell]) -> [Cell] {
        var buckets: [[UInt8]: [Cell]] = [:]
        for cell in cells { buckets[cell.label.last!, default: []].append(cell) }
        var margins: [Cell] = []
        for (bucket, inBucket) in buckets {
            var margin = Cell(
                label: Array(repeating: Array("*".utf8), count: spec.by.count) + [bucket], firstCode: -1,
                members: Self.union(inBucket), cellCount: inBucket.count)
            margin.isMargin = true
            if failure(margin.members) != nil {
                counts.marginsSuppressed += 1
                continue
            }
            margins.append(margin)
            counts.marginsPublished += 1
            var hidden = suppressed.filter { $0.label.last! == bucket }
            guard !hidden.isEmpty else { continue }
            while failure(Self.union(hidden)) != nil {
                // The published cell of the bucket with the fewest entities goes too.
                let candidates = published.indices.filter { published[$0].label.last! == bucket }
                guard
                    let smallest = candidates.min(by: { left, right in
                        let (x, y) = (published[left], published[right])
                        if x.members.count != y.members.count { return x.members.count < y.members.count }
                        return Self.ordered(x, y)
                    })
                else { break }
                hidden.append(published[smallest])
                counts.suppressedComplementary += published[smallest].cellCount
                if published[smallest].cellCount > 1 {
                    counts.merged -= published[smallest].cellCount
                    counts.mergedRows -= 1
                } else {
                    counts.published -= 1
                }
                published.remove(at: smallest)
            }
        }
        return margins
    }

    /// A row's fields: the label, the entities (and merged cells), per measure its sum, mean per
    /// entity and percentiles of the entities' totals.
    func fields(of cell: Cell) -> [String] {
        var fields = cell.label.map { String(decoding: $0, as: UTF8.self) }
        fields.append(String(cell.members.count))
        if spec.failing == .merge { fields.append(String(cell.cellCount)) }
        for measure in 0..<pairs.measures {
            let values = cell.members.values.map { $0[measure] }.sorted()
            let total = values.reduce(0, +)
            let decimals = pairs.decimals[measure]
            fields.append(String(decoding: DecimalText.format(total, decimals: decimals), as: UTF8.self))
            fields.append(
                String(
                    decoding: DecimalText.format(total / Double(values.count), decimals: decimals + 3), as: UTF8.self))
            for percentile in spec.percentiles {
                fields.append(
                    String(
                        decoding: DecimalText.format(Self.percentile(values, percentile), decimals: decimals + 3),
                        as: UTF8.self))
            }
        }
        return fields
    }

    /// The percentile of sorted values by linear interpolation between closest ranks (numpy's
    /// and pandas' default).
    static func percentile(_ sorted: [Double], _ percent: Double) -> Double {
        guard sorted.count > 1 else { return sorted.first ?? 0 }
        let position = percent / 100 * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
    }
}
