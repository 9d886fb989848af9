import DeidCSV

/// Everything a reader produced from one input: the header, each record with its position, and
/// the error that ended the read, if any.
public struct ReadOutcome: Equatable, CustomStringConvertible {
    public struct Row: Equatable {
        public var fields: [String]
        public var line: Int
        public var number: Int
        public init(fields: [String], line: Int, number: Int) {
            self.fields = fields
            self.line = line
            self.number = number
        }
    }
    public var header: [String] = []
    public var rows: [Row] = []
    public var error: CSVError?
    /// An error that is not a `CSVError` (a reader must never throw one): a test failure.
    public var otherError: String?

    public init(header: [String] = [], rows: [Row] = [], error: CSVError? = nil) {
        self.header = header
        self.rows = rows
        self.error = error
    }

    public var description: String {
        "header \(header), rows \(rows.map { "\($0.number)@\($0.line):\($0.fields)" }), error \(error.map { "\($0)" } ?? otherError ?? "none")"
    }
}

/// Reads `bytes` to the end, handing them to the reader in `chunkSizes`.
public func readAll(
    _ bytes: [UInt8], chunkSizes: [Int] = [1 << 20], options: CSVReadOptions = CSVReadOptions(),
    name: String = "fixture.csv"
) -> ReadOutcome {
    var readOptions = options
    readOptions.chunkSize = min(options.chunkSize, chunkSizes.max() ?? 1)
    return readAll(options: readOptions) { InputSource(bytes: bytes, chunkSizes: chunkSizes, displayName: name) }
}

/// Reads a file (or any source) to the end.
public func readAll(path: String) -> ReadOutcome {
    readAll(options: CSVReadOptions()) { try InputSource(path: path) }
}

public func readAll(options: CSVReadOptions, source: () throws -> InputSource) -> ReadOutcome {
    var outcome = ReadOutcome()
    do {
        let reader = try CSVReader(source: source(), options: options)
        outcome.header = reader.header.names
        var record = CSVRecord()
        while try reader.readRecord(into: &record) {
            outcome.rows.append(.init(fields: record.strings, line: record.line, number: record.number))
        }
    } catch let error as CSVError {
        outcome.error = error
    } catch {
        outcome.otherError = "unexpected error type: \(error)"
    }
    return outcome
}

/// Reads `bytes` the way the multi-core pass does: cut into blocks of `blockSize` by the
/// splitter, each block parsed by its own reader, positions shifted by the blocks before.
public func readInBlocks(_ bytes: [UInt8], blockSize: Int, options: CSVReadOptions = CSVReadOptions()) -> ReadOutcome {
    var outcome = ReadOutcome()
    let splitter = CSVBlockSplitter(
        source: InputSource(bytes: bytes, chunkSizes: [7], displayName: "fixture.csv"),
        blockSize: blockSize, maxRecordBytes: options.maxRecordBytes)
    var lineBase = 0
    var recordBase = 0
    var header: CSVHeader?
    var delimiter = CSVDelimiter.comma
    do {
        while var block = try splitter.next() {
            let reader: CSVReader
            if let header {
                reader = CSVReader(
                    block: block.bytes, header: header, delimiter: delimiter, options: options,
                    displayName: "fixture.csv",
                    endsInsideRecord: block.endsInsideRecord)
            } else {
                // As `BlockInput` does: blocks of blank lines are joined with the next until the
                // header is in.
                var first: CSVReader?
                while first == nil {
                    do {
                        first = try CSVReader(
                            source: InputSource(bytes: block.bytes, displayName: "fixture.csv"), options: options,
                            endsInsideRecord: block.endsInsideRecord)
                    } catch let error as CSVError where error.kind == .emptyInput {
                        guard let next = try splitter.next() else { throw error }
                        block = block.joined(with: next)
                    }
                }
                reader = first!
                header = reader.header
                delimiter = reader.delimiter
                outcome.header = reader.header.names
            }
            var record = CSVRecord()
            var records = 0
            do {
                while try reader.readRecord(into: &record) {
                    records += 1
                    outcome.rows.append(
                        .init(fields: record.strings, line: record.line + lineBase, number: record.number + recordBase))
                }
            } catch var error as CSVError {
                error.position.line = error.position.line.map { $0 + lineBase }
                error.position.record = error.position.record.map { $0 + recordBase }
                throw error
            }
            lineBase += reader.linesConsumed
            recordBase += records
        }
        if header == nil { throw CSVError(.emptyInput, at: InputPosition(source: "fixture.csv")) }
    } catch let error as CSVError {
        outcome.error = error
    } catch {
        outcome.otherError = "unexpected error type: \(error)"
    }
    return outcome
}
