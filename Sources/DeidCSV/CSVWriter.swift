/// Writes CSV with minimal RFC 4180 quoting: a field is quoted only when it holds the delimiter,
/// a quote, CR or LF (a lone empty field is written `""` so the record is not a blank line).
/// Records end in LF unless told otherwise. Output is buffered in 1 MiB blocks.
public final class CSVWriter {
    private let output: OutputFile
    private let delimiter: UInt8
    private let lineEnding: [UInt8]
    private var buffer: [UInt8] = []
    private let flushThreshold = 1 << 20
    private var fieldsInRecord = 0
    /// Needs quoting: delimiter, quote, CR, LF.
    private var special = [Bool](repeating: false, count: 256)

    /// - Parameters:
    ///   - crlf: end records with CR LF instead of LF.
    public init(output: OutputFile, delimiter: CSVDelimiter = .comma, crlf: Bool = false) {
        self.output = output
        self.delimiter = delimiter.rawValue
        self.lineEnding = crlf ? [0x0D, 0x0A] : [0x0A]
        for byte in [delimiter.rawValue, 0x22, 0x0D, 0x0A] { special[Int(byte)] = true }
        buffer.reserveCapacity(flushThreshold + 4096)
    }

    /// Appends one field of the current record.
    public func writeField<Bytes: Collection>(_ field: Bytes) where Bytes.Element == UInt8 {
        if fieldsInRecord > 0 { buffer.append(delimiter) }
        fieldsInRecord += 1
        var needsQuotes = false
        for byte in field where special[Int(byte)] {
            needsQuotes = true
            break
        }
        if !needsQuotes {
            buffer.append(contentsOf: field)
            return
        }
        buffer.append(0x22)
        for byte in field {
            if byte == 0x22 { buffer.append(0x22) }
            buffer.append(byte)
        }
        buffer.append(0x22)
    }

    /// Appends one field given as text.
    public func writeField(_ field: String) {
        var text = field
        text.withUTF8 { writeField($0) }
    }

    /// Ends the current record.
    public func endRecord() throws {
        if fieldsInRecord == 1 && buffer.count == recordStart {
            // A single empty field would read back as a blank line, which readers skip.
            buffer.append(contentsOf: [0x22, 0x22])
        }
        buffer.append(contentsOf: lineEnding)
        fieldsInRecord = 0
        recordStart = buffer.count
        if buffer.count >= flushThreshold { try flush() }
    }

    /// Where the current record starts in `buffer`.
    private var recordStart = 0

    /// Writes a whole record.
    public func write(record: CSVRecord) throws {
        for index in 0..<record.count { writeField(record[index]) }
        try endRecord()
    }

    /// Writes a whole record given as text.
    public func write(fields: [String]) throws {
        for field in fields { writeField(field) }
        try endRecord()
    }

    /// Writes out everything buffered.
    public func flush() throws {
        try buffer.withUnsafeBytes { try output.write($0) }
        buffer.removeAll(keepingCapacity: true)
        recordStart = 0
    }

    /// Flushes and commits the output (renames it into place).
    public func finish() throws {
        try flush()
        try output.commit()
    }
}
