import Foundation

/// An in-memory reference for the privacy search, written the plain way and sharing no code
/// with DeidKit: every node of the lattice is generalized from the rows, classes are sets of
/// entities, suppression repeats until stable, and the best node by non-uniform entropy wins
/// (ties: the lower node, then the one whose first column varies fastest — deid's order).
public struct PrivacyReference {
    public struct Model: Sendable {
        public var k: Int
        public var limit: Double
        /// Distinct l-diversity.
        public var l: Int?
        /// Entropy l-diversity.
        public var entropyL: Double?
        /// t-closeness with the equal distance, or the ordered one over numeric values.
        public var t: Double?
        public var orderedT = false

        public init(
            k: Int, limit: Double, l: Int? = nil, entropyL: Double? = nil, t: Double? = nil, orderedT: Bool = false
        ) {
            self.k = k
            self.limit = limit
            self.l = l
            self.entropyL = entropyL
            self.t = t
            self.orderedT = orderedT
        }
    }

    public struct Answer: Equatable {
        public var levels: [Int]
        public var loss: Double
        public var suppressedEntities: Set<String>
        /// The published rows: indexes of kept input rows, with their generalized values.
        public var rows: [(index: Int, values: [String])]

        public static func == (a: Answer, b: Answer) -> Bool {
            a.levels == b.levels && abs(a.loss - b.loss) < 1e-6 && a.suppressedEntities == b.suppressedEntities
                && a.rows.map(\.index) == b.rows.map(\.index) && a.rows.map(\.values) == b.rows.map(\.values)
        }
    }

    /// One row: its entity, its quasi-identifiers at level 0, its sensitive value.
    public struct Row {
        public var entity: String
        public var quasiIdentifiers: [String]
        public var sensitive: String
        public init(entity: String, quasiIdentifiers: [String], sensitive: String) {
            self.entity = entity
            self.quasiIdentifiers = quasiIdentifiers
            self.sensitive = sensitive
        }
    }

    public var rows: [Row]
    /// Per quasi-identifier: its levels, each a function from the value to its generalization
    /// (level 0 is the identity and is not listed).
    public var generalizations: [[(String) -> String]]

    public init(rows: [Row], generalizations: [[(String) -> String]]) {
        self.rows = rows
        self.generalizations = generalizations
    }

    func value(_ row: Row, _ column: Int, _ level: Int) -> String {
        level == 0 ? row.quasiIdentifiers[column] : generalizations[column][level - 1](row.quasiIdentifiers[column])
    }

    public func entropy(_ node: [Int]) -> Double {
        var total = 0.0
        for column in node.indices {
            var counts: [String: Int] = [:]
            var generalized: [String: String] = [:]
            var groups: [String: Int] = [:]
            for row in rows {
                let original = row.quasiIdentifiers[column]
                let group = value(row, column, node[column])
                counts[original, default: 0] += 1
                generalized[original] = group
                groups[group, default: 0] += 1
            }
            for (original, count) in counts {
                total += Double(count) * log2(Double(groups[generalized[original]!]!) / Double(count))
            }
        }
        return total
    }

    /// The suppressed entities at `node`, or nil when more than the limit.
    public func suppressed(at node: [Int], model: Model) -> Set<String> {
        var removed = Set<String>()
        var globalCounts: [String: Int] = [:]
        var seen = Set<String>()
        for row in rows where seen.insert(row.entity + "\u{0}" + row.sensitive).inserted {
            globalCounts[row.sensitive, default: 0] += 1
        }
        let globalTotal = Double(globalCounts.values.reduce(0, +))
        let orderedValues = globalCounts.keys.sorted { (Double($0) ?? 0) < (Double($1) ?? 0) }
        while true {
            var classes: [[String]: [String: Set<String>]] = [:]  // tuple -> sensitive -> entities
            var members: [[String]: Set<String>] = [:]
            for row in rows where !removed.contains(row.entity) {
                let tuple = node.indices.map { value(row, $0, node[$0]) }
                members[tuple, default: []].insert(row.entity)
                classes[tuple, default: [:]][row.sensitive, default: []].insert(row.entity)
            }
            var failing = Set<String>()
            for (tuple, entities) in members {
                var fails = entities.count < model.k
                let histogram = classes[tuple]!.mapValues { Double($0.count) }
                let total = histogram.values.reduce(0, +)
                if let l = model.l, histogram.count < l { fails = true }
                if let l = model.entropyL {
                    let entropy = -histogram.values.reduce(0) { $0 + ($1 / total) * log($1 / total) }
                    if entropy < log(l) - 1e-12 { fails = true }
                }
                if let t = model.t {
                    var distance = 0.0
                    if model.orderedT {
                        var running = 0.0
                        for value in orderedValues.dropLast() {
                            running += (histogram[value] ?? 0) / total - Double(globalCounts[value]!) / globalTotal
                            distance += abs(running)
                        }
                        distance /= Double(max(1, orderedValues.count - 1))
                    } else {
                        for value in globalCounts.keys {
                            distance += abs(
                                (histogram[value] ?? 0) / total - Double(globalCounts[value]!) / globalTotal)
                        }
                        distance /= 2
                    }
                    if distance > t + 1e-12 { fails = true }
                }
                if fails { failing.formUnion(entities) }
            }
            if failing.isEmpty { break }
            removed.formUnion(failing)
        }
        return removed
    }

    /// The optimum, or nil when no node satisfies the model.
    public func solve(_ model: Model) -> Answer? {
        let radices = generalizations.map { $0.count + 1 }
        let count = radices.reduce(1, *)
        let entities = Set(rows.map(\.entity)).count
        var best: (levels: [Int], loss: Double, height: Int, index: Int, removed: Set<String>)?
        for index in 0..<count {
            var rest = index
            let node = radices.map { radix in
                defer { rest /= radix }
                return rest % radix
            }
            let removed = suppressed(at: node, model: model)
            guard Double(removed.count) <= model.limit * Double(entities) + 1e-9 else { continue }
            let loss = entropy(node)
            let height = node.reduce(0, +)
            if let current = best {
                if abs(loss - current.loss) > 1e-9 * max(1, abs(current.loss)) {
                    if loss > current.loss { continue }
                } else if (height, index) > (current.height, current.index) {
                    continue
                }
            }
            best = (node, loss, height, index, removed)
        }
        guard let best else { return nil }
        let kept = rows.indices.filter { !best.removed.contains(rows[$0].entity) }
        return Answer(
            levels: best.levels, loss: best.loss, suppressedEntities: best.removed,
            rows: kept.map { index in (index, best.levels.indices.map { value(rows[index], $0, best.levels[$0]) }) })
    }
}
