import CCSV

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How to read a CSV input.
public struct CSVReadOptions: Sendable {
    /// The field delimiter; nil detects it from the header line.
    public var delimiter: CSVDelimiter?
    /// The largest field accepted, in bytes. A runaway quote becomes an error, not a crash.
    public var maxFieldBytes: Int
    /// The largest record accepted, in bytes (all its fields together).
    public var maxRecordBytes: Int
    /// How many bytes are read from the input and handed to libcsv at a time.
    public var chunkSize: Int
    /// Copies each field out of libcsv's own buffer instead of letting libcsv write it in place
    /// (what a libcsv build that fails `ParserState.libcsvWritesInPlace` does; tests run both).
    package var copiesFields = false
    /// Takes a record's leading fields that repeat the record before's bytes from that record
    /// instead of parsing them again (see `CSVReader.parseLines`); tests turn it off to compare.
    package var reusesLeadingFields = true
    /// The encoding of the input's text, converted to UTF-8 as it is read (`InputSource`).
    public var encoding: TextEncoding = .utf8
    /// Refuses a field that is not valid UTF-8 (`invalidUTF8`, with its line, record and
    /// column). Only records that came from a chunk holding a byte of 0x80 or more are looked at.
    package var validatesUTF8 = true

    /// The defaults: delimiter detected, 16 MiB limits, 128 KiB chunks, UTF-8.
    public init(
        delimiter: CSVDelimiter? = nil, maxFieldBytes: Int = 16 << 20,
        maxRecordBytes: Int = 16 << 20, chunkSize: Int = 128 << 10, encoding: TextEncoding = .utf8
    ) {
        self.delimiter = delimiter
        self.maxFieldBytes = maxFieldBytes
        self.maxRecordBytes = maxRecordBytes
        self.chunkSize = chunkSize
        self.encoding = encoding
    }
}

/// A streaming CSV reader on libcsv. One reader owns one libcsv parser.
///
/// The input is read in chunks and pushed through libcsv's callbacks, which copy each field out
/// at once into a batch of records; `readRecord(into:)` pulls records from that batch into a
/// caller-owned `CSVRecord`. Memory is bounded by the chunk size plus the largest record.
///
/// Dialect: RFC 4180 quoting (doubled quotes, quoted delimiters and line breaks), LF, CRLF or CR
/// line ends, a leading UTF-8 byte-order mark is removed, blank lines are skipped, spaces are
/// kept byte for byte. Strict: a stray quote is an error with its position.
public final class CSVReader {
    /// The column names from the first row.
    public private(set) var header = CSVHeader.empty
    /// The delimiter in use (given or detected).
    public private(set) var delimiter = CSVDelimiter.comma
    /// The input, for progress reports.
    public let source: InputSource
    /// The options the reader was opened with.
    public let options: CSVReadOptions

    private let parser: UnsafeMutablePointer<csv_parser>
    private let state: UnsafeMutablePointer<ParserState>
    private let chunk: UnsafeMutableRawBufferPointer
    private var reachedEnd = false
    private var pendingError: CSVError?
    /// A block reader's bytes, fed to libcsv in place (no copy into `chunk`).
    private var block: [UInt8]?
    private var blockOffset = 0
    private var blockEndsInsideRecord = false
    /// A headerless reader's first record, still to be handed out, and what its record numbers
    /// are shifted by (its first record is number 1, not the header's 0).
    private var firstRecord: CSVRecord?
    private var recordOffset = 0
    // The delivery counters (next record in the batch, data records read, records handed out
    // with the header) live in `state`: as stored properties of this class they would be
    // checked for exclusive access at run time on every record.
    private var cursor: Int {
        get { state.pointee.cursor }
        set { state.pointee.cursor = newValue }
    }
    private var recordsRead: Int {
        get { state.pointee.recordsRead }
        set { state.pointee.recordsRead = newValue }
    }
    private var recordsDelivered: Int {
        get { state.pointee.recordsDelivered }
        set { state.pointee.recordsDelivered = newValue }
    }

