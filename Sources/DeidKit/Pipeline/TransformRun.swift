import DeidCSV
import DeidEngine
import Foundation

/// The transform pass over blocks of records.
///
/// A plan that works record by record runs on several cores: the calling thread cuts each input
/// into blocks (`CSVBlockSplitter`) and writes results in input order, while worker threads
/// parse, filter, transform and serialize blocks, each with its own libcsv parser and its own
/// `RecordTransformer`. A plan that aggregates runs on the calling thread, since one entity's
/// readings span blocks. A seeded run draws block `i`'s noise from stream `i`, so its output
/// bytes depend neither on the number of workers nor on timing, nor on whether the input came
/// from a file or a pipe.
///
/// Error positions are those of the whole input: a block's lines and records are counted from
/// its start and shifted by the blocks before it when the error is reported, in order.
package struct TransformRun {
    package let plan: TransformPlan
    /// Worker threads (record-by-record plans).
    package let workers: Int
    /// How much of a privacy run's spool is read at a time in its second pass.
    package var spoolBufferSize = 4 << 20
    /// The size of the chunks privacy pass 2 hands to the writing thread.
    package var passTwoChunkBytes = 1 << 20
    /// What the pass watches for a publish, and what it saw.
    let observation: Observation
    /// Where a privacy run's columns are, with the fields its release observer measures.
    let privacy: PrivacyLayout?

    /// - Parameter observers: what a publish watches while the pass writes (none: the pass
    ///   only transforms).
    package init(plan: TransformPlan, workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.init(plan: plan, observers: ReleaseObservers(), workers: workers)
    }

    init(plan: TransformPlan, observers: ReleaseObservers, workers: Int = ProcessInfo.processInfo.activeProcessorCount)
    {
        self.plan = plan
        self.workers = max(1, workers)
        observation = Observation(observers, blocksInFlight: 2 * max(1, workers))
        var privacy = plan.privacy
        privacy?.measuredOutputs = observers.measuredOutputs
        self.privacy = privacy
    }

    /// The input's distributions of the observed columns, once the run is done.
    package var collected: DistributionCollector { observation.inputDistributions }

    /// Transforms `inputs` into `output`, header first, with `delimiter`. Does not commit.
    /// - Parameter digest: takes every byte written, in order, when the plan works record by
    ///   record (to fingerprint the output while it is written); none when it aggregates.
    package func run(
        inputs: [BlockInput], output: OutputFile, delimiter: CSVDelimiter,
        progress: ((InputProgress) -> Void)? = nil, digest: OutputDigest? = nil
    ) throws -> RunSummary {
        let header = try outputHeader(checking: inputs, delimiter: delimiter)
        try output.write(bytes: header)
        if plan.aggregation != nil {
            return try runAggregating(inputs: inputs, output: output, delimiter: delimiter, progress: progress)
        }
        digest?.update(header)
        return try runParallel(inputs: inputs, output: output, delimiter: delimiter, progress: progress, digest: digest)
    }

    /// The output's header line, after checking that every input has the plan's header.
    func outputHeader(checking inputs: [BlockInput], delimiter: CSVDelimiter) throws -> [UInt8] {
        for input in inputs where input.header.names != plan.inputHeader {
            throw TransformError(
                position: InputPosition(source: input.source.displayName, line: 1),
                problem:
                    "the header differs from the first input's; inputs of one dataset need the same columns in the same order"
            )
        }
        let writer = CSVWriter(delimiter: delimiter)
        try writer.write(fields: plan.outputHeader)
        return writer.takeBytes()
    }

    private func runParallel(
        inputs: [BlockInput], output: OutputFile, delimiter: CSVDelimiter,
        progress: ((InputProgress) -> Void)?, digest: OutputDigest?
    ) throws -> RunSummary {
        try forEachBlock(inputs: inputs, workers: transformWorkers(delimiter: delimiter), progress: progress) {
            outcome, _ in
            try output.write(outcome.bytes)
            digest?.update(outcome.bytes)
        }
    }

    /// One transform worker per block that can be in flight (the queue may run them all at
    /// once), sharing the plan's compiled steps.
    func transformWorkers(delimiter: CSVDelimiter) -> [TransformWorker] {
        let steps = RecordTransformer.sharedSteps(plan: plan)
        let observation = self.observation
        return (0..<workers * 2).map { index in
            TransformWorker(
                transformer: RecordTransformer(plan: plan, sourceName: "", shared: steps),
                writer: CSVWriter(delimiter: delimiter), observers: observation.observers,
                sketch: observation.sketchStates.isEmpty ? nil : observation.sketchStates[index],
                sketchBounds: observation.sketchBounds)
        }
    }

    /// Runs `workers` over every block of `inputs` (`BlockLoop`) and hands the outcomes to
    /// `consume` in input order, after the observers of the transform pass took their part
    /// (the input's distributions, the release's risk counts and sketches). Counts records in
    /// the summary.
    func forEachBlock<Worker: BlockWorker>(
        inputs: [BlockInput], workers: [Worker], progress: ((InputProgress) -> Void)?,
        consume: (Worker.Outcome, BlockPlace) throws -> Void
    ) throws -> RunSummary
    where Worker.Outcome: TransformedBlock {
        let observation = self.observation
        var summary = RunSummary()
        let counts = try BlockLoop.run(inputs: inputs, workers: workers, progress: progress) { outcome, place in
            observation.merge(outcome.observed, place: place)
            try consume(outcome, place)
            summary.recordsFiltered += outcome.filtered
            summary.recordsOut += outcome.written
        }
        summary.add(counts)
        return summary
    }

}

