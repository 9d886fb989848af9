import DeidCSV
import DeidEngine
import Foundation

/// What a privacy-checked run did beyond the records: the statistics, the levels and the
/// search's result.
public struct PrivacyOutcome: Sendable {
    public var statistics: PrivacyStatistics
    public var levels: [QuasiIdentifierLevels]
    public var result: PrivacyResult
    public var tClosenessDistance: TClosenessSpec.Distance?
    /// Records removed because their class or their entity was suppressed (counted while writing).
    public var suppressedRecords: Int
    /// What pass 2 applied: a value any shard of the same data can apply on its own.
    public var plan: PrivacyPlan
}

/// The search's decision as a value that does not depend on one run's codes: the levels, the
/// suppressed classes by their published values, the suppressed entities that span classes by
/// their values, and the keys' ids and the seed the release was made with. Saved as JSON it can
/// be applied to any shard of the data (`TransformRun.runPrivate(... applying:)`); it names
/// entities, so it is as confidential as the input.
public struct PrivacyPlan: Codable, Sendable, Equatable {
    public var columns: [String]
    public var levels: [Int]
    public var suppressedClasses: [[Data]]
    public var suppressedEntities: [Data]
    public var keyIDs: [String: String]
    public var seed: UInt64?

    enum CodingKeys: String, CodingKey {
        case columns, levels, suppressedClasses = "suppressed_classes", suppressedEntities = "suppressed_entities",
             keyIDs = "key_ids", seed
    }

    /// The plan of a search's result.
    public init(result: PrivacyResult, columns: [String], keyIDs: [String: String], seed: UInt64?) {
        self.columns = columns
        levels = result.levels
        suppressedClasses = result.suppressedClasses.map { $0.map { Data($0) } }
        suppressedEntities = result.suppressedEntityValues.map { Data($0) }
        self.keyIDs = keyIDs
        self.seed = seed
    }
}

/// A privacy run's failure: no transformation satisfies the models (exit 1).
public struct PrivacyGateError: ReportedError, Sendable, CustomStringConvertible {
    public var refusal: PrivacyRefusal
    public var description: String { refusal.reasons.map { "refused: \($0)" }.joined(separator: "\n") }
    public var exitCode: Int32 { 1 }
    public var isRefusal: Bool { true }
    public var problems: [ReportedProblem] { refusal.reasons.map { ReportedProblem($0) } }
}

/// The two passes of a run whose policy has a `privacy` section (see Docs/ARCHITECTURE.md).
///
/// Pass 1 runs on the workers like any record-by-record plan, with the searched
/// quasi-identifiers left at level 0. Each block's records go to a spool file as frames
/// (`SpoolFrame`): the output record with the quasi-identifiers' fields empty, the offsets where
/// they go, and codes for its tuple and entity, or only what differs from the record before;
/// each worker also counts its block's tuples, entities and sensitive values in local
/// codes, which this thread translates into the run's statistics. The search then works on the
/// statistics alone. Pass 2 reads the spool once, drops the frames of suppressed classes and
/// entities, and writes the others with the chosen levels' values put in.
extension TransformRun {
    public func runPrivate(inputs: [BlockInput], output: OutputFile, delimiter: CSVDelimiter, spoolDirectory: String,
                           progress: ((InputProgress) -> Void)? = nil, digest: OutputDigest? = nil) throws -> (RunSummary, PrivacyOutcome) {
        guard let spec = plan.policy.privacy else { preconditionFailure("no privacy section") }
        var first = try passOne(inputs: inputs, delimiter: delimiter, spoolDirectory: spoolDirectory, progress: progress)
        let search = PrivacySearch(statistics: first.statistics, levels: first.levels, spec: spec)
        let result: PrivacyResult
        do { result = try search.run() } catch let refusal as PrivacyRefusal { throw PrivacyGateError(refusal: refusal) }
        let decided = PrivacyPlan(result: result, columns: first.statistics.columns, keyIDs: plan.keyIDs, seed: plan.seed)
        let (kept, suppressed) = try passTwo(first, plan: decided, output: output, delimiter: delimiter, progress: progress, digest: digest)
        first.summary.recordsOut = kept
        let outcome = PrivacyOutcome(statistics: first.statistics, levels: first.levels, result: result,
                                     tClosenessDistance: spec.tCloseness != nil ? search.tClosenessDistance : nil,
                                     suppressedRecords: suppressed, plan: decided)
        return (first.summary, outcome)
    }

