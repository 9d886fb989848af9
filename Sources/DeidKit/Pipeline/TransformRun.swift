import Crypto
import DeidCSV
import Foundation

/// What one input contributed to a run.
public struct InputSummary: Codable, Sendable, Equatable {
    public var name: String
    /// The file's size in bytes (nil for standard input and pipes).
    public var bytes: Int?
    /// SHA-256 of the input's bytes as read (compressed bytes for gzip), from a file, a pipe or
    /// standard input alike; nil when the run did not fingerprint it.
    public var sha256: String?
    public var records: Int
    public var compressed: Bool
}

/// Counts of a run.
public struct RunSummary: Codable, Sendable, Equatable {
    public var inputs: [InputSummary] = []
    /// Records read (header excluded).
    public var recordsIn = 0
    /// Records dropped by the policy's filters.
    public var recordsFiltered = 0
    /// Records written.
    public var recordsOut = 0
}

/// One input of a run, cut into blocks of whole records. The first block is read at once, to
/// learn the header (and the delimiter) before the policy is loaded. Every byte of the input is
/// read once: a sample of its first records (`sample`) is read ahead and handed out again by
/// `nextBlock`, and its fingerprint is taken as it is read, so named pipes and standard input
/// work like files.
public final class BlockInput {
    public let source: InputSource
    let splitter: CSVBlockSplitter
    /// Blocks read ahead (the header's, and those a sample took), still to be handed out.
    private var pending: [CSVBlock] = []
    public let header: CSVHeader
    public let delimiter: CSVDelimiter
    let options: CSVReadOptions
    /// The SHA-256 of a plain UTF-8 input, from its blocks as they are handed out (on a queue
    /// of its own); of any other input (gzip, a converted encoding), from the file's bytes as
    /// they are read.
    private var blockDigest: BlockDigest?
    private var rawDigest: RawDigest?
    private var handedOutAll = false
    private var handedOutAny = false

    /// Opens `path` (`-` for standard input) and reads its header.
    /// - Parameter fingerprint: take the SHA-256 of the input's bytes while it is read
    ///   (`fingerprint()`).
    public init(path: String, options: CSVReadOptions, blockSize: Int = 2 << 20, fingerprint: Bool = false) throws {
        source = try InputSource(path: path, encoding: options.encoding)
        if fingerprint {
            if source.isCompressed || options.encoding != .utf8 {
                let digest = RawDigest()
                source.rawBytesObserver = { digest.update($0) }
                rawDigest = digest
            } else {
                blockDigest = BlockDigest()
            }
        }
        splitter = CSVBlockSplitter(source: source, blockSize: blockSize, maxRecordBytes: options.maxRecordBytes)
        guard var first = try splitter.next() else {
            throw CSVError(.emptyInput, at: InputPosition(source: source.displayName))
        }
        var reader: CSVReader
        while true {
            do {
                reader = try CSVReader(source: InputSource(bytes: first.bytes, chunkSizes: [options.chunkSize], displayName: source.displayName),
                                       options: options, endsInsideRecord: first.endsInsideRecord)
                break
            } catch let error as CSVError where error.kind == .emptyInput {
                // Blank lines only, so far: the header comes in a later block.
                guard let next = try splitter.next() else { throw error }
                first = first.joined(with: next)
            }
        }
        header = reader.header
        delimiter = reader.delimiter
        var fixed = options
        fixed.delimiter = reader.delimiter
        self.options = fixed
        pending = [first]
    }

    /// The first block (the header and the records after it, up to 64 KiB), when it has not
    /// been handed out yet.
    var pendingFirstBlock: CSVBlock? { handedOutAny ? nil : pending.first }

    /// The first `limit` bytes or more of whole records (the header included), read ahead, as
    /// the blocks that hold them (not copied into one array): `nextBlock` still hands out every
    /// block from the first. Before any block was handed out.
    func sample(bytes limit: Int) throws -> (pieces: [[UInt8]], endsInsideRecord: Bool) {
        precondition(!handedOutAny, "a sample is taken before the pass")
        var total = pending.reduce(0) { $0 + $1.bytes.count }
        while total < limit || pending.last?.endsInsideRecord == true, let next = try splitter.next() {
            pending.append(next)
            total += next.bytes.count
        }
        return (pending.map(\.bytes), pending.last?.endsInsideRecord ?? false)
    }

