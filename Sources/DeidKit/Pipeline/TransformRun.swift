import DeidCSV

/// What one input contributed to a run.
public struct InputSummary: Codable, Sendable, Equatable {
    public var name: String
    /// The file's size in bytes (nil for standard input).
    public var bytes: Int?
    /// SHA-256 of the file's bytes as stored (nil for standard input).
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

/// One streaming pass: every input's records through the plan's transformer (and aggregator)
/// into a writer. Inputs must all have the header the plan was compiled for.
public struct TransformRun {
    public let plan: TransformPlan

    public init(plan: TransformPlan) { self.plan = plan }

    /// Reads every record of `readers` in order and writes the transformed records to
    /// `writer` (the header first). Does not finish the writer.
    /// - Parameter progress: called now and then with the reader being read.
    public func run(readers: [CSVReader], writer: CSVWriter, progress: ((CSVReader) -> Void)? = nil) throws -> RunSummary {
        var summary = RunSummary()
        try writer.write(fields: plan.outputHeader)
        var transformer = RecordTransformer(plan: plan, sourceName: readers.first?.source.displayName ?? "")
        var aggregator = plan.aggregation.map(TimeSeriesAggregator.init(plan:))
        var record = CSVRecord()
        var output = CSVRecord()
        var written = 0
        for reader in readers {
            guard reader.header.names == plan.inputHeader else {
                throw TransformError(position: InputPosition(source: reader.source.displayName, line: 1),
                                     problem: "the header differs from the first input's; inputs of one dataset need the same columns in the same order")
            }
            transformer.sourceName = reader.source.displayName
            let before = summary.recordsIn
            while try reader.readRecord(into: &record) {
                summary.recordsIn += 1
                if summary.recordsIn & 0xFFFF == 0 { progress?(reader) }
                guard try transformer.transform(record, into: &output) else {
                    summary.recordsFiltered += 1
                    continue
                }
                if aggregator != nil, let entity = plan.aggregation?.entityInput {
                    try aggregator!.add(output, entity: record[entity], sourceName: reader.source.displayName, inputRecord: record,
                                        header: plan.outputHeader, transformer: &transformer) { try writer.write(record: $0); written += 1 }
                } else {
                    try writer.write(record: output)
                    written += 1
                }
            }
            summary.inputs.append(InputSummary(name: reader.source.displayName, bytes: reader.source.totalBytes, sha256: nil,
                                               records: summary.recordsIn - before, compressed: reader.source.isCompressed))
        }
        if aggregator != nil {
            try aggregator!.finish(transformer: &transformer) { try writer.write(record: $0); written += 1 }
        }
        summary.recordsOut = written
        return summary
    }
}
