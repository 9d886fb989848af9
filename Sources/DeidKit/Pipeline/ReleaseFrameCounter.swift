import DeidCSV
import DeidEngine
import Foundation

/// Counts the kept frames of pass 2 as the release's records, on the thread that copies them,
/// without building records: runs of frames of one (tuple, entity) are counted at once, the
/// trace's (entity, bucket) sums likewise, and the charts' values every 8th frame. At the end
/// the counts become one block of `RiskCounts`, merged like any block of `deid risk`.
final class ReleaseFrameCounter: KeptFrameObserver {
    private let spec: RiskSpec
    private let merger: RiskMerger
    private let riskLayout: RiskLayout
    private let width: Int
    private let tuples: [UInt32]
    private let levelCodes: [[UInt32]]
    private let levelLabels: [[[UInt8]]]
    /// Per measured field: whether a delimiter precedes it in the line.
    private let afterDelimiter: [Bool]
    /// Indices among the measured fields.
    private let traceTime: Int?, traceValue: Int?, sensitiveField: Int?
    private let timeUnit: TimeUnit?
    /// The charted columns: a quasi-identifier (its label) or a measured field.
    private let charted: [(quasiIdentifier: Int?, measured: Int?)]
    // Runs and counts. Counted for every kept frame of pass 2: the mutable state is exempt
    // from run-time exclusivity checks (only `count` and `finish`, on one thread, touch it),
    // which cost an access check per property per frame.
    @exclusivity(unchecked) private var distributions: DistributionCounter?
    @exclusivity(unchecked) private var chartRecord = CSVRecord()
    @exclusivity(unchecked) private var tupleRecords: [Int]
    private struct GroupKey: Hashable {
        var entity: UInt32
        var tuple: UInt32
        var sensitive: UInt32
    }
    private var groups: [GroupKey: Int] = [:]
    private var sensitiveIndex: [[UInt8]: UInt32] = [:]
    private var sensitiveValues: [[UInt8]] = []
    @exclusivity(unchecked) private var runKey = GroupKey(entity: .max, tuple: .max, sensitive: .max)
    @exclusivity(unchecked) private var runRecords = 0
    private var trace: [TracePointKey: Double] = [:]
    @exclusivity(unchecked) private var traceKey = TracePointKey(entity: .max, bucket: .min)
    @exclusivity(unchecked) private var traceSum = 0.0
    @exclusivity(unchecked) private var frames = 0

    init(
        spec: RiskSpec, statistics: PrivacyStatistics, levels: [QuasiIdentifierLevels], plan: PrivacyPlan,
        layout: PrivacyLayout,
        outputHeader: [String], delimiter: CSVDelimiter
    ) throws {
        self.spec = spec
        width = statistics.width
        tuples = statistics.tuples
        levelCodes = (0..<statistics.width).map { levels[$0].codes[plan.levels[$0]] }
        levelLabels = (0..<statistics.width).map { levels[$0].labels[plan.levels[$0]] }
        afterDelimiter = layout.measuredOutputs.map { $0 > 0 }
        let measuredNames = layout.measuredOutputs.map { outputHeader[$0] }
        traceTime = spec.trace.flatMap { measuredNames.firstIndex(of: $0.time) }
        traceValue = spec.trace.flatMap { measuredNames.firstIndex(of: $0.value) }
        sensitiveField = spec.sensitive.flatMap { measuredNames.firstIndex(of: $0) }
        timeUnit = spec.trace?.timeUnit
        let columns = statistics.columns + [spec.entity ?? "<entity>"] + measuredNames
        riskLayout = try RiskLayout(spec: spec, columns: columns, source: "<release>")
        merger = RiskMerger(spec: spec, layout: riskLayout, columns: columns)
        charted = spec.distributionColumns.map { name in
            (
                statistics.columns.firstIndex(of: name),
                statistics.columns.contains(name) ? nil : measuredNames.firstIndex(of: name)
            )
        }
        if var request = riskLayout.distributions {
            // The frames are sampled here; the counter takes every record it is given.
            request.columns = spec.distributionColumns.enumerated().map { ($1, $0) }
            // The last field names the individual: the entity, or the frame itself.
            request.entity = spec.distributionColumns.count
            request.sampleEvery = 1
            distributions = DistributionCounter(request)
        }
        tupleRecords = [Int](repeating: 0, count: statistics.tupleCount)
        super.init()
    }

    /// Measured field `index` of `frame`.
    @inline(__always) private func field(_ index: Int, of frame: KeptFrame) -> FieldBytes {
        frame.measured(index, afterDelimiter: afterDelimiter[index])
    }

