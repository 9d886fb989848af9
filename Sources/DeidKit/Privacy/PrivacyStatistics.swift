import DeidCSV
import DeidEngine
import Foundation

/// Rows of sparse counts: for row `i`, `keys[offsets[i]..<offsets[i+1]]` with their `counts`.
package struct SparseRows: Codable, Sendable, Equatable {
    package var offsets: [Int] = [0]
    package var keys: [UInt32] = []
    package var counts: [Int] = []

    package var rowCount: Int { offsets.count - 1 }

    mutating func appendRow<S: Sequence>(_ entries: S) where S.Element == (UInt32, Int) {
        for (key, count) in entries {
            keys.append(key)
            counts.append(count)
        }
        offsets.append(keys.count)
    }
}

/// Where a value was first seen, for messages about it (never the value itself).
package struct ValuePosition: Codable, Sendable, Equatable {
    package var input: Int
    package var line: Int
    package var record: Int
}

/// The first pass's statistics over the quasi-identifiers at their finest level: the class
/// table from which every transformation's classes are rolled up without touching the data.
///
/// A tuple is one distinct combination of the quasi-identifiers' values (as dictionary codes).
/// Individuals: with an entity column, an entity whose rows all share one tuple counts once in
/// it (`tupleIndividuals`, with its sensitive values in `histogram`); an entity with rows in
/// several tuples is kept apart (`multiEntities`), since it belongs to each of those classes
/// and counts once in each. Without an entity column every row is an individual.
///
/// The statistics are a value: two shards' statistics (shards split by entity) merge into
/// those of the whole (`merge(_:)`), and they can be saved and loaded (`Codable`).
package struct PrivacyStatistics: Codable, Sendable, Equatable {
    /// The quasi-identifier columns, in the input's order.
    package var columns: [String]
    /// Per quasi-identifier: the distinct values at level 0, indexed by code.
    package var values: [[[UInt8]]]
    /// Per quasi-identifier: records holding each value.
    package var valueRecords: [[Int]]
    /// Per quasi-identifier: where each value was first seen.
    package var valuePositions: [[ValuePosition]]
    /// The tuples' codes, `columns.count` per tuple.
    package var tuples: [UInt32]
    package var tupleRecords: [Int]
    /// Individuals counted whole in each tuple.
    package var tupleIndividuals: [Int]
    /// Per tuple: sensitive value code -> individuals (of `tupleIndividuals`) with that value.
    package var histogram: SparseRows
    /// Per entity with rows in several tuples: its (tuple, sensitive code) pairs and their records.
    package var multiEntities: SparseRows
    /// For `multiEntities`: the sensitive code of each pair (parallel to `keys`, which hold tuples).
    package var multiSensitive: [UInt32]
    /// The run's entity codes of `multiEntities`.
    package var multiEntityIDs: [UInt32]
    /// Their entity values (a plan names suppressed entities by value, so that any shard can
    /// apply it).
    package var multiEntityValues: [[UInt8]]
    /// Distinct values of the sensitive column, indexed by code (empty without one).
    package var sensitiveValues: [[UInt8]]
    package var hasEntity: Bool
    package var hasSensitive: Bool
    package var records: Int
    package var individuals: Int

    package var tupleCount: Int { tupleRecords.count }
    package var width: Int { columns.count }

    @inline(__always) func code(tuple: Int, column: Int) -> Int { Int(tuples[tuple &* columns.count &+ column]) }
}

/// What a worker learned about one block, in block-local codes: the main thread translates
/// them to the run's codes (`PrivacyAccumulator.add`).
struct BlockStatistics {
    /// Per column: the block's distinct values (local column codes) and where each was first seen.
    var columnValues: [[[UInt8]]] = []
    var columnFirst: [[(line: Int, record: Int)]] = []
    /// Per local tuple: its local column codes (`columnValues.count` per tuple) and its records.
    var tupleCodes: [UInt32] = []
    var tupleRecords: [Int] = []
    var entities: [[UInt8]] = []
    var sensitive: [[UInt8]] = []
    /// Distinct (entity, tuple, sensitive) local triples and their records.
    var groups: [(entity: UInt32, tuple: UInt32, sensitive: UInt32, records: Int)] = []

