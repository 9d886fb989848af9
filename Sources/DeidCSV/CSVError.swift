/// Where in an input a problem was found. Never carries a cell value: the input is personal data.
public struct InputPosition: Sendable, Equatable, CustomStringConvertible {
    /// The name the user gave for the input (`meters.csv`, or `<stdin>`).
    public var source: String
    /// The 1-based physical line, counting quoted line breaks, where the problem starts.
    public var line: Int?
    /// The 1-based data record number (the header is not counted).
    public var record: Int?
    /// The column name, from the header, when the problem is in one field.
    public var column: String?
    /// The 0-based field index within the record, for the reader to name the column.
    var fieldIndex: Int?

    /// A position; give what is known.
    public init(source: String, line: Int? = nil, record: Int? = nil, column: String? = nil) {
        self.source = source
        self.line = line
        self.record = record
        self.column = column
    }

    /// `meters.csv:1205`, or just `meters.csv` when no line is known.
    public var description: String {
        if let line { return "\(source):\(line)" }
        return source
    }

    /// Positions are equal when what they tell people is equal.
    public static func == (lhs: InputPosition, rhs: InputPosition) -> Bool {
        lhs.source == rhs.source && lhs.line == rhs.line && lhs.record == rhs.record && lhs.column == rhs.column
    }
}

/// An error while reading or writing CSV or gzip data. The message names a position and the
/// kind of problem, never the data.
public struct CSVError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        case cannotOpen(reason: String)
        case readFailed(reason: String)
        /// The file ended inside a gzip member, `offset` bytes in.
        case truncatedGzip(offset: Int)
        /// zlib found the compressed data damaged at about byte `offset` of the file.
        case corruptGzip(reason: String, offset: Int)
        /// Bytes that are not another gzip member follow the end of the gzip data at `offset`.
        case trailingData(offset: Int)
        case emptyInput
        case emptyColumnName(index: Int)
        case duplicateColumnName(name: String, index: Int, firstIndex: Int)
        case invalidHeaderEncoding
        case fieldCountMismatch(found: Int, expected: Int)
        /// A headerless file's record has another field count than its first record.
        case fieldCountDiffersFromFirst(found: Int, expected: Int)
        case malformedQuote
        case unterminatedQuote
        case fieldTooLarge(limit: Int)
        case recordTooLarge(limit: Int)
        case invalidUTF8
        /// The input starts with a UTF-16 byte-order mark.
        case utf16Input
        case outOfMemory
        case writeFailed(reason: String)
        case wouldOverwriteInput(output: String)
    }

    /// The kind of problem.
    public var kind: Kind
    /// Where it was found.
    public var position: InputPosition

    /// An error of `kind` at `position`.
    public init(_ kind: Kind, at position: InputPosition) {
        self.kind = kind
        self.position = position
    }

    /// The message without the position prefix.
    public var message: String {
        let record = position.record.map { "record \($0)" }
        let column = position.column.map { "column '\($0)'" }
        let place = [record, column].compactMap { $0 }.joined(separator: ", ")
        let at = place.isEmpty ? "" : "\(place): "
        switch kind {
        case .cannotOpen(let reason): return "cannot open: \(reason)"
        case .readFailed(let reason): return "read failed: \(reason)"
        case .truncatedGzip(let offset):
            return "the gzip stream is truncated: the file ends at byte \(offset) inside compressed data"
        case .corruptGzip(let reason, let offset):
            return "the gzip stream is corrupt near byte \(offset) of the file (zlib: \(reason))"
        case .trailingData(let offset):
            return
                "bytes that are not gzip data follow the end of the gzip stream at byte \(offset): the file is damaged, or not one gzip file"
        case .emptyInput: return "the input is empty: there is no header row"
        case .emptyColumnName(let index): return "the header's column \(index) has an empty name"
        case .duplicateColumnName(let name, let index, let firstIndex):
            return "the header's column \(index) repeats the name '\(name)' of column \(firstIndex)"
        case .invalidHeaderEncoding: return "the header row is not valid UTF-8 \(CSVError.encodingHint)"
        case .fieldCountMismatch(let found, let expected):
            return "\(record ?? "a record") has \(found) field\(found == 1 ? "" : "s"); the header has \(expected)"
        case .fieldCountDiffersFromFirst(let found, let expected):
            return
                "\(record ?? "a record") has \(found) field\(found == 1 ? "" : "s"); the first record has \(expected)"
        case .malformedQuote:
            return "\(at)malformed quoting (a quote inside an unquoted field, or text after a closing quote)"
        case .unterminatedQuote:
            return "\(at)a quoted field is not closed before the end of the input"
        case .fieldTooLarge(let limit):
            return "\(at)a field is larger than the limit of \(ByteCount(limit)) (an unclosed quote?)"
        case .recordTooLarge(let limit):
            return "\(at)the record is larger than the limit of \(ByteCount(limit))"
        case .invalidUTF8: return "\(at)the field is not valid UTF-8 \(CSVError.encodingHint)"
        case .utf16Input:
            return
                "the input is UTF-16 (it starts with a UTF-16 byte-order mark); convert it to UTF-8 first: iconv -f UTF-16 -t UTF-8 FILE > FILE-utf8.csv"
        case .outOfMemory: return "\(at)out of memory while parsing"
        case .writeFailed(let reason): return "write failed: \(reason)"
        case .wouldOverwriteInput(let output): return "refusing to write '\(output)': it is the input file"
        }
    }

    /// What to do about text in another encoding.
    static let encodingHint =
        "(a Latin-1 or Windows-1252 file? read it with --encoding latin1 or --encoding windows-1252, or convert it: iconv -f WINDOWS-1252 -t UTF-8 FILE > FILE-utf8.csv)"

    /// `meters.csv:1205: error: record 1204 has 7 fields; the header has 8`
    public var description: String { ReportedProblem(message, at: .input(position)).description }
}

/// A byte count printed for people: `16 MiB`, `512 KiB`, `300 B`.
struct ByteCount: CustomStringConvertible {
    var value: Int
    init(_ value: Int) { self.value = value }
    var description: String {
        if value >= 1 << 20, value % (1 << 20) == 0 { return "\(value >> 20) MiB" }
        if value >= 1 << 10, value % (1 << 10) == 0 { return "\(value >> 10) KiB" }
        return "\(value) B"
    }
}