    /// Opens a reader on `source` and reads the header row.
    /// - Parameter endsInsideRecord: the source is a block that stops inside an over-long
    ///   record (see `CSVBlock`): its end is reported as the record limit, not as a record end.
    public init(source: InputSource, options: CSVReadOptions = CSVReadOptions(), endsInsideRecord: Bool = false) throws
    {
        self.source = source
        blockEndsInsideRecord = endsInsideRecord
        self.options = options
        (parser, state, chunk) = CSVReader.makeParser(options: options, chunkBytes: options.chunkSize)
        // Every stored property is set by now, so a throw runs deinit, which frees the parser.
        let first = try readFirstRecord()
        var names: [String] = []
        for index in 0..<first.count {
            guard first.isValidUTF8(at: index) else {
                throw CSVError(.invalidHeaderEncoding, at: InputPosition(source: source.displayName, line: first.line))
            }
            names.append(first.string(at: index))
        }
        header = try CSVHeader(names: names, source: source.displayName)
        state.pointee.headerFieldCount = names.count
        if let field = pendingError?.position.fieldIndex, field < header.count {
            pendingError?.position.column = header.names[field]
        }
    }

    /// Opens a reader on a `source` without a header row (a hierarchy file): every record must
    /// have the first record's field count, and `columnName` names the columns in errors.
    public init(headerless source: InputSource, options: CSVReadOptions = CSVReadOptions(), columnName: (Int) -> String)
        throws
    {
        self.source = source
        self.options = options
        (parser, state, chunk) = CSVReader.makeParser(options: options, chunkBytes: options.chunkSize)
        let first = try readFirstRecord()
        header = try CSVHeader(names: (0..<first.count).map(columnName), source: source.displayName)
        state.pointee.headerFieldCount = first.count
        recordOffset = 1
        if var pendingError, pendingError.position.line != nil {
            pendingError.position.record = (pendingError.position.record ?? 0) + 1
            if let field = pendingError.position.fieldIndex, field < header.count {
                pendingError.position.column = header.names[field]
            }
            self.pendingError = pendingError
        }
        // The first record is data: handed out again by the first `readRecord`.
        firstRecord = first
    }

    /// Reads the first line's record, having removed a byte-order mark and detected the delimiter.
    private func readFirstRecord() throws -> CSVRecord {
        // Look at the first line to remove a byte-order mark and detect the delimiter.
        var prefix: [UInt8] = []
        var prefixEnded = false
        while !CSVReader.containsUnquotedLineEnd(prefix) && prefix.count < (1 << 20) {
            let count = try source.read(into: chunk)
            if count == 0 {
                prefixEnded = true
                break
            }
            prefix.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
        }
        if prefix.starts(with: [0xEF, 0xBB, 0xBF]) { prefix.removeFirst(3) }
        if prefix.starts(with: [0xFF, 0xFE]) || prefix.starts(with: [0xFE, 0xFF]) {
            throw CSVError(.utf16Input, at: InputPosition(source: source.displayName, line: 1))
        }
        delimiter = options.delimiter ?? CSVDelimiter.detect(headerLine: prefix)
        csv_set_delim(parser, delimiter.rawValue)

        var first = CSVRecord()
        reachedEnd = prefixEnded
        ingest {
            try prefix.withUnsafeBytes { try CSVReader.feed($0, parser: parser, state: state, source: source) }
            if prefixEnded {
                // A block that stops inside an over-long first record: the limit, not a record.
                if blockEndsInsideRecord {
                    throw state.pointee.error(.recordTooLarge(limit: state.pointee.maxRecordBytes), source: source)
                }
                try CSVReader.finish(parser: parser, state: state, source: source)
            }
        }
        // The header is record 0; its errors have no record number.
        guard try nextBatchedRecord(into: &first, countsAsData: false) else {
            throw CSVError(.emptyInput, at: InputPosition(source: source.displayName))
        }
        return first
    }