extension TransformWorker: BlockWorker {
    /// Prepares the worker for a block (its noise stream, the input's name) and opens the block.
    mutating func begin(_ job: BlockJob) throws -> CSVReader {
        transformer.reseed(stream: job.number)
        transformer.sourceName = job.sourceName
        return try job.reader()
    }

    /// Transforms one block into the worker's memory writer; counts (and sketches) the
    /// release's fields as they are written when the plan measures its release.
    mutating func process(_ job: BlockJob) -> TransformBlock {
        var result = TransformBlock()
        let reader: CSVReader
        do { reader = try begin(job) } catch {
            result.failure = error
            return result
        }
        let input = job.input
        let stream = job.number
        var writer = self.writer
        var distributions = observers.inputDistributions.map(DistributionCounter.init)
        let release = observers.releaseRisk
        var releaseCounter = release.map { RiskCounter(layout: $0.layout, source: input.source.displayName) }
        let sketch = self.sketch
        let sketchEntity = observers.releaseSketch?.entity
        var tee = TeeSink(
            writer: writer, capture: release?.capture ?? [], sampledOnly: release?.sampledOnly ?? [],
            outputCount: transformer.plan.outputHeader.count, keying: sketch?.takeKeying())
        tee.keying?.counter.lower(to: sketchBounds!.current)
        do {
            while try reader.readRecord(into: &record) {
                result.recordsRead += 1
                distributions?.add(record)
                let kept: Bool
                if releaseCounter != nil || sketch != nil {
                    // The release's fields are counted (and sketched) as they are written.
                    tee.begin(sampling: releaseCounter?.samplesNext ?? true)
                    kept = try transformer.transform(record, into: &tee)
                    if kept {
                        if let entityInput = release?.entityInput { tee.appendInput(record, at: entityInput) }
                        // The captured fields say which of them repeat the record before's.
                        try releaseCounter?.count(tee.captured, line: record.line, number: record.number)
                        if sketch != nil {
                            tee.keying!.key(
                                &tee.all, entity: sketchEntity, block: stream, number: result.written + 1,
                                repeated: tee.allRepeated)
                        }
                    }
                } else {
                    kept = try transformer.transform(record, into: &writer)
                }
                if kept {
                    try writer.endRecord()
                    result.written += 1
                } else {
                    result.filtered += 1
                }
            }
        } catch {
            result.failure = error
        }
        result.observed.releaseCounts = releaseCounter?.finish()
        if let sketch, var keying = tee.keying {
            result.observed.sketchCounts = keying.counter.takeBlock()
            sketchBounds!.lower(to: keying.counter.cutoffs)
            sketch.putKeying(keying)
        }
        result.linesRead = reader.linesConsumed
        result.bytes = self.writer.takeBlock()
        result.observed.distributions = distributions
        return result
    }
}

