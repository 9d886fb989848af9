import DeidEngine

/// The class tables of the search's transformations, each rolled up from the smallest table
/// already made below it (levels nest, so a class's representative decides its class at every
/// higher node): on bit-packed keys when the quasi-identifiers' domains fit in 64 bits, else
/// through representative tuples. The counting is the engine's (`ClassRollUp`); this decides
/// what to roll up, keeps recent tables, and carries sensitive histograms and entities
/// spanning classes along.
final class ClassTables {
    let statistics: PrivacyStatistics
    let levels: [QuasiIdentifierLevels]
    let width: Int
    let finest: ClassTable
    private var cache: [ClassTable] = []
    private var cachedClasses = 0
    private let sensitiveCount: Int
    private let layout: KeyLayout?
    private let rollUps = ClassRollUp()
    /// Per column, code maps from one level to a higher one (`levelMap`).
    private var levelMaps: [LevelStep: [UInt64]] = [:]

    private struct LevelStep: Hashable {
        var column: Int
        var from: Int
        var to: Int
    }

    /// - Parameter packKeys: roll classes up on bit-packed keys when the domains fit in 64 bits
    ///   (tests turn it off to compare with the roll-up through representative tuples).
    init(statistics: PrivacyStatistics, levels: [QuasiIdentifierLevels], packKeys: Bool) {
        self.statistics = statistics
        self.levels = levels
        width = levels.count
        finest = ClassTable(finest: statistics, width: levels.count)
        layout = packKeys ? KeyLayout(domainSizes: levels.map { $0.domainSizes[0] }) : nil
        if let layout {
            let width = levels.count
            finest.keys = (0..<statistics.tupleCount).map { tuple in
                var key: UInt64 = 0
                for column in 0..<width {
                    key |= UInt64(statistics.tuples[tuple * width + column]) << layout.shifts[column]
                }
                return key
            }
        }
        sensitiveCount = statistics.sensitiveValues.count
    }

    /// The cached table of `node`, when there is one.
    func cached(_ node: Transformation) -> ClassTable? { cache.first { $0.node == node } }

    /// The classes at `node`, rolled up from the smallest cached table below it.
    func table(for node: Transformation) -> ClassTable {
        var source = finest
        for table in cache where table.count < source.count && table.node.isAtOrBelow(node) {
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
    func rollUp(_ source: ClassTable, to node: Transformation) -> ClassTable {
        if let layout, !source.keys.isEmpty { return rollUpKeys(source, to: node, layout: layout) }
        return rollUpTuples(source, to: node)
    }

    /// The roll-up on packed keys: each source class's key has the fields of the columns whose
    /// level changes rewritten, then is counted in the reused open-addressing index.
    private func rollUpKeys(_ source: ClassTable, to node: Transformation, layout: KeyLayout) -> ClassTable {
        // The changed columns: the shift and mask of each field, and its codes at the source's
        // level mapped to the target level's codes.
        var fields = ChangedFields()
        for column in 0..<width where node[column] != source.node[column] {
            fields.change(
                shift: layout.shifts[column], mask: layout.masks[column],
                map: levelMap(column: column, from: source.node[column], to: node[column]))
        }
        let needsMap = statistics.hasSensitive || source.multi.rowCount > 0
        let rolled = rollUps.rollUp(
            keys: source.keys, representatives: source.representative, records: source.records,
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
    private func rollUpTuples(_ source: ClassTable, to node: Transformation) -> ClassTable {
        let target = ClassTable(node: node)
        var map = [Int32](repeating: 0, count: source.count)
        var representative: [Int32] = []
        var records: [Int] = []
        var individuals: [Int] = []
        let sourceRepresentative = source.representative
        let sourceRecords = source.records
        let sourceIndividuals = source.individuals
        let width = self.width
        // Codes at the node's levels, one flat table: column c's level-0 code v is at offsets[c] + v.
        var offsets: [Int] = []
        var flat: [UInt32] = []
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
            let rolled = rollUps.rollUp(
                tuples: statistics.tuples, width: width, parts: parts, offsets: offsets, identity: source === finest,
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
                if let existing = arrays[key] {
                    found = existing
                } else {
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
                    if key == last {
                        target.multi.counts[target.multi.counts.count - 1] += records
                        continue
                    }
                    last = key
                    target.multi.keys.append(UInt32(key >> 32))
                    target.multi.counts.append(records)
                    target.multiSensitive.append(UInt32(truncatingIfNeeded: key))
                }
                target.multi.offsets.append(target.multi.keys.count)
            }
        }
    }
}
