import DeidEngine
import Foundation

/// The outcome of the search: the transformation chosen, its information loss, what it
/// suppresses, and how the search went. Also what the second pass needs to apply it.
public struct PrivacyResult: Sendable {
    /// The level of each quasi-identifier, in `PrivacyStatistics.columns` order.
    public var levels: [Int]
    public var metric: InformationLossMetric
    public var informationLoss: Double
    public var suppressedIndividuals: Int
    /// Records of the suppressed classes and entities (the second pass counts them again).
    public var suppressedRecords: Int
    /// Classes published (not suppressed), and the smallest of them in individuals.
    public var classes: Int
    public var minClassSize: Int
    /// Number of published classes of each size in individuals.
    public var classSizes: [Int: Int]
    /// Entities whose rows fall in more than one class at the finest level.
    public var entitiesInSeveralClasses: Int
    /// The lowest distinct l and the highest t-closeness distance among published classes
    /// (when the models are set).
    public var lowestDistinctL: Int?
    public var highestDistance: Double?
    public var nodes: Int
    public var nodesChecked: Int
    public var seconds: Double
    /// The published values of the suppressed classes, one per quasi-identifier.
    public var suppressedClasses: [[[UInt8]]]
    /// The values of suppressed entities that span several classes (the others go with their class).
    public var suppressedEntityValues: [[UInt8]]
}

/// Why no transformation satisfies the models.
public struct PrivacyRefusal: Error, Sendable, CustomStringConvertible {
    public var reasons: [String]
    public var description: String { reasons.joined(separator: "\n") }
}

/// Full-domain generalization search over the lattice of the quasi-identifiers' levels, on the
/// class table alone (see Docs/PRIVACY.md).
///
/// Every privacy model here is monotone when levels nest (a coarser transformation merges
/// classes, and a merged class is at least as large, as diverse and as close as its parts), and
/// so is the share of individuals suppressed. The search follows ARX's Flash (Kohlmayer et al.
/// 2012): nodes are visited by height; from each unclassified node a path goes up through
/// unclassified successors, and a binary search on the path finds where the models start to
/// hold; each check classifies all successors of a satisfying node and all predecessors of a
/// failing one. For non-uniform entropy (monotone, and known without data) no path starts at a
/// node that cannot beat the best satisfying node found so far; the optimum is the best
/// satisfying node. Other metrics are evaluated on the satisfying nodes that can win.
public final class PrivacySearch {
    let statistics: PrivacyStatistics
    let levels: [QuasiIdentifierLevels]
    let spec: PrivacySpec
    let width: Int
    private let radices: [Int]
    private let nodeCount: Int
    private let finest: ClassTable
    private var cache: [ClassTable] = []
    private var cachedClasses = 0
    private var evaluations: [Int: Evaluation] = [:]
    private(set) var checked = 0
    private let sensitiveCount: Int
    private var sensitive: SensitiveDistribution
    private let layout: KeyLayout?
    private let rollUps = ClassRollUp()
    /// Per column, code maps from one level to a higher one (`levelMap`).
    private var levelMaps: [LevelStep: [UInt64]] = [:]

    private struct LevelStep: Hashable {
        var column: Int
        var from: Int
        var to: Int
    }

    struct Evaluation {
        var satisfied: Bool
        var suppressedIndividuals: Int
        var suppressedRecords: Int
        var failing: [Bool]
        var sizes: [Int]
        var suppressedMulti: [Bool]
    }

    /// - Parameter packKeys: roll classes up on bit-packed keys when the domains fit in 64 bits
    ///   (tests turn it off to compare with the roll-up through representative tuples).
    public init(statistics: PrivacyStatistics, levels: [QuasiIdentifierLevels], spec: PrivacySpec, packKeys: Bool = true) {
        self.statistics = statistics
        self.levels = levels
        self.spec = spec
        width = levels.count
        radices = levels.map { $0.maxLevel + 1 }
        nodeCount = radices.reduce(1, *)
        finest = ClassTable(finest: statistics, width: levels.count)
        layout = packKeys ? KeyLayout(domainSizes: levels.map { $0.domainSizes[0] }) : nil
        if let layout {
            let width = levels.count
            finest.keys = (0..<statistics.tupleCount).map { tuple in
                var key: UInt64 = 0
                for column in 0..<width { key |= UInt64(statistics.tuples[tuple * width + column]) << layout.shifts[column] }
                return key
            }
        }
        sensitiveCount = statistics.sensitiveValues.count
        sensitive = SensitiveDistribution(statistics: statistics, distance: spec.tCloseness?.distance)
    }

