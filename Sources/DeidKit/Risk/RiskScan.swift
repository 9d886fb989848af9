import DeidCSV
import DeidEngine
import Foundation

/// What one block contributes to `deid risk` beyond its classes.
struct RiskBlock: Sendable {
    /// The block's distinct (entity, candidate values) rows, counted like classes.
    var discovery: BlockStatistics?
    /// The input columns the discovery rows hold (the candidates still in play when the block began).
    var discoveryColumns: [Int] = []
    /// Per (block-local entity, time bucket): the sum of the values.
    var trace: [TracePointKey: Double] = [:]
}

/// An entity's time bucket: block-local or run entity code, and seconds since 1970 (truncated
/// to the bucket).
struct TracePointKey: Hashable, Sendable {
    var entity: UInt32
    var bucket: Int64
}

/// Everything `deid risk` learns in its one pass over the input.
package struct RiskData: Sendable {
    /// The classes of the quasi-identifiers (with the entity and the sensitive column).
    package var statistics: PrivacyStatistics
    package var discovery: DiscoveryTable?
    package var trace: TracePoints?
    /// The value distributions of `RiskSpec.distributionColumns`.
    package var distributions: [ValueDistribution] = []
    package var summary: RunSummary
}

/// The one streaming pass of `deid risk`: blocks are parsed on every core; each worker counts
/// its block's classes with `BlockCounter` (the same counting as the privacy pass), the
/// candidate columns' rows for discovery and the entities' trace points, and the calling thread
/// merges them in order. Memory: distinct quasi-identifier tuples and entities, at most
/// `DiscoverySpec.rowLimit` discovery rows, and one number per entity and time bucket.
///
/// `deid publish` counts its release with the same `RiskCounter` and `RiskMerger` inside the
/// transform pass, on the output fields as they are written (no second read of the data).
package enum RiskScan {
    package static func run(
        inputs: [BlockInput], spec: RiskSpec, workers: Int = ProcessInfo.processInfo.activeProcessorCount,
        progress: ((InputProgress) -> Void)? = nil
    ) throws -> RiskData {
        guard let first = inputs.first else { preconditionFailure("no input") }
        let header = first.header
        for input in inputs.dropFirst() where input.header.names != header.names {
            throw TransformError(
                position: InputPosition(source: input.source.displayName, line: 1),
                problem:
                    "the header differs from the first input's; inputs of one dataset need the same columns in the same order"
            )
        }
        // Every column the spec names must exist before anything is read: an unknown one is an
        // error at once, however wide the file.
        _ = try RiskLayout(spec: spec, columns: header.names, source: first.source.displayName, defaultCandidates: [])
        var candidates: [Int]?
        if let discovery = spec.discovery, discovery.candidates == nil {
            let entity = spec.entity.flatMap(header.index(of:))
            let sensitive = spec.sensitive.flatMap(header.index(of:))
            candidates = try DiscoveryTable.defaultCandidates(
                of: first, excluding: [entity, sensitive].compactMap { $0 })
        }
        let layout = try RiskLayout(
            spec: spec, columns: header.names, source: first.source.displayName, defaultCandidates: candidates)
        let merger = RiskMerger(spec: spec, layout: layout, columns: header.names)
        let states = (0..<max(1, workers) * 2).map { _ in RiskWorker(layout: layout) }
        let counts = try BlockLoop.run(inputs: inputs, workers: states, progress: progress) { result, place in
            merger.add(result.counts, input: place.input, lineBase: place.lineBase, recordBase: place.recordBase)
        }
        var summary = RunSummary()
        summary.add(counts)
        return merger.finish(summary: summary)
    }
}

/// `deid risk`'s worker: counts a block's classes, discovery rows and trace points.
struct RiskWorker: BlockWorker {
    let layout: RiskLayout
    var record = CSVRecord()

    init(layout: RiskLayout) { self.layout = layout }

    mutating func process(_ job: BlockJob) -> CountedBlock<RiskCounts> {
        var result = CountedBlock<RiskCounts>()
        let reader: CSVReader
        do { reader = try job.reader() } catch {
            result.failure = error
            return result
        }
        var counter = RiskCounter(layout: layout, source: job.sourceName)
        // Every record of the block is counted, in the reader's order: fields the reader took
        // from the record before are that record's, and so are the codes made of them.
        do {
            while try reader.readRecord(into: &record) {
                result.recordsRead += 1
                try counter.count(record, line: record.line, number: record.number)
            }
        } catch {
            result.failure = error
        }
        result.linesRead = reader.linesConsumed
        result.counts = counter.finish()
        return result
    }
}

/// Where the measured columns are in the records counted (the input's columns for `deid risk`,
/// the captured output fields for `deid publish`), and what is measured.
struct RiskLayout: Sendable {
    var columns: [String]
    var quasiIdentifiers: [Int]
    var entity: Int?
    var sensitive: Int?
    var trace: (time: Int, value: Int)?
    var timeUnit: TimeUnit?
    var discovery: DiscoveryColumns?
    var candidates: [Int] = []
    /// Candidate columns past `DiscoverySpec.maxCandidates`, not taken.
    var candidatesBeyondLimit = 0
    var distributions: DistributionRequest?

