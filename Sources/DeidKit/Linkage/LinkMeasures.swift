import DeidEngine
import Foundation

/// How many individuals of the left file one join singles out in the right file.
public struct LinkMeasures: Codable, Sendable, Equatable {
    /// Individuals of the left file (records when it has no entity column).
    public var leftRecords: Int
    /// Left individuals whose join values match exactly one individual of the right file.
    public var uniqueLinks: Int
    public var uniqueLinkShare: Double
    /// Unique links whose join values are also unique in the left file (a one-to-one match).
    public var alsoUniqueInLeft: Int
    /// The k-anonymity of the joined view: the fewest right-file individuals behind a join value
    /// both files hold (1 when there is any unique link); nil when they hold none in common.
    public var joinedMinClassSize: Int?
    /// The share of the left file's distinct join values the right file also holds.
    public var joinability: Double
    /// "exact" or "sketch" (KHyperLogLog estimates).
    public var method: String

    enum CodingKeys: String, CodingKey {
        case leftRecords = "left_records"
        case uniqueLinks = "unique_links"
        case uniqueLinkShare = "unique_link_share"
        case alsoUniqueInLeft = "also_unique_in_left"
        case joinedMinClassSize = "joined_min_class_size"
        case joinability, method
    }

    /// Every key, `joined_min_class_size` too (`null` when the files hold no join value in
    /// common): the fixed keys of a pair in `deid link --json` (Docs/LINKAGE.md).
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(leftRecords, forKey: .leftRecords)
        try container.encode(uniqueLinks, forKey: .uniqueLinks)
        try container.encode(uniqueLinkShare, forKey: .uniqueLinkShare)
        try container.encode(alsoUniqueInLeft, forKey: .alsoUniqueInLeft)
        try container.encode(joinedMinClassSize, forKey: .joinedMinClassSize)
        try container.encode(joinability, forKey: .joinability)
        try container.encode(method, forKey: .method)
    }
}

/// The right side of a measured join: join value -> individuals, complete for every value up
/// to `bound` (an exact table, or a sketch's sample).
package struct RightCounts: Sendable {
    package var counts: CountTable
    package var bound: UInt64

    package init(table: TupleTable) {
        counts = table.counts
        bound = .max
    }

    package init(sketch: KHyperLogLog) {
        var counts = CountTable(capacity: sketch.count)
        for (value, individuals) in sketch.sampledValues() { counts.add(value, individuals.count) }
        self.counts = counts
        bound = sketch.bound
    }

    package init(counts: CountTable) {
        self.counts = counts
        bound = .max
    }
}

package enum LinkMeasure {
    /// Exact measures from the left file's table. With an entity, an individual links when any
    /// of its join values is held by exactly one individual of the right file.
    package static func exact(left: TupleTable, leftIndividuals: Int, right: RightCounts) -> LinkMeasures {
        var uniqueLinks = 0
        var alsoUnique = 0
        if let pairs = left.pairs {
            var linked = Set<UInt64>()
            var oneToOne = Set<UInt64>()
            for pair in pairs where right.counts[pair.tuple] == 1 {
                linked.insert(pair.individual)
                if left.counts[pair.tuple] == 1 { oneToOne.insert(pair.individual) }
            }
            uniqueLinks = linked.count
            alsoUnique = oneToOne.count
        } else {
            left.counts.forEach { tuple, count in
                guard right.counts[tuple] == 1 else { return }
                uniqueLinks += count
                if count == 1 { alsoUnique += 1 }
            }
        }
        var shared = 0
        var smallest: Int?
        left.counts.forEach { tuple, _ in
            guard let count = right.counts[tuple] else { return }
            shared += 1
            smallest = min(smallest ?? count, count)
        }
        return LinkMeasures(
            leftRecords: leftIndividuals, uniqueLinks: uniqueLinks,
            uniqueLinkShare: leftIndividuals == 0 ? 0 : Double(uniqueLinks) / Double(leftIndividuals),
            alsoUniqueInLeft: alsoUnique, joinedMinClassSize: smallest,
            joinability: left.counts.isEmpty ? 0 : Double(shared) / Double(left.counts.count), method: "exact")
    }

    /// Estimates from the left file's sketch: its values up to both sides' bound are a uniform
    /// sample of its distinct join values; each is weighted by the individuals holding it.
    /// `joinableShare`: the share of the left file's individuals with every join value present.
    /// `recordsAreIndividuals`: the left side has no entity column, so a value's weight is its
    /// exact record count.
    package static func sketched(
        left: KHyperLogLog, leftIndividuals: Int, joinableShare: Double, recordsAreIndividuals: Bool,
        right: RightCounts
    ) -> LinkMeasures {
        let bound = min(left.bound, right.bound)
        var weight = 0
        var linkedWeight = 0
        var oneToOne = 0
        var sampled = 0
        var shared = 0
        var smallest: Int?
        for (value, individuals) in left.sampledValues() where value <= bound {
            let count = recordsAreIndividuals ? individuals.occurrences : individuals.count
            sampled += 1
            weight += count
            guard let rightCount = right.counts[value] else { continue }
            shared += 1
            smallest = min(smallest ?? rightCount, rightCount)
            if rightCount == 1 {
                linkedWeight += count
                if count == 1 { oneToOne += 1 }
            }
        }
        let share = weight == 0 ? 0 : Double(linkedWeight) / Double(weight) * joinableShare
        let scale = weight == 0 ? 0 : Double(leftIndividuals) * joinableShare / Double(weight)
        return LinkMeasures(
            leftRecords: leftIndividuals, uniqueLinks: Int((share * Double(leftIndividuals)).rounded()),
            uniqueLinkShare: share, alsoUniqueInLeft: Int((Double(oneToOne) * scale).rounded()),
            joinedMinClassSize: smallest, joinability: sampled == 0 ? 0 : Double(shared) / Double(sampled),
            method: "sketch")
    }

    /// The share of distinct values two value sketches share, over the smaller side: 1 when one
    /// side's values are all in the other. Exact while neither sketch is sampled.
    package static func sharedShare(_ a: KHyperLogLog, _ b: KHyperLogLog) -> (shared: Int, share: Double) {
        let bound = min(a.bound, b.bound)
        let inB = b.sampledValues().keys.filter { $0 <= bound }
        let bValues = Set(inB)
        var inA = 0
        var both = 0
        for value in a.sampledValues().keys where value <= bound {
            inA += 1
            if bValues.contains(value) { both += 1 }
        }
        let smaller = min(inA, inB.count)
        guard smaller > 0 else { return (0, 0) }
        let share = Double(both) / Double(smaller)
        // Scale the sampled intersection to the whole: the smaller side's distinct values times the share.
        let distinct = min(a.distinctValues, b.distinctValues)
        return (Int((share * distinct).rounded()), share)
    }
}