    /// The distance used for t-closeness (resolved when the policy leaves it open).
    public var tClosenessDistance: TClosenessSpec.Distance { sensitive.distance }

    // MARK: Nodes

    func levelsOf(_ node: Int) -> [Int] {
        var rest = node
        return radices.map { radix in
            defer { rest /= radix }
            return rest % radix
        }
    }

    func index(of levels: [Int]) -> Int {
        var index = 0, scale = 1
        for (level, radix) in zip(levels, radices) {
            index += level * scale
            scale *= radix
        }
        return index
    }

    /// Non-uniform entropy of a transformation (suppression does not change it).
    func entropy(_ node: [Int]) -> Double {
        zip(levels, node).reduce(0) { $0 + $1.0.entropy[$1.1] }
    }

    // MARK: Roll-up

    /// The classes at `node`, rolled up from the smallest cached table below it.
    func table(for node: [Int]) -> ClassTable {
        var source = finest
        for table in cache where table.count < source.count && zip(table.node, node).allSatisfy({ $0 <= $1 }) {
            source = table
        }
        let result = rollUp(source, to: node)
        // Keep recent tables to roll up from, within a budget of classes held.
        cache.append(result)
        cachedClasses += result.count
        while cache.count > 64 || (cachedClasses > 4_000_000 && cache.count > 1) {
            cachedClasses -= cache.removeFirst().count
        }
        return result
    }

    /// Column `column`'s codes at level `from` mapped to their codes at level `to` (levels nest).
    private func levelMap(column: Int, from: Int, to: Int) -> [UInt64] {
        let key = LevelStep(column: column, from: from, to: to)
        if let known = levelMaps[key] { return known }
        let codes = levels[column].codes
        var map = [UInt64](repeating: 0, count: levels[column].domainSizes[from])
        for code in 0..<codes[0].count { map[Int(codes[from][code])] = UInt64(codes[to][code]) }
        levelMaps[key] = map
        return map
    }

    /// Rolls `source` up to `node`.
    func rollUp(_ source: ClassTable, to node: [Int]) -> ClassTable {
        if let layout, !source.keys.isEmpty { return rollUpKeys(source, to: node, layout: layout) }
        return rollUpTuples(source, to: node)
    }

    /// The roll-up on packed keys: each source class's key has the fields of the columns whose
    /// level changes rewritten, then is counted in the reused open-addressing index.
    private func rollUpKeys(_ source: ClassTable, to node: [Int], layout: KeyLayout) -> ClassTable {
        // The changed columns: the shift and mask of each field, and its codes at the source's
        // level mapped to the target level's codes.
        var fields = ChangedFields()
        for column in 0..<width where node[column] != source.node[column] {
            fields.change(shift: layout.shifts[column], mask: layout.masks[column],
                          map: levelMap(column: column, from: source.node[column], to: node[column]))
        }
        let needsMap = statistics.hasSensitive || source.multi.rowCount > 0
        let rolled = rollUps.rollUp(keys: source.keys, representatives: source.representative, records: source.records,
                                    individuals: source.individuals, fields: fields, needsMap: needsMap)
        let target = ClassTable(node: node)
        target.keys = rolled.keys
        target.representative = rolled.representative
        target.records = rolled.records
        target.individuals = rolled.individuals
        if needsMap { mergeDetails(of: source, into: target, map: rolled.map) }
        return target
    }

