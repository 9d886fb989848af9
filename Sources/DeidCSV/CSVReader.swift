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

/// The parser's state, reached from libcsv's callbacks through the `void *data` argument.
struct ParserState {
    /// Complete records not yet delivered, then the partial record being parsed.
    var bytes = RawBuffer<UInt8>(capacity: 1 << 20)
    /// The end offset in `bytes` of each field.
    var fieldEnds = RawBuffer<Int>(capacity: 1 << 16)
    /// For each complete record: the index in `fieldEnds` one past its last field.
    var recordFieldEnds = RawBuffer<Int>(capacity: 1 << 14)
    var recordLines = RawBuffer<Int>(capacity: 1 << 14)
    /// For each complete record: its leading fields taken from the record before
    /// (`repeatLeadingFields`); and that count for the open record.
    var recordRepeats = RawBuffer<Int>(capacity: 1 << 14)
    var pendingRepeats = 0
    /// For each complete record: 1 when a chunk it came from held a byte of 0x80 or more (its
    /// fields may then be invalid UTF-8); the same for the open record, and for the chunk
    /// being parsed.
    var recordNonASCII = RawBuffer<UInt8>(capacity: 1 << 14)
    var partialNonASCII: UInt8 = 0
    var chunkNonASCII: UInt8 = 0
    /// Where the partial record starts, in `fieldEnds` and in `bytes`.
    var partialFieldStart = 0
    var partialByteStart = 0
    /// The next complete record to hand out; data records and all records handed out so far.
    var cursor = 0
    var recordsRead = 0
    var recordsDelivered = 0
    /// The header's field count, which every data record must have.
    var headerFieldCount = 0
    /// The physical line at the start of the partial record.
    var line = 1
    var newlinesInPartial = 0
    var lastTerminatorWasCR = false
    /// False while no quoted stretch of this chunk holds a line break and no field open from an
    /// earlier chunk may hold one: no field can then hold a line break, and the per-field scan
    /// is skipped.
    var mayHoldLineBreaks = true
    /// True while the quoted field open at the end of the last chunk may hold a line break.
    var openFieldMayHoldLineBreak = false
    /// False when no field or record can reach a limit during this chunk.
    var mayExceedLimits = true
    /// True when the field callback has nothing to count or check: no line break to count, no
    /// limit to check, no violation found. It then only takes the field (in place, or copied as
    /// 32 bytes when short and libcsv's buffer holds at least 32: the rest past its end ignored).
    var plainFields = false
    /// True when libcsv writes each field straight into `bytes`, past the last complete field:
    /// its field buffer (`entry_buf`, which it reads from the parser before every byte it
    /// stores) is pointed there before each chunk and after each field, with room for the whole
    /// chunk, so it never grows it. A field is then taken without a copy; copying it, right
    /// after libcsv stored its bytes one at a time, stalled on every field (a load that spans
    /// several recent stores cannot be forwarded from them). Between chunks the open field's
    /// bytes (`entry_pos` of them) lie past the end of `bytes` and move with it.
    var fieldsInPlace = false
    /// The parser whose field buffer points into `bytes` (when `fieldsInPlace`).
    var parser: UnsafeMutablePointer<csv_parser>?
    /// Whether chunks without CRs or quoted line breaks are parsed line by line, repeated
    /// leading fields taken from the record before (`CSVReader.parseLines`).
    var reusesLeadingFields = true
    /// The last complete record's raw line, as far as `repeatLeadingFields` has looked at it:
    /// where the delimiters after its first fields lie, how far it was looked at, and whether
    /// that point is between quotes.
    var rawEnds = RawBuffer<Int>(capacity: 64)
    var rawScanned = 0
    var rawInside = false
    /// A quote lies between the last delimiter known and `rawScanned`.
    var rawTailQuoted = false
    /// Raw bytes covered by repeated leading fields so far.
    var bytesReused = 0
    let maxFieldBytes: Int
    let maxRecordBytes: Int
    /// A limit exceeded inside a callback, and where.
    var violation: CSVError.Kind?
    var hasViolation = false
    var violationRecordCount = Int.max