extension TransformRun {
    private func runAggregating(
        inputs: [BlockInput], output: OutputFile, delimiter: CSVDelimiter,
        progress: ((InputProgress) -> Void)?
    ) throws -> RunSummary {
        guard let aggregation = plan.aggregation else { preconditionFailure("no aggregation") }
        var summary = RunSummary()
        var transformer = RecordTransformer(plan: plan, sourceName: "")
        var aggregator = TimeSeriesAggregator(plan: aggregation)
        let writer = CSVWriter(output: output, delimiter: delimiter)
        var record = CSVRecord()
        var transformed = CSVRecord()
        var written = 0
        let observers = observation.observers
        var distributions = observers.inputDistributions.map(DistributionCounter.init)
        var releaseCounter = observers.releaseRisk.map { RiskCounter(layout: $0.layout, source: "<release>") }
        var captured = CSVRecord()
        // The release's sketches: one state on this thread, its counts merged at the end.
        let sketch = observation.sketchStates.first
        var keying = sketch?.takeKeying()
        var sketched = CSVRecord()
        defer {
            var observed = ObservedBlock(distributions: distributions)
            if let sketch, var keying {
                observed.sketchCounts = keying.counter.takeBlock()
                sketch.putKeying(keying)
            }
            observation.merge(observed, place: BlockPlace(input: 0, lineBase: 0, recordBase: 0))
        }
        /// Writes an aggregated record of `entity` (its input value), counting (and sketching) it
        /// for the release.
        func emit(_ output: CSVRecord, entity: [UInt8]) throws {
            try writer.write(record: output)
            written += 1
            if observers.collectsEntities { observation.entities.insert(entity) }
            if let release = observers.releaseRisk {
                captured.removeAll()
                for index in release.capture { captured.append(fieldOf: output, at: index) }
                // A rotating pseudonym names one entity by many values: it is counted by its input.
                if release.entityInput != nil { captured.append(field: entity) }
                try releaseCounter!.count(captured, line: 0, number: written)
            }
            if keying != nil {
                sketched.removeAll()
                for index in 0..<output.count { sketched.append(fieldOf: output, at: index) }
                keying!.key(&sketched, entity: observers.releaseSketch?.entity, block: 0, number: written)
            }
        }
        for input in inputs {
            transformer.sourceName = input.source.displayName
            var lineBase = 0
            var recordBase = 0
            var first = true
            while let block = try input.nextBlock() {
                var reader: CSVReader?
                var recordsInBlock = 0
                do {
                    let blockReader = try input.reader(for: block, first: first)
                    reader = blockReader
                    first = false
                    while try blockReader.readRecord(into: &record) {
                        recordsInBlock += 1
                        summary.recordsIn += 1
                        distributions?.add(record)
                        transformed.removeAll()
                        guard try transformer.transform(record, into: &transformed) else {
                            summary.recordsFiltered += 1
                            continue
                        }
                        try aggregator.add(
                            transformed, entity: record[aggregation.entityInput], sourceName: input.source.displayName,
                            inputRecord: record, header: plan.outputHeader, transformer: &transformer
                        ) {
                            try emit($0, entity: $1)
                        }
                    }
                } catch is BrokenPipe {
                    throw BrokenPipe()
                } catch {
                    throw BlockLoop.placed(error, lines: lineBase, records: recordBase)
                }
                lineBase += reader?.linesConsumed ?? 0
                recordBase += recordsInBlock
                progress?(input.source.progress)
            }
            summary.inputs.append(
                InputSummary(
                    name: input.source.displayName, bytes: input.source.totalBytes, sha256: nil,
                    records: recordBase, compressed: input.source.isCompressed))
        }
        try aggregator.finish(transformer: &transformer) {
            try emit($0, entity: $1)
        }
        observation.releaseMerger?.add(releaseCounter?.finish(), input: 0, lineBase: 0, recordBase: 0)
        try writer.flush()
        summary.recordsOut = written
        return summary
    }
}