    /// Opens a reader on a block of whole records cut from the middle of an input (see
    /// `CSVBlockSplitter`): there is no header row, every record must have `header`'s field
    /// count, and lines and record numbers count from the block's start (line 1, record 1).
    /// - Parameter endsInsideRecord: the block stops inside an over-long record (see `CSVBlock`).
    public init(
        block: [UInt8], header: CSVHeader, delimiter: CSVDelimiter, options: CSVReadOptions, displayName: String,
        endsInsideRecord: Bool = false
    ) {
        self.source = InputSource(bytes: [], displayName: displayName)
        self.block = block
        self.blockEndsInsideRecord = endsInsideRecord
        self.options = options
        // The block is fed in place: no chunk buffer is needed.
        (parser, state, chunk) = CSVReader.makeParser(options: options, chunkBytes: 1)
        csv_set_delim(parser, delimiter.rawValue)
        self.header = header
        self.delimiter = delimiter
        state.pointee.headerFieldCount = header.count
        // As if the header had been handed out: the first record of the block is record 1.
        state.pointee.recordsDelivered = 1
    }

    /// A strict libcsv parser that keeps spaces, its callback state and a read buffer.
    private static func makeParser(options: CSVReadOptions, chunkBytes: Int)
        -> (UnsafeMutablePointer<csv_parser>, UnsafeMutablePointer<ParserState>, UnsafeMutableRawBufferPointer)
    {
        let parser = UnsafeMutablePointer<csv_parser>.allocate(capacity: 1)
        let state = UnsafeMutablePointer<ParserState>.allocate(capacity: 1)
        state.initialize(to: ParserState(maxFieldBytes: options.maxFieldBytes, maxRecordBytes: options.maxRecordBytes))
        state.pointee.reusesLeadingFields = options.reusesLeadingFields
        // csv_init only fails on allocation failure.
        csv_init(parser, UInt8(CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL))
        csv_set_space_func(parser, deid_csv_no_space)  // keep spaces and tabs around fields (see `feed`)
        if ParserState.libcsvWritesInPlace && !options.copiesFields {
            // libcsv writes each field into the batch itself (see `ParserState.fieldsInPlace`);
            // its buffer never grows then, and a request to grow it fails (an error, not a
            // reallocation of the batch's memory).
            state.pointee.fieldsInPlace = true
            csv_set_realloc_func(parser, refuseReallocation)
        }
        return (parser, state, .allocate(byteCount: max(chunkBytes, 1), alignment: 16))
    }

    /// Bytes of repeated leading fields taken from the record before instead of being parsed
    /// again (`parseLines`).
    var bytesReused: Int { state.pointee.bytesReused }

    /// Physical lines consumed so far (all of them once the input has been read to its end).
    public var linesConsumed: Int { state.pointee.line - 1 }

    deinit {
        // The batch's memory is not libcsv's to free.
        if state.pointee.fieldsInPlace { parser.pointee.entry_buf = nil }
        csv_free(parser)
        parser.deallocate()
        state.pointee.free()
        state.deinitialize(count: 1)
        state.deallocate()
        chunk.deallocate()
    }

    /// Reads the next data record into `record`, reusing its storage. Returns false at the end.
    /// Throws a `CSVError` with the record's position when it is malformed; records before a
    /// malformed one are all delivered first.
    public func readRecord(into record: inout CSVRecord) throws -> Bool {
        if let first = firstRecord {
            firstRecord = nil
            record = first
            record.number = 1
            recordsRead = 1
            if record.mayHoldNonASCII && options.validatesUTF8 { try validateUTF8(record) }
            return true
        }
        guard try nextBatchedRecord(into: &record, countsAsData: true) else { return false }
        if record.count != state.pointee.headerFieldCount {
            let found = record.count
            let expected = state.pointee.headerFieldCount
            throw CSVError(
                recordOffset == 0
                    ? .fieldCountMismatch(found: found, expected: expected)
                    : .fieldCountDiffersFromFirst(found: found, expected: expected),
                at: InputPosition(source: source.displayName, line: record.line, record: record.number))
        }
        if record.mayHoldNonASCII && options.validatesUTF8 { try validateUTF8(record) }
        return true
    }