    /// Stops taking fields: records before this one are delivered, then the error, which points
    /// at the start of the offending field. (The field's line breaks are not yet counted.)
    mutating func flagViolation(_ kind: CSVError.Kind) {
        violation = kind
        hasViolation = true
        plainFields = false
        violationRecordCount = recordFieldEnds.count
    }

    init(maxFieldBytes: Int, maxRecordBytes: Int) {
        self.maxFieldBytes = maxFieldBytes
        self.maxRecordBytes = maxRecordBytes
    }

    func free() {
        rawEnds.free()
        bytes.free()
        fieldEnds.free()
        recordFieldEnds.free()
        recordLines.free()
        recordRepeats.free()
        recordNonASCII.free()
    }

    /// Makes room for everything the callbacks can add while libcsv parses `bytes` more bytes
    /// with the field it holds open, so that they append unchecked: at most all those bytes and
    /// the open field's (plus the 32 a short field's copy may write), one field and one record
    /// per byte, and one more of each at the end. Decides whether fields take the plain path.
    mutating func reserveForCallbacks(bytes count: Int, parser: UnsafeMutablePointer<csv_parser>) {
        let pendingField = parser.pointee.entry_pos
        // No field is longer than the open one plus the chunk, and no record longer than the
        // open record (what was copied of it, plus the open field) plus the chunk.
        mayExceedLimits =
            pendingField + count > maxFieldBytes || partialRecordBytes + pendingField + count > maxRecordBytes
        plainFields = !mayHoldLineBreaks && !mayExceedLimits && !hasViolation
        if fieldsInPlace {
            // Room for the open field and the whole chunk (libcsv's limit check never fires).
            bytes.reserve(count + pendingField + 32, keepingPastEnd: pendingField)
            self.parser = parser
            pointParser()
        } else {
            // libcsv's field buffer only grows: 32 bytes now, 32 bytes for every field of the chunk.
            plainFields = plainFields && parser.pointee.entry_buf != nil && parser.pointee.entry_size >= 32
            // The last short field's copy may write 32 bytes.
            bytes.reserve(count + pendingField + 32)
        }
        fieldEnds.reserve(count + 1)
        recordFieldEnds.reserve(count + 1)
        recordLines.reserve(count + 1)
        recordRepeats.reserve(count + 1)
        recordNonASCII.reserve(count + 1)
    }

    /// Records that may be handed out: all complete ones, or those before a limit violation.
    var deliverableRecords: Int { min(recordFieldEnds.count, violationRecordCount) }

    var partialRecordBytes: Int { bytes.count - partialByteStart }

    /// An error at the current parse position: the field being parsed in the partial record.
    mutating func error(_ kind: CSVError.Kind, source: InputSource) -> CSVError {
        var position = InputPosition(source: source.displayName, line: line + newlinesInPartial)
        position.fieldIndex = fieldEnds.count - partialFieldStart
        return CSVError(kind, at: position)
    }

    mutating func copyRecord(at index: Int, into record: inout CSVRecord) {
        let fieldStart = index == 0 ? 0 : recordFieldEnds[index - 1]
        let fieldEnd = recordFieldEnds[index]
        let byteStart = fieldStart == 0 ? 0 : fieldEnds[fieldStart - 1]
        let byteEnd = fieldEnds[fieldEnd - 1]
        let source = bytes.base + byteStart
        let fieldBase = fieldEnds.base
        let byteCount = byteEnd - byteStart
        record.fill(byteCount: byteCount, fieldCount: fieldEnd - fieldStart) { bytes, ends in
            // A record is mostly under 256 bytes: copied inline, without a call.
            copyShortOrLong(to: bytes, from: source, count: byteCount)
            for offset in 0..<ends.count { ends[offset] = fieldBase[fieldStart &+ offset] &- byteStart }
        }
        record.line = recordLines[index]
        record.repeatedFields = recordRepeats[index]
        record.mayHoldNonASCII = recordNonASCII[index] != 0
    }