    /// The roll-up through each class's representative finest tuple (any domain sizes).
    private func rollUpTuples(_ source: ClassTable, to node: [Int]) -> ClassTable {
        let target = ClassTable(node: node)
        var map = [Int32](repeating: 0, count: source.count)
        var representative: [Int32] = [], records: [Int] = [], individuals: [Int] = []
        let sourceRepresentative = source.representative, sourceRecords = source.records, sourceIndividuals = source.individuals
        let width = self.width
        // Codes at the node's levels, one flat table: column c's level-0 code v is at offsets[c] + v.
        var offsets: [Int] = [], flat: [UInt32] = []
        for column in 0..<width {
            offsets.append(flat.count)
            flat.append(contentsOf: levels[column].codes[node[column]])
        }
        let domainSizes = (0..<width).map { levels[$0].domainSizes[node[$0]] }
        if let strides = ClassRollUp.strides(domainSizes) {
            // Per column, the level-0 code's part of the packed key: one load and one add per
            // column and class.
            var parts = [UInt64](repeating: 0, count: flat.count)
            for column in 0..<width {
                for code in 0..<(column + 1 < width ? offsets[column + 1] : flat.count) - offsets[column] {
                    parts[offsets[column] + code] = UInt64(flat[offsets[column] + code]) &* strides[column]
                }
            }
            let rolled = rollUps.rollUp(tuples: statistics.tuples, width: width, parts: parts, offsets: offsets, identity: source === finest,
                                        representatives: sourceRepresentative, records: sourceRecords, individuals: sourceIndividuals)
            representative = rolled.representative
            records = rolled.records
            individuals = rolled.individuals
            map = rolled.map
        } else {
            var arrays: [[UInt32]: Int32] = [:]
            var key = [UInt32](repeating: 0, count: width)
            for sourceClass in 0..<sourceRepresentative.count {
                let base = Int(sourceRepresentative[sourceClass]) * width
                for column in 0..<width { key[column] = flat[offsets[column] + Int(statistics.tuples[base + column])] }
                let found: Int32
                if let existing = arrays[key] { found = existing } else {
                    found = Int32(records.count)
                    arrays[key] = found
                    representative.append(sourceRepresentative[sourceClass])
                    records.append(0)
                    individuals.append(0)
                }
                map[sourceClass] = found
                records[Int(found)] += sourceRecords[sourceClass]
                individuals[Int(found)] += sourceIndividuals[sourceClass]
            }
        }
        target.representative = representative
        target.records = records
        target.individuals = individuals
        mergeDetails(of: source, into: target, map: map)
        return target
    }

    /// The sensitive histograms and the entities spanning several classes, carried from
    /// `source`'s classes to `target`'s through `map`.
    private func mergeDetails(of source: ClassTable, into target: ClassTable, map: [Int32]) {
        if statistics.hasSensitive {
            // Group source classes by target class, then merge their histograms.
            var starts = [Int](repeating: 0, count: target.count + 1)
            for found in map { starts[Int(found) + 1] += 1 }
            for position in 0..<target.count { starts[position + 1] += starts[position] }
            var fill = starts
            var grouped = [Int](repeating: 0, count: source.count)
            for (sourceClass, found) in map.enumerated() {
                grouped[fill[Int(found)]] = sourceClass
                fill[Int(found)] += 1
            }
            var merged = [Int](repeating: 0, count: sensitiveCount)
            var seen: [Int] = []
            for found in 0..<target.count {
                for sourceClass in grouped[starts[found]..<starts[found + 1]] {
                    for entry in source.histogram.offsets[sourceClass]..<source.histogram.offsets[sourceClass + 1] {
                        let code = Int(source.histogram.keys[entry])
                        if merged[code] == 0 { seen.append(code) }
                        merged[code] += source.histogram.counts[entry]
                    }
                }
                for code in seen {
                    target.histogram.keys.append(UInt32(code))
                    target.histogram.counts.append(merged[code])
                    merged[code] = 0
                }
                target.histogram.offsets.append(target.histogram.keys.count)
                seen.removeAll(keepingCapacity: true)
            }
        }
        if source.multi.rowCount > 0 {
            var pairs: [(UInt64, Int)] = []
            for entity in 0..<source.multi.rowCount {
                pairs.removeAll(keepingCapacity: true)
                for entry in source.multi.offsets[entity]..<source.multi.offsets[entity + 1] {
                    let found = UInt64(map[Int(source.multi.keys[entry])])
                    pairs.append((found << 32 | UInt64(source.multiSensitive[entry]), source.multi.counts[entry]))
                }
                pairs.sort { $0.0 < $1.0 }
                var last = UInt64.max
                for (key, records) in pairs {
                    if key == last { target.multi.counts[target.multi.counts.count - 1] += records; continue }
                    last = key
                    target.multi.keys.append(UInt32(key >> 32))
                    target.multi.counts.append(records)
                    target.multiSensitive.append(UInt32(truncatingIfNeeded: key))
                }
                target.multi.offsets.append(target.multi.keys.count)
            }
        }
    }