    func nextBlock() throws -> CSVBlock? {
        handedOutAny = true
        let block: CSVBlock
        if !pending.isEmpty {
            block = pending.removeFirst()
        } else {
            guard let next = try splitter.next() else {
                handedOutAll = true
                return nil
            }
            block = next
        }
        blockDigest?.add(block.bytes)
        return block
    }

    /// The SHA-256 of the input's bytes as stored (compressed bytes for gzip), once every block
    /// was handed out; nil before, or when it was not asked for.
    func fingerprint() -> String? {
        guard handedOutAll else { return nil }
        return blockDigest?.finish() ?? rawDigest?.finish()
    }
}

/// SHA-256 of byte arrays given in order, hashed on a serial queue; at most 4 arrays wait.
final class BlockDigest: @unchecked Sendable {
    private let queue = DispatchQueue(label: "deid.block-digest")
    private let room = DispatchSemaphore(value: 4)
    private var hasher = SHA256()

    func add(_ bytes: [UInt8]) {
        room.wait()
        queue.async { [self] in
            hasher.update(data: bytes)
            room.signal()
        }
    }

    /// Waits for the arrays given so far and returns their digest in hex.
    func finish() -> String {
        queue.sync { hasher.finalize().map { String(format: "%02x", $0) }.joined() }
    }
}

/// SHA-256 of bytes given in order, hashed at once on the reading thread (a gzip file's bytes
/// are a fraction of what it decodes to).
final class RawDigest {
    private var hasher = SHA256()
    func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }
    func finish() -> String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }
}

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
public struct TransformRun {
    public let plan: TransformPlan
    /// Worker threads (record-by-record plans).
    public let workers: Int
    /// How much of a privacy run's spool is read at a time in its second pass.
    public var spoolBufferSize = 4 << 20
    /// The size of the chunks privacy pass 2 hands to the writing thread.
    package var passTwoChunkBytes = 1 << 20
    /// The input distributions of the plan's `distributions` columns, once the run is done.
    public let collected = DistributionCollector()
    /// The release's counts, when the plan measures its release (`releaseRisk`).
    let releaseMerger: RiskMerger?
    /// A privacy run's release counts, made in pass 2 (`privacyRelease`).
    let releaseCounted = ReleaseCounted()
    /// The release's sketches (`releaseSketch`): one state per block in flight (the aggregating
    /// pass uses the first), their blocks' counts merged in order, their cut-offs shared.
    let sketchStates: [LinkWorkerState]
    let sketchMerger: LinkMerger?
    let sketchBounds: SketchBounds?

    public init(plan: TransformPlan, workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.plan = plan
        self.workers = max(1, workers)
        releaseMerger = plan.releaseRisk.map { RiskMerger(spec: $0.spec, layout: $0.layout, columns: $0.layout.columns) }
        let count = 2 * max(1, workers)
        let states = plan.releaseSketch.map { request in (0..<count).map { _ in LinkWorkerState(request: request) } } ?? []
        sketchStates = states
        sketchMerger = plan.releaseSketch.map { LinkMerger(request: $0, name: "<release>") }
        sketchBounds = states.first.map { SketchBounds($0.counter.cutoffs) }
    }

    /// The release's sketches, once the run is done (nil when the plan does not sketch it).
    /// The workers' sketches are merged into the result and let go (a wide release's take
    /// tens of MB, and the publish goes on to sample the written data).
    func releaseSketches(records: Int) -> LinkSide? {
        let side = sketchMerger?.finish(records: records, counters: sketchStates.map(\.counter))
        for state in sketchStates { state.release() }
        return side
    }

    /// What a worker made of one block.
    struct BlockResult: Sendable {
        /// The block's output (or spool frames), handed over by the worker's writer.
        var bytes = OwnedBytes()
        var recordsIn = 0
        var filtered = 0
        var written = 0
        var lines = 0
        var failure: (any Error)?
        /// The quasi-identifiers' statistics of the block (privacy runs, `deid risk`).
        var statistics: BlockStatistics?
        /// What `deid risk` counted in the block; or, in a transform pass that measures its
        /// release, what it counted in the block's output.
        var riskCounts: RiskCounts?
        /// The block's input values of the plan's distribution columns.
        var distributions: DistributionCounter?
        /// What `deid link` keyed in the block.
        var linkCounts: LinkBlockCounts?
    }