    /// Appends, as the open record's first fields, the leading fields of the last complete
    /// record whose bytes and delimiters begin `line` (`length` bytes, without its LF) as they
    /// began `previous`, that record's raw line; returns the bytes of `line` they cover. The
    /// last field is left to libcsv, and so is the field before a line that ends in a
    /// delimiter: at a record's start libcsv reads a line break as a blank line, not as an
    /// empty last field. Room was reserved for the chunk: the fields are no longer than the raw
    /// bytes they stand for.
    ///
    /// A delimiter ends a field when an even number of quotes precede it on the line: strict
    /// libcsv parsed the line before without an error, so its quotes only open, close or double
    /// (a doubled quote counts twice). Where the delimiters lie is kept from line to line
    /// (`rawEnds`), for as far as the lines agree: a line's bytes are looked at once.
    mutating func repeatLeadingFields(
        of previous: UnsafeRawPointer, _ previousLength: Int, in line: UnsafeRawPointer, _ length: Int,
        delimiter: UInt8
    ) -> Int {
        let records = recordFieldEnds.count
        guard records > 0, previousLength > 0, length > 0 else {
            forgetRawEnds()
            return 0
        }
        let common = ByteScan.commonPrefix(previous, line, min(previousLength, length))
        var fields = 0
        while fields < rawEnds.count && rawEnds[fields] < common { fields &+= 1 }
        if fields == rawEnds.count && rawScanned < common {
            // The line before, looked at further: its delimiters between quotes do not count.
            var position = rawScanned
            while position < common {
                let byte = previous.load(fromByteOffset: position, as: UInt8.self)
                if byte == 0x22 {
                    rawInside.toggle()
                    rawTailQuoted = true
                } else if byte == delimiter && !rawInside {
                    rawEnds.append(position)
                    rawTailQuoted = false
                    fields &+= 1
                }
                position &+= 1
            }
            rawScanned = common
        }
        // This line has the same delimiters as far as its bytes are the same: what is known of
        // the line before beyond that is forgotten (back to the start of the field there, when
        // a quote in it leaves the state at that point unknown).
        if fields < rawEnds.count {
            rawEnds.truncate(to: fields)
            restartRawScan()
        } else if rawScanned > common {
            if rawTailQuoted { restartRawScan() } else { rawScanned = common }
        }
        var covered = fields == 0 ? 0 : rawEnds[fields &- 1] &+ 1
        if covered == length {
            fields &-= 1
            covered = fields == 0 ? 0 : rawEnds[fields &- 1] &+ 1
        }
        guard fields > 0 else { return 0 }
        let fieldStart = records == 1 ? 0 : recordFieldEnds[records &- 2]
        let byteStart = fieldStart == 0 ? 0 : fieldEnds[fieldStart &- 1]
        let byteEnd = fieldEnds[fieldStart &+ fields &- 1]
        let newStart = bytes.count
        // A prefix is mostly 40-120 bytes: copied inline, without a call.
        copyShortOrLong(
            to: UnsafeMutableRawPointer(bytes.base + newStart), from: UnsafeRawPointer(bytes.base + byteStart),
            count: byteEnd &- byteStart)
        bytes.advance(by: byteEnd &- byteStart)
        let shift = newStart &- byteStart
        let ends = fieldEnds.base
        let endCount = fieldEnds.count
        for index in 0..<fields { ends[endCount &+ index] = ends[fieldStart &+ index] &+ shift }
        fieldEnds.advance(by: fields)
        if fieldsInPlace { pointParser() }
        bytesReused &+= covered
        pendingRepeats = fields
        return covered
    }

    /// Forgets where the last line's delimiters lie (the next line is looked at from its start).
    mutating func forgetRawEnds() {
        rawEnds.removeAll()
        restartRawScan()
    }

    /// Looks at the line again from the start of the field after the delimiters known.
    mutating func restartRawScan() {
        rawScanned = rawEnds.count == 0 ? 0 : rawEnds[rawEnds.count &- 1] &+ 1
        rawInside = false
        rawTailQuoted = false
    }

    /// Points libcsv's field buffer past the last complete field, with the room left.
    @inline(__always) mutating func pointParser() {
        let parser = parser.unsafelyUnwrapped
        parser.pointee.entry_buf = bytes.base + bytes.count
        parser.pointee.entry_size = bytes.capacity &- bytes.count
    }

