import DeidCSV
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
public struct RiskData: Sendable {
    /// The classes of the quasi-identifiers (with the entity and the sensitive column).
    public var statistics: PrivacyStatistics
    public var discovery: DiscoveryTable?
    public var trace: TracePoints?
    /// The value distributions of `RiskSpec.distributionColumns`.
    public var distributions: [ValueDistribution] = []
    public var summary: RunSummary
}

/// The one streaming pass of `deid risk`: blocks are parsed on every core; each worker counts
/// its block's classes with `BlockCounter` (the same counting as the privacy pass), the
/// candidate columns' rows for discovery and the entities' trace points, and the calling thread
/// merges them in order. Memory: distinct quasi-identifier tuples and entities, at most
/// `DiscoverySpec.rowLimit` discovery rows, and one number per entity and time bucket.
public enum RiskScan {
    public static func run(inputs: [BlockInput], spec: RiskSpec, workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                           progress: ((InputProgress) -> Void)? = nil) throws -> RiskData {
        guard let first = inputs.first else { preconditionFailure("no input") }
        let header = first.header
        for input in inputs.dropFirst() where input.header.names != header.names {
            throw TransformError(position: InputPosition(source: input.source.displayName, line: 1),
                                 problem: "the header differs from the first input's; inputs of one dataset need the same columns in the same order")
        }
        func column(_ name: String, _ role: String) throws -> Int {
            if let index = header.index(of: name) { return index }
            throw TransformError(position: InputPosition(source: first.source.displayName, line: 1),
                                 problem: "\(role) '\(name)' is not a column of the header\(Suggestion.phrase(for: name, among: header.names))")
        }
        let quasiIdentifiers = try spec.quasiIdentifiers.map { try column($0, "quasi-identifier") }
        let entity = try spec.entity.map { try column($0, "entity column") }
        let sensitive = try spec.sensitive.map { try column($0, "sensitive column") }
        let trace = try spec.trace.map { (time: try column($0.time, "time column"), value: try column($0.value, "value column")) }
        if spec.trace != nil && entity == nil {
            throw TransformError(position: InputPosition(source: first.source.displayName, line: 1),
                                 problem: "trace uniqueness needs an entity column: whose trace the points are")
        }
        var candidates: [Int] = []
        if let discovery = spec.discovery {
            if let names = discovery.candidates {
                candidates = try names.map { try column($0, "candidate column") }
            } else {
                candidates = try DiscoveryTable.defaultCandidates(of: first, excluding: [entity, sensitive].compactMap { $0 })
            }
        }
        let columns = DiscoveryColumns(candidates)
        let distributionRequest: DistributionRequest? = spec.distributionColumns.isEmpty ? nil
            : DistributionRequest(columns: try spec.distributionColumns.map { ($0, try column($0, "distribution column")) }, entity: entity,
                                  individualsCap: spec.publicMinimumClassSize)
        let collected = DistributionCollector()
        let layout = RiskLayout(quasiIdentifiers: quasiIdentifiers, entity: entity, sensitive: sensitive, trace: trace,
                                timeUnit: spec.trace?.timeUnit, discovery: spec.discovery != nil ? columns : nil,
                                distributions: distributionRequest)

        let accumulator = PrivacyAccumulator(columns: spec.quasiIdentifiers, hasEntity: entity != nil, hasSensitive: sensitive != nil)
        var discovery = spec.discovery.map { DiscoveryTable(header: header.names, candidates: candidates, hasEntity: entity != nil, rowLimit: $0.rowLimit) }
        var points = spec.trace.map { TracePoints(spec: $0) }
        let states = (0..<max(1, workers) * 2).map { _ in CSVRecord() }
        let summary = try TransformRun.forEachBlock(inputs: inputs, states: states, progress: progress, process: { block, first, _, input, record in
            Self.process(block, first: first, input: input, layout: layout, record: &record)
        }, consume: { result, input, lineBase, recordBase in
            guard let statistics = result.statistics else { return }
            let (_, entities) = accumulator.add(statistics, input: input, lineBase: lineBase, recordBase: recordBase)
            collected.merge(result.distributions)
            guard let risk = result.risk else { return }
            if let rows = risk.discovery, discovery != nil {
                discovery!.add(rows, columns: risk.discoveryColumns, entities: entities)
                columns.keep(discovery!.activeColumns)
            }
            points?.add(risk.trace, entities: entities)
        })
        return RiskData(statistics: accumulator.finish(), discovery: discovery, trace: points, distributions: collected.distributions,
                        summary: summary)
    }

