import DeidCSV
import DeidEngine
import Foundation

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
    package func runPrivate(
        inputs: [BlockInput], output: OutputFile, delimiter: CSVDelimiter, spoolDirectory: String,
        progress: ((InputProgress) -> Void)? = nil, digest: OutputDigest? = nil
    ) throws -> (RunSummary, PrivacyOutcome) {
        guard let spec = plan.policy.privacy else { preconditionFailure("no privacy section") }
        var first = try passOne(
            inputs: inputs, delimiter: delimiter, spoolDirectory: spoolDirectory, progress: progress)
        let search = PrivacySearch(statistics: first.statistics, levels: first.levels, spec: spec)
        let result: PrivacyResult
        do { result = try search.run() } catch let refusal as PrivacyRefusal {
            throw PrivacyGateError(refusal: refusal)
        }
        let decided = PrivacyPlan(
            result: result, columns: first.statistics.columns, keyIDs: plan.keyIDs, seed: plan.seed)
        let (kept, suppressed) = try passTwo(
            first, plan: decided, output: output, delimiter: delimiter, progress: progress, digest: digest)
        first.summary.recordsOut = kept
        let outcome = PrivacyOutcome(
            statistics: first.statistics, levels: first.levels, result: result,
            tClosenessDistance: spec.tCloseness != nil ? search.tClosenessDistance : nil,
            suppressedRecords: suppressed, plan: decided)
        return (first.summary, outcome)
    }

    /// Applies a plan decided elsewhere (on the merged statistics of all shards) to `inputs`, a
    /// shard split by entity: pass 1 and pass 2 without a search. Returns the summary and the
    /// records suppressed.
    package func runPrivate(
        inputs: [BlockInput], output: OutputFile, delimiter: CSVDelimiter, spoolDirectory: String,
        applying decided: PrivacyPlan, progress: ((InputProgress) -> Void)? = nil, digest: OutputDigest? = nil
    ) throws -> (RunSummary, suppressedRecords: Int) {
        var first = try passOne(
            inputs: inputs, delimiter: delimiter, spoolDirectory: spoolDirectory, progress: progress)
        guard decided.columns == first.statistics.columns, decided.levels.count == first.levels.count,
            zip(decided.levels, first.levels).allSatisfy({ $0 <= $1.maxLevel })
        else {
            throw PolicyError([
                PolicyDiagnostic(
                    file: plan.policy.source, line: nil, column: nil, path: "privacy",
                    message: "the plan was made for other quasi-identifiers or levels than this policy's")
            ])
        }
        let (kept, suppressed) = try passTwo(
            first, plan: decided, output: output, delimiter: delimiter, progress: progress, digest: digest)
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
    /// Without `spooling` (a shard's statistics) the frames are not kept: only the counts.
    func passOne(
        inputs: [BlockInput], delimiter: CSVDelimiter, spoolDirectory: String,
        progress: ((InputProgress) -> Void)?, spooling: Bool = true
    ) throws -> FirstPass {
        guard let layout = privacy else { preconditionFailure("no privacy section") }
        let header = try outputHeader(checking: inputs, delimiter: delimiter)
        let spool = try SpoolFile(directory: spoolDirectory)
        let accumulator = PrivacyAccumulator(
            columns: layout.columns, hasEntity: layout.entityInput != nil,
            hasSensitive: layout.sensitiveOutput != nil)
        let width = layout.columns.count
        let frameHeader = SpoolFrame.fullHeader(width: width, measured: layout.measuredOutputs.count)
        let repeatHeader = SpoolFrame.repeatHeader(measured: layout.measuredOutputs.count)
        let workers = transformWorkers(delimiter: delimiter).map { SpoolingWorker(base: $0, layout: layout) }
        let summary = try forEachBlock(
            inputs: inputs, workers: workers, progress: progress,
            consume: { result, place in
                guard let statistics = result.counts else { return }
                let (tuples, entities) = accumulator.add(
                    statistics, input: place.input, lineBase: place.lineBase, recordBase: place.recordBase)
                // The frames' local codes become the run's, in place (a repeat frame has none).
                SpoolFrame.recode(
                    result.bytes, tuples: tuples, entities: entities, fullHeader: frameHeader,
                    repeatHeader: repeatHeader)
                if spooling { try spool.write(result.bytes) }
            })
        let statistics = accumulator.finish()

        let levels = try quasiIdentifierLevels(statistics, layout: layout) { inputs[$0].source.displayName }
        return FirstPass(
            summary: summary, statistics: statistics, levels: levels, spool: spool, accumulator: accumulator,
            header: header, frameHeader: frameHeader, repeatHeader: repeatHeader)
    }

    /// Each quasi-identifier's levels on the values `statistics` holds; a value a generalizer
    /// cannot take is an error at the place it was first seen (`source` names an input).
    func quasiIdentifierLevels(
        _ statistics: PrivacyStatistics, layout: PrivacyLayout, source: (Int) -> String
    ) throws -> [QuasiIdentifierLevels] {
        var levels: [QuasiIdentifierLevels] = []
        for (column, name) in layout.columns.enumerated() {
            do {
                levels.append(
                    try QuasiIdentifierLevels(
                        column: name, values: statistics.values[column],
                        records: statistics.valueRecords[column], generalizer: layout.generalizers[column]))
            } catch {
                switch error {
                case .value(let index, let problem):
                    let seen = statistics.valuePositions[column][index]
                    throw TransformError(
                        position: InputPosition(
                            source: source(seen.input), line: seen.line,
                            record: seen.record, column: name), problem: problem.message)
                case .notNested(let level):
                    throw PolicyError([
                        PolicyDiagnostic(
                            file: plan.policy.source, line: nil, column: nil, path: "columns.\(name).generalize",
                            message:
                                "level \(level) does not nest in level \(level - 1) on this data (values grouped at level \(level - 1) are split at level \(level)), so the search cannot choose among these levels: give 'level', or levels that nest"
                        )
                    ])
                }
            }
        }
        return levels
    }

    /// Pass 2: the spool read once; frames of the plan's suppressed classes and entities are
    /// dropped, the others written with the plan's levels put in. Returns (kept, suppressed).
    func passTwo(
        _ first: FirstPass, plan decided: PrivacyPlan, output: OutputFile, delimiter: CSVDelimiter,
        progress: ((InputProgress) -> Void)? = nil, digest: OutputDigest?
    ) throws -> (Int, Int) {
        try output.write(bytes: first.header)
        digest?.update(first.header)
        try first.spool.rewind(bufferSize: spoolBufferSize)
        let copier = passTwoCopier(first, plan: decided, delimiter: delimiter)
        // The release is counted as its frames are copied (`deid publish`'s report).
        let measuring = try observation.observers.privacyReleaseRisk.map { spec in
            try ReleaseFrameCounter(
                spec: spec, statistics: first.statistics, levels: first.levels, plan: decided,
                layout: privacy!, outputHeader: plan.outputHeader, delimiter: delimiter)
        }
        copier.observer = measuring
        copier.chunkBytes = passTwoChunkBytes
        try PassTwo.run(
            spool: first.spool, copier: copier, frameHeader: first.frameHeader, repeatHeader: first.repeatHeader,
            output: output, digest: digest, progress: progress)
        if let measuring { observation.privacyReleaseCounts = try measuring.finish() }
        return (copier.kept, copier.suppressed)
    }

    /// Pass 2's copier for `decided`: the plan names suppressed classes by their published
    /// values and suppressed entities by their values; here they become this run's tuples and
    /// entity codes, and each quasi-identifier's values at the chosen level encoded fields.
    func passTwoCopier(_ first: FirstPass, plan decided: PrivacyPlan, delimiter: CSVDelimiter) -> PassTwoCopier {
        let statistics = first.statistics
        let levels = first.levels
        let suppressedClasses = Set(decided.suppressedClasses.map { $0.map { Array($0) } })
        let suppressedTuples = (0..<statistics.tupleCount).map { tuple in
            !suppressedClasses.isEmpty
                && suppressedClasses.contains(
                    (0..<statistics.width).map { column in
                        levels[column].label(
                            of: statistics.code(tuple: tuple, column: column), level: decided.levels[column])
                    })
        }
        let suppressedEntities = Set(
            decided.suppressedEntities.compactMap { first.accumulator.entityCode(of: Array($0)) })
        let singleColumn = plan.outputHeader.count == 1
        let labels = (0..<statistics.width).map { column in
            (0..<statistics.values[column].count).map { code in
                let label = CSVWriter.encode(
                    field: levels[column].label(of: code, level: decided.levels[column]), delimiter: delimiter)
                // A lone empty field would read back as a blank line.
                return singleColumn && label.isEmpty ? [0x22, 0x22] : label
            }
        }
        return PassTwoCopier(
            width: statistics.width, tuples: statistics.tuples, suppressedTuples: suppressedTuples,
            suppressedEntities: suppressedEntities, labels: labels, singleColumn: singleColumn)
    }

}

/// What privacy pass 1 made of one block: its spool frames, with the block's own tuple and
/// entity codes, and the block's statistics in those codes (its observed part is the input's
/// distributions: a privacy run counts its release in pass 2, and is not sketched as written).
typealias SpoolBlock = WrittenBlock<BlockStatistics>

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
        var distributions = base.observers.inputDistributions.map(DistributionCounter.init)
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
                let tuple = counter.tuple(
                    of: transformed, fields: sink.quasiIdentifierFields, line: base.record.line,
                    number: base.record.number)
                let entity = layout.entityInput.map { counter.entity(of: base.record, column: $0) } ?? UInt32.max
                counter.group(entity: entity, tuple: tuple, sensitive: sink.sensitiveField.map { transformed[$0] })
                let lineEnd = lines.byteCount
                // Repeated from the previous frame: every quasi-identifier (so the tuple), the
                // entity, and no measured field.
                let prefix = sink.repeatedBytes
                var compact =
                    layout.repeatFrames && unchanged && outputCount > 1 && entity == previousEntity && prefix > 0
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
        result.counts = counter.finish()
        result.observed.distributions = distributions
        result.linesRead = reader.linesConsumed
        result.bytes = writer.takeBlock()
        return result
    }
}
