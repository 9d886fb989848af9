import DeidCSV
import Testing

/// Every user-visible reading and writing error, pinned: a change to a message shows up here.
@Suite("CSVError messages")
struct CSVErrorMessageTests {
    static let cases: [(CSVError.Kind, InputPosition, String)] = {
        let file = InputPosition(source: "m.csv")
        let line = InputPosition(source: "m.csv", line: 7, record: 6)
        let cell = InputPosition(source: "m.csv", line: 7, record: 6, column: "kwh")
        return [
            (.cannotOpen(reason: "Permission denied"), file, "m.csv: error: cannot open: Permission denied"),
            (.readFailed(reason: "Input/output error"), file, "m.csv: error: read failed: Input/output error"),
            (
                .truncatedGzip(offset: 4096), file,
                "m.csv: error: the gzip stream is truncated: the file ends at byte 4096 inside compressed data"
            ),
            (
                .corruptGzip(reason: "incorrect data check", offset: 812), file,
                "m.csv: error: the gzip stream is corrupt near byte 812 of the file (zlib: incorrect data check)"
            ),
            (
                .trailingData(offset: 77), file,
                "m.csv: error: bytes that are not gzip data follow the end of the gzip stream at byte 77: the file is damaged, or not one gzip file"
            ),
            (.emptyInput, file, "m.csv: error: the input is empty: there is no header row"),
            (
                .emptyColumnName(index: 2), InputPosition(source: "m.csv", line: 1),
                "m.csv:1: error: the header's column 2 has an empty name"
            ),
            (
                .duplicateColumnName(name: "id", index: 3, firstIndex: 1), InputPosition(source: "m.csv", line: 1),
                "m.csv:1: error: the header's column 3 repeats the name 'id' of column 1"
            ),
            (
                .invalidHeaderEncoding, InputPosition(source: "m.csv", line: 1),
                "m.csv:1: error: the header row is not valid UTF-8 (a Latin-1 or Windows-1252 file? read it with --encoding latin1 or --encoding windows-1252, or convert it: iconv -f WINDOWS-1252 -t UTF-8 FILE > FILE-utf8.csv)"
            ),
            (
                .fieldCountMismatch(found: 1, expected: 8), line,
                "m.csv:7: error: record 6 has 1 field; the header has 8"
            ),
            (
                .malformedQuote, cell,
                "m.csv:7: error: record 6, column 'kwh': malformed quoting (a quote inside an unquoted field, or text after a closing quote)"
            ),
            (
                .unterminatedQuote, cell,
                "m.csv:7: error: record 6, column 'kwh': a quoted field is not closed before the end of the input"
            ),
            (
                .fieldTooLarge(limit: 16 << 20), cell,
                "m.csv:7: error: record 6, column 'kwh': a field is larger than the limit of 16 MiB (an unclosed quote?)"
            ),
            (
                .recordTooLarge(limit: 512 << 10), line,
                "m.csv:7: error: record 6: the record is larger than the limit of 512 KiB"
            ),
            (
                .invalidUTF8, cell,
                "m.csv:7: error: record 6, column 'kwh': the field is not valid UTF-8 (a Latin-1 or Windows-1252 file? read it with --encoding latin1 or --encoding windows-1252, or convert it: iconv -f WINDOWS-1252 -t UTF-8 FILE > FILE-utf8.csv)"
            ),
            (
                .utf16Input, InputPosition(source: "m.csv", line: 1),
                "m.csv:1: error: the input is UTF-16 (it starts with a UTF-16 byte-order mark); convert it to UTF-8 first: iconv -f UTF-16 -t UTF-8 FILE > FILE-utf8.csv"
            ),
            (
                .fieldCountDiffersFromFirst(found: 1, expected: 3), InputPosition(source: "h.csv", line: 4, record: 4),
                "h.csv:4: error: record 4 has 1 field; the first record has 3"
            ),
            (.outOfMemory, line, "m.csv:7: error: record 6: out of memory while parsing"),
            (
                .writeFailed(reason: "No space left on device"), InputPosition(source: "out.csv"),
                "out.csv: error: write failed: No space left on device"
            ),
            (
                .wouldOverwriteInput(output: "m.csv"), file,
                "m.csv: error: refusing to write 'm.csv': it is the input file"
            ),
        ]
    }()

    @Test func everyMessage() {
        for (kind, position, expected) in CSVErrorMessageTests.cases {
            #expect(CSVError(kind, at: position).description == expected)
        }
    }
}