    // MARK: Models

    /// Checks the models on every class; suppresses failing classes and the entities in them.
    func evaluate(_ table: ClassTable) -> Evaluation {
        let classes = table.count
        var sizes = table.individualSizes()
        let multiCount = table.multi.rowCount
        // Per class: the multi entities in it, as (entity, entry) pairs.
        var memberStarts: [Int] = []
        var members: [(entity: Int, entry: Int)] = []
        if multiCount > 0 {
            var perClass = [[(Int, Int)]](repeating: [], count: classes)
            for entity in 0..<multiCount {
                for entry in table.multi.offsets[entity]..<table.multi.offsets[entity + 1] {
                    perClass[Int(table.multi.keys[entry])].append((entity, entry))
                }
            }
            memberStarts = [0]
            for list in perClass {
                members.append(contentsOf: list.map { (entity: $0.0, entry: $0.1) })
                memberStarts.append(members.count)
            }
        }
        var suppressedMulti = [Bool](repeating: false, count: multiCount)
        var failing = [Bool](repeating: false, count: classes)
        let needsHistogram = spec.lDiversity != nil || spec.tCloseness != nil
        var entries: [(Int, Int)] = []
        func fails(_ found: Int) -> Bool {
            if sizes[found] < spec.k { return true }
            guard needsHistogram else { return false }
            entries.removeAll(keepingCapacity: true)
            frequencies(of: found, in: table, memberStarts: memberStarts, members: members, suppressedMulti: suppressedMulti, into: &entries)
            return !satisfiesSensitiveModels(entries)
        }
        for found in 0..<classes { failing[found] = fails(found) }
        if multiCount > 0 {
            // An entity in a failing class is suppressed with all its rows, which may make the
            // other classes it is in fail in turn: repeat until nothing changes.
            var changed = true
            while changed {
                changed = false
                var affected = Set<Int>()
                for entity in 0..<multiCount where !suppressedMulti[entity] {
                    let range = table.multi.offsets[entity]..<table.multi.offsets[entity + 1]
                    guard range.contains(where: { failing[Int(table.multi.keys[$0])] }) else { continue }
                    suppressedMulti[entity] = true
                    changed = true
                    var lastClass = -1
                    for entry in range {
                        let found = Int(table.multi.keys[entry])
                        if found != lastClass, !failing[found] { sizes[found] -= 1; affected.insert(found) }
                        lastClass = found
                    }
                }
                for found in affected where !failing[found] { failing[found] = fails(found) }
            }
        }
        var suppressedIndividuals = 0, suppressedRecords = 0
        for found in 0..<classes where failing[found] {
            suppressedIndividuals += table.individuals[found]
            suppressedRecords += table.records[found]
        }
        for entity in 0..<multiCount where suppressedMulti[entity] {
            suppressedIndividuals += 1
            for entry in table.multi.offsets[entity]..<table.multi.offsets[entity + 1] where !failing[Int(table.multi.keys[entry])] {
                suppressedRecords += table.multi.counts[entry]
            }
        }
        let allowed = spec.suppressionLimit * Double(statistics.individuals) + 1e-9
        return Evaluation(satisfied: Double(suppressedIndividuals) <= allowed, suppressedIndividuals: suppressedIndividuals,
                          suppressedRecords: suppressedRecords, failing: failing, sizes: sizes, suppressedMulti: suppressedMulti)
    }

    /// The sensitive values of a class with the individuals holding each.
    private func frequencies(of found: Int, in table: ClassTable, memberStarts: [Int], members: [(entity: Int, entry: Int)],
                             suppressedMulti: [Bool], into entries: inout [(Int, Int)]) {
        for entry in table.histogram.offsets[found]..<table.histogram.offsets[found + 1] {
            entries.append((Int(table.histogram.keys[entry]), table.histogram.counts[entry]))
        }
        guard !memberStarts.isEmpty else { return }
        for member in members[memberStarts[found]..<memberStarts[found + 1]] where !suppressedMulti[member.entity] {
            entries.append((Int(table.multiSensitive[member.entry]), 1))
        }
    }