    /// Applies a plan decided elsewhere (on the merged statistics of all shards) to `inputs`, a
    /// shard split by entity: pass 1 and pass 2 without a search. Returns the summary and the
    /// records suppressed.
    public func runPrivate(inputs: [BlockInput], output: OutputFile, delimiter: CSVDelimiter, spoolDirectory: String,
                           applying decided: PrivacyPlan, digest: OutputDigest? = nil) throws -> (RunSummary, suppressedRecords: Int) {
        var first = try passOne(inputs: inputs, delimiter: delimiter, spoolDirectory: spoolDirectory, progress: nil)
        guard decided.columns == first.statistics.columns, decided.levels.count == first.levels.count,
              zip(decided.levels, first.levels).allSatisfy({ $0 <= $1.maxLevel }) else {
            throw PolicyError([PolicyDiagnostic(file: plan.policy.source, line: nil, column: nil, path: "privacy",
                                                message: "the plan was made for other quasi-identifiers or levels than this policy's")])
        }
        let (kept, suppressed) = try passTwo(first, plan: decided, output: output, delimiter: delimiter, digest: digest)
        first.summary.recordsOut = kept
        return (first.summary, suppressed)
    }

    /// What pass 1 leaves for the search and pass 2.
    struct FirstPass {
        var summary: RunSummary
        var statistics: PrivacyStatistics
        var levels: [QuasiIdentifierLevels]
        let spool: SpoolFile
        let accumulator: PrivacyAccumulator
        let header: [UInt8]
        let frameHeader: Int
        let repeatHeader: Int
    }

    /// Pass 1 over every block: transform, spool, count; then the levels of each quasi-identifier.
    func passOne(inputs: [BlockInput], delimiter: CSVDelimiter, spoolDirectory: String,
                 progress: ((InputProgress) -> Void)?) throws -> FirstPass {
        guard let layout = plan.privacy else { preconditionFailure("no privacy section") }
        let header = try outputHeader(checking: inputs, delimiter: delimiter)
        let spool = try SpoolFile(directory: spoolDirectory)
        let accumulator = PrivacyAccumulator(columns: layout.columns, hasEntity: layout.entityInput != nil,
                                             hasSensitive: layout.sensitiveOutput != nil)
        let width = layout.columns.count
        let frameHeader = SpoolFrame.fullHeader(width: width, measured: layout.measuredOutputs.count)
        let repeatHeader = SpoolFrame.repeatHeader(measured: layout.measuredOutputs.count)
        let workers = transformWorkers(delimiter: delimiter).map { SpoolingWorker(base: $0, layout: layout) }
        let summary = try forEachBlock(inputs: inputs, workers: workers, progress: progress, consume: { result, place in
            guard let statistics = result.statistics else { return }
            let (tuples, entities) = accumulator.add(statistics, input: place.input, lineBase: place.lineBase, recordBase: place.recordBase)
            // The frames' local codes become the run's, in place (a repeat frame has none).
            SpoolFrame.recode(result.bytes, tuples: tuples, entities: entities, fullHeader: frameHeader, repeatHeader: repeatHeader)
            try spool.write(result.bytes)
        })
        let statistics = accumulator.finish()

        var levels: [QuasiIdentifierLevels] = []
        for (column, name) in layout.columns.enumerated() {
            do {
                levels.append(try QuasiIdentifierLevels(column: name, values: statistics.values[column],
                                                        records: statistics.valueRecords[column], generalizer: layout.generalizers[column]))
            } catch {
                switch error {
                case .value(let index, let problem):
                    let seen = statistics.valuePositions[column][index]
                    throw TransformError(position: InputPosition(source: inputs[seen.input].source.displayName, line: seen.line,
                                                                 record: seen.record, column: name), problem: problem.message)
                case .notNested(let level):
                    throw PolicyError([PolicyDiagnostic(file: plan.policy.source, line: nil, column: nil, path: "columns.\(name).generalize",
                                                        message: "level \(level) does not nest in level \(level - 1) on this data (values grouped at level \(level - 1) are split at level \(level)), so the search cannot choose among these levels: give 'level', or levels that nest")])
                }
            }
        }
        return FirstPass(summary: summary, statistics: statistics, levels: levels, spool: spool, accumulator: accumulator,
                         header: header, frameHeader: frameHeader, repeatHeader: repeatHeader)
    }