    /// Transforms `inputs` into `output`, header first, with `delimiter`. Does not commit.
    /// - Parameter written: sees every byte written, in order, when the plan works record by
    ///   record (to fingerprint the output while it is written); not called when it aggregates.
    public func run(inputs: [BlockInput], output: OutputFile, delimiter: CSVDelimiter,
                    progress: ((InputProgress) -> Void)? = nil, written: ((UnsafeRawBufferPointer) -> Void)? = nil) throws -> RunSummary {
        let header = try outputHeader(checking: inputs, delimiter: delimiter)
        try output.write(bytes: header)
        if plan.aggregation != nil {
            return try runAggregating(inputs: inputs, output: output, delimiter: delimiter, progress: progress)
        }
        header.withUnsafeBytes { written?($0) }
        return try runParallel(inputs: inputs, output: output, delimiter: delimiter, progress: progress, written: written)
    }

    /// The output's header line, after checking that every input has the plan's header.
    func outputHeader(checking inputs: [BlockInput], delimiter: CSVDelimiter) throws -> [UInt8] {
        for input in inputs where input.header.names != plan.inputHeader {
            throw TransformError(position: InputPosition(source: input.source.displayName, line: 1),
                                 problem: "the header differs from the first input's; inputs of one dataset need the same columns in the same order")
        }
        let writer = CSVWriter(delimiter: delimiter)
        try writer.write(fields: plan.outputHeader)
        return writer.takeBytes()
    }

    /// Shifts a block's error positions by the lines and records of the blocks before it.
    static func placed(_ failure: any Error, lineBase: Int, recordBase: Int) -> any Error {
        if var error = failure as? CSVError {
            error.position.line = error.position.line.map { $0 + lineBase }
            error.position.record = error.position.record.map { $0 + recordBase }
            return error
        }
        if var error = failure as? TransformError {
            error.position.line = error.position.line.map { $0 + lineBase }
            error.position.record = error.position.record.map { $0 + recordBase }
            return error
        }
        return failure
    }

    /// A reader for one block: block 0 of an input starts with the header.
    static func reader(for block: CSVBlock, first: Bool, input: BlockInput) throws -> CSVReader {
        let name = input.source.displayName
        if first {
            return try CSVReader(source: InputSource(bytes: block.bytes, chunkSizes: [input.options.chunkSize], displayName: name),
                                 options: input.options, endsInsideRecord: block.endsInsideRecord)
        }
        return CSVReader(block: block.bytes, header: input.header, delimiter: input.delimiter, options: input.options, displayName: name,
                         endsInsideRecord: block.endsInsideRecord)
    }

    private func runParallel(inputs: [BlockInput], output: OutputFile, delimiter: CSVDelimiter,
                             progress: ((InputProgress) -> Void)?, written: ((UnsafeRawBufferPointer) -> Void)?) throws -> RunSummary {
        try forEachBlock(inputs: inputs, delimiter: delimiter, progress: progress, process: Self.process) { result, _, _, _ in
            try result.bytes.withUnsafeBytes { bytes in
                try output.write(bytes)
                written?(bytes)
            }
        }
    }

    /// Has every block of `inputs` processed by `process` on the workers, and hands the results
    /// to `consume` on this thread in input order, with the block's input and the lines and
    /// records of that input before it. Counts records in the summary.
    func forEachBlock(inputs: [BlockInput], delimiter: CSVDelimiter, progress: ((InputProgress) -> Void)?,
                      process: @escaping @Sendable (CSVBlock, Bool, UInt64, BlockInput, inout BlockWorker) -> BlockResult,
                      consume: (BlockResult, _ input: Int, _ lineBase: Int, _ recordBase: Int) throws -> Void) throws -> RunSummary {
        // One transformer per block that can be in flight: the queue may run them all at once.
        let steps = RecordTransformer.sharedSteps(plan: plan)
        let states = (0..<workers * 2).map { index in
            BlockWorker(transformer: RecordTransformer(plan: plan, sourceName: "", shared: steps), writer: CSVWriter(delimiter: delimiter),
                        sketch: sketchStates.isEmpty ? nil : sketchStates[index], sketchBounds: sketchBounds)
        }
        let collected = self.collected, releaseMerger = self.releaseMerger, sketchMerger = self.sketchMerger
        return try Self.forEachBlock(inputs: inputs, states: states, progress: progress, process: process) { result, input, lineBase, recordBase in
            collected.merge(result.distributions)
            releaseMerger?.add(result.riskCounts, input: input, lineBase: lineBase, recordBase: recordBase)
            if let counts = result.linkCounts { sketchMerger?.add(counts) }
            try consume(result, input, lineBase, recordBase)
        }
    }

