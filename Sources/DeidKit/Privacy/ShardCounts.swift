import Foundation

/// One shard's privacy counts in a form that does not depend on how the data was cut or in
/// which order it was read (Docs/SCALE-OUT.md): every value, tuple, sensitive value and entity
/// sorted by its bytes, and every entity kept with its (tuple, sensitive value) pairs, so that
/// an entity whose records lie in several shards is still one individual once they are merged.
///
/// `canonical()` puts any collection of counts (duplicates allowed) in that form, and
/// `merged(_:)` is the canonical form of their union: associative and commutative, so that any
/// grouping of shards gives the same value, and the same bytes when encoded with sorted keys.
/// `statistics()` gives the `PrivacyStatistics` the search works on.
package struct ShardCounts: Codable, Sendable, Equatable {
    /// The quasi-identifier columns, in the input's order.
    package var columns: [String]
    package var hasEntity: Bool
    package var hasSensitive: Bool
    /// The inputs that `valuePositions` point into, by name.
    package var sources: [String]
    /// Per quasi-identifier: the distinct values at level 0, the records holding each and where
    /// each was first seen (the least position by source name, line and record).
    package var values: [[Data]]
    package var valueRecords: [[Int]]
    package var valuePositions: [[ValuePosition]]
    /// The tuples' value codes, `columns.count` per tuple, and their records.
    package var tuples: [UInt32]
    package var tupleRecords: [Int]
    package var sensitiveValues: [Data]
    /// The entities' values (empty without an entity column).
    package var entities: [Data]
    /// Per entity (without an entity: one row for every record, when there is a sensitive
    /// column): `pairKeys[pairOffsets[i]..<pairOffsets[i+1]]` are its pairs as tuple << 32 |
    /// sensitive code, with their records in `pairRecords`.
    package var pairOffsets: [Int]
    package var pairKeys: [UInt64]
    package var pairRecords: [Int]
    package var records: Int

    enum CodingKeys: String, CodingKey {
        case columns
        case hasEntity = "has_entity"
        case hasSensitive = "has_sensitive"
        case sources, values
        case valueRecords = "value_records"
        case valuePositions = "value_positions"
        case tuples
        case tupleRecords = "tuple_records"
        case sensitiveValues = "sensitive_values"
        case entities
        case pairOffsets = "pair_offsets"
        case pairKeys = "pair_keys"
        case pairRecords = "pair_records"
        case records
    }

    var width: Int { columns.count }
    var rowCount: Int { pairOffsets.count - 1 }

    /// Whether two counts were made for the same quasi-identifiers, entity and sensitive column.
    package func sameShape(as other: ShardCounts) -> Bool {
        columns == other.columns && hasEntity == other.hasEntity && hasSensitive == other.hasSensitive
    }

    /// The union of `parts` (all of one shape), in canonical form.
    package static func merged(_ parts: [ShardCounts]) -> ShardCounts {
        guard var union = parts.first else { preconditionFailure("nothing to merge") }
        for part in parts.dropFirst() {
            precondition(part.sameShape(as: union), "counts of different quasi-identifiers")
            let sourceBase = union.sources.count
            union.sources += part.sources
            var valueBases: [UInt32] = []
            for column in 0..<union.width {
                valueBases.append(UInt32(union.values[column].count))
                union.values[column] += part.values[column]
                union.valueRecords[column] += part.valueRecords[column]
                union.valuePositions[column] += part.valuePositions[column].map { position in
                    var moved = position
                    moved.input += sourceBase
                    return moved
                }
            }
            let tupleBase = UInt64(union.tupleRecords.count)
            for (index, code) in part.tuples.enumerated() {
                union.tuples.append(code + valueBases[index % union.width])
            }
            union.tupleRecords += part.tupleRecords
            let sensitiveBase = UInt64(union.sensitiveValues.count)
            union.sensitiveValues += part.sensitiveValues
            union.entities += part.entities
            let pairBase = union.pairKeys.count
            for key in part.pairKeys {
                union.pairKeys.append(((key >> 32) + tupleBase) << 32 | ((key & 0xFFFF_FFFF) + sensitiveBase))
            }
            union.pairRecords += part.pairRecords
            union.pairOffsets += part.pairOffsets.dropFirst().map { $0 + pairBase }
            union.records += part.records
        }
        return union.canonical()
    }

    /// The same counts with every value, tuple, sensitive value and entity sorted and counted
    /// once (duplicates summed).
    package func canonical() -> ShardCounts {
        let sourceOrder = Array(Set(sources)).sorted()
        let sourceIndex = Dictionary(uniqueKeysWithValues: sourceOrder.enumerated().map { ($1, $0) })
        let sourceMap = sources.map { sourceIndex[$0]! }
        var result = ShardCounts(
            columns: columns, hasEntity: hasEntity, hasSensitive: hasSensitive, sources: sourceOrder, values: [],
            valueRecords: [], valuePositions: [], tuples: [], tupleRecords: [], sensitiveValues: [], entities: [],
            pairOffsets: [0], pairKeys: [], pairRecords: [], records: records)

        var valueMaps: [[UInt32]] = []
        for column in 0..<width {
            let (distinct, map) = Self.sortedCodes(values[column])
            var counts = [Int](repeating: 0, count: distinct.count)
            var positions = [ValuePosition?](repeating: nil, count: distinct.count)
            for (raw, code) in map.enumerated() {
                counts[Int(code)] += valueRecords[column][raw]
                var position = valuePositions[column][raw]
                position.input = sourceMap[position.input]
                if let seen = positions[Int(code)], !Self.precedes(position, seen) { continue }
                positions[Int(code)] = position
            }
            result.values.append(distinct)
            result.valueRecords.append(counts)
            result.valuePositions.append(positions.map { $0! })
            valueMaps.append(map)
        }

        let mapped: [[UInt32]] = (0..<tupleRecords.count).map { tuple in
            (0..<width).map { column in valueMaps[column][Int(tuples[tuple * width + column])] }
        }
        let tupleOrder = Array(Set(mapped)).sorted { $0.lexicographicallyPrecedes($1) }
        let tupleIndex = Dictionary(uniqueKeysWithValues: tupleOrder.enumerated().map { ($1, UInt64($0)) })
        let tupleMap = mapped.map { tupleIndex[$0]! }
        result.tuples = tupleOrder.flatMap { $0 }
        result.tupleRecords = [Int](repeating: 0, count: tupleOrder.count)
        for (raw, tuple) in tupleMap.enumerated() { result.tupleRecords[Int(tuple)] += tupleRecords[raw] }

        let (sensitive, sensitiveMap) = Self.sortedCodes(sensitiveValues)
        result.sensitiveValues = sensitive

        // Rows: one per entity (by its sorted value), or one for all records without an entity.
        let rowMap: [UInt32]
        let rows: Int
        if hasEntity {
            let (distinct, map) = Self.sortedCodes(entities)
            result.entities = distinct
            rowMap = map
            rows = distinct.count
        } else {
            rows = rowCount > 0 ? 1 : 0
            rowMap = [UInt32](repeating: 0, count: rowCount)
        }
        var rowPairs = [[UInt64: Int]](repeating: [:], count: rows)
        for raw in 0..<rowCount {
            for entry in pairOffsets[raw]..<pairOffsets[raw + 1] {
                let key = pairKeys[entry]
                let tuple = tupleMap[Int(key >> 32)]
                let code = hasSensitive ? UInt64(sensitiveMap[Int(key & 0xFFFF_FFFF)]) : 0
                rowPairs[Int(rowMap[raw])][tuple << 32 | code, default: 0] += pairRecords[entry]
            }
        }
        for pairs in rowPairs {
            for (key, count) in pairs.sorted(by: { $0.key < $1.key }) {
                result.pairKeys.append(key)
                result.pairRecords.append(count)
            }
            result.pairOffsets.append(result.pairKeys.count)
        }
        return result
    }

    /// The statistics the search works on: the counts added as one block of a run.
    package func statistics() -> PrivacyStatistics {
        var block = BlockStatistics()
        block.columnValues = values.map { $0.map { Array($0) } }
        block.columnFirst = valuePositions.map { $0.map { (line: $0.line, record: $0.record) } }
        block.tupleCodes = tuples
        block.tupleRecords = tupleRecords
        block.entities = entities.map { Array($0) }
        block.sensitive = sensitiveValues.map { Array($0) }
        for row in 0..<rowCount {
            for entry in pairOffsets[row]..<pairOffsets[row + 1] {
                block.groups.append(
                    (
                        entity: hasEntity ? UInt32(row) : 0, tuple: UInt32(pairKeys[entry] >> 32),
                        sensitive: UInt32(truncatingIfNeeded: pairKeys[entry]), records: pairRecords[entry]
                    ))
            }
        }
        let accumulator = PrivacyAccumulator(columns: columns, hasEntity: hasEntity, hasSensitive: hasSensitive)
        _ = accumulator.add(block, input: 0, lineBase: 0, recordBase: 0)
        var statistics = accumulator.finish()
        // Values were added in their canonical order, so the run's codes are the same.
        statistics.valuePositions = valuePositions
        return statistics
    }

    /// The distinct values of `values` sorted by their bytes, and each value's code among them.
    static func sortedCodes(_ values: [Data]) -> (distinct: [Data], codes: [UInt32]) {
        let distinct = Array(Set(values)).sorted { $0.lexicographicallyPrecedes($1) }
        let index = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, UInt32($0)) })
        return (distinct, values.map { index[$0]! })
    }

    static func precedes(_ a: ValuePosition, _ b: ValuePosition) -> Bool {
        (a.input, a.line, a.record) < (b.input, b.line, b.record)
    }
}
