import CCSV

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
let refuseReallocation: @convention(c) (UnsafeMutableRawPointer?, Int) -> UnsafeMutableRawPointer? = { _, _ in
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

let fieldCallback: @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutableRawPointer?) -> Void = {
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

let recordCallback: @convention(c) (Int32, UnsafeMutableRawPointer?) -> Void = { terminator, context in
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
