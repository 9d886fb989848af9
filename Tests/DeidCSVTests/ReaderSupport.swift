import DeidTestSupport
import DeidCSV
import Testing

/// Everything a reader produced from one input: the header, each record with its position, and
/// the error that ended the read, if any.
struct ReadOutcome: Equatable, CustomStringConvertible {
    struct Row: Equatable {
        var fields: [String]
        var line: Int
        var number: Int
    }
    var header: [String] = []
    var rows: [Row] = []
    var error: CSVError?

    var description: String {
        "header \(header), rows \(rows.map { "\($0.number)@\($0.line):\($0.fields)" }), error \(error.map { "\($0)" } ?? "none")"
    }
}

/// Reads `bytes` to the end, handing them to the reader in `chunkSizes`.
func readAll(_ bytes: [UInt8], chunkSizes: [Int] = [1 << 20], options: CSVReadOptions = CSVReadOptions(),
             name: String = "fixture.csv") -> ReadOutcome {
    var readOptions = options
    readOptions.chunkSize = min(options.chunkSize, chunkSizes.max() ?? 1)
    return readAll(options: readOptions) { InputSource(bytes: bytes, chunkSizes: chunkSizes, displayName: name) }
}

/// Reads a file (or any source) to the end.
func readAll(path: String) -> ReadOutcome {
    readAll(options: CSVReadOptions()) { try InputSource(path: path) }
}

private func readAll(options: CSVReadOptions, source: () throws -> InputSource) -> ReadOutcome {
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
        Issue.record("unexpected error type: \(error)")
    }
    return outcome
}