    /// Forgets the delivered records (all complete ones) and moves the partial record (and the
    /// `openField` bytes of a field libcsv writes in place) to the front.
    mutating func compact(delivered: Int, openField: Int) {
        precondition(delivered == recordFieldEnds.count || delivered == 0, "compact only after a whole batch")
        guard delivered > 0 else { return }
        let byteShift = partialByteStart
        bytes.removeFirst(byteShift, keepingPastEnd: fieldsInPlace ? openField : 0)
        fieldEnds.removeFirst(partialFieldStart)
        for index in 0..<fieldEnds.count { fieldEnds[index] -= byteShift }
        recordFieldEnds.removeAll()
        recordLines.removeAll()
        recordRepeats.removeAll()
        recordNonASCII.removeAll()
        partialFieldStart = 0
        partialByteStart = 0
    }
}

/// A reallocation libcsv may not make: its field buffer is the batch's memory (`fieldsInPlace`).
/// libcsv turns the refusal into an out-of-memory error; room is reserved so that it never asks.
private let refuseReallocation: @convention(c) (UnsafeMutableRawPointer?, Int) -> UnsafeMutableRawPointer? = { _, _ in
    nil
}

extension ParserState {
    /// Whether this libcsv writes a field where its parser's `entry_buf` points when the field
    /// begins, taking a new pointer set in the field callback (the library reads the pointer
    /// from the parser for every byte it stores; a build that kept it in a register would not).
    /// Checked once per process by parsing a sample, in two chunks, with the buffer moved after
    /// every field; when the fields differ from the sample's, fields are copied out instead.
    static let libcsvWritesInPlace: Bool = {
        final class Probe {
            let parser = UnsafeMutablePointer<csv_parser>.allocate(capacity: 1)
            let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
            var used = 0
            var fields: [[UInt8]] = []
            var moved = true
            func point() {
                parser.pointee.entry_buf = buffer + used
                parser.pointee.entry_size = 256 - used
            }
        }
        let probe = Probe()
        defer {
            probe.parser.pointee.entry_buf = nil
            csv_free(probe.parser)
            probe.parser.deallocate()
            probe.buffer.deallocate()
        }
        csv_init(probe.parser, UInt8(CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL))
        csv_set_space_func(probe.parser, deid_csv_no_space)
        csv_set_realloc_func(probe.parser, refuseReallocation)
        let onField: @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutableRawPointer?) -> Void = {
            field, length, data in
            let probe = Unmanaged<Probe>.fromOpaque(data!).takeUnretainedValue()
            if UnsafeMutableRawPointer(probe.buffer + probe.used) != field { probe.moved = false }
            probe.fields.append(Array(UnsafeRawBufferPointer(start: field, count: length)))
            probe.used += length
            probe.point()
        }
        let onRecord: @convention(c) (Int32, UnsafeMutableRawPointer?) -> Void = { _, _ in }
        // Quoted fields with a delimiter, a doubled quote and a line break, an empty field, a
        // space kept, a last record without a line end; the first chunk ends inside a field.
        let sample = Array("ab,\"c,d\"\"e\",f g\nhij,,\"k\nl\"\n\"m\"".utf8)
        let expected = ["ab", "c,d\"e", "f g", "hij", "", "k\nl", "m"].map { Array($0.utf8) }
        let context = Unmanaged.passUnretained(probe).toOpaque()
        var parsed = 0
        for part in [sample[..<9], sample[9...]] {
            probe.point()
            parsed += part.withUnsafeBytes {
                csv_parse(probe.parser, $0.baseAddress, $0.count, onField, onRecord, context)
            }
        }
        probe.point()
        let finished = csv_fini(probe.parser, onField, onRecord, context) == 0
        return parsed == sample.count && finished && probe.moved && probe.fields == expected
    }()
}