    /// Pass 2: the spool read once; frames of the plan's suppressed classes and entities are
    /// dropped, the others written with the plan's levels put in. Returns (kept, suppressed).
    func passTwo(_ first: FirstPass, plan decided: PrivacyPlan, output: OutputFile, delimiter: CSVDelimiter,
                 progress: ((InputProgress) -> Void)? = nil, digest: OutputDigest?) throws -> (Int, Int) {
        try output.write(bytes: first.header)
        digest?.update(first.header)
        try first.spool.rewind(bufferSize: spoolBufferSize)
        let copier = passTwoCopier(first, plan: decided, delimiter: delimiter)
        // The release is counted as its frames are copied (`deid publish`'s report).
        let measuring = try plan.privacyRelease.map { spec in
            try ReleaseFrameCounter(spec: spec, statistics: first.statistics, levels: first.levels, plan: decided,
                                    layout: plan.privacy!, outputHeader: plan.outputHeader, delimiter: delimiter)
        }
        copier.observer = measuring
        copier.chunkBytes = passTwoChunkBytes
        try PassTwo.run(spool: first.spool, copier: copier, frameHeader: first.frameHeader, repeatHeader: first.repeatHeader,
                        output: output, digest: digest, progress: progress)
        if let measuring { releaseCounted.data = try measuring.finish() }
        return (copier.kept, copier.suppressed)
    }

    /// Pass 2's copier for `decided`: the plan names suppressed classes by their published
    /// values and suppressed entities by their values; here they become this run's tuples and
    /// entity codes, and each quasi-identifier's values at the chosen level encoded fields.
    func passTwoCopier(_ first: FirstPass, plan decided: PrivacyPlan, delimiter: CSVDelimiter) -> PassTwoCopier {
        let statistics = first.statistics, levels = first.levels
        let suppressedClasses = Set(decided.suppressedClasses.map { $0.map { Array($0) } })
        let suppressedTuples = (0..<statistics.tupleCount).map { tuple in
            !suppressedClasses.isEmpty && suppressedClasses.contains((0..<statistics.width).map { column in
                levels[column].label(of: statistics.code(tuple: tuple, column: column), level: decided.levels[column])
            })
        }
        let suppressedEntities = Set(decided.suppressedEntities.compactMap { first.accumulator.entityCode(of: Array($0)) })
        let singleColumn = plan.outputHeader.count == 1
        let labels = (0..<statistics.width).map { column in
            (0..<statistics.values[column].count).map { code in
                let label = CSVWriter.encode(field: levels[column].label(of: code, level: decided.levels[column]), delimiter: delimiter)
                // A lone empty field would read back as a blank line.
                return singleColumn && label.isEmpty ? [0x22, 0x22] : label
            }
        }
        return PassTwoCopier(width: statistics.width, tuples: statistics.tuples, suppressedTuples: suppressedTuples,
                             suppressedEntities: suppressedEntities, labels: labels, singleColumn: singleColumn)
    }

}

