import Foundation

/// k-anonymity: every published class holds at least k individuals.
struct KAnonymity {
    let k: Int

    @inline(__always) func holds(size: Int) -> Bool { size >= k }
}

/// A privacy criterion on one class's sensitive values: (value code, individuals holding it).
protocol SensitiveCriterion {
    func holds(_ entries: [(Int, Int)], distribution: inout SensitiveDistribution) -> Bool
}

/// l-diversity in one of its variants (Machanavajjhala et al. 2007): distinct, entropy or
/// recursive (c, l).
struct LDiversity: SensitiveCriterion {
    let model: LDiversitySpec

    func holds(_ entries: [(Int, Int)], distribution: inout SensitiveDistribution) -> Bool {
        Self.isDiverse(distribution.counts(entries), model)
    }

    /// Whether a class whose sensitive values are held by `counts` individuals each is diverse.
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
}

/// t-closeness (Li et al. 2007): a class's sensitive distribution within t of the reference,
/// by the distance `SensitiveDistribution` resolved.
struct TCloseness: SensitiveCriterion {
    let t: Double

    func holds(_ entries: [(Int, Int)], distribution: inout SensitiveDistribution) -> Bool {
        guard let distance = distribution.closeness(entries) else { return true }
        return !(distance > t + 1e-12)
    }
}

/// The models of a policy's privacy section as criteria, and how a class table is checked
/// against them: failing classes are suppressed, with every entity in them, until nothing
/// changes; the transformation satisfies the models when the individuals suppressed stay
/// within the suppression limit.
struct PrivacyCriteria {
    let k: KAnonymity
    /// l-diversity, then t-closeness, when the policy sets them.
    let sensitive: [any SensitiveCriterion]
    let suppressionLimit: Double

    init(spec: PrivacySpec) {
        k = KAnonymity(k: spec.k)
        var sensitive: [any SensitiveCriterion] = []
        if let model = spec.lDiversity { sensitive.append(LDiversity(model: model)) }
        if let model = spec.tCloseness { sensitive.append(TCloseness(t: model.t)) }
        self.sensitive = sensitive
        suppressionLimit = spec.suppressionLimit
    }

    /// Whether a class's sensitive values satisfy every criterion on them.
    func sensitiveHold(_ entries: [(Int, Int)], distribution: inout SensitiveDistribution) -> Bool {
        for criterion in sensitive where !criterion.holds(entries, distribution: &distribution) { return false }
        return true
    }

    /// What checking one transformation's classes found.
    struct Evaluation {
        var satisfied: Bool
        var suppressedIndividuals: Int
        var suppressedRecords: Int
        /// Per class: whether it is suppressed.
        var failing: [Bool]
        /// Per class: its individuals once suppressed entities are taken out.
        var sizes: [Int]
        /// Per entity spanning several classes: whether it is suppressed.
        var suppressedMulti: [Bool]
    }

    /// Checks every class of `table`; suppresses failing classes and the entities in them.
    /// `individuals`: the run's, which the suppression limit is a share of.
    func evaluate(_ table: ClassTable, individuals: Int, distribution: inout SensitiveDistribution) -> Evaluation {
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
        let needsHistogram = !sensitive.isEmpty
        var entries: [(Int, Int)] = []
        func fails(_ found: Int) -> Bool {
            if !k.holds(size: sizes[found]) { return true }
            guard needsHistogram else { return false }
            entries.removeAll(keepingCapacity: true)
            table.sensitiveValues(
                of: found, memberStarts: memberStarts, members: members, suppressedMulti: suppressedMulti,
                into: &entries)
            return !sensitiveHold(entries, distribution: &distribution)
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
                        if found != lastClass, !failing[found] {
                            sizes[found] -= 1
                            affected.insert(found)
                        }
                        lastClass = found
                    }
                }
                for found in affected where !failing[found] { failing[found] = fails(found) }
            }
        }
        var suppressedIndividuals = 0
        var suppressedRecords = 0
        for found in 0..<classes where failing[found] {
            suppressedIndividuals += table.individuals[found]
            suppressedRecords += table.records[found]
        }
        for entity in 0..<multiCount where suppressedMulti[entity] {
            suppressedIndividuals += 1
            for entry in table.multi.offsets[entity]..<table.multi.offsets[entity + 1]
            where !failing[Int(table.multi.keys[entry])] {
                suppressedRecords += table.multi.counts[entry]
            }
        }
        let allowed = suppressionLimit * Double(individuals) + 1e-9
        return Evaluation(
            satisfied: Double(suppressedIndividuals) <= allowed, suppressedIndividuals: suppressedIndividuals,
            suppressedRecords: suppressedRecords, failing: failing, sizes: sizes, suppressedMulti: suppressedMulti)
    }
}

extension ClassTable {
    /// The sensitive values of class `found` with the individuals holding each: its histogram,
    /// and one for each entity spanning several classes that is in it and not suppressed.
    func sensitiveValues(
        of found: Int, memberStarts: [Int], members: [(entity: Int, entry: Int)], suppressedMulti: [Bool],
        into entries: inout [(Int, Int)]
    ) {
        for entry in histogram.offsets[found]..<histogram.offsets[found + 1] {
            entries.append((Int(histogram.keys[entry]), histogram.counts[entry]))
        }
        guard !memberStarts.isEmpty else { return }
        for member in members[memberStarts[found]..<memberStarts[found + 1]] where !suppressedMulti[member.entity] {
            entries.append((Int(multiSensitive[member.entry]), 1))
        }
    }
}
