import DeidCSV
import DeidEngine
import Foundation

/// The pass of an aggregate release (`aggregate` section): every block is filtered and its
/// `by` and time columns transformed by the policy's own steps (the time truncated to its
/// bucket), then each record's measures are added to its (cell, entity) pair. Workers total
/// their block's pairs; the calling thread merges them in input order. Memory holds one entry
/// per (cell, entity) pair, never per record: a year of half-hourly readings of one household
/// in daily cells is 365 entries, not 17,520 records.
struct AggregateRun {
    let spec: AggregateReleaseSpec
    /// The policy reduced to what the cells need: the `by` columns as the policy transforms
    /// them, the time column truncated to the bucket, every other column dropped.
    let plan: TransformPlan
    let layout: AggregateLayout
    let workers: Int

    init(
        policy: Policy, spec: AggregateReleaseSpec, header: [String], releaseID: String, seed: UInt64?,
        environment: [String: String], workers: Int
    ) throws {
        self.spec = spec
        var reduced = policy
        reduced.privacy = nil
        reduced.risk = nil
        reduced.linkage = nil
        reduced.aggregateRelease = nil
        for index in reduced.columns.indices {
            let name = reduced.columns[index].name
            reduced.columns[index].aggregate = nil
            if name == spec.timeColumn {
                var unit = spec.every
                if case .generalize(let own)? = reduced.columns[index].technique, case .time(let units) = own.method,
                    own.level > 0
                {
                    unit = max(unit, units[min(own.level, units.count) - 1])
                }
                reduced.columns[index].technique = .generalize(GeneralizationSpec(method: .time([unit]), level: 1))
            } else if !spec.by.contains(name) {
                reduced.columns[index].technique = .drop
                reduced.columns[index].dateShift = nil
            }
        }
        plan = try TransformPlan(
            policy: reduced, header: header, releaseID: releaseID, seed: seed, environment: environment)
        let output = plan.outputHeader
        var bounds: [ClosedRange<Double>]?
        if let privacy = spec.privacy { bounds = spec.measures.map { privacy.bounds[$0]! } }
        layout = AggregateLayout(
            byOutputs: spec.by.map { output.firstIndex(of: $0)! }, timeOutput: output.firstIndex(of: spec.timeColumn)!,
            entityInput: header.firstIndex(of: policy.entity!)!,
            measureInputs: spec.measures.map { header.firstIndex(of: $0)! },
            measureNames: spec.measures, timeName: spec.timeColumn,
            firstByInput: spec.by.first.flatMap { header.firstIndex(of: $0) }, bounds: bounds)
        self.workers = max(1, workers)
    }

    /// Reads every input once and returns the run's (cell, entity) pairs, with its counts.
    func collect(inputs: [BlockInput], progress: ((InputProgress) -> Void)?) throws -> (CellPairs, RunSummary) {
        let steps = RecordTransformer.sharedSteps(plan: plan)
        let blockWorkers = (0..<workers * 2).map { _ in
            AggregateWorker(
                transformer: RecordTransformer(plan: plan, sourceName: "", shared: steps), layout: layout)
        }
        var total = CellPairs(layout: layout)
        var summary = RunSummary()
        let counts = try BlockLoop.run(inputs: inputs, workers: blockWorkers, progress: progress) { outcome, _ in
            if let pairs = outcome.counts { total.merge(pairs) }
            summary.recordsFiltered += outcome.filtered
        }
        summary.add(counts)
        return (total, summary)
    }
}

/// Where the pass finds what it totals.
struct AggregateLayout: Sendable {
    /// The `by` columns in the reduced plan's output, in the policy's order.
    let byOutputs: [Int]
    /// The bucket (the truncated time column) in the reduced plan's output.
    let timeOutput: Int
    let entityInput: Int
    let measureInputs: [Int]
    let measureNames: [String]
    let timeName: String
    /// The first `by` column in the input: one input value is kept per published value, from
    /// which its coarser levels are computed for merging.
    let firstByInput: Int?
    /// Per measure, the clamping bounds of differential privacy.
    let bounds: [ClosedRange<Double>]?

    /// Key fields of a pair: the `by` columns, the bucket, the entity.
    var width: Int { byOutputs.count + 2 }
}

/// (cell, entity) pairs and their totals: each key field coded (`ByteCodeIndex`), the pair a
/// tuple of codes (`CodeTupleIndex`), and per pair and measure the sum of its readings and how
/// many there were.
struct CellPairs: Sendable {
    var keys: [ByteCodeIndex]
    /// Per code of the first key field: an input value of the first `by` column it came from.
    var representatives: [[UInt8]] = []
    var pairs: CodeTupleIndex
    var sums: [Double] = []
    var readings: [Int32] = []
    /// Per measure: the most decimal places a reading had.
    var decimals: [Int]
    let measures: Int
    var filtered = 0

    init(layout: AggregateLayout) {
        keys = Array(repeating: ByteCodeIndex(), count: layout.width)
        pairs = CodeTupleIndex(width: layout.width)
        measures = layout.measureInputs.count
        decimals = Array(repeating: 0, count: measures)
    }