/// What privacy pass 1 made of one block: its spool frames, with the block's own tuple and
/// entity codes, and the block's statistics in those codes.
struct SpoolBlock: TransformedBlock {
    var bytes = OwnedBytes()
    var recordsRead = 0
    var linesRead = 0
    var filtered = 0
    var written = 0
    var failure: (any Error)?
    var statistics: BlockStatistics?
    var distributions: DistributionCounter?
    var releaseCounts: RiskCounts? { nil }
    var sketchCounts: LinkBlockCounts? { nil }
}

/// Privacy pass 1's worker: a transform worker that writes spool frames and counts the
/// quasi-identifiers instead of writing the output.
struct SpoolingWorker: BlockWorker {
    var base: TransformWorker
    let layout: PrivacyLayout

    /// Pass 1 on one block: transform, count the quasi-identifiers in local codes, and write
    /// the block's spool frames (with local tuple and entity codes).
    mutating func process(_ job: BlockJob) -> SpoolBlock {
        var result = SpoolBlock()
        let reader: CSVReader
        do { reader = try base.begin(job) } catch {
            result.failure = error
            return result
        }
        var counter = BlockCounter(countsGroups: layout.entityInput != nil || layout.sensitiveOutput != nil)
        let writer = base.writer
        // Each record's line is written here first, then copied into its frame, whole or from
        // where it stops repeating the line before.
        if base.spoolLines == nil { base.spoolLines = CSVWriter(delimiter: writer.delimiter) }
        let lines = base.spoolLines!
        lines.discard(from: 0)
        let width = layout.outputs.count
        var distributions = base.transformer.plan.distributions.map(DistributionCounter.init)
        let outputCount = base.transformer.plan.outputHeader.count
        var sink = SpoolSink(writer: lines, layout: layout, outputCount: outputCount)
        // A record whose leading fields repeat up to past the last quasi-identifier has the
        // previous record's tuple.
        let lastQuasiIdentifierOutput = layout.outputs.max() ?? Int.max
        // A record's frame numbers: tuple, entity, line length, the quasi-identifiers' offsets,
        // the measured fields' ranges (a repeat frame: the marker, the prefix, the suffix's
        // length, the ranges).
        var frame = [UInt32](repeating: 0, count: 3 + width + 2 * layout.measuredOutputs.count)
        var previousEntity = UInt32.max
        do {
            while try reader.readRecord(into: &base.record) {
                result.recordsRead += 1
                distributions?.add(base.record)
                // The lines written so far are kept for the next record to repeat from, up to
                // a bound: then the next record starts a new run.
                if lines.byteCount > 1 << 18 { lines.discard(from: 0) }
                sink.begin()
                guard try base.transformer.transform(base.record, into: &sink) else {
                    lines.discard(from: sink.lineStart)
                    result.filtered += 1
                    continue
                }
                try lines.endRecord()
                let transformed = sink.captured
                let unchanged = sink.repeatedFields > lastQuasiIdentifierOutput
                let tuple = counter.tuple(of: transformed, fields: sink.quasiIdentifierFields, line: base.record.line,
                                          number: base.record.number, unchanged: unchanged)
                let entity = layout.entityInput.map { counter.entity(of: base.record, column: $0) } ?? UInt32.max
                counter.group(entity: entity, tuple: tuple, sensitive: sink.sensitiveField.map { transformed[$0] })
                let lineEnd = lines.byteCount
                // Repeated from the previous frame: every quasi-identifier (so the tuple), the
                // entity, and no measured field.
                let prefix = sink.repeatedBytes
                var compact = layout.repeatFrames && unchanged && outputCount > 1 && entity == previousEntity && prefix > 0
                if compact { for range in sink.measured where range.lowerBound < prefix { compact = false } }
                previousEntity = entity
                let measuredCount = layout.measuredOutputs.count
                for index in frame.indices { frame[index] = 0 }
                if compact {
                    frame[0] = SpoolFrame.repeatMarker
                    frame[1] = UInt32(prefix)
                    frame[2] = UInt32(lineEnd - sink.lineStart - prefix)
                    for (index, range) in sink.measured.enumerated() {
                        frame[3 + 2 * index] = UInt32(range.lowerBound - prefix)
                        frame[4 + 2 * index] = UInt32(range.upperBound - prefix)
                    }
                    writer.appendFrames(frame, count: 3 + 2 * measuredCount)
                    writer.appendBytes(of: lines, range: (sink.lineStart + prefix)..<lineEnd)
                } else {
                    frame[0] = tuple
                    frame[1] = entity
                    frame[2] = UInt32(lineEnd - sink.lineStart)
                    for (index, offset) in sink.offsets.enumerated() { frame[3 + index] = UInt32(offset) }
                    for (index, range) in sink.measured.enumerated() {
                        frame[3 + width + 2 * index] = UInt32(range.lowerBound)
                        frame[4 + width + 2 * index] = UInt32(range.upperBound)
                    }
                    writer.appendFrames(frame, count: frame.count)
                    writer.appendBytes(of: lines, range: sink.lineStart..<lineEnd)
                }
                result.written += 1
            }
        } catch {
            result.failure = error
        }
        result.statistics = counter.finish()
        result.distributions = distributions
        result.linesRead = reader.linesConsumed
        result.bytes = writer.takeBlock()
        return result
    }
}