    /// Data records read so far.
    public var recordCount: Int { recordsRead }

    /// Throws `invalidUTF8` with the field's position unless every field of `record` is valid
    /// UTF-8. Fields the reader took from the record before (`repeatedFields`) are not looked at
    /// again: they hold that record's bytes, checked when it was read.
    private func validateUTF8(_ record: CSVRecord) throws {
        for column in record.repeatedFields..<record.count where !record.isValidUTF8(at: column) {
            throw CSVError(
                .invalidUTF8,
                at: InputPosition(
                    source: source.displayName, line: record.line,
                    record: record.number, column: header.names[column]))
        }
    }

    // MARK: - Batches

    private func nextBatchedRecord(into record: inout CSVRecord, countsAsData: Bool) throws -> Bool {
        while cursor >= state.pointee.deliverableRecords {
            if let pendingError { throw pendingError }
            if reachedEnd { return false }
            try refill()
        }
        state.pointee.copyRecord(at: cursor, into: &record)
        cursor += 1
        recordsDelivered += 1
        if countsAsData {
            // Fields taken from the header row are no data record's: to the reader's callers
            // the first data record repeats nothing.
            if recordsRead == 0 { record.repeatedFields = 0 }
            recordsRead += 1
            record.number = recordsRead
        } else {
            record.number = 0
        }
        return true
    }

    /// Drops the delivered records and parses chunks until at least one more record is complete,
    /// an error is found, or the input ends.
    private func refill() throws {
        state.pointee.compact(delivered: cursor, openField: parser.pointee.entry_pos)
        cursor = 0
        while state.pointee.deliverableRecords == 0 && !reachedEnd && pendingError == nil {
            if let block {
                ingest {
                    if blockOffset == block.count {
                        reachedEnd = true
                        if blockEndsInsideRecord {
                            throw state.pointee.error(
                                .recordTooLarge(limit: state.pointee.maxRecordBytes), source: source)
                        }
                        try CSVReader.finish(parser: parser, state: state, source: source)
                    } else {
                        let end = min(block.count, blockOffset + options.chunkSize)
                        try block.withUnsafeBytes { bytes in
                            try CSVReader.feed(
                                UnsafeRawBufferPointer(rebasing: bytes[blockOffset..<end]), parser: parser,
                                state: state, source: source)
                        }
                        blockOffset = end
                    }
                }
                continue
            }
            ingest {
                let count = try source.read(into: chunk)
                if count == 0 {
                    reachedEnd = true
                    if blockEndsInsideRecord {
                        throw state.pointee.error(.recordTooLarge(limit: state.pointee.maxRecordBytes), source: source)
                    }
                    try CSVReader.finish(parser: parser, state: state, source: source)
                } else {
                    try CSVReader.feed(
                        UnsafeRawBufferPointer(rebasing: chunk[0..<count]), parser: parser,
                        state: state, source: source)
                }
            }
        }
    }

    /// Runs a parsing step; an error is kept until the records before it have been delivered,
    /// so that records and errors are the same whatever the chunking.
    private func ingest(_ step: () throws -> Void) {
        do { try step() } catch {
            var failure =
                error as? CSVError
                ?? CSVError(.readFailed(reason: "\(error)"), at: InputPosition(source: source.displayName))
            if failure.position.line != nil {
                // Index of the failing record among all records; the header is record 0 (a
                // headerless reader's first record is 1).
                let index = recordsDelivered + state.pointee.deliverableRecords - cursor + recordOffset
                failure.position.record = index == 0 ? nil : index
            }
            if let field = failure.position.fieldIndex, field < header.count {
                failure.position.column = header.names[field]
            }
            pendingError = failure
        }
    }