    /// Counts a kept frame.
    override func count(_ frame: KeptFrame) throws {
        let tuple = frame.tuple
        let entity = frame.entity
        frames &+= 1
        tupleRecords[tuple] &+= 1
        var sensitive: UInt32 = 0
        if let sensitiveField {
            let value = field(sensitiveField, of: frame).unquoted()
            if let code = sensitiveIndex[value] {
                sensitive = code
            } else {
                sensitive = UInt32(sensitiveValues.count)
                sensitiveIndex[value] = sensitive
                sensitiveValues.append(value)
            }
        }
        // A household's frames come in runs of one (entity, tuple, sensitive): counted at once.
        let key = GroupKey(entity: entity, tuple: UInt32(tuple), sensitive: sensitive)
        if key == runKey {
            runRecords &+= 1
        } else {
            if runRecords > 0 { groups[runKey, default: 0] += runRecords }
            runKey = key
            runRecords = 1
        }
        if let traceTime, let traceValue {
            let timeBytes = field(traceTime, of: frame)
            let valueBytes = field(traceValue, of: frame)
            if !timeBytes.isEmpty && !valueBytes.isEmpty {
                guard let time = TimestampValue.parse(timeBytes), let value = valueBytes.decimal?.value else {
                    throw TransformError(
                        position: InputPosition(source: "<release>", record: frames),
                        problem: "a trace time or value of the release is not a timestamp or a number")
                }
                let pointKey = TracePointKey(
                    entity: entity, bucket: Int64((timeUnit.map { time.truncated(to: $0) } ?? time).secondsSinceEpoch))
                if pointKey == traceKey {
                    traceSum += value
                } else {
                    if traceKey.entity != .max { trace[traceKey, default: 0] += traceSum }
                    traceKey = pointKey
                    traceSum = value
                }
            }
        }
        if distributions != nil && frames % spec.chartSampleEvery == 1 % spec.chartSampleEvery {
            chartRecord.removeAll()
            for source in charted {
                if let column = source.quasiIdentifier {
                    chartRecord.append(
                        field: levelLabels[column][Int(levelCodes[column][Int(tuples[tuple &* width &+ column])])])
                } else if let index = source.measured {
                    chartRecord.append(field: field(index, of: frame).unquoted())
                }
            }
            let individual = spec.entity != nil ? UInt64(entity) : UInt64(frames)
            chartRecord.append(field: littleEndianBytes(individual))
            distributions!.add(chartRecord)
        }
    }

    /// The release's counts, as one block.
    func finish() throws -> RiskData {
        if runRecords > 0 { groups[runKey, default: 0] += runRecords }
        if traceKey.entity != .max { trace[traceKey, default: 0] += traceSum }
        var block = BlockStatistics()
        block.columnValues = levelLabels
        block.columnFirst = levelLabels.map { $0.map { _ in (line: 0, record: 0) } }
        // The tuples with kept records, as local tuples; entities by their run codes.
        var local = [UInt32](repeating: .max, count: tupleRecords.count)
        for tuple in 0..<tupleRecords.count where tupleRecords[tuple] > 0 {
            local[tuple] = UInt32(block.tupleRecords.count)
            block.tupleRecords.append(tupleRecords[tuple])
            for column in 0..<width {
                block.tupleCodes.append(levelCodes[column][Int(tuples[tuple &* width &+ column])])
            }
        }
        var entityLocal: [UInt32: UInt32] = [:]
        func localEntity(_ entity: UInt32) -> UInt32 {
            if let found = entityLocal[entity] { return found }
            let code = UInt32(block.entities.count)
            entityLocal[entity] = code
            block.entities.append(littleEndianBytes(entity))
            return code
        }
        let hasEntity = riskLayout.entity != nil
        let ordered = groups.sorted {
            ($0.key.entity, $0.key.tuple, $0.key.sensitive) < ($1.key.entity, $1.key.tuple, $1.key.sensitive)
        }
        for (key, records) in ordered {
            block.groups.append(
                (
                    entity: hasEntity ? localEntity(key.entity) : .max, tuple: local[Int(key.tuple)],
                    sensitive: key.sensitive,
                    records: records
                ))
        }
        block.sensitive = sensitiveValues
        var risk = RiskBlock()
        for (key, sum) in trace {
            risk.trace[TracePointKey(entity: localEntity(key.entity), bucket: key.bucket), default: 0] += sum
        }
        var charts = distributions
        if charts != nil { charts!.setSampling(every: 8) }
        merger.add(
            RiskCounts(statistics: block, risk: risk, distributions: charts), input: 0, lineBase: 0, recordBase: 0)
        return merger.finish(summary: RunSummary())
    }
}