    var tupleCount: Int { tupleRecords.count }
}

/// Bytes with their hash computed once by `FieldHash`'s word-at-a-time function (the standard
/// library hashes an array of bytes one byte at a time).
struct HashedBytes: Hashable {
    let bytes: [UInt8]
    let hash: UInt64

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        hash = FieldHash.hash(bytes[...])
    }

    func hash(into hasher: inout Hasher) { hasher.combine(hash) }
    static func == (a: HashedBytes, b: HashedBytes) -> Bool { a.hash == b.hash && a.bytes == b.bytes }
}

/// Counts one block's records into `BlockStatistics` on a worker: the tuple of each record's
/// class fields, its entity and sensitive value, in block-local codes. The one place where
/// records become class counts, for the privacy pass and for `deid risk`.
struct BlockCounter {
    /// Tuple records and first positions; values, tuples, entities and sensitive values are
    /// in the indexes until `finish`.
    private var statistics = BlockStatistics()
    /// Per column position: value -> local column code.
    private var columnIndex: [ByteCodeIndex] = []
    private var tupleIndex = CodeTupleIndex(width: 0)
    private var started = false
    /// The last of the fields a tuple is made of (they are the same for every record).
    private var lastField: Int?
    /// The numbers of the records whose tuple and entity were counted last.
    private var lastTupleRecord = -1
    private var lastEntityRecord = -1
    private var codes: [UInt32] = []
    private var entityIndex = ByteCodeIndex()
    private var sensitiveIndex = ByteCodeIndex()
    private var groupIndex: [UInt64: Int] = [:]
    private var groupKeys: [(UInt32, UInt32, UInt32)] = []
    private var groupRecords: [Int] = []
    /// The tuple's fields of the record counted last (a copy: `CSVRecord.copyFields`).
    private var previousFields = CSVRecord()
    private var previousTuple = UInt32.max, previousEntity = UInt32.max
    private var previousGroupKey = UInt64.max, previousGroup = 0
    /// Whether (entity, tuple, sensitive) groups are counted (with an entity or a sensitive column).
    let countsGroups: Bool
    /// Whether a value over `longValue` bytes is coded by a digest of it (its hash and length)
    /// instead of its bytes: for counting that tells values apart without showing them
    /// (quasi-identifier discovery), so that free text is not kept whole.
    let digestsLongValues: Bool
    static let longValue = 1024

    init(countsGroups: Bool, digestsLongValues: Bool = false) {
        self.countsGroups = countsGroups
        self.digestsLongValues = digestsLongValues
    }

    /// The local tuple of `record`'s `fields`; `line` and `number` place its first record.
    mutating func tuple(of record: CSVRecord, fields: [Int], line: Int, number: Int) -> UInt32 {
        // Readings of one household come in runs: the previous record's tuple first. When the
        // record's leading fields repeat the record before's past the last of `fields` (the
        // reader or the sink knows, `CSVRecord.repeatedFields`), they need no comparison.
        if lastField == nil { lastField = fields.max() ?? -1 }
        let unchanged =
            Self.follows(record, counted: lastTupleRecord) && record.repeatedFields > lastField.unsafelyUnwrapped
        lastTupleRecord = record.number
        let tuple: UInt32
        if previousTuple != UInt32.max && (unchanged || record.fields(fields, equalCopy: previousFields)) {
            tuple = previousTuple
        } else {
            if !started {
                started = true
                columnIndex = fields.map { _ in ByteCodeIndex() }
                statistics.columnFirst = fields.map { _ in [] }
                tupleIndex = CodeTupleIndex(width: fields.count)
            }
            // Each column's values are coded once per block, so that the thread merging
            // blocks looks each distinct value up once, not once per tuple.
            codes.removeAll(keepingCapacity: true)
            for (position, field) in fields.enumerated() {
                let (code, isNew) =
                    digestsLongValues && record.length(of: field) > Self.longValue
                    ? columnIndex[position].code(of: Self.digest(record, field)[...])
                    : columnIndex[position].code(of: record, field: field)
                if isNew { statistics.columnFirst[position].append((line: line, record: number)) }
                codes.append(code)
            }
            let (found, isNew) = tupleIndex.number(of: codes)
            if isNew { statistics.tupleRecords.append(0) }
            tuple = found
            // A tuple holding a long value is not kept to compare the next record with: a
            // copy of free text would be as large as the text (the next record is coded again).
            if digestsLongValues && fields.contains(where: { record.length(of: $0) > Self.longValue }) {
                previousTuple = UInt32.max
            } else {
                previousTuple = tuple
                previousFields.copyFields(of: record, at: fields)
            }
        }
        statistics.tupleRecords[Int(tuple)] += 1
        return tuple
    }

