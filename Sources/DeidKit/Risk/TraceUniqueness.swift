import Foundation

/// Share of entities singled out by a number of points, over repeated draws.
public struct TraceShare: Codable, Sendable, Equatable {
    public var points: Int
    /// Mean over the repetitions of the share of entities singled out.
    public var share: Double
    public var min: Double
    public var max: Double
    public var stddev: Double
}

/// The result of the trace uniqueness test.
public struct TraceUniqueness: Codable, Sendable, Equatable {
    public var entity: String
    public var time: String
    public var value: String
    /// The time bucket (`day`, `hour`, ...) or `as written`.
    public var timeResolution: String
    /// The value step or `as written`.
    public var valueResolution: String
    public var points: Int
    public var share: Double
    public var min: Double
    public var max: Double
    public var stddev: Double
    public var repetitions: Int
    public var seed: UInt64
    public var entities: Int
    /// Distinct (bucket, value) points over all traces.
    public var distinctPoints: Int
    public var byPoints: [TraceShare]

    enum CodingKeys: String, CodingKey {
        case entity, time, value, points, share, min, max, stddev, repetitions, seed, entities
        case timeResolution = "time_resolution"
        case valueResolution = "value_resolution"
        case distinctPoints = "distinct_points"
        case byPoints = "by_points"
    }
}

