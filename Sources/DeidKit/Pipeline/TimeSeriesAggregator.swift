import DeidCSV

/// Aggregates transformed readings per entity into time buckets (the timestamp column already
/// truncated to the bucket): records of one entity in one bucket that agree on every other
/// output column become one record whose value columns hold the sum or mean.
///
/// Streaming: a bucket of an entity is complete, and written, when that entity's next reading
/// falls in a later bucket, so memory holds one open bucket per entity. Each entity's readings
/// must be in time order (entities may be interleaved); an earlier bucket is an error.
struct TimeSeriesAggregator {
    private struct Group {
        var record: CSVRecord
        var key: [UInt8]
        var totals: [Double]
        var decimals: [Int]
        var count: Int
    }
    private struct OpenBucket {
        var start: Int
        var groups: [Int]
    }

    let plan: AggregationPlan
    private var groups: [Group?] = []
    private var freeGroups: [Int] = []
    private var groupByKey: [[UInt8]: Int] = [:]
    private var bucketByEntity: [[UInt8]: OpenBucket] = [:]
    private var entityOrder: [[UInt8]] = []
    private var key: [UInt8] = []
    private var valueColumns: Set<Int>
    /// The last record added, whose position names a bucket that cannot be written.
    private var lastPosition = InputPosition(source: "")
    private var outputHeader: [String] = []

    init(plan: AggregationPlan) {
        self.plan = plan
        valueColumns = Set(plan.values.map(\.output))
    }

    /// Adds one transformed record of entity `entity`; completed buckets are passed to `emit`.
    mutating func add(
        _ record: CSVRecord, entity: ArraySlice<UInt8>, sourceName: String, inputRecord: CSVRecord,
        header: [String], transformer: inout RecordTransformer,
        emit: (CSVRecord, _ entity: [UInt8]) throws -> Void
    ) throws {
        lastPosition = InputPosition(source: sourceName, line: inputRecord.line, record: inputRecord.number)
        if outputHeader.isEmpty { outputHeader = header }
        let timestamp = record[plan.timestampOutput]
        guard let start = TimestampValue.parse(timestamp)?.secondsSinceEpoch else {
            throw TransformError(
                position: InputPosition(
                    source: sourceName, line: inputRecord.line, record: inputRecord.number,
                    column: header[plan.timestampOutput]),
                problem: "not a timestamp; aggregation needs one in every record")
        }
        var values: [(Double, Int)] = []
        for value in plan.values {
            let field = record[value.output]
            if field.isEmpty {
                values.append((.nan, 0))
                continue
            }
            guard let parsed = DecimalText.parse(field) else {
                throw TransformError(
                    position: InputPosition(
                        source: sourceName, line: inputRecord.line, record: inputRecord.number,
                        column: header[value.output]),
                    problem: "not a number; aggregated columns need numbers")
            }
            values.append(parsed)
        }
        let entityKey = Array(entity)
        if var open = bucketByEntity[entityKey] {
            if start < open.start {
                throw TransformError(
                    position: InputPosition(
                        source: sourceName, line: inputRecord.line, record: inputRecord.number,
                        column: header[plan.timestampOutput]),
                    problem:
                        "this entity's readings are not in time order; aggregation needs each entity's readings sorted by time"
                )
            }
            if start > open.start {
                try close(open, entity: entityKey, emit: emit, transformer: &transformer)
                open = OpenBucket(start: start, groups: [])
                bucketByEntity[entityKey] = open
            }
        } else {
            bucketByEntity[entityKey] = OpenBucket(start: start, groups: [])
            entityOrder.append(entityKey)
        }
        key.removeAll(keepingCapacity: true)
        key.append(contentsOf: entity)
        for index in 0..<record.count where !valueColumns.contains(index) {
            key.append(0)
            key.append(contentsOf: record[index])
        }
        let groupIndex: Int
        if let existing = groupByKey[key] {
            groupIndex = existing
        } else {
            let group = Group(
                record: record, key: key, totals: Array(repeating: 0, count: values.count),
                decimals: Array(repeating: 0, count: values.count), count: 0)
            if let free = freeGroups.popLast() {
                groups[free] = group
                groupIndex = free
            } else {
                groups.append(group)
                groupIndex = groups.count - 1
            }
            groupByKey[key] = groupIndex
            bucketByEntity[entityKey]!.groups.append(groupIndex)
        }
        groups[groupIndex]!.count += 1
        for (index, (number, decimals)) in values.enumerated() where !number.isNaN {
            groups[groupIndex]!.totals[index] += number
            groups[groupIndex]!.decimals[index] = max(groups[groupIndex]!.decimals[index], decimals)
        }
    }

    /// Writes every open bucket, entities in order of first appearance.
    mutating func finish(transformer: inout RecordTransformer, emit: (CSVRecord, _ entity: [UInt8]) throws -> Void)
        throws
    {
        for entity in entityOrder {
            if let open = bucketByEntity[entity] {
                try close(open, entity: entity, emit: emit, transformer: &transformer)
            }
        }
        bucketByEntity.removeAll()
        entityOrder.removeAll()
    }

    private mutating func close(
        _ bucket: OpenBucket, entity: [UInt8], emit: (CSVRecord, _ entity: [UInt8]) throws -> Void,
        transformer: inout RecordTransformer
    ) throws {
        for index in bucket.groups {
            guard let group = groups[index] else { continue }
            // A seeded run draws each row's noise from the seed, the entity and the row's fields
            // other than its totals: the same row gets the same noise however the input was cut.
            var stream = FieldHash.hash(entity[...])
            for column in 0..<group.record.count where !valueColumns.contains(column) {
                stream = (stream ^ group.record.fieldHash(at: column)) &* 0x9E37_79B9_7F4A_7C15
                stream ^= stream >> 29
            }
            transformer.reseed(stream: stream)
            var output = CSVRecord()
            var valueIndex = 0
            for column in 0..<group.record.count {
                if valueColumns.contains(column) {
                    let value = plan.values[valueIndex]
                    var total = group.totals[valueIndex]
                    if value.mean { total /= Double(group.count) }
                    let decimals = group.decimals[valueIndex]
                    var position = lastPosition
                    position.column = outputHeader[column]
                    guard total.isFinite else {
                        throw TransformError(
                            position: position,
                            problem: "a bucket's total is not a finite number (the values are too large)")
                    }
                    if let noise = value.noise {
                        do {
                            output.append(field: try transformer.perturb(total, decimals: decimals, with: noise))
                        } catch {
                            throw TransformError(position: position, problem: error.message)
                        }
                    } else {
                        output.append(field: DecimalText.format(total, decimals: decimals))
                    }
                    valueIndex += 1
                } else {
                    output.append(fieldOf: group.record, at: column)
                }
            }
            if plan.addsCount { output.append(field: Array(String(group.count).utf8)) }
            try emit(output, entity)
            groupByKey.removeValue(forKey: group.key)
            groups[index] = nil
            freeGroups.append(index)
        }
    }
}
