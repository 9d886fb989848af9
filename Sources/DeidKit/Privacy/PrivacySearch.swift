import DeidEngine
import Foundation

/// The outcome of the search: the transformation chosen, its information loss, what it
/// suppresses, and how the search went. Also what the second pass needs to apply it.
package struct PrivacyResult: Sendable {
    /// The level of each quasi-identifier, in `PrivacyStatistics.columns` order.
    package var levels: [Int]
    package var metric: InformationLossMetric
    package var informationLoss: Double
    package var suppressedIndividuals: Int
    /// Records of the suppressed classes and entities (the second pass counts them again).
    package var suppressedRecords: Int
    /// Classes published (not suppressed), and the smallest of them in individuals.
    package var classes: Int
    package var minClassSize: Int
    /// Number of published classes of each size in individuals.
    package var classSizes: [Int: Int]
    /// Entities whose rows fall in more than one class at the finest level.
    package var entitiesInSeveralClasses: Int
    /// The lowest distinct l and the highest t-closeness distance among published classes
    /// (when the models are set).
    package var lowestDistinctL: Int?
    package var highestDistance: Double?
    package var nodes: Int
    package var nodesChecked: Int
    package var seconds: Double
    /// The published values of the suppressed classes, one per quasi-identifier.
    package var suppressedClasses: [[[UInt8]]]
    /// The values of suppressed entities that span several classes (the others go with their class).
    package var suppressedEntityValues: [[UInt8]]
}

/// Why no transformation satisfies the models.
public struct PrivacyRefusal: Error, Sendable, CustomStringConvertible {
    public var reasons: [String]
    public var description: String { reasons.joined(separator: "\n") }
}