    /// `forEachBlock` with any per-worker state (`states`: one per block in flight, at least
    /// two per worker), for passes that do not transform (`deid risk`).
    static func forEachBlock<State>(inputs: [BlockInput], states: [State], progress: ((InputProgress) -> Void)?,
                                    process: @escaping @Sendable (CSVBlock, Bool, UInt64, BlockInput, inout State) -> BlockResult,
                                    consume: (BlockResult, _ input: Int, _ lineBase: Int, _ recordBase: Int) throws -> Void) throws -> RunSummary {
        let results = ResultBoard()
        // Blocks handed out and not yet consumed; only this thread changes it.
        var inFlight = 0
        let maxInFlight = states.count
        let pool = WorkerPool(states)
        let group = DispatchGroup()
        let queue = DispatchQueue(label: "deid.transform", attributes: .concurrent)
        defer {
            results.cancel()
            group.wait()
        }
        var summary = RunSummary()
        var globalIndex = 0
        var nextToWrite = 0

        for (inputIndex, input) in inputs.enumerated() {
            let firstOfInput = globalIndex
            var lineBase = 0, recordBase = 0
            // Consumes finished results in order; when `waiting`, until `limit` is reached.
            func drain(upTo limit: Int, waiting: Bool) throws {
                while nextToWrite < limit {
                    guard let result = results.take(nextToWrite, waiting: waiting) else { return }
                    inFlight -= 1
                    if let failure = result.failure { throw Self.placed(failure, lineBase: lineBase, recordBase: recordBase) }
                    try consume(result, inputIndex, lineBase, recordBase)
                    lineBase += result.lines
                    recordBase += result.recordsIn
                    summary.recordsIn += result.recordsIn
                    summary.recordsFiltered += result.filtered
                    summary.recordsOut += result.written
                    nextToWrite += 1
                }
            }
            while let block = try input.nextBlock() {
                // At most two blocks per worker in flight: when none is free, consume the oldest.
                while inFlight >= maxInFlight { try drain(upTo: nextToWrite + 1, waiting: true) }
                inFlight += 1
                let index = globalIndex
                globalIndex += 1
                let first = index == firstOfInput
                group.enter()
                nonisolated(unsafe) let sharedInput = input
                queue.async {
                    defer { group.leave() }
                    let result = pool.with { worker in process(block, first, UInt64(index), sharedInput, &worker) }
                    results.put(index, result)
                }
                try drain(upTo: globalIndex, waiting: false)
                progress?(input.source.progress)
            }
            try drain(upTo: globalIndex, waiting: true)
            summary.inputs.append(InputSummary(name: input.source.displayName, bytes: input.source.totalBytes, sha256: nil,
                                               records: recordBase, compressed: input.source.isCompressed))
        }
        return summary
    }

    /// Prepares a worker for a block (its noise stream, the input's name) and opens the block.
    static func begin(_ block: CSVBlock, first: Bool, stream: UInt64, input: BlockInput, worker: inout BlockWorker) throws -> CSVReader {
        worker.transformer.reseed(stream: stream)
        worker.transformer.sourceName = input.source.displayName
        return try reader(for: block, first: first, input: input)
    }