    /// The columns one block needs.
    struct RiskLayout: Sendable {
        var quasiIdentifiers: [Int]
        var entity: Int?
        var sensitive: Int?
        var trace: (time: Int, value: Int)?
        var timeUnit: TimeUnit?
        var discovery: DiscoveryColumns?
        var distributions: DistributionRequest?
    }

    static func process(_ block: CSVBlock, first: Bool, input: BlockInput, layout: RiskLayout, record: inout CSVRecord) -> TransformRun.BlockResult {
        var result = TransformRun.BlockResult()
        let reader: CSVReader
        do { reader = try TransformRun.reader(for: block, first: first, input: input) } catch {
            result.failure = error
            return result
        }
        var counter = BlockCounter(countsGroups: layout.entity != nil || layout.sensitive != nil)
        let discoveryColumns = layout.discovery?.current() ?? []
        var discovery = layout.discovery != nil ? BlockCounter(countsGroups: true) : nil
        var risk = RiskBlock(discoveryColumns: discoveryColumns)
        var distributions = layout.distributions.map(DistributionCounter.init)
        // Values compared as text must be valid text (trace columns are parsed as numbers and times).
        let textColumns = layout.quasiIdentifiers + [layout.entity, layout.sensitive].compactMap { $0 } + discoveryColumns
        do {
            while try reader.readRecord(into: &record) {
                result.recordsIn += 1
                try reader.validateUTF8(record, columns: textColumns)
                distributions?.add(record)
                let tuple = counter.tuple(of: record, fields: layout.quasiIdentifiers, line: record.line, number: record.number)
                let entity = layout.entity.map { counter.entity(of: record, column: $0) } ?? UInt32.max
                counter.group(entity: entity, tuple: tuple, sensitive: layout.sensitive.map { record[$0] })
                if discovery != nil {
                    let row = discovery!.tuple(of: record, fields: discoveryColumns, line: record.line, number: record.number)
                    discovery!.group(entity: entity, tuple: row, sensitive: nil)
                }
                // A missing reading (an empty time or value) is no point of the trace.
                if let trace = layout.trace, !record[trace.time].isEmpty, !record[trace.value].isEmpty {
                    guard let time = TimestampValue.parse(record[trace.time]) else {
                        throw TransformError(position: InputPosition(source: input.source.displayName, line: record.line,
                                                                     record: record.number, column: input.header.names[trace.time]),
                                             problem: "not a date or timestamp (trace uniqueness places each value in time)")
                    }
                    guard let value = DecimalText.parse(record[trace.value])?.value else {
                        throw TransformError(position: InputPosition(source: input.source.displayName, line: record.line,
                                                                     record: record.number, column: input.header.names[trace.value]),
                                             problem: "not a number (trace uniqueness sums the values of each time bucket)")
                    }
                    let bucket = Int64((layout.timeUnit.map { time.truncated(to: $0) } ?? time).secondsSinceEpoch)
                    risk.trace[TracePointKey(entity: entity, bucket: bucket), default: 0] += value
                }
            }
        } catch {
            result.failure = error
        }
        result.lines = reader.linesConsumed
        result.statistics = counter.finish()
        risk.discovery = discovery?.finish()
        result.risk = risk
        result.distributions = distributions
        return result
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