    /// Resolves `spec`'s column names among `columns`; an unknown name is an error at line 1 of
    /// `source`. `defaultCandidates`: discovery's candidates when the spec names none.
    init(spec: RiskSpec, columns: [String], source: String, defaultCandidates: [Int]? = nil) throws {
        self.columns = columns
        func column(_ name: String, _ role: String) throws -> Int {
            if let index = columns.firstIndex(of: name) { return index }
            throw TransformError(
                position: InputPosition(source: source, line: 1),
                problem:
                    "\(role) '\(name)' is not a column of the header\(Suggestion.phrase(for: name, among: columns))")
        }
        quasiIdentifiers = try spec.quasiIdentifiers.map { try column($0, "quasi-identifier") }
        entity = try spec.entity.map { try column($0, "entity column") }
        sensitive = try spec.sensitive.map { try column($0, "sensitive column") }
        trace = try spec.trace.map {
            (time: try column($0.time, "time column"), value: try column($0.value, "value column"))
        }
        timeUnit = spec.trace?.timeUnit
        if spec.trace != nil && entity == nil {
            throw TransformError(
                position: InputPosition(source: source, line: 1),
                problem: "trace uniqueness needs an entity column: whose trace the points are")
        }
        if let discoverySpec = spec.discovery {
            let all =
                try discoverySpec.candidates.map { try $0.map { try column($0, "candidate column") } }
                ?? defaultCandidates ?? []
            // The first ones only: the file's width must not decide discovery's memory.
            candidates = Array(all.prefix(discoverySpec.maxCandidates))
            candidatesBeyondLimit = all.count - candidates.count
            discovery = DiscoveryColumns(candidates)
        }
        if !spec.distributionColumns.isEmpty {
            distributions = DistributionRequest(
                columns: try spec.distributionColumns.map { ($0, try column($0, "distribution column")) },
                entity: entity, individualsCap: spec.publicMinimumClassSize)
            distributions?.sampleEvery = spec.chartSampleEvery
        }
    }

    /// The columns the counting reads in every record (classes, entities, sensitive values,
    /// discovery, trace), as opposed to those only the sampled distributions read.
    var everyRecordColumns: Set<Int> {
        Set(quasiIdentifiers + candidates + [entity, sensitive, trace?.time, trace?.value].compactMap { $0 })
    }

    /// Every column the counting reads, in ascending order (what a transform pass captures).
    var usedColumns: [Int] {
        var used = everyRecordColumns
        for column in distributions?.columns ?? [] { used.insert(column.index) }
        return used.sorted()
    }

    /// The same layout over records holding only `usedColumns`, in that order.
    func compacted() -> RiskLayout {
        let used = usedColumns
        var position: [Int: Int] = [:]
        for (index, column) in used.enumerated() { position[column] = index }
        var compact = self
        compact.columns = used.map { columns[$0] }
        compact.quasiIdentifiers = quasiIdentifiers.map { position[$0]! }
        compact.entity = entity.map { position[$0]! }
        compact.sensitive = sensitive.map { position[$0]! }
        compact.trace = trace.map { (time: position[$0.time]!, value: position[$0.value]!) }
        compact.candidates = candidates.map { position[$0]! }
        compact.discovery = discovery.map { _ in DiscoveryColumns(compact.candidates) }
        if var request = distributions {
            request.columns = request.columns.map { ($0.name, position[$0.index]!) }
            request.entity = compact.entity
            compact.distributions = request
        }
        return compact
    }
}

/// Counts one block's records on a worker: classes, discovery rows, trace points, distributions.
struct RiskCounter {
    let layout: RiskLayout
    let source: String
    private var classes: BlockCounter
    private var discovery: BlockCounter?
    private var risk: RiskBlock
    private var distributions: DistributionCounter?

    init(layout: RiskLayout, source: String) {
        self.layout = layout
        self.source = source
        classes = BlockCounter(countsGroups: layout.entity != nil || layout.sensitive != nil)
        let discoveryColumns = layout.discovery?.current() ?? []
        discovery = layout.discovery != nil ? BlockCounter(countsGroups: true, digestsLongValues: true) : nil
        risk = RiskBlock(discoveryColumns: discoveryColumns)
        distributions = layout.distributions.map(DistributionCounter.init)
    }

    /// True when the next record counted is one the distributions sample (the others' fields
    /// that only the distributions read are not looked at).
    var samplesNext: Bool { distributions?.samplesNext ?? false }