    static func process(_ block: CSVBlock, first: Bool, stream: UInt64, input: BlockInput, worker: inout BlockWorker) -> BlockResult {
        var result = BlockResult()
        let reader: CSVReader
        do { reader = try Self.begin(block, first: first, stream: stream, input: input, worker: &worker) } catch {
            result.failure = error
            return result
        }
        var writer = worker.writer
        var distributions = worker.transformer.plan.distributions.map(DistributionCounter.init)
        let release = worker.transformer.plan.releaseRisk
        var releaseCounter = release.map { RiskCounter(layout: $0.layout, source: input.source.displayName) }
        let sketch = worker.sketch
        let sketchEntity = worker.transformer.plan.releaseSketch?.entity
        var tee = TeeSink(writer: writer, capture: release?.capture ?? [], sampledOnly: release?.sampledOnly ?? [],
                          outputCount: worker.transformer.plan.outputHeader.count, sketch: sketch)
        // A record whose leading fields repeat up to past the last quasi-identifier has the
        // previous record's class.
        let lastQuasiIdentifierOutput = release.map { plan in
            plan.layout.quasiIdentifiers.map { $0 < plan.capture.count ? plan.capture[$0] : Int.max }.max() ?? Int.max
        } ?? Int.max
        sketch?.withParts { _, _, counter in counter.lower(to: worker.sketchBounds!.current) }
        do {
            while try reader.readRecord(into: &worker.record) {
                result.recordsIn += 1
                distributions?.add(worker.record)
                let kept: Bool
                if releaseCounter != nil || sketch != nil {
                    // The release's fields are counted (and sketched) as they are written.
                    tee.begin(sampling: releaseCounter?.samplesNext ?? true)
                    kept = try worker.transformer.transform(worker.record, into: &tee)
                    if kept {
                        if let entityInput = release?.entityInput { tee.appendInput(worker.record, at: entityInput) }
                        try releaseCounter?.count(tee.captured, line: worker.record.line, number: worker.record.number,
                                                  unchangedTuple: tee.repeatedFields > lastQuasiIdentifierOutput)
                        if let sketch {
                            sketch.withParts { _, previous, counter in
                                sketch.key(&tee.all, previous: &previous, counter: &counter, entity: sketchEntity, block: stream,
                                           number: result.written + 1)
                            }
                        }
                    }
                } else {
                    kept = try worker.transformer.transform(worker.record, into: &writer)
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
        result.riskCounts = releaseCounter?.finish()
        if let sketch {
            sketch.withParts { _, _, counter in
                result.linkCounts = counter.takeBlock()
                worker.sketchBounds!.lower(to: counter.cutoffs)
            }
        }
        result.lines = reader.linesConsumed
        result.bytes = worker.writer.takeBlock()
        result.distributions = distributions
        return result
    }

    private func runAggregating(inputs: [BlockInput], output: OutputFile, delimiter: CSVDelimiter,
                                progress: ((InputProgress) -> Void)?) throws -> RunSummary {
        guard let aggregation = plan.aggregation else { preconditionFailure("no aggregation") }
        var summary = RunSummary()
        var transformer = RecordTransformer(plan: plan, sourceName: "")
        var aggregator = TimeSeriesAggregator(plan: aggregation)
        let writer = CSVWriter(output: output, delimiter: delimiter)
        var record = CSVRecord()
        var transformed = CSVRecord()
        var written = 0
        var distributions = plan.distributions.map(DistributionCounter.init)
        defer { collected.merge(distributions) }
        var releaseCounter = plan.releaseRisk.map { RiskCounter(layout: $0.layout, source: "<release>") }
        var captured = CSVRecord()
        // The release's sketches: one state on this thread, its counts merged at the end.
        let sketch = sketchStates.first
        var sketched = CSVRecord()
        defer {
            if let sketch { sketch.withParts { _, _, counter in sketchMerger?.add(counter.takeBlock()) } }
        }
        /// Writes an aggregated record, counting (and sketching) it for the release.
        func emit(_ output: CSVRecord) throws {
            try writer.write(record: output)
            written += 1
            if let capture = plan.releaseRisk?.capture {
                captured.removeAll()
                for index in capture { captured.append(fieldOf: output, at: index) }
                try releaseCounter!.count(captured, line: 0, number: written)
            }
            if let sketch {
                sketched.removeAll()
                for index in 0..<output.count { sketched.append(fieldOf: output, at: index) }
                sketch.withParts { _, previous, counter in
                    sketch.key(&sketched, previous: &previous, counter: &counter, entity: plan.releaseSketch?.entity, block: 0, number: written)
                }
            }
        }
        for input in inputs {
            transformer.sourceName = input.source.displayName
            var lineBase = 0, recordBase = 0, first = true
            while let block = try input.nextBlock() {
                var reader: CSVReader?
                var recordsInBlock = 0
                do {
                    let blockReader = try Self.reader(for: block, first: first, input: input)
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
                        try aggregator.add(transformed, entity: record[aggregation.entityInput], sourceName: input.source.displayName,
                                           inputRecord: record, header: plan.outputHeader, transformer: &transformer) {
                            try emit($0)
                        }
                    }
                } catch is BrokenPipe {
                    throw BrokenPipe()
                } catch {
                    throw Self.placed(error, lineBase: lineBase, recordBase: recordBase)
                }
                lineBase += reader?.linesConsumed ?? 0
                recordBase += recordsInBlock
                progress?(input.source.progress)
            }
            summary.inputs.append(InputSummary(name: input.source.displayName, bytes: input.source.totalBytes, sha256: nil,
                                               records: recordBase, compressed: input.source.isCompressed))
        }
        try aggregator.finish(transformer: &transformer) {
            try emit($0)
        }
        releaseMerger?.add(releaseCounter?.finish(), input: 0, lineBase: 0, recordBase: 0)
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
    private let sketch: LinkWorkerState?
    /// The output column of the sketches' entity (-1 without one).
    private let sketchEntity: Int
    private var position = 0
    /// For each marked leading field of the record: the fields captured up to it.
    private var capturedMarks: [Int]
    private var capturedMarkCount = 0
    /// How many leading fields of the current record were repeated from the record before.
    private(set) var repeatedFields = 0

    /// - Parameter sketch: when given, every output field is kept too, for its sketches (which
    ///   take each record's fields away and keep them as their previous record).
    init(writer: CSVWriter, capture: [Int], sampledOnly: [Int] = [], outputCount: Int, sketch: LinkWorkerState? = nil) {
        self.writer = writer
        var captures = [Bool](repeating: false, count: outputCount)
        for index in capture { captures[index] = true }
        self.captures = captures
        var sampled = [Bool](repeating: false, count: outputCount)
        for index in sampledOnly { sampled[index] = true }
        self.sampledOnly = sampled
        capturedMarks = [Int](repeating: 0, count: outputCount)
        self.sketch = sketch
        keepingAll = sketch != nil
        sketchEntity = sketch?.counter.request.entity ?? -1
    }

    /// Starts a record (its first field clears the kept fields, unless the leading fields
    /// repeat); `sampling`: whether the fields only sampled records need are captured.
    mutating func begin(sampling: Bool = true) {
        position = 0
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
        guard position == 0, count <= capturedMarkCount, !(sampling && emptyFrom < count), writer.repeatFields(count) else { return false }
        if let sketch {
            all.removeAll()
            sketch.withParts { _, previous, _ in
                for index in 0..<count { all.append(fieldOf: previous, at: index) }
            }
        }
        captured.truncate(toFieldCount: capturedMarks[count - 1])
        capturedMarkCount = count
        repeatedFields = count
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
            repeatedFields = 0
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
            if keepsWhole(length: record.length(of: index)) { all.append(fieldOf: record, at: index) } else { all.append(field: []) }
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
            if keepsWhole(length: range.count) { all.append(fieldFrom: storage, range: range, plain: plain) } else { all.append(field: []) }
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
        guard capture == .value || keepingAll else { try writer.appendField(body); return }
        var bytes: [UInt8] = []
        try body(&bytes)
        if capture == .value { captured.append(field: bytes) }
        if keepingAll { all.append(field: keepsWhole(length: bytes.count) ? bytes : []) }
        writer.append(field: bytes)
    }
}

/// What a worker needs for a block, kept from block to block: the transformer (with its memos),
/// a memory writer and a record, so that their storage is allocated once, not per block.
struct BlockWorker {
    var transformer: RecordTransformer
    let writer: CSVWriter
    var record = CSVRecord()
    var transformed = CSVRecord()
    /// The release's sketches this worker keys (`TransformPlan.releaseSketch`), and the cut-offs
    /// all workers share.
    var sketch: LinkWorkerState?
    var sketchBounds: SketchBounds?
    /// Where a privacy run's pass 1 writes each record's line before it goes into a spool
    /// frame (made on first use).
    var spoolLines: CSVWriter?

    init(transformer: RecordTransformer, writer: CSVWriter, sketch: LinkWorkerState? = nil, sketchBounds: SketchBounds? = nil) {
        self.transformer = transformer
        self.writer = writer
        self.sketch = sketch
        self.sketchBounds = sketchBounds
    }
}

/// Workers' state: one per block in flight at a time.
final class WorkerPool<State>: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [State]

    init(_ states: [State]) { free = states }

    func with<Result>(_ body: (inout State) -> Result) -> Result {
        lock.lock()
        var worker = free.removeLast()
        lock.unlock()
        let result = body(&worker)
        lock.lock()
        free.append(worker)
        lock.unlock()
        return result
    }
}

/// Finished blocks waiting to be written in order.
final class ResultBoard: @unchecked Sendable {
    private let condition = NSCondition()
    private var results: [Int: TransformRun.BlockResult] = [:]
    private var cancelled = false

    func put(_ index: Int, _ result: TransformRun.BlockResult) {
        condition.lock()
        if !cancelled { results[index] = result }
        condition.broadcast()
        condition.unlock()
    }

    /// The result of block `index`, waiting for it when `waiting`; nil when not ready.
    func take(_ index: Int, waiting: Bool) -> TransformRun.BlockResult? {
        condition.lock()
        defer { condition.unlock() }
        while waiting && results[index] == nil && !cancelled { condition.wait() }
        return results.removeValue(forKey: index)
    }

    func cancel() {
        condition.lock()
        cancelled = true
        results.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