    /// Whether `record`'s repeated leading fields (`CSVRecord.repeatedFields`) repeat the record
    /// counted before, numbered `counted`: a record read just after it does (a filter dropped
    /// nothing in between), and so does one a sink made (numbered 0), which repeats the record
    /// it made before, the one counted before.
    @inline(__always) static func follows(_ record: CSVRecord, counted: Int) -> Bool {
        record.number == 0 || record.number == counted &+ 1
    }

    /// A long value's stand-in: a byte no short value of the column starts its 17 bytes with
    /// (0xFF is not UTF-8), its hash and its length.
    static func digest(_ record: CSVRecord, _ field: Int) -> [UInt8] {
        var digest: [UInt8] = [0xFF]
        digest += littleEndianBytes(record.fieldHash(at: field))
        digest += littleEndianBytes(UInt64(record.length(of: field)))
        return digest
    }

    /// The local code of the entity in `record`'s field `column`.
    mutating func entity(of record: CSVRecord, column: Int) -> UInt32 {
        let unchanged = Self.follows(record, counted: lastEntityRecord) && column < record.repeatedFields
        lastEntityRecord = record.number
        if previousEntity != UInt32.max
            && (unchanged || record.field(column, equals: entityIndex.values[Int(previousEntity)][...]))
        {
            return previousEntity
        }
        let entity = entityIndex.code(of: record, field: column).code
        previousEntity = entity
        return entity
    }

    /// Counts one record of `entity` (UInt32.max without one) in `tuple` with a sensitive value.
    mutating func group(entity: UInt32, tuple: UInt32, sensitive value: ArraySlice<UInt8>?) {
        guard countsGroups else { return }
        var sensitive: UInt32 = 0
        if let value { sensitive = sensitiveIndex.code(of: value).code }
        // Entities, tuples and sensitive values of one block each fit in 21 bits many times
        // over (a block holds at most a few MiB of records).
        let groupKey = UInt64(entity & 0x1F_FFFF) << 42 | UInt64(tuple) << 21 | UInt64(sensitive)
        if groupKey == previousGroupKey {
            groupRecords[previousGroup] += 1
        } else if let found = groupIndex[groupKey] {
            groupRecords[found] += 1
            previousGroupKey = groupKey
            previousGroup = found
        } else {
            groupIndex[groupKey] = groupRecords.count
            previousGroupKey = groupKey
            previousGroup = groupRecords.count
            groupKeys.append((entity, tuple, sensitive))
            groupRecords.append(1)
        }
    }

    /// The block's statistics.
    func finish() -> BlockStatistics {
        var result = statistics
        result.columnValues = columnIndex.map(\.values)
        result.tupleCodes = tupleIndex.tuples
        result.entities = entityIndex.values
        result.sensitive = sensitiveIndex.values
        result.groups = zip(groupKeys, groupRecords).map { (entity: $0.0, tuple: $0.1, sensitive: $0.2, records: $1) }
        return result
    }
}

/// Collects the run's statistics from the blocks, in order, on one thread.
final class PrivacyAccumulator {
    let columns: [String]
    let hasEntity: Bool
    let hasSensitive: Bool
    /// Per column: the run's distinct values and their codes.
    private var valueCodes: [ByteCodeIndex]
    private var valueRecords: [[Int]]
    private var valuePositions: [[ValuePosition]]
    /// The run's tuples of column codes.
    private var tupleCodes: CodeTupleIndex
    private var tupleRecords: [Int] = []
    private var entityCodes = ByteCodeIndex()
    /// Per entity: its first (tuple, sensitive) pair and records; further pairs in `entityMore`.
    private var entityFirst: [UInt64] = []
    private var entityFirstRecords: [Int] = []
    private var entityMore: [UInt32: [UInt64: Int]] = [:]
    private var pairCounts: [UInt64: Int] = [:]
    private var sensitiveCodes = ByteCodeIndex()
    private var records = 0