/// Every entity's trace: the sum of its values in each time bucket, rounded to the value step.
package struct TracePoints: Sendable {
    let spec: TraceSpec
    /// (entity, bucket) -> summed value, over the run's entity codes.
    private var sums: [TracePointKey: Double] = [:]

    init(spec: TraceSpec) { self.spec = spec }

    mutating func add(_ block: [TracePointKey: Double], entities: [UInt32]) {
        for (key, value) in block {
            sums[TracePointKey(entity: entities[Int(key.entity)], bucket: key.bucket), default: 0] += value
        }
    }

    /// A point's value in whole steps (or in millionths when values are compared as written, so
    /// that sums of decimals compare equal). A value too large for 64-bit steps is compared by
    /// its exact bits instead (`huge`), never clamped into another value's step.
    private func quantized(_ value: Double) -> (steps: Int64, huge: UInt64) {
        let steps = (value / (spec.valueStep ?? 1e-6)).rounded(.toNearestOrAwayFromZero)
        guard steps.isFinite, abs(steps) < 0x1p62 else { return (0, value.bitPattern) }
        return (Int64(steps), 0)
    }

    /// The test: for each repetition and each entity, draw `p` of its points at random (all of
    /// them when it has fewer); it is singled out when no other entity's trace holds all `p`.
    package func measure(entityColumn: String, timeColumn: String, valueColumn: String) -> TraceUniqueness {
        struct Point: Hashable {
            var bucket: Int64
            var value: Int64
            var huge: UInt64
        }
        var traces: [UInt32: [Point]] = [:]
        for (key, sum) in sums {
            let value = quantized(sum)
            traces[key.entity, default: []].append(Point(bucket: key.bucket, value: value.steps, huge: value.huge))
        }
        let entities = traces.keys.sorted()
        // Each distinct point's posting list: the entities holding it, by their index in
        // `entities` (so each list is sorted); each entity's points as list numbers.
        var listOf: [Point: Int] = [:]
        var members: [[UInt32]] = []
        var traceLists: [[Int]] = []
        for (index, entity) in entities.enumerated() {
            traces[entity]!.sort { $0.bucket < $1.bucket }
            traceLists.append(
                traces[entity]!.map { point in
                    let list =
                        listOf[point]
                        ?? {
                            members.append([])
                            listOf[point] = members.count - 1
                            return members.count - 1
                        }()
                    members[list].append(UInt32(index))
                    return list
                })
        }
        let postings = members.map { PostingList(sorted: $0, universe: entities.count) }
        let top = Swift.max(spec.points, spec.maxPoints)
        var curve: [TraceShare] = []
        var random = SeededRandom(seed: spec.seed)
        for points in 1...top {
            var shares: [Double] = []
            for _ in 0..<spec.repetitions {
                var singled = 0
                for (index, trace) in traceLists.enumerated() {
                    let drawn = Self.draw(Swift.min(points, trace.count), from: trace.count, using: &random)
                    let lists = drawn.map { postings[trace[$0]] }.sorted { $0.count < $1.count }
                    if Self.aloneIn(lists, entity: UInt32(index)) { singled += 1 }
                }
                shares.append(entities.isEmpty ? 0 : Double(singled) / Double(entities.count))
            }
            let mean = shares.reduce(0, +) / Double(Swift.max(1, shares.count))
            let variance = shares.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(Swift.max(1, shares.count - 1))
            curve.append(
                TraceShare(
                    points: points, share: mean, min: shares.min() ?? 0, max: shares.max() ?? 0,
                    stddev: shares.count > 1 ? variance.squareRoot() : 0))
        }
        let chosen = curve[spec.points - 1]
        return TraceUniqueness(
            entity: entityColumn, time: timeColumn, value: valueColumn,
            timeResolution: spec.timeUnit?.rawValue ?? "as written",
            valueResolution: spec.valueStep.map(DecimalText.label) ?? "as written",
            points: spec.points, share: chosen.share, min: chosen.min, max: chosen.max, stddev: chosen.stddev,
            repetitions: spec.repetitions, seed: spec.seed, entities: entities.count,
            distinctPoints: postings.count, byPoints: curve)
    }

    /// `count` distinct indices below `total`, uniformly (a partial Fisher-Yates shuffle).
    static func draw(_ count: Int, from total: Int, using random: inout SeededRandom) -> [Int] {
        if count == total { return Array(0..<total) }
        var chosen: [Int: Int] = [:]
        var result: [Int] = []
        for index in 0..<count {
            let pick = index + Int(random.next(upperBound: UInt64(total - index)))
            let value = chosen[pick] ?? pick
            chosen[pick] = chosen[index] ?? index
            result.append(value)
        }
        return result
    }

    /// Whether `entity` is the only entity in every one of the posting lists (given shortest
    /// first): it is in all of them, and no other entity of the first is. Stops at the first
    /// other entity found in all of them: with coarse points most entities share their points
    /// with many others, and one is enough. (The whole intersection, as `aloneInByIntersection`
    /// takes it, cost the measure of 10,000 monthly traces 79 s.)
    static func aloneIn(_ lists: [PostingList], entity: UInt32) -> Bool {
        guard let first = lists.first, lists.allSatisfy({ $0.contains(entity) }) else { return false }
        let others = lists.dropFirst()
        for candidate in first.sorted where candidate != entity {
            if others.allSatisfy({ $0.contains(candidate) }) { return false }
        }
        return true
    }

    /// `aloneIn`'s slow twin: the whole intersection, then whether it is `entity` alone.
    static func aloneInByIntersection(_ lists: [[UInt32]], entity: UInt32) -> Bool {
        guard var candidates = lists.first else { return false }
        for list in lists.dropFirst() {
            candidates = candidates.filter { Self.contains(list, $0) }
        }
        return candidates == [entity]
    }

    static func contains(_ sorted: [UInt32], _ value: UInt32) -> Bool {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low < sorted.count && sorted[low] == value
    }
}

/// The entities (numbered 0..<universe) holding one trace point: sorted, and as a bit set too
/// when they are many (one in 64 or more), so that a test is one load instead of a search.
struct PostingList: Sendable {
    let sorted: [UInt32]
    private let bits: [UInt64]?

    init(sorted: [UInt32], universe: Int) {
        self.sorted = sorted
        if sorted.count * 64 >= universe {
            var bits = [UInt64](repeating: 0, count: (universe + 63) / 64)
            for member in sorted { bits[Int(member) >> 6] |= 1 << (UInt64(member) & 63) }
            self.bits = bits
        } else {
            bits = nil
        }
    }

    var count: Int { sorted.count }

    @inline(__always) func contains(_ member: UInt32) -> Bool {
        if let bits {
            let word = Int(member) >> 6
            return word < bits.count && bits[word] & (1 << (UInt64(member) & 63)) != 0
        }
        return TracePoints.contains(sorted, member)
    }
}