/// Where pass 1's transformer writes a record: straight into the block's writer, except the
/// quasi-identifiers, which are kept aside (their fields are left empty in the line, and their
/// offsets noted), and the sensitive column of l-diversity or t-closeness, which is written and
/// kept aside.
struct SpoolSink: CSVFieldSink {
    let writer: CSVWriter
    /// Per output field: 0 written, 1 kept aside only, 2 both.
    private let modes: [UInt8]
    /// The fields kept aside, in output order.
    private(set) var captured = CSVRecord()
    /// Where in `captured` each quasi-identifier and the sensitive value are.
    let quasiIdentifierFields: [Int]
    let sensitiveField: Int?
    /// The current line's start in the writer, and its quasi-identifiers' offsets from there.
    private(set) var lineStart = 0
    private(set) var offsets: [Int] = []
    /// Per measured field: its bytes in the line as written (a leading delimiter included).
    private(set) var measured: [Range<Int>] = []
    private let measuredFlags: [Bool]
    private var position = 0
    private var fieldStart = 0
    /// For each marked leading field of the line (`markField`): the fields kept aside, the
    /// offsets and the measured ranges noted up to it.
    private var marks: [(captured: Int, offsets: Int, measured: Int)]
    private var markCount = 0
    /// How many leading fields of the current record were repeated from the record before, and
    /// their bytes in the line (0 when none were).
    private(set) var repeatedFields = 0
    private(set) var repeatedBytes = 0

    init(writer: CSVWriter, layout: PrivacyLayout, outputCount: Int) {
        self.writer = writer
        var modes = [UInt8](repeating: 0, count: outputCount)
        var measuredFlags = [Bool](repeating: false, count: outputCount)
        for output in layout.measuredOutputs { measuredFlags[output] = true }
        self.measuredFlags = measuredFlags
        for output in layout.outputs { modes[output] = 1 }
        if let sensitive = layout.sensitiveOutput { modes[sensitive] = 2 }
        self.modes = modes
        var capturedIndex = 0
        var quasiIdentifierFields: [Int] = [], sensitiveField: Int?
        for mode in modes where mode != 0 {
            if mode == 1 { quasiIdentifierFields.append(capturedIndex) } else { sensitiveField = capturedIndex }
            capturedIndex += 1
        }
        self.quasiIdentifierFields = quasiIdentifierFields
        self.sensitiveField = sensitiveField
        marks = Array(repeating: (0, 0, 0), count: outputCount)
    }