    init(columns: [String], hasEntity: Bool, hasSensitive: Bool) {
        self.columns = columns
        self.hasEntity = hasEntity
        self.hasSensitive = hasSensitive
        valueCodes = columns.map { _ in ByteCodeIndex() }
        tupleCodes = CodeTupleIndex(width: columns.count)
        valueRecords = columns.map { _ in [] }
        valuePositions = columns.map { _ in [] }
    }

    /// Adds a block; returns the run's codes of its local tuples and entities.
    func add(_ block: BlockStatistics, input: Int, lineBase: Int, recordBase: Int) -> (
        tuples: [UInt32], entities: [UInt32]
    ) {
        var tupleMap = [UInt32](repeating: 0, count: block.tupleCount)
        // Each column's block values to the run's codes, one lookup per distinct value.
        var columnMaps: [[UInt32]] = []
        for column in 0..<block.columnValues.count {
            var map: [UInt32] = []
            map.reserveCapacity(block.columnValues[column].count)
            for (local, value) in block.columnValues[column].enumerated() {
                let (code, isNew) = valueCodes[column].code(of: value[...])
                if isNew {
                    valueRecords[column].append(0)
                    let first = block.columnFirst[column][local]
                    valuePositions[column].append(
                        ValuePosition(input: input, line: first.line + lineBase, record: first.record + recordBase))
                }
                map.append(code)
            }
            columnMaps.append(map)
        }
        let width = columns.count
        var codes = [UInt32](repeating: 0, count: width)
        for local in 0..<block.tupleCount {
            let count = block.tupleRecords[local]
            records += count
            for column in 0..<width {
                let code = columnMaps[column][Int(block.tupleCodes[local * width + column])]
                codes[column] = code
                valueRecords[column][Int(code)] += count
            }
            let (tuple, isNew) = tupleCodes.number(of: codes)
            if isNew { tupleRecords.append(count) } else { tupleRecords[Int(tuple)] += count }
            tupleMap[local] = tuple
        }
        var sensitiveMap = [UInt32](repeating: 0, count: block.sensitive.count)
        for (local, value) in block.sensitive.enumerated() {
            sensitiveMap[local] = sensitiveCodes.code(of: value[...]).code
        }
        var entityMap = [UInt32](repeating: UInt32.max, count: block.entities.count)
        for (local, value) in block.entities.enumerated() {
            let (code, isNew) = entityCodes.code(of: value[...])
            if isNew {
                entityFirst.append(UInt64.max)
                entityFirstRecords.append(0)
            }
            entityMap[local] = code
        }
        for group in block.groups {
            let tuple = UInt64(tupleMap[Int(group.tuple)])
            let sensitive = hasSensitive ? UInt64(sensitiveMap[Int(group.sensitive)]) : 0
            let pair = tuple << 32 | sensitive
            if hasEntity {
                let entity = Int(entityMap[Int(group.entity)])
                if entityFirst[entity] == UInt64.max {
                    entityFirst[entity] = pair
                    entityFirstRecords[entity] = group.records
                } else if entityFirst[entity] == pair {
                    entityFirstRecords[entity] += group.records
                } else {
                    entityMore[UInt32(entity), default: [:]][pair, default: 0] += group.records
                }
            } else {
                pairCounts[pair, default: 0] += group.records
            }
        }
        return (tupleMap, entityMap)
    }