    /// l-diversity and t-closeness of one class's sensitive values (value code, individuals).
    func satisfiesSensitiveModels(_ entries: [(Int, Int)]) -> Bool {
        if let model = spec.lDiversity, !Self.isDiverse(sensitive.counts(entries), model) { return false }
        if let model = spec.tCloseness, let distance = sensitive.closeness(entries), distance > model.t + 1e-12 { return false }
        return true
    }

    static func isDiverse(_ counts: [Double], _ model: LDiversitySpec) -> Bool {
        switch model.variant {
        case .distinct:
            return Double(counts.count) >= model.l
        case .entropy:
            guard let l = SensitiveDistribution.entropyL(counts) else { return false }
            return log(l) >= log(model.l) - 1e-12
        case .recursive:
            let l = Int(model.l.rounded(.down))
            guard counts.count >= l, l >= 1 else { return false }
            let sorted = counts.sorted(by: >)
            let tail = sorted[(l - 1)...].reduce(0, +)
            return sorted[0] < (model.c ?? 1) * tail
        }
    }

    // MARK: Search

    private enum State: UInt8 { case unknown, satisfied, failed }

    private func check(_ node: Int) -> Evaluation {
        if let known = evaluations[node] { return known }
        checked += 1
        let evaluation = evaluate(table(for: levelsOf(node)))
        evaluations[node] = Evaluation(satisfied: evaluation.satisfied, suppressedIndividuals: evaluation.suppressedIndividuals,
                                       suppressedRecords: evaluation.suppressedRecords, failing: [], sizes: [], suppressedMulti: [])
        return evaluation
    }

    /// Finds the optimal transformation; throws `PrivacyRefusal` when none satisfies the models.
    public func run() throws -> PrivacyResult {
        let started = Date()
        var state = [State](repeating: .unknown, count: nodeCount)
        var strides = [Int]()
        var scale = 1
        for radix in radices { strides.append(scale); scale *= radix }

        func tag(_ node: Int, _ value: State) {
            var stack = [node]
            state[node] = value
            while let current = stack.popLast() {
                var rest = current
                for dimension in 0..<width {
                    let level = rest % radices[dimension]
                    rest /= radices[dimension]
                    let neighbour: Int
                    if value == .satisfied {
                        guard level + 1 < radices[dimension] else { continue }
                        neighbour = current + strides[dimension]
                    } else {
                        guard level > 0 else { continue }
                        neighbour = current - strides[dimension]
                    }
                    if state[neighbour] == .unknown {
                        state[neighbour] = value
                        stack.append(neighbour)
                    }
                }
            }
        }

        let heights = (0..<nodeCount).map { levelsOf($0).reduce(0, +) }
        let entropies = (0..<nodeCount).map { entropy(levelsOf($0)) }
        // Entropy needs no data and grows with generalization. Once a node is known to satisfy
        // the models, a start that cannot beat it (by `better`) is skipped: nor can anything
        // above it. The paths themselves still climb to the top, since a coarse node that fails
        // (cheap to check) classifies everything below it.
        let bounded = spec.metric == .entropy
        var incumbent: (Int, Double)?
        func mayWin(_ node: Int) -> Bool {
            guard bounded, let incumbent else { return true }
            return better((node, entropies[node]), than: incumbent, heights: heights)
        }
        let order = (0..<nodeCount).sorted { heights[$0] != heights[$1] ? heights[$0] < heights[$1] : entropies[$0] < entropies[$1] }
        for start in order where state[start] == .unknown && mayWin(start) {
            var path = [start]
            var current = start
            while true {
                var next = -1
                var rest = current
                for dimension in 0..<width {
                    let level = rest % radices[dimension]
                    rest /= radices[dimension]
                    guard level + 1 < radices[dimension] else { continue }
                    let candidate = current + strides[dimension]
                    if state[candidate] == .unknown && (next < 0 || entropies[candidate] < entropies[next]) { next = candidate }
                }
                if next < 0 { break }
                path.append(next)
                current = next
            }
            var low = 0, high = path.count - 1
            while low <= high {
                let middle = (low + high) / 2
                let node = path[middle]
                if state[node] == .unknown {
                    let satisfied = check(node).satisfied
                    tag(node, satisfied ? .satisfied : .failed)
                    if satisfied && mayWin(node) { incumbent = (node, entropies[node]) }
                }
                if state[node] == .satisfied { high = middle - 1 } else { low = middle + 1 }
            }
        }

        let satisfying = (0..<nodeCount).filter { state[$0] == .satisfied }
        guard !satisfying.isEmpty else { throw refusal() }
        let best = chooseOptimum(satisfying, heights: heights, entropies: entropies, state: state, strides: strides)
        return finalResult(node: best.node, loss: best.loss, seconds: Date().timeIntervalSince(started))
    }