    /// Adds `other`'s pairs (another block's) to these.
    mutating func merge(_ other: CellPairs) {
        filtered += other.filtered
        for measure in 0..<measures { decimals[measure] = max(decimals[measure], other.decimals[measure]) }
        var mapping: [[UInt32]] = []
        for (field, index) in other.keys.enumerated() {
            var codes: [UInt32] = []
            codes.reserveCapacity(index.count)
            for (code, value) in index.values.enumerated() {
                let (global, isNew) = keys[field].code(of: value[...])
                if field == 0 && isNew && !other.representatives.isEmpty {
                    representatives.append(other.representatives[code])
                }
                codes.append(global)
            }
            mapping.append(codes)
        }
        let width = pairs.width
        var tuple = [UInt32](repeating: 0, count: width)
        let tuples = other.pairs.tuples
        for pair in 0..<other.pairs.count {
            for field in 0..<width { tuple[field] = mapping[field][Int(tuples[pair * width + field])] }
            let (number, isNew) = pairs.number(of: tuple)
            if isNew {
                sums.append(contentsOf: repeatElement(0, count: measures))
                readings.append(contentsOf: repeatElement(0, count: measures))
            }
            for measure in 0..<measures {
                sums[Int(number) * measures + measure] += other.sums[pair * measures + measure]
                readings[Int(number) * measures + measure] += other.readings[pair * measures + measure]
            }
        }
    }
}

/// Totals one block's records into (cell, entity) pairs.
struct AggregateWorker: BlockWorker {
    var transformer: RecordTransformer
    let layout: AggregateLayout
    var record = CSVRecord()
    var transformed = CSVRecord()
    var codes: [UInt32] = []

    init(transformer: RecordTransformer, layout: AggregateLayout) {
        self.transformer = transformer
        self.layout = layout
        codes = Array(repeating: 0, count: layout.width)
    }

    mutating func process(_ job: BlockJob) -> AggregatedBlock {
        var result = AggregatedBlock()
        var pairs = CellPairs(layout: layout)
        transformer.reseed(stream: job.number)
        transformer.sourceName = job.sourceName
        let reader: CSVReader
        do { reader = try job.reader() } catch {
            result.failure = error
            return result
        }
        // What the loop reads, in locals: a property of `self` read per record costs a retain.
        let measures = layout.measureInputs.count
        let keyed = layout.byOutputs + [layout.timeOutput]
        let keyedCount = keyed.count
        let measureInputs = layout.measureInputs
        let lower = layout.bounds?.map(\.lowerBound) ?? []
        let upper = layout.bounds?.map(\.upperBound) ?? []
        let clamps = layout.bounds != nil
        let entityInput = layout.entityInput
        let timeOutput = layout.timeOutput
        let firstByInput = layout.firstByInput
        var keys = pairs.keys
        pairs.keys = []
        var index = pairs.pairs
        pairs.pairs = CodeTupleIndex(width: layout.width)
        var sums = pairs.sums
        var readings = pairs.readings
        var decimals = pairs.decimals
        var representatives = pairs.representatives
        var codes = self.codes
        // The pair of the record before: a household's readings of one day follow each other in
        // a meter export, and are added to it without a lookup when every key field is equal.
        var previous = CSVRecord()
        var previousEntity: [UInt8] = []
        var previousNumber: UInt32?
        do {
            while try reader.readRecord(into: &record) {
                result.recordsRead += 1
                transformed.removeAll()
                guard try transformer.transform(record, into: &transformed) else {
                    result.filtered += 1
                    continue
                }
                if let number = previousNumber, record.field(entityInput, equals: previousEntity),
                    (0..<keyedCount).allSatisfy({ transformed.fieldsEqual(previous, at: keyed[$0]) })
                {
                    try add(record, to: number)
                    swap(&transformed, &previous)
                    continue
                }
                for field in 0..<keyedCount {
                    let (code, isNew) = keys[field].code(of: transformed, field: keyed[field])
                    codes[field] = code
                    if field == 0 && isNew, let firstByInput { representatives.append(Array(record[firstByInput])) }
                }
                if transformed.length(of: timeOutput) == 0 {
                    throw problem(
                        "no time: every record of an aggregate release needs one", column: layout.timeName, job)
                }
                if record.length(of: entityInput) == 0 {
                    throw problem("no entity: every record of an aggregate release needs one", column: nil, job)
                }
                codes[keyedCount] = keys[keyedCount].code(of: record, field: entityInput).code
                let (number, isNew) = index.number(of: codes)
                if isNew {
                    sums.append(contentsOf: repeatElement(0, count: measures))
                    readings.append(contentsOf: repeatElement(0, count: measures))
                }
                try add(record, to: number)
                previousNumber = number
                previousEntity.removeAll(keepingCapacity: true)
                previousEntity.append(contentsOf: record[entityInput])
                swap(&transformed, &previous)
            }
        } catch {
            result.failure = error
        }
        /// Adds the measures of `record` to pair `number`.
        func add(_ record: CSVRecord, to number: UInt32) throws {
            for measure in 0..<measures {
                let input = measureInputs[measure]
                if record.length(of: input) == 0 { continue }
                guard let (value, places) = record.decimal(at: input), value.isFinite else {
                    throw problem("not a number; a measure needs numbers", column: layout.measureNames[measure], job)
                }
                let reading = clamps ? min(max(value, lower[measure]), upper[measure]) : value
                let slot = Int(number) &* measures &+ measure
                sums[slot] += reading
                readings[slot] += 1
                if places > decimals[measure] { decimals[measure] = places }
            }
        }
        pairs.keys = keys
        pairs.pairs = index
        pairs.sums = sums
        pairs.readings = readings
        pairs.decimals = decimals
        pairs.representatives = representatives
        result.linesRead = reader.linesConsumed
        result.counts = pairs
        return result
    }

    private func problem(_ text: String, column: String?, _ job: BlockJob) -> TransformError {
        TransformError(
            position: InputPosition(source: job.sourceName, line: record.line, record: record.number, column: column),
            problem: text)
    }
}

/// One block's pairs, and how many of its records the filters removed.
struct AggregatedBlock: BlockOutcome {
    var counts: CellPairs?
    var recordsRead = 0
    var linesRead = 0
    var filtered = 0
    var failure: (any Error)?
}