    /// Counts `record`; `line` and `number` place it in its input (for the first position of a
    /// value, and for errors).
    mutating func count(_ record: CSVRecord, line: Int, number: Int) throws {
        distributions?.add(record)
        let tuple = classes.tuple(of: record, fields: layout.quasiIdentifiers, line: line, number: number)
        let entity = layout.entity.map { classes.entity(of: record, column: $0) } ?? UInt32.max
        classes.group(entity: entity, tuple: tuple, sensitive: layout.sensitive.map { record[$0] })
        if discovery != nil {
            let row = discovery!.tuple(of: record, fields: risk.discoveryColumns, line: line, number: number)
            discovery!.group(entity: entity, tuple: row, sensitive: nil)
        }
        // A missing reading (an empty time or value) is no point of the trace.
        if let trace = layout.trace, !record[trace.time].isEmpty, !record[trace.value].isEmpty {
            guard let time = TimestampValue.parse(record[trace.time]) else {
                throw TransformError(
                    position: InputPosition(
                        source: source, line: line, record: number, column: layout.columns[trace.time]),
                    problem: "not a date or timestamp (trace uniqueness places each value in time)")
            }
            guard let value = DecimalText.parse(record[trace.value])?.value else {
                throw TransformError(
                    position: InputPosition(
                        source: source, line: line, record: number, column: layout.columns[trace.value]),
                    problem: "not a number (trace uniqueness sums the values of each time bucket)")
            }
            let bucket = Int64((layout.timeUnit.map { time.truncated(to: $0) } ?? time).secondsSinceEpoch)
            risk.trace[TracePointKey(entity: entity, bucket: bucket), default: 0] += value
        }
    }

    /// The block's counts.
    func finish() -> RiskCounts {
        var block = risk
        block.discovery = discovery?.finish()
        return RiskCounts(statistics: classes.finish(), risk: block, distributions: distributions)
    }
}

/// What a worker counted in one block.
struct RiskCounts: Sendable {
    var statistics: BlockStatistics
    var risk: RiskBlock
    var distributions: DistributionCounter?
}

/// How a transform pass measures the release it writes: what to measure, the output fields to
/// capture (ascending output positions) and the layout over the captured fields.
struct ReleaseRiskPlan: Sendable {
    var spec: RiskSpec
    var capture: [Int]
    /// The captured output positions that only the sampled distributions read: a record they
    /// do not sample needs no copy of them.
    var sampledOnly: [Int]
    /// The input position of the entity, appended after the captured fields (its published
    /// form, a pseudonym, names the same individuals and costs a copy per record to capture);
    /// nil: the entity, if any, is captured from the output.
    var entityInput: Int?
    var layout: RiskLayout

    init(spec: RiskSpec, outputHeader: [String], entityInput: Int?) throws {
        self.spec = spec
        let full = try RiskLayout(spec: spec, columns: outputHeader, source: "<release>")
        let entityOutput = entityInput != nil ? full.entity : nil
        capture = full.usedColumns.filter { $0 != entityOutput }
        let everyRecord = full.everyRecordColumns
        sampledOnly = capture.filter { !everyRecord.contains($0) }
        self.entityInput = entityOutput != nil ? entityInput : nil
        let names = capture.map { outputHeader[$0] } + (self.entityInput != nil ? [spec.entity!] : [])
        layout = try RiskLayout(spec: spec, columns: names, source: "<release>")
    }
}

/// Merges the blocks' counts in order on the consuming thread.
final class RiskMerger: @unchecked Sendable {
    private let accumulator: PrivacyAccumulator
    private var discovery: DiscoveryTable?
    private let discoveryColumns: DiscoveryColumns?
    private var points: TracePoints?
    private let collected = DistributionCollector()

    init(spec: RiskSpec, layout: RiskLayout, columns: [String]) {
        accumulator = PrivacyAccumulator(
            columns: spec.quasiIdentifiers, hasEntity: layout.entity != nil, hasSensitive: layout.sensitive != nil)
        discovery = spec.discovery.map {
            DiscoveryTable(
                header: layout.columns, candidates: layout.candidates, hasEntity: layout.entity != nil, spec: $0,
                candidatesBeyondLimit: layout.candidatesBeyondLimit)
        }
        discoveryColumns = layout.discovery
        points = spec.trace.map { TracePoints(spec: $0) }
    }

    func add(_ counts: RiskCounts?, input: Int, lineBase: Int, recordBase: Int) {
        guard let counts else { return }
        let (_, entities) = accumulator.add(counts.statistics, input: input, lineBase: lineBase, recordBase: recordBase)
        collected.merge(counts.distributions)
        let risk = counts.risk
        if let rows = risk.discovery, discovery != nil {
            discovery!.add(rows, columns: risk.discoveryColumns, entities: entities)
            discoveryColumns?.keep(discovery!.activeColumns)
        }
        points?.add(risk.trace, entities: entities)
    }

    func finish(summary: RunSummary) -> RiskData {
        RiskData(
            statistics: accumulator.finish(), discovery: discovery, trace: points,
            distributions: collected.distributions, summary: summary)
    }
}

/// The candidate columns still in play for discovery, shared between the calling thread (which
/// leaves columns out) and the workers (which read it when a block begins).
final class DiscoveryColumns: @unchecked Sendable {
    private let lock = NSLock()
    private var columns: [Int]

    init(_ columns: [Int]) { self.columns = columns }

    func current() -> [Int] {
        lock.lock()
        defer { lock.unlock() }
        return columns
    }

    func keep(_ active: [Int]) {
        lock.lock()
        columns = active
        lock.unlock()
    }
}