    /// Starts a record at the writer's current end (its first field clears what the previous
    /// record kept, unless its leading fields repeat).
    mutating func begin() {
        position = 0
        lineStart = writer.byteCount
        repeatedBytes = 0
    }

    static var repeatsFields: Bool { true }

    mutating func markField() {
        writer.markField()
        marks[markCount] = (captured.count, offsets.count, measured.count)
        markCount &+= 1
    }

    /// Repeats the previous line's leading fields: the line's bytes up to them are the same, so
    /// are the fields kept aside and the offsets noted from the line's start.
    mutating func repeatFields(_ count: Int) -> Bool {
        guard position == 0, count <= markCount, writer.repeatFields(count) else { return false }
        let mark = marks[count - 1]
        captured.truncate(toFieldCount: mark.captured)
        offsets.removeLast(offsets.count - mark.offsets)
        measured.removeLast(measured.count - mark.measured)
        markCount = count
        repeatedFields = count
        repeatedBytes = writer.byteCount - lineStart
        position = count
        return true
    }

    /// The mode of the next field; for a field kept aside only, its empty field is written.
    @inline(__always) private mutating func next() -> UInt8 {
        if position == 0 {
            captured.removeAll()
            offsets.removeAll(keepingCapacity: true)
            measured.removeAll(keepingCapacity: true)
            markCount = 0
            repeatedFields = 0
            repeatedBytes = 0
        }
        let mode = modes[position]
        fieldStart = writer.byteCount
        position &+= 1
        if mode == 1 {
            writer.append(field: [])
            offsets.append(writer.byteCount - lineStart)
        }
        return mode
    }

    /// Notes where a measured field just written lies in the line.
    @inline(__always) private mutating func ended() {
        if measuredFlags[position - 1] { measured.append((fieldStart - lineStart)..<(writer.byteCount - lineStart)) }
    }

    mutating func append(fieldOf record: CSVRecord, at index: Int) {
        let mode = next()
        if mode != 0 { captured.append(fieldOf: record, at: index) }
        if mode != 1 { writer.append(fieldOf: record, at: index) }
        ended()
    }

    mutating func append(field value: [UInt8]) {
        let mode = next()
        if mode != 0 { captured.append(field: value) }
        if mode != 1 { writer.append(field: value) }
        ended()
    }

    mutating func append(fieldFrom storage: [UInt8], range: Range<Int>, plain: Bool) {
        let mode = next()
        if mode != 0 { captured.append(fieldFrom: storage, range: range, plain: plain) }
        if mode != 1 { writer.append(fieldFrom: storage, range: range, plain: plain) }
        ended()
    }

    mutating func append(decimal value: Double, places: Int) {
        let mode = next()
        if mode != 0 { captured.append(decimal: value, places: places) }
        if mode != 1 { writer.append(decimal: value, places: places) }
        ended()
    }

    mutating func appendField(_ body: (inout [UInt8]) throws -> Void) rethrows {
        let mode = next()
        if mode == 0 {
            try writer.appendField(body)
            ended()
            return
        }
        var bytes: [UInt8] = []
        try body(&bytes)
        captured.append(field: bytes)
        if mode != 1 { writer.append(field: bytes) }
        ended()
    }
}