    /// Everything added, as a shard's counts (`ShardCounts`, canonical): every entity with its
    /// pairs. `sources` names the run's inputs, which `ValuePosition.input` numbers.
    func shardCounts(sources: [String]) -> ShardCounts {
        var counts = ShardCounts(
            columns: columns, hasEntity: hasEntity, hasSensitive: hasSensitive, sources: sources,
            values: valueCodes.map { $0.values.map { Data($0) } }, valueRecords: valueRecords,
            valuePositions: valuePositions, tuples: tupleCodes.tuples, tupleRecords: tupleRecords,
            sensitiveValues: sensitiveCodes.values.map { Data($0) }, entities: [], pairOffsets: [0], pairKeys: [],
            pairRecords: [], records: records)
        func addRow(_ pairs: [UInt64: Int]) {
            for (key, records) in pairs {
                counts.pairKeys.append(key)
                counts.pairRecords.append(records)
            }
            counts.pairOffsets.append(counts.pairKeys.count)
        }
        if hasEntity {
            for entity in 0..<entityFirst.count where entityFirst[entity] != UInt64.max {
                counts.entities.append(Data(entityCodes.values[entity]))
                var pairs = entityMore[UInt32(entity)] ?? [:]
                pairs[entityFirst[entity], default: 0] += entityFirstRecords[entity]
                addRow(pairs)
            }
        } else if hasSensitive {
            addRow(pairCounts)
        }
        return counts.canonical()
    }

    /// The run's code of an entity value, if it was seen.
    func entityCode(of value: [UInt8]) -> UInt32? { entityCodes.existingCode(of: value[...]) }

    /// The statistics of everything added.
    func finish() -> PrivacyStatistics {
        let tupleCount = tupleRecords.count
        var tupleIndividuals = [Int](repeating: 0, count: tupleCount)
        // (tuple << 32 | sensitive code, individuals), summed after sorting: one flat list, not
        // a dictionary per tuple.
        var histogramPairs: [(key: UInt64, count: Int)] = []
        var multi = SparseRows()
        var multiSensitive: [UInt32] = []
        var multiIDs: [UInt32] = []
        var multiValues: [[UInt8]] = []
        var individuals = 0
        if hasEntity {
            individuals = entityFirst.count
            for entity in 0..<entityFirst.count {
                var pairs = [entityFirst[entity]: entityFirstRecords[entity]]
                if let more = entityMore[UInt32(entity)] { pairs.merge(more, uniquingKeysWith: +) }
                let tuplesOfEntity = Set(pairs.keys.map { $0 >> 32 })
                if tuplesOfEntity.count == 1 {
                    let tuple = Int(tuplesOfEntity.first!)
                    tupleIndividuals[tuple] += 1
                    if hasSensitive {
                        for pair in pairs.keys { histogramPairs.append((pair, 1)) }
                    }
                } else {
                    let sorted = pairs.sorted { $0.key < $1.key }
                    for (pair, count) in sorted {
                        multi.keys.append(UInt32(pair >> 32))
                        multi.counts.append(count)
                        multiSensitive.append(UInt32(truncatingIfNeeded: pair))
                    }
                    multi.offsets.append(multi.keys.count)
                    multiIDs.append(UInt32(entity))
                    multiValues.append(entityCodes.values[entity])
                }
            }
        } else {
            individuals = records
            tupleIndividuals = tupleRecords
            if hasSensitive {
                for (pair, count) in pairCounts { histogramPairs.append((pair, count)) }
            }
        }
        var histogram = SparseRows()
        if hasSensitive {
            histogramPairs.sort { $0.key < $1.key }
            var next = 0
            for tuple in 0..<tupleCount {
                while next < histogramPairs.count && histogramPairs[next].key >> 32 == UInt64(tuple) {
                    let code = UInt32(truncatingIfNeeded: histogramPairs[next].key)
                    if histogram.keys.count > histogram.offsets[tuple]
                        && histogram.keys[histogram.keys.count - 1] == code
                    {
                        histogram.counts[histogram.counts.count - 1] += histogramPairs[next].count
                    } else {
                        histogram.keys.append(code)
                        histogram.counts.append(histogramPairs[next].count)
                    }
                    next += 1
                }
                histogram.offsets.append(histogram.keys.count)
            }
        }
        return PrivacyStatistics(
            columns: columns, values: valueCodes.map(\.values), valueRecords: valueRecords,
            valuePositions: valuePositions,
            tuples: tupleCodes.tuples, tupleRecords: tupleRecords, tupleIndividuals: tupleIndividuals,
            histogram: histogram, multiEntities: multi, multiSensitive: multiSensitive,
            multiEntityIDs: multiIDs, multiEntityValues: multiValues, sensitiveValues: sensitiveCodes.values,
            hasEntity: hasEntity,
            hasSensitive: hasSensitive, records: records, individuals: individuals)
    }
}