private let fieldCallback: @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutableRawPointer?) -> Void = {
    field, length, context in
    let state = context.unsafelyUnwrapped.assumingMemoryBound(to: ParserState.self)
    // The common case, a field with nothing to count or check: written in place, it is taken
    // as it lies, and libcsv's buffer moves past it. (The bytes past its end, a closing quote
    // or trimmed spaces, are overwritten by the next field.)
    if state.pointee.plainFields && state.pointee.fieldsInPlace {
        state.pointee.bytes.advance(by: length)
        state.pointee.fieldEnds.appendReserved(state.pointee.bytes.count)
        state.pointee.pointParser()
        return
    }
    // Otherwise a short field is copied as 32 bytes (two 16-byte moves, no call, no branch on
    // its length); the bytes past its end are overwritten by the next field or never read.
    if state.pointee.plainFields && length <= 32 {
        let source = UnsafeRawPointer(field.unsafelyUnwrapped)
        state.pointee.bytes.appendBytesCopying32(source, count: length)
        state.pointee.fieldEnds.appendReserved(state.pointee.bytes.count)
        return
    }
    checkedField(field, length, state)
}

/// A long field, or any field while line breaks may need counting or a limit may be reached.
@inline(never)
private func checkedField(_ field: UnsafeMutableRawPointer?, _ length: Int, _ state: UnsafeMutablePointer<ParserState>)
{
    guard !state.pointee.hasViolation else { return }
    if length > 0, let field {
        let buffer = UnsafeRawBufferPointer(start: field, count: length)
        var newlines = 0
        if state.pointee.mayHoldLineBreaks && ByteScan.containsLineBreak(buffer) {
            // Count LF, CR LF and a lone CR once each.
            var previous: UInt8 = 0
            for byte in buffer {
                if byte == 0x0D || (byte == 0x0A && previous != 0x0D) { newlines &+= 1 }
                previous = byte
            }
        }
        if length > state.pointee.maxFieldBytes
            || state.pointee.partialRecordBytes &+ length > state.pointee.maxRecordBytes
        {
            state.pointee.flagViolation(
                length > state.pointee.maxFieldBytes
                    ? .fieldTooLarge(limit: state.pointee.maxFieldBytes)
                    : .recordTooLarge(limit: state.pointee.maxRecordBytes))
            return
        }
        if state.pointee.fieldsInPlace {
            state.pointee.bytes.advance(by: length)
        } else {
            state.pointee.bytes.appendBytesReserved(field, count: length)
        }
        state.pointee.newlinesInPartial &+= newlines
    }
    state.pointee.fieldEnds.appendReserved(state.pointee.bytes.count)
    if state.pointee.fieldsInPlace { state.pointee.pointParser() }
}

private let recordCallback: @convention(c) (Int32, UnsafeMutableRawPointer?) -> Void = { terminator, context in
    let state = context.unsafelyUnwrapped.assumingMemoryBound(to: ParserState.self)
    guard !state.pointee.hasViolation else { return }
    if state.pointee.fieldEnds.count == state.pointee.partialFieldStart {
        // A blank line (reported because of CSV_REPALL_NL): count it, skip it. The LF of a CR LF
        // pair arrives as a blank line right after the CR that ended the previous line.
        if terminator == 0x0A && state.pointee.lastTerminatorWasCR {
            state.pointee.lastTerminatorWasCR = false
        } else if terminator >= 0 {
            state.pointee.line += 1
            state.pointee.lastTerminatorWasCR = terminator == 0x0D
        }
        return
    }
    state.pointee.recordLines.appendReserved(state.pointee.line)
    state.pointee.recordRepeats.appendReserved(state.pointee.pendingRepeats)
    state.pointee.pendingRepeats = 0
    state.pointee.recordNonASCII.appendReserved(state.pointee.partialNonASCII)
    // The next record begins in this chunk.
    state.pointee.partialNonASCII = state.pointee.chunkNonASCII
    state.pointee.recordFieldEnds.appendReserved(state.pointee.fieldEnds.count)
    state.pointee.partialFieldStart = state.pointee.fieldEnds.count
    state.pointee.partialByteStart = state.pointee.bytes.count
    state.pointee.line += state.pointee.newlinesInPartial + (terminator >= 0 ? 1 : 0)
    state.pointee.newlinesInPartial = 0
    state.pointee.lastTerminatorWasCR = terminator == 0x0D
}