/// Full-domain generalization search over the lattice of the quasi-identifiers' levels, on the
/// class table alone (see Docs/PRIVACY.md), split the way ARX splits it: transformations and
/// their `Lattice`, the `FlashWalk`, `ClassTables` rolled up from one another, the models as
/// `PrivacyCriteria`, and the metrics as `LossMeasure`.
///
/// Every privacy model here is monotone when levels nest (a coarser transformation merges
/// classes, and a merged class is at least as large, as diverse and as close as its parts), and
/// so is the share of individuals suppressed, so the Flash walk finds every satisfying node
/// with few checks. For non-uniform entropy (monotone, and known without data) no path starts
/// at a node that cannot beat the best satisfying node found so far; the optimum is the best
/// satisfying node. Other metrics are evaluated on the satisfying nodes that can win.
package final class PrivacySearch {
    let statistics: PrivacyStatistics
    let levels: [QuasiIdentifierLevels]
    let spec: PrivacySpec
    let lattice: Lattice
    let tables: ClassTables
    let criteria: PrivacyCriteria
    let measure: LossMeasure
    private var evaluations: [Int: PrivacyCriteria.Evaluation] = [:]
    private(set) var checked = 0
    private var sensitive: SensitiveDistribution

    /// - Parameter packKeys: roll classes up on bit-packed keys when the domains fit in 64 bits
    ///   (tests turn it off to compare with the roll-up through representative tuples).
    package init(
        statistics: PrivacyStatistics, levels: [QuasiIdentifierLevels], spec: PrivacySpec, packKeys: Bool = true
    ) {
        self.statistics = statistics
        self.levels = levels
        self.spec = spec
        lattice = Lattice(maxLevels: levels.map(\.maxLevel))
        tables = ClassTables(statistics: statistics, levels: levels, packKeys: packKeys)
        criteria = PrivacyCriteria(spec: spec)
        measure = LossMeasure(metric: spec.metric, statistics: statistics, levels: levels, k: spec.k)
        sensitive = SensitiveDistribution(statistics: statistics, distance: spec.tCloseness?.distance)
    }

    /// The distance used for t-closeness (resolved when the policy leaves it open).
    package var tClosenessDistance: TClosenessSpec.Distance { sensitive.distance }

    var width: Int { levels.count }

    /// The classes of `transformation`.
    func table(for transformation: Transformation) -> ClassTable { tables.table(for: transformation) }

    /// Checks the models on every class of `table`.
    func evaluate(_ table: ClassTable) -> PrivacyCriteria.Evaluation {
        criteria.evaluate(table, individuals: statistics.individuals, distribution: &sensitive)
    }

    /// The metric's information loss of a checked transformation.
    func informationLoss(_ table: ClassTable, _ evaluation: PrivacyCriteria.Evaluation) -> Double {
        measure.loss(table, evaluation)
    }

    /// Checks node `node` once; later calls return the verdict and the counts.
    private func check(_ node: Int) -> PrivacyCriteria.Evaluation {
        if let known = evaluations[node] { return known }
        checked += 1
        let evaluation = evaluate(table(for: lattice.transformation(node)))
        evaluations[node] = PrivacyCriteria.Evaluation(
            satisfied: evaluation.satisfied, suppressedIndividuals: evaluation.suppressedIndividuals,
            suppressedRecords: evaluation.suppressedRecords, failing: [], sizes: [],
            suppressedMulti: [])
        return evaluation
    }

    /// Finds the optimal transformation; throws `PrivacyRefusal` when none satisfies the models.
    package func run() throws -> PrivacyResult {
        let started = Date()
        let heights = (0..<lattice.count).map { lattice.transformation($0).height }
        let entropies = (0..<lattice.count).map { measure.entropy(lattice.transformation($0)) }
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
        let order = (0..<lattice.count).sorted {
            heights[$0] != heights[$1] ? heights[$0] < heights[$1] : entropies[$0] < entropies[$1]
        }
        var walk = FlashWalk(lattice: lattice)
        walk.run(order: order, priority: entropies, mayStart: mayWin) { node in
            let satisfied = check(node).satisfied
            if satisfied && mayWin(node) { incumbent = (node, entropies[node]) }
            return satisfied
        }
        let satisfying = (0..<lattice.count).filter { walk.state[$0] == .satisfied }
        guard !satisfying.isEmpty else { throw refusal() }
        let best = chooseOptimum(satisfying, heights: heights, entropies: entropies, state: walk.state)
        return finalResult(node: best.node, loss: best.loss, seconds: Date().timeIntervalSince(started))
    }

    /// The order of transformations: lower loss first; within 1e-9 relative, the lower node,
    /// then the lower index.
    private func better(_ a: (Int, Double), than b: (Int, Double)?, heights: [Int]) -> Bool {
        guard let b else { return true }
        if abs(a.1 - b.1) > 1e-9 * max(1, abs(b.1)) { return a.1 < b.1 }
        return heights[a.0] != heights[b.0] ? heights[a.0] < heights[b.0] : a.0 < b.0
    }

    private func chooseOptimum(_ satisfying: [Int], heights: [Int], entropies: [Double], state: [FlashWalk.State]) -> (
        node: Int, loss: Double
    ) {
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
                var minimal = true
                lattice.forEachPredecessor(of: node) { below in if state[below] == .satisfied { minimal = false } }
                return minimal
            }
        }
        let bounds = candidates.map { measure.lowerBound(lattice.transformation($0)) }
        for position in candidates.indices.sorted(by: { bounds[$0] < bounds[$1] }) {
            if let best, bounds[position] > best.1 + 1e-12 { break }
            let node = candidates[position]
            let table = self.table(for: lattice.transformation(node))
            let evaluation = evaluate(table)
            checked += 1
            guard evaluation.satisfied else { continue }
            let loss = informationLoss(table, evaluation)
            if better((node, loss), than: best) { best = (node, loss) }
        }
        return best!
    }

    private func finalResult(node index: Int, loss: Double, seconds: Double) -> PrivacyResult {
        let node = lattice.transformation(index)
        let table = tables.rollUp(tables.cached(node) ?? tables.finest, to: node)
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
                    for entry in table.multi.offsets[entity]..<table.multi.offsets[entity + 1]
                    where Int(table.multi.keys[entry]) == found {
                        entries.append((Int(table.multiSensitive[entry]), 1))
                    }
                }
                let distinct = Set(entries.map(\.0)).count
                lowestL = min(lowestL ?? Int.max, distinct)
                if spec.tCloseness != nil, let distance = sensitive.closeness(entries) {
                    highest = max(highest ?? 0, distance)
                }
            }
        }
        var suppressedClasses: [[[UInt8]]] = []
        for found in 0..<table.count where evaluation.failing[found] {
            let representative = Int(table.representative[found])
            suppressedClasses.append(
                (0..<width).map { column in
                    levels[column].label(
                        of: statistics.code(tuple: representative, column: column), level: node[column])
                })
        }
        let suppressedEntityValues = evaluation.suppressedMulti.indices.filter { evaluation.suppressedMulti[$0] }
            .map { statistics.multiEntityValues[$0] }
        return PrivacyResult(
            levels: node.levels, metric: spec.metric, informationLoss: loss,
            suppressedIndividuals: evaluation.suppressedIndividuals, suppressedRecords: evaluation.suppressedRecords,
            classes: sizes.values.reduce(0, +), minClassSize: minimum == Int.max ? 0 : minimum, classSizes: sizes,
            entitiesInSeveralClasses: statistics.multiEntities.rowCount,
            lowestDistinctL: spec.lDiversity != nil || spec.tCloseness != nil ? lowestL : nil,
            highestDistance: spec.tCloseness != nil ? (highest ?? 0) : nil,
            nodes: lattice.count, nodesChecked: checked, seconds: seconds,
            suppressedClasses: suppressedClasses, suppressedEntityValues: suppressedEntityValues)
    }

    /// Why even the most general transformation fails.
    private func refusal() -> PrivacyRefusal {
        let top = lattice.top
        let evaluation = evaluate(table(for: top))
        let share = Double(evaluation.suppressedIndividuals) / Double(max(1, statistics.individuals))
        var models = ["k=\(spec.k)"]
        if let l = spec.lDiversity {
            models.append("\(l.variant.rawValue) l-diversity l=\(DecimalText.label(l.l)) on '\(l.column)'")
        }
        if let t = spec.tCloseness { models.append("t-closeness t=\(DecimalText.label(t.t)) on '\(t.column)'") }
        let levelsText = zip(levels, top.levels).map { "\($0.column)=\($1)" }.joined(separator: ", ")
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