    /// The order of transformations: lower loss first; within 1e-9 relative, the lower node,
    /// then the lower index.
    private func better(_ a: (Int, Double), than b: (Int, Double)?, heights: [Int]) -> Bool {
        guard let b else { return true }
        if abs(a.1 - b.1) > 1e-9 * max(1, abs(b.1)) { return a.1 < b.1 }
        return heights[a.0] != heights[b.0] ? heights[a.0] < heights[b.0] : a.0 < b.0
    }

    private func chooseOptimum(_ satisfying: [Int], heights: [Int], entropies: [Double], state: [State], strides: [Int]) -> (node: Int, loss: Double) {
        func better(_ a: (Int, Double), than b: (Int, Double)?) -> Bool { self.better(a, than: b, heights: heights) }
        var best: (Int, Double)?
        if spec.metric == .entropy {
            for node in satisfying where better((node, entropies[node]), than: best) { best = (node, entropies[node]) }
            return best!
        }
        // Candidates: with no suppression the metrics grow with generalization, so only the
        // minimal satisfying nodes can win; with suppression every satisfying node can.
        var candidates = satisfying
        if spec.suppressionLimit == 0 {
            candidates = satisfying.filter { node in
                var rest = node
                for dimension in 0..<width {
                    let level = rest % radices[dimension]
                    rest /= radices[dimension]
                    if level > 0 && state[node - strides[dimension]] == .satisfied { return false }
                }
                return true
            }
        }
        let bounds = candidates.map { lowerBound(levelsOf($0)) }
        for position in candidates.indices.sorted(by: { bounds[$0] < bounds[$1] }) {
            if let best, bounds[position] > best.1 + 1e-12 { break }
            let node = candidates[position]
            let table = self.table(for: levelsOf(node))
            let evaluation = evaluate(table)
            checked += 1
            guard evaluation.satisfied else { continue }
            let loss = informationLoss(table, evaluation)
            if better((node, loss), than: best) { best = (node, loss) }
        }
        return best!
    }

    /// A bound no transformation at `node` can beat, for pruning candidates.
    private func lowerBound(_ node: [Int]) -> Double {
        switch spec.metric {
        case .loss:
            var sum = 0.0
            for (column, level) in node.enumerated() {
                for code in 0..<levels[column].domainSizes[0] {
                    sum += Double(statistics.valueRecords[column][code]) * levels[column].loss(level: level, code: Int(levels[column].codes[level][code]))
                }
            }
            return sum / Double(max(1, statistics.records * width))
        default: return 0
        }
    }

    /// The metric's information loss of a checked transformation.
    func informationLoss(_ table: ClassTable, _ evaluation: Evaluation) -> Double {
        switch spec.metric {
        case .entropy:
            return entropy(table.node)
        case .loss:
            var sum = 0.0
            var published = 0
            for found in 0..<table.count where !evaluation.failing[found] {
                let base = Int(table.representative[found]) * width
                var cell = 0.0
                for column in 0..<width {
                    let level = table.node[column]
                    cell += levels[column].loss(level: level, code: Int(levels[column].codes[level][Int(statistics.tuples[base + column])]))
                }
                sum += Double(table.records[found]) * cell
                published += table.records[found]
            }
            let suppressed = statistics.records - published
            return (sum + Double(suppressed * width)) / Double(max(1, statistics.records * width))
        case .discernibility:
            var sum = 0.0
            for found in 0..<table.count where !evaluation.failing[found] { sum += Double(evaluation.sizes[found]) * Double(evaluation.sizes[found]) }
            return sum + Double(evaluation.suppressedIndividuals) * Double(statistics.individuals)
        case .averageClassSize:
            let classes = (0..<table.count).filter { !evaluation.failing[$0] }.count
            guard classes > 0 else { return Double(statistics.individuals) }
            return Double(statistics.individuals - evaluation.suppressedIndividuals) / Double(classes) / Double(spec.k)
        }
    }