    private static func feed(
        _ buffer: UnsafeRawBufferPointer, parser: UnsafeMutablePointer<csv_parser>,
        state: UnsafeMutablePointer<ParserState>, source: InputSource
    ) throws {
        do {
            guard let base = buffer.baseAddress, buffer.count > 0 else { return }
            // A field can hold a line break only between its quotes: unless a quoted stretch of
            // this chunk holds one, or a field still open from an earlier chunk does, no field
            // is scanned for line breaks. (One pass over the chunk finds these and the spaces
            // that matter: `ByteScan.chunkShape`.)
            let shape = ByteScan.chunkShape(
                buffer, delimiter: csv_get_delim(parser),
                startsQuoted: parser.pointee.pstate == libcsvFieldBegun && parser.pointee.quoted != 0)
            state.pointee.mayHoldLineBreaks = state.pointee.openFieldMayHoldLineBreak || shape.quotedLineBreak
            // A record holding a byte from this chunk is checked for UTF-8 when handed out.
            state.pointee.chunkNonASCII = ByteScan.containsNonASCII(buffer) ? 1 : 0
            state.pointee.partialNonASCII |= state.pointee.chunkNonASCII
            state.pointee.reserveForCallbacks(bytes: buffer.count, parser: parser)
            // Spaces are data. libcsv trims them around unquoted fields (and accepts them after
            // a closing quote) unless a space function says no byte is a space; that costs a
            // call per byte. Where no space or tab lies outside quotes at the chunk's ends or
            // beside a delimiter, quote or line break, libcsv's own test trims nothing, so it is
            // used. (libcsv's count of trailing spaces is then 0 at every chunk's end, as with
            // the function, since the chunk cannot end with a space outside quotes, and libcsv
            // counts none inside them.)
            csv_set_space_func(parser, shape.spacesMatter ? deid_csv_no_space : nil)
            let parsed =
                !shape.quotedLineBreak && !shape.hasReturn && state.pointee.plainFields
                    && state.pointee.reusesLeadingFields
                ? parseLines(base, count: buffer.count, parser: parser, state: state)
                : csv_parse(parser, base, buffer.count, fieldCallback, recordCallback, state)
            // A quoted field still open (its closing quote perhaps read, but not what follows)
            // is handed over in a later chunk, with the line breaks it may have had here.
            state.pointee.openFieldMayHoldLineBreak =
                state.pointee.mayHoldLineBreaks && parser.pointee.quoted != 0
                && (parser.pointee.pstate == libcsvFieldBegun || parser.pointee.pstate == libcsvFieldMightHaveEnded)
            if let violation = state.pointee.violation { throw state.pointee.error(violation, source: source) }
            if parsed != buffer.count {
                // libcsv stopped inside the open field. Had that field (or its record) passed a
                // limit before the point where it stopped, that came first in the input, and a
                // reader fed smaller chunks reports it: so does this one.
                let kind: CSVError.Kind
                if csv_error(parser) == CSV_ENOMEM {
                    kind = .outOfMemory
                } else if openFieldLength(parser) > state.pointee.maxFieldBytes {
                    kind = .fieldTooLarge(limit: state.pointee.maxFieldBytes)
                } else if state.pointee.partialRecordBytes + openFieldLength(parser) > state.pointee.maxRecordBytes {
                    kind = .recordTooLarge(limit: state.pointee.maxRecordBytes)
                } else {
                    kind = .malformedQuote
                }
                throw state.pointee.error(kind, source: source)
            }
            // A field still open (an unclosed quote) grows from chunk to chunk: stop it at the limit.
            if openFieldLength(parser) > state.pointee.maxFieldBytes {
                throw state.pointee.error(.fieldTooLarge(limit: state.pointee.maxFieldBytes), source: source)
            }
            if state.pointee.partialRecordBytes > state.pointee.maxRecordBytes {
                throw state.pointee.error(.recordTooLarge(limit: state.pointee.maxRecordBytes), source: source)
            }
        }
    }