/// Where a measured release's fields go: every field to the writer, and the fields the risk
/// counting reads also into a record.
struct TeeSink: CSVFieldSink {
    let writer: CSVWriter
    /// Per output field: whether it is captured.
    private let captures: [Bool]
    /// Per output field: whether only sampled records need it captured (the distributions'
    /// columns that nothing else counts); other records capture it empty.
    private let sampledOnly: [Bool]
    /// Whether the current record is one the distributions sample.
    private var sampling = true
    /// The first output position whose kept captured field is empty (Int.max: none).
    private var emptyFrom = Int.max
    private(set) var captured = CSVRecord()
    /// Every output field, when `keepingAll` (the release's sketches key the whole record).
    var all = CSVRecord()
    private let keepingAll: Bool
    /// The leading fields of `all` that repeat the sketches' previous record (kept empty).
    private(set) var allRepeated = 0
    /// The release's sketches' keying, for the block (which takes each record's fields away
    /// and keeps them as its previous record).
    var keying: LinkKeying?
    /// The output column of the sketches' entity (-1 without one).
    private let sketchEntity: Int
    private var position = 0
    /// For each marked leading field of the record: the fields captured up to it.
    private var capturedMarks: [Int]
    private var capturedMarkCount = 0

    /// - Parameter keying: when given, every output field is kept too, for the release's
    ///   sketches.
    init(writer: CSVWriter, capture: [Int], sampledOnly: [Int] = [], outputCount: Int, keying: LinkKeying? = nil) {
        self.writer = writer
        var captures = [Bool](repeating: false, count: outputCount)
        for index in capture { captures[index] = true }
        self.captures = captures
        var sampled = [Bool](repeating: false, count: outputCount)
        for index in sampledOnly { sampled[index] = true }
        self.sampledOnly = sampled
        capturedMarks = [Int](repeating: 0, count: outputCount)
        self.keying = keying
        keepingAll = keying != nil
        sketchEntity = keying?.counter.request.entity ?? -1
    }

    /// Starts a record (its first field clears the kept fields, unless the leading fields
    /// repeat); `sampling`: whether the fields only sampled records need are captured.
    mutating func begin(sampling: Bool = true) {
        position = 0
        allRepeated = 0
        self.sampling = sampling
    }

    static var repeatsFields: Bool { true }

    mutating func markField() {
        writer.markField()
        capturedMarks[capturedMarkCount] = captured.count
        capturedMarkCount &+= 1
    }

    /// Repeats the previous record's leading fields, whose captured ones are still kept (all
    /// fields, when kept, are copied back from the sketches' previous record). A sampled
    /// record does not repeat a field the previous record captured empty.
    mutating func repeatFields(_ count: Int) -> Bool {
        guard position == 0, count <= capturedMarkCount, !(sampling && emptyFrom < count),
            keying?.hasPrevious ?? true, writer.repeatFields(count)
        else { return false }
        if let keying {
            all.removeAll()
            if keying.counter.keysSketchesOnly {
                // The sketches know these fields equal their previous record's (`allRepeated`):
                // they are kept empty here, not copied.
                for _ in 0..<count { all.append(field: []) }
                allRepeated = count
            } else {
                for index in 0..<count { all.append(fieldOf: keying.previous, at: index) }
            }
        }
        captured.truncate(toFieldCount: capturedMarks[count - 1])
        captured.markRepeated(leadingFields: capturedMarks[count - 1])
        capturedMarkCount = count
        position = count
        if emptyFrom >= count { emptyFrom = Int.max }
        return true
    }

    /// Appends an input field to the captured ones (the entity).
    mutating func appendInput(_ record: CSVRecord, at index: Int) {
        captured.append(fieldOf: record, at: index)
    }

    private enum Capture { case none, value, empty }

    /// What to capture of the next output field.
    @inline(__always) private mutating func next() -> Capture {
        if position == 0 {
            captured.removeAll()
            capturedMarkCount = 0
            emptyFrom = Int.max
            if keepingAll { all.removeAll() }
        }
        defer { position &+= 1 }
        guard captures[position] else { return .none }
        guard !sampling && sampledOnly[position] else { return .value }
        captured.append(field: [])
        if emptyFrom == Int.max { emptyFrom = position }
        return .empty
    }