extension PrivacyStatistics {
    /// Adds another shard's statistics (a shard split by entity: no entity in both). Codes of
    /// `other` are translated to this table's.
    package mutating func merge(_ other: PrivacyStatistics) {
        precondition(
            other.columns == columns && other.hasEntity == hasEntity && other.hasSensitive == hasSensitive,
            "statistics of different quasi-identifiers")
        var valueMaps: [[UInt32]] = []
        for column in 0..<width {
            var index = Dictionary(uniqueKeysWithValues: values[column].enumerated().map { ($1, UInt32($0)) })
            var map: [UInt32] = []
            for (code, value) in other.values[column].enumerated() {
                if let existing = index[value] {
                    map.append(existing)
                    valueRecords[column][Int(existing)] += other.valueRecords[column][code]
                } else {
                    let new = UInt32(values[column].count)
                    index[value] = new
                    values[column].append(value)
                    valueRecords[column].append(other.valueRecords[column][code])
                    valuePositions[column].append(other.valuePositions[column][code])
                    map.append(new)
                }
            }
            valueMaps.append(map)
        }
        var sensitiveIndex = Dictionary(uniqueKeysWithValues: sensitiveValues.enumerated().map { ($1, UInt32($0)) })
        let sensitiveMap: [UInt32] = other.sensitiveValues.map { value in
            if let code = sensitiveIndex[value] { return code }
            let code = UInt32(sensitiveValues.count)
            sensitiveIndex[value] = code
            sensitiveValues.append(value)
            return code
        }
        var tupleIndex: [[UInt32]: Int] = [:]
        for tuple in 0..<tupleCount { tupleIndex[Array(tuples[tuple * width..<(tuple + 1) * width])] = tuple }
        var histograms: [[UInt32: Int]] = (0..<tupleCount).map { tuple in
            guard hasSensitive else { return [:] }
            let range = histogram.offsets[tuple]..<histogram.offsets[tuple + 1]
            return Dictionary(uniqueKeysWithValues: range.map { (histogram.keys[$0], histogram.counts[$0]) })
        }
        var tupleMap: [UInt32] = []
        for tuple in 0..<other.tupleCount {
            let codes = (0..<width).map { valueMaps[$0][other.code(tuple: tuple, column: $0)] }
            let target: Int
            if let existing = tupleIndex[codes] {
                target = existing
            } else {
                target = tupleRecords.count
                tupleIndex[codes] = target
                tuples.append(contentsOf: codes)
                tupleRecords.append(0)
                tupleIndividuals.append(0)
                histograms.append([:])
            }
            tupleRecords[target] += other.tupleRecords[tuple]
            tupleIndividuals[target] += other.tupleIndividuals[tuple]
            if hasSensitive {
                for entry in other.histogram.offsets[tuple]..<other.histogram.offsets[tuple + 1] {
                    histograms[target][sensitiveMap[Int(other.histogram.keys[entry])], default: 0] +=
                        other.histogram.counts[entry]
                }
            }
            tupleMap.append(UInt32(target))
        }
        if hasSensitive {
            histogram = SparseRows()
            for row in histograms { histogram.appendRow(row.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }) }
        }
        let entityBase = UInt32(individuals)
        for entity in 0..<other.multiEntities.rowCount {
            for entry in other.multiEntities.offsets[entity]..<other.multiEntities.offsets[entity + 1] {
                multiEntities.keys.append(tupleMap[Int(other.multiEntities.keys[entry])])
                multiEntities.counts.append(other.multiEntities.counts[entry])
                multiSensitive.append(hasSensitive ? sensitiveMap[Int(other.multiSensitive[entry])] : 0)
            }
            multiEntities.offsets.append(multiEntities.keys.count)
            multiEntityIDs.append(entityBase + other.multiEntityIDs[entity])
            multiEntityValues.append(other.multiEntityValues[entity])
        }
        records += other.records
        individuals += other.individuals
    }
}
