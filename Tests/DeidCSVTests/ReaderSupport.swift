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
    var outcome = ReadOutcome()
    do {
        var readOptions = options
        readOptions.chunkSize = min(options.chunkSize, chunkSizes.max() ?? 1)
        let reader = try CSVReader(source: InputSource(bytes: bytes, chunkSizes: chunkSizes, displayName: name),
                                   options: readOptions)
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

/// A small seeded generator for tests (SplitMix64), so a failing case can be replayed.
struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// A plain reference parser for RFC 4180 with the reader's conventions (blank lines skipped,
/// CR, LF and CR LF ends), written for clarity, not speed. The fast path must agree with it.
func referenceParse(_ text: [UInt8], delimiter: UInt8 = 0x2C) -> [[String]] {
    var records: [[String]] = []
    var fields: [String] = []
    var field: [UInt8] = []
    var index = 0
    var inRecord = false
    func endField() { fields.append(String(decoding: field, as: UTF8.self)); field = [] }
    while index < text.count {
        let byte = text[index]
        if byte == 0x22 && field.isEmpty {
            inRecord = true
            index += 1
            while index < text.count {
                if text[index] == 0x22 {
                    if index + 1 < text.count && text[index + 1] == 0x22 { field.append(0x22); index += 2; continue }
                    index += 1
                    break
                }
                field.append(text[index])
                index += 1
            }
            continue
        }
        if byte == delimiter {
            inRecord = true
            endField()
        } else if byte == 0x0A || byte == 0x0D {
            if inRecord {
                endField()
                records.append(fields)
                fields = []
            }
            inRecord = false
        } else {
            inRecord = true
            field.append(byte)
        }
        index += 1
    }
    if inRecord {
        endField()
        records.append(fields)
    }
    return records
}