/// Pass 2's inner loop: copies spool frames to output lines, dropping suppressed ones and
/// putting in the chosen levels' values (pre-encoded CSV fields, one flat table).
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

    init(spec: RiskSpec, statistics: PrivacyStatistics, levels: [QuasiIdentifierLevels], plan: PrivacyPlan, layout: PrivacyLayout,
         outputHeader: [String], delimiter: CSVDelimiter) throws {
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
            (statistics.columns.firstIndex(of: name), statistics.columns.contains(name) ? nil : measuredNames.firstIndex(of: name))
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
        let tuple = frame.tuple, entity = frame.entity
        frames &+= 1
        tupleRecords[tuple] &+= 1
        var sensitive: UInt32 = 0
        if let sensitiveField {
            let value = field(sensitiveField, of: frame).unquoted()
            if let code = sensitiveIndex[value] { sensitive = code } else {
                sensitive = UInt32(sensitiveValues.count)
                sensitiveIndex[value] = sensitive
                sensitiveValues.append(value)
            }
        }
        // A household's frames come in runs of one (entity, tuple, sensitive): counted at once.
        let key = GroupKey(entity: entity, tuple: UInt32(tuple), sensitive: sensitive)
        if key == runKey { runRecords &+= 1 } else {
            if runRecords > 0 { groups[runKey, default: 0] += runRecords }
            runKey = key
            runRecords = 1
        }
        if let traceTime, let traceValue {
            let timeBytes = field(traceTime, of: frame), valueBytes = field(traceValue, of: frame)
            if !timeBytes.isEmpty && !valueBytes.isEmpty {
                guard let time = TimestampValue.parse(timeBytes), let value = valueBytes.decimal?.value else {
                    throw TransformError(position: InputPosition(source: "<release>", record: frames),
                                         problem: "a trace time or value of the release is not a timestamp or a number")
                }
                let pointKey = TracePointKey(entity: entity, bucket: Int64((timeUnit.map { time.truncated(to: $0) } ?? time).secondsSinceEpoch))
                if pointKey == traceKey { traceSum += value } else {
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
                    chartRecord.append(field: levelLabels[column][Int(levelCodes[column][Int(tuples[tuple &* width &+ column])])])
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
            for column in 0..<width { block.tupleCodes.append(levelCodes[column][Int(tuples[tuple &* width &+ column])]) }
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
        let ordered = groups.sorted { ($0.key.entity, $0.key.tuple, $0.key.sensitive) < ($1.key.entity, $1.key.tuple, $1.key.sensitive) }
        for (key, records) in ordered {
            block.groups.append((entity: hasEntity ? localEntity(key.entity) : .max, tuple: local[Int(key.tuple)], sensitive: key.sensitive,
                                 records: records))
        }
        block.sensitive = sensitiveValues
        var risk = RiskBlock()
        for (key, sum) in trace { risk.trace[TracePointKey(entity: localEntity(key.entity), bucket: key.bucket), default: 0] += sum }
        var charts = distributions
        if charts != nil { charts!.setSampling(every: 8) }
        merger.add(RiskCounts(statistics: block, risk: risk, distributions: charts), input: 0, lineBase: 0, recordBase: 0)
        return merger.finish(summary: RunSummary())
    }
}

/// Where a privacy run leaves the release's counts made in pass 2.
public final class ReleaseCounted: @unchecked Sendable {
    var data: RiskData?
}

/// The manifest's `privacy` object: the models, the transformation chosen, what it costs and
/// how the search went. Scripts rely on `transformation`, `information_loss`,
/// `suppressed_records`, `suppressed_entities` and `min_class_size`.
public struct PrivacyManifest: Codable, Sendable, Equatable {
    public struct Models: Codable, Sendable, Equatable {
        public var k: Int
        public var suppressionLimit: Double
        public var lDiversity: [String: ManifestValue]?
        public var tCloseness: [String: ManifestValue]?
        enum CodingKeys: String, CodingKey {
            case k, suppressionLimit = "suppression_limit", lDiversity = "l_diversity", tCloseness = "t_closeness"
        }
    }
    public struct Search: Codable, Sendable, Equatable {
        public var algorithm: String
        public var nodes: Int
        public var nodesChecked: Int
        public var milliseconds: Double
        enum CodingKeys: String, CodingKey { case algorithm, nodes, nodesChecked = "nodes_checked", milliseconds }
    }
    public var models: Models
    public var metric: String
    /// Quasi-identifier -> level chosen (0 = the value itself).
    public var transformation: [String: Int]
    public var informationLoss: Double
    public var individuals: Int
    public var suppressedRecords: Int
    public var suppressedEntities: Int
    public var classes: Int
    public var minClassSize: Int
    /// Published classes by size in individuals (bucket label -> classes).
    public var classSizes: [String: Int]
    public var entitiesInSeveralClasses: Int
    public var lowestDistinctL: Int?
    /// The highest t-closeness distance of a published class from the input's distribution
    /// (the whole table before suppression: what the model is enforced against; `t_reference`).
    public var highestTDistance: Double?
    /// `input` with a t-closeness model: what `highest_t_distance` is measured against.
    public var tReference: String?
    /// The highest distance of a published class from the release's own distribution (what a
    /// tool that sees only the release measures), beside the model's.
    public var highestTDistanceRelease: Double?
    public var search: Search

    enum CodingKeys: String, CodingKey {
        case models, metric, transformation, informationLoss = "information_loss", individuals,
             suppressedRecords = "suppressed_records", suppressedEntities = "suppressed_entities", classes,
             minClassSize = "min_class_size", classSizes = "class_sizes", entitiesInSeveralClasses = "entities_in_several_classes",
             lowestDistinctL = "lowest_distinct_l", highestTDistance = "highest_t_distance", search,
             tReference = "t_reference", highestTDistanceRelease = "highest_t_distance_release"
    }

    public init(outcome: PrivacyOutcome, spec: PrivacySpec) {
        var lDiversity: [String: ManifestValue]?
        if let model = spec.lDiversity {
            lDiversity = ["column": .text(model.column), "l": .number(model.l), "variant": .text(model.variant.rawValue)]
            if let c = model.c { lDiversity?["c"] = .number(c) }
        }
        var tCloseness: [String: ManifestValue]?
        if let model = spec.tCloseness {
            tCloseness = ["column": .text(model.column), "t": .number(model.t),
                          "distance": .text((outcome.tClosenessDistance ?? .equal).rawValue)]
        }
        models = Models(k: spec.k, suppressionLimit: spec.suppressionLimit, lDiversity: lDiversity, tCloseness: tCloseness)
        let result = outcome.result
        metric = result.metric.rawValue
        transformation = Dictionary(uniqueKeysWithValues: zip(outcome.statistics.columns, result.levels))
        informationLoss = result.informationLoss
        individuals = outcome.statistics.individuals
        suppressedRecords = outcome.suppressedRecords
        suppressedEntities = result.suppressedIndividuals
        classes = result.classes
        minClassSize = result.minClassSize
        var buckets: [String: Int] = [:]
        for (size, count) in result.classSizes { buckets[Self.bucket(size), default: 0] += count }
        classSizes = buckets
        entitiesInSeveralClasses = result.entitiesInSeveralClasses
        lowestDistinctL = result.lowestDistinctL
        highestTDistance = result.highestDistance
        tReference = spec.tCloseness != nil ? "input" : nil
        search = Search(algorithm: "flash (full-domain lattice, monotone pruning)", nodes: result.nodes, nodesChecked: result.nodesChecked,
                        milliseconds: (result.seconds * 1000 * 10).rounded() / 10)
    }

    /// Size buckets: 1, 2, 3, 4, 5-9, 10-19, 20-49, 50-99, 100-999, 1000+.
    static func bucket(_ size: Int) -> String {
        let edges = [1, 2, 3, 4, 5, 10, 20, 50, 100, 1000]
        guard let index = edges.lastIndex(where: { $0 <= size }) else { return "0" }
        if index == edges.count - 1 { return "1000+" }
        let low = edges[index], high = edges[index + 1] - 1
        return low == high ? "\(low)" : "\(low)-\(high)"
    }
}