    private func finalResult(node index: Int, loss: Double, seconds: Double) -> PrivacyResult {
        let node = levelsOf(index)
        let table = rollUp(cache.first { $0.node == node } ?? finest, to: node)
        let evaluation = evaluate(table)
        var sizes: [Int: Int] = [:]
        var minimum = Int.max
        var lowestL: Int?
        var highest: Double?
        var entries: [(Int, Int)] = []
        for found in 0..<table.count where !evaluation.failing[found] {
            sizes[evaluation.sizes[found], default: 0] += 1
            minimum = min(minimum, evaluation.sizes[found])
            if statistics.hasSensitive {
                entries.removeAll(keepingCapacity: true)
                for entry in table.histogram.offsets[found]..<table.histogram.offsets[found + 1] {
                    entries.append((Int(table.histogram.keys[entry]), table.histogram.counts[entry]))
                }
                for entity in 0..<table.multi.rowCount where !evaluation.suppressedMulti[entity] {
                    for entry in table.multi.offsets[entity]..<table.multi.offsets[entity + 1] where Int(table.multi.keys[entry]) == found {
                        entries.append((Int(table.multiSensitive[entry]), 1))
                    }
                }
                let distinct = Set(entries.map(\.0)).count
                lowestL = min(lowestL ?? Int.max, distinct)
                if spec.tCloseness != nil, let distance = sensitive.closeness(entries) { highest = max(highest ?? 0, distance) }
            }
        }
        var suppressedClasses: [[[UInt8]]] = []
        for found in 0..<table.count where evaluation.failing[found] {
            let representative = Int(table.representative[found])
            suppressedClasses.append((0..<width).map { column in
                levels[column].label(of: statistics.code(tuple: representative, column: column), level: node[column])
            })
        }
        let suppressedEntityValues = evaluation.suppressedMulti.indices.filter { evaluation.suppressedMulti[$0] }
            .map { statistics.multiEntityValues[$0] }
        return PrivacyResult(levels: node, metric: spec.metric, informationLoss: loss,
                             suppressedIndividuals: evaluation.suppressedIndividuals, suppressedRecords: evaluation.suppressedRecords,
                             classes: sizes.values.reduce(0, +), minClassSize: minimum == Int.max ? 0 : minimum, classSizes: sizes,
                             entitiesInSeveralClasses: statistics.multiEntities.rowCount,
                             lowestDistinctL: spec.lDiversity != nil || spec.tCloseness != nil ? lowestL : nil,
                             highestDistance: spec.tCloseness != nil ? (highest ?? 0) : nil,
                             nodes: nodeCount, nodesChecked: checked, seconds: seconds,
                             suppressedClasses: suppressedClasses, suppressedEntityValues: suppressedEntityValues)
    }

    /// Why even the most general transformation fails.
    private func refusal() -> PrivacyRefusal {
        let top = radices.map { $0 - 1 }
        let evaluation = evaluate(table(for: top))
        let share = Double(evaluation.suppressedIndividuals) / Double(max(1, statistics.individuals))
        var models = ["k=\(spec.k)"]
        if let l = spec.lDiversity { models.append("\(l.variant.rawValue) l-diversity l=\(DecimalText.label(l.l)) on '\(l.column)'") }
        if let t = spec.tCloseness { models.append("t-closeness t=\(DecimalText.label(t.t)) on '\(t.column)'") }
        let levelsText = zip(levels, top).map { "\($0.column)=\($1)" }.joined(separator: ", ")
        return PrivacyRefusal(reasons: [
            "no transformation satisfies \(models.joined(separator: ", ")) within the suppression limit of \(Self.percent(spec.suppressionLimit)) of individuals",
            "the most general one (\(levelsText)) would suppress \(evaluation.suppressedIndividuals) of \(statistics.individuals) individuals (\(Self.percent(share)))",
            "raise privacy.suppression_limit, add coarser levels to the quasi-identifiers, or lower the models' parameters",
        ])
    }

    static func percent(_ share: Double) -> String {
        let value = share * 100
        return value == value.rounded() ? "\(Int(value))%" : String(format: "%.2f%%", value)
    }
}