    /// Parses a chunk without a CR or a line break inside quotes one line at a time: every LF
    /// ends a record, and nothing else does. A record's leading fields whose bytes, with the
    /// delimiter after each, start the line as they started the line before (a household's
    /// identifier and attributes, repeated on each of its readings) are taken from the record
    /// libcsv made of that line, and libcsv parses the rest of the line from the start of the
    /// next field: from the same state, with the same settings (those of the chunk), the same
    /// bytes give libcsv the same fields, so what it made of them is known. On the meter file
    /// over two thirds of the bytes are not parsed again. Returns the bytes parsed (fewer than
    /// `count` when libcsv stops at an error).
    private static func parseLines(
        _ base: UnsafeRawPointer, count: Int, parser: UnsafeMutablePointer<csv_parser>,
        state: UnsafeMutablePointer<ParserState>
    ) -> Int {
        let delimiter = csv_get_delim(parser)
        var position = 0
        // The raw line of the last record, when it was parsed whole in this chunk.
        var previousLine = -1
        var previousLength = 0
        while position < count {
            guard let found = memchr(base + position, 0x0A, count &- position) else {
                // The start of a record that ends in a later chunk.
                return position
                    &+ csv_parse(parser, base + position, count &- position, fieldCallback, recordCallback, state)
            }
            let end = UnsafeRawPointer(found) - base
            let atRecordStart = parser.pointee.pstate == libcsvRowNotBegun && parser.pointee.entry_pos == 0
            var start = position
            if atRecordStart && previousLine >= 0 {
                start &+= state.pointee.repeatLeadingFields(
                    of: base + previousLine, previousLength, in: base + position, end &- position,
                    delimiter: delimiter)
            } else {
                state.pointee.forgetRawEnds()
            }
            let length = end &+ 1 &- start
            let parsed = csv_parse(parser, base + start, length, fieldCallback, recordCallback, state)
            if parsed != length { return start &+ parsed }
            // A line that ended a record begun in an earlier chunk is not this chunk's to reuse.
            previousLine = atRecordStart ? position : -1
            previousLength = end &- position
            position = end &+ 1
        }
        return count
    }

    /// The bytes of the field libcsv holds open: what it stored, less what it stored only in
    /// case the field goes on (just after a quote inside a quoted field, that quote and the
    /// spaces after it, dropped when the field ends there).
    private static func openFieldLength(_ parser: UnsafeMutablePointer<csv_parser>) -> Int {
        let stored = parser.pointee.entry_pos
        guard parser.pointee.pstate == libcsvFieldMightHaveEnded else { return stored }
        return max(0, stored - 1 - parser.pointee.spaces)
    }

    private static func finish(
        parser: UnsafeMutablePointer<csv_parser>, state: UnsafeMutablePointer<ParserState>,
        source: InputSource
    ) throws {
        state.pointee.mayHoldLineBreaks = state.pointee.openFieldMayHoldLineBreak
        state.pointee.reserveForCallbacks(bytes: 0, parser: parser)
        if csv_fini(parser, fieldCallback, recordCallback, state) != 0 {
            throw state.pointee.error(.unterminatedQuote, source: source)
        }
        if let violation = state.pointee.violation { throw state.pointee.error(violation, source: source) }
    }

    private static func containsUnquotedLineEnd(_ bytes: [UInt8]) -> Bool {
        var quoted = false
        for byte in bytes {
            if byte == 0x22 { quoted.toggle() } else if !quoted && (byte == 0x0A || byte == 0x0D) { return true }
        }
        return false
    }
}

// MARK: - libcsv callbacks

/// libcsv's parser states (`pstate`, private to libcsv.c): between records, inside a field, and
/// just after a quote inside a quoted field.
private let libcsvRowNotBegun: Int32 = 0
private let libcsvFieldBegun: Int32 = 2
private let libcsvFieldMightHaveEnded: Int32 = 3