    /// Whether the field just begun is kept in `all` as it is: a value the sketches count as
    /// missing (`LinkCounter.longestKey`) is kept empty, so free text is not copied whole (the
    /// entity is always kept, since it names the individuals).
    @inline(__always) private func keepsWhole(length: Int) -> Bool {
        length <= LinkCounter.longestKey || position - 1 == sketchEntity
    }

    mutating func append(fieldOf record: CSVRecord, at index: Int) {
        if next() == .value { captured.append(fieldOf: record, at: index) }
        if keepingAll {
            if keepsWhole(length: record.length(of: index)) {
                all.append(fieldOf: record, at: index)
            } else {
                all.append(field: [])
            }
        }
        writer.append(fieldOf: record, at: index)
    }

    mutating func append(field value: [UInt8]) {
        if next() == .value { captured.append(field: value) }
        if keepingAll { all.append(field: keepsWhole(length: value.count) ? value : []) }
        writer.append(field: value)
    }

    mutating func append(fieldFrom storage: [UInt8], range: Range<Int>, plain: Bool) {
        if next() == .value { captured.append(fieldFrom: storage, range: range, plain: plain) }
        if keepingAll {
            if keepsWhole(length: range.count) {
                all.append(fieldFrom: storage, range: range, plain: plain)
            } else {
                all.append(field: [])
            }
        }
        writer.append(fieldFrom: storage, range: range, plain: plain)
    }

    mutating func append(decimal value: Double, places: Int) {
        // Formatted once, then copied: a number never needs quotes.
        if next() == .value {
            captured.append(decimal: value, places: places)
            if keepingAll { all.append(fieldOf: captured, at: captured.count - 1) }
            writer.append(plainFieldOf: captured, at: captured.count - 1)
        } else if keepingAll {
            all.append(decimal: value, places: places)
            writer.append(plainFieldOf: all, at: all.count - 1)
        } else {
            writer.append(decimal: value, places: places)
        }
    }

    mutating func appendField(_ body: (inout [UInt8]) throws -> Void) rethrows {
        let capture = next()
        guard capture == .value || keepingAll else {
            try writer.appendField(body)
            return
        }
        var bytes: [UInt8] = []
        try body(&bytes)
        if capture == .value { captured.append(field: bytes) }
        if keepingAll { all.append(field: keepsWhole(length: bytes.count) ? bytes : []) }
        writer.append(field: bytes)
    }
}

/// What a transform worker needs for a block, kept from block to block: the transformer (with
/// its memos), a memory writer and a record, so that their storage is allocated once, not per
/// block.
struct TransformWorker {
    var transformer: RecordTransformer
    let writer: CSVWriter
    var record = CSVRecord()
    var transformed = CSVRecord()
    /// What the pass watches for a publish.
    let observers: ReleaseObservers
    /// The release's sketches this worker keys (`ReleaseObservers.releaseSketch`), and the
    /// cut-offs all workers share.
    var sketch: LinkWorkerState?
    var sketchBounds: SketchBounds?
    /// Where a privacy run's pass 1 writes each record's line before it goes into a spool
    /// frame (made on first use).
    var spoolLines: CSVWriter?

    init(
        transformer: RecordTransformer, writer: CSVWriter, observers: ReleaseObservers, sketch: LinkWorkerState? = nil,
        sketchBounds: SketchBounds? = nil
    ) {
        self.transformer = transformer
        self.writer = writer
        self.observers = observers
        self.sketch = sketch
        self.sketchBounds = sketchBounds
    }
}

/// A block of the transform pass (or of privacy pass 1): its records kept and filtered, and
/// what the observers took from it.
protocol TransformedBlock: BlockOutcome {
    var filtered: Int { get }
    var written: Int { get }
    var observed: ObservedBlock { get }
}

/// What a worker of the transform pass (or of privacy pass 1) made of one block: its bytes, and
/// what the pass counts beside them (`Counts`).
struct WrittenBlock<Counts: Sendable>: TransformedBlock {
    /// The block's output (or spool frames), handed over by the worker's writer.
    var bytes = OwnedBytes()
    var recordsRead = 0
    var linesRead = 0
    var filtered = 0
    var written = 0
    var failure: (any Error)?
    var observed = ObservedBlock()
    var counts: Counts?
}

/// A block of the transform pass: its output, nothing counted beside it.
typealias TransformBlock = WrittenBlock<Never>
