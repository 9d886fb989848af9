/// Writes CSV with minimal RFC 4180 quoting: a field is quoted only when it holds the delimiter,
/// a quote, CR or LF (a lone empty field is written `""` so the record is not a blank line).
/// Records end in LF unless told otherwise. Output is buffered in 1 MiB blocks.
public final class CSVWriter {
    /// The file written to; nil for a writer that keeps its output in memory.
    private let output: OutputFile?
    /// The hot state lives behind a pointer: a class's stored properties would be checked for
    /// exclusive access at run time on every field.
    let core: UnsafeMutablePointer<WriterCore>

    /// - Parameters:
    ///   - crlf: end records with CR LF instead of LF.
    public init(output: OutputFile, delimiter: CSVDelimiter = .comma, crlf: Bool = false) {
        self.output = output
        core = .allocate(capacity: 1)
        core.initialize(to: WriterCore(delimiter: delimiter.rawValue, crlf: crlf))
    }

    /// A writer that keeps everything in memory until `takeBytes()` (for a worker thread whose
    /// output is written in order by another).
    public init(delimiter: CSVDelimiter, crlf: Bool = false) {
        output = nil
        core = .allocate(capacity: 1)
        core.initialize(to: WriterCore(delimiter: delimiter.rawValue, crlf: crlf))
    }

    /// The bytes written since the last call (memory writers), handed over without a copy: the
    /// writer goes on in new storage.
    public func takeBlock() -> OwnedBytes {
        let taken = core.pointee.buffer.handOver()
        core.pointee.recordStart = 0
        core.pointee.forgetPrefixes()
        return OwnedBytes(taking: UnsafeMutableRawPointer(taken.base), count: taken.count)
    }

    /// The bytes written since the last call (memory writers), copied into an array.
    public func takeBytes() -> [UInt8] {
        let bytes = Array(UnsafeRawBufferPointer(start: core.pointee.buffer.base, count: core.pointee.buffer.count))
        core.pointee.buffer.removeAll()
        core.pointee.recordStart = 0
        core.pointee.forgetPrefixes()
        return bytes
    }

    deinit {
        core.pointee.buffer.free()
        core.pointee.marks.free()
        core.pointee.previousMarks.free()
        core.deinitialize(count: 1)
        core.deallocate()
    }

    /// Appends one field of the current record.
    public func writeField<Bytes: Collection>(_ field: Bytes) where Bytes.Element == UInt8 {
        if field.withContiguousStorageIfAvailable({ core.pointee.append(field: UnsafeRawBufferPointer($0)) }) == nil {
            Array(field).withUnsafeBytes { core.pointee.append(field: $0) }
        }
    }

    /// Appends one field given as text.
    public func writeField(_ field: String) {
        var text = field
        text.withUTF8 { core.pointee.append(field: UnsafeRawBufferPointer($0)) }
    }

    /// Ends the current record.
    public func endRecord() throws {
        if core.pointee.endRecord() && output != nil { try flush() }
    }

    /// Writes a whole record.
    public func write(record: CSVRecord) throws {
        let core = self.core
        record.bytes.withUnsafeBytes { bytes in
            var start = 0
            for end in record.fieldEnds {
                core.pointee.append(field: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                start = end
            }
        }
        try endRecord()
    }

    /// Writes a whole record given as text.
    public func write(fields: [String]) throws {
        for field in fields { writeField(field) }
        try endRecord()
    }

    // MARK: Framing for spools

    /// The field delimiter written.
    public var delimiter: CSVDelimiter { CSVDelimiter(rawValue: core.pointee.delimiter) ?? .comma }

    /// Bytes buffered (memory writers: since the last `takeBytes()`).
    public var byteCount: Int { core.pointee.buffer.count }

    /// Appends a 32-bit little-endian number between records (a spool's frame header).
    public func appendFrame(_ value: UInt32) {
        precondition(core.pointee.fieldsInRecord == 0, "inside a record")
        core.pointee.buffer.reserve(4)
        UnsafeMutableRawPointer(core.pointee.buffer.base + core.pointee.buffer.count).storeBytes(
            of: value.littleEndian, as: UInt32.self)
        core.pointee.buffer.advance(by: 4)
        core.pointee.recordStart = core.pointee.buffer.count
    }

    /// Appends `count` zero frame numbers, to be set with `setFrames`.
    public func appendFrames(count: Int) {
        precondition(core.pointee.fieldsInRecord == 0, "inside a record")
        core.pointee.buffer.reserve(4 * count)
        UnsafeMutableRawPointer(core.pointee.buffer.base + core.pointee.buffer.count).initializeMemory(
            as: UInt8.self, repeating: 0, count: 4 * count)
        core.pointee.buffer.advance(by: 4 * count)
        core.pointee.recordStart = core.pointee.buffer.count
    }

    /// Appends the first `count` of `values` as frame numbers (32-bit little-endian).
    public func appendFrames(_ values: [UInt32], count: Int) {
        precondition(count >= 0 && count <= values.count, "more frame numbers than given")
        values.withUnsafeBufferPointer { appendFrames(UnsafeBufferPointer(rebasing: $0[0..<count])) }
    }

    /// Overwrites the frame numbers from `offset` on with `values` (as written by `appendFrames`):
    /// one call for a record's whole frame.
    public func setFrames(_ values: UnsafeBufferPointer<UInt32>, at offset: Int) {
        precondition(offset >= 0 && offset + 4 * values.count <= core.pointee.buffer.count, "no frames there")
        let target = UnsafeMutableRawPointer(core.pointee.buffer.base + offset)
        for index in values.indices {
            target.storeBytes(of: values[index].littleEndian, toByteOffset: 4 * index, as: UInt32.self)
        }
    }

    /// Appends frame numbers (32-bit little-endian) between records.
    public func appendFrames(_ values: UnsafeBufferPointer<UInt32>) {
        precondition(core.pointee.fieldsInRecord == 0, "inside a record")
        core.pointee.buffer.reserve(4 * values.count)
        let target = UnsafeMutableRawPointer(core.pointee.buffer.base + core.pointee.buffer.count)
        for index in values.indices {
            target.storeBytes(of: values[index].littleEndian, toByteOffset: 4 * index, as: UInt32.self)
        }
        core.pointee.buffer.advance(by: 4 * values.count)
        core.pointee.recordStart = core.pointee.buffer.count
    }

    /// Appends the bytes `range` of another writer's buffer as they are, between records (a
    /// spool frame's line, written as CSV by that writer). This writer's records cannot repeat
    /// fields of the record before it afterwards.
    public func appendBytes(of other: CSVWriter, range: Range<Int>) {
        precondition(core.pointee.fieldsInRecord == 0, "inside a record")
        precondition(range.lowerBound >= 0 && range.upperBound <= other.byteCount, "no bytes there")
        core.pointee.buffer.reserve(range.count)
        core.pointee.buffer.appendBytesReserved(
            UnsafeRawPointer(other.core.pointee.buffer.base + range.lowerBound), count: range.count)
        core.pointee.recordStart = core.pointee.buffer.count
        core.pointee.forgetPrefixes()
    }

    /// Removes everything buffered from `offset` on (a frame whose record was filtered out).
    public func discard(from offset: Int) {
        precondition(offset >= 0 && offset <= core.pointee.buffer.count, "nothing buffered there")
        core.pointee.buffer.truncate(to: offset)
        core.pointee.fieldsInRecord = 0
        core.pointee.recordStart = offset
        core.pointee.forgetPrefixes()
    }

    /// One field as this writer would write it (quoted only when needed), without delimiter.
    public static func encode(field: [UInt8], delimiter: CSVDelimiter) -> [UInt8] {
        let needsQuotes = field.withUnsafeBytes { ByteScan.needsQuoting($0, delimiter: delimiter.rawValue) }
        guard needsQuotes else { return field }
        var quoted: [UInt8] = [0x22]
        for byte in field {
            if byte == 0x22 { quoted.append(0x22) }
            quoted.append(byte)
        }
        quoted.append(0x22)
        return quoted
    }

    /// Writes out everything buffered.
    public func flush() throws {
        guard let output else { return }
        try output.write(UnsafeRawBufferPointer(start: core.pointee.buffer.base, count: core.pointee.buffer.count))
        core.pointee.buffer.removeAll()
        core.pointee.recordStart = 0
        core.pointee.forgetPrefixes()
    }

    /// Flushes and commits the output (renames it into place).
    public func finish() throws {
        try flush()
        try output?.commit()
    }
}

/// The writer's buffer and record state.
struct WriterCore {
    var buffer = RawBuffer<UInt8>(capacity: (1 << 20) + (64 << 10))
    /// Room for a field computed in place (`appendField`).
    var scratch: [UInt8] = []
    let delimiter: UInt8
    let crlf: Bool
    var fieldsInRecord = 0
    /// Where the current record starts in `buffer`.
    var recordStart = 0
    let flushThreshold = 1 << 20
    /// Where each of the current record's marked leading fields ends in `buffer` (marked one by
    /// one as they are appended), and the same for the previous record, which the next record
    /// may repeat (`previousStart` is -1 when it may not: the buffer was emptied since).
    var marks = RawBuffer<Int>(capacity: 16)
    var previousMarks = RawBuffer<Int>(capacity: 16)
    var previousStart = -1

    init(delimiter: UInt8, crlf: Bool) {
        self.delimiter = delimiter
        self.crlf = crlf
    }

    mutating func append(field: UnsafeRawBufferPointer) {
        // Room for the delimiter and the field quoted with every byte a quote: one check. A
        // long field counts its quotes instead (room for twice a 50 MB field is not nothing).
        if field.count > 1 << 16 {
            buffer.reserve(field.count &+ ByteScan.countQuotes(field) &+ 3)
        } else {
            buffer.reserve(field.count &* 2 &+ 3)
        }
        if fieldsInRecord > 0 { buffer.appendReserved(delimiter) }
        fieldsInRecord &+= 1
        guard let base = field.baseAddress, field.count > 0 else { return }
        if !ByteScan.needsQuoting(field, delimiter: delimiter) {
            buffer.appendBytesReserved(base, count: field.count)
            return
        }
        buffer.appendReserved(0x22)
        for byte in field {
            if byte == 0x22 { buffer.appendReserved(0x22) }
            buffer.appendReserved(byte)
        }
        buffer.appendReserved(0x22)
    }

    /// Appends a field known to need no quotes.
    @inline(__always) mutating func append(plainField field: UnsafeRawBufferPointer) {
        buffer.reserve(field.count &+ 1)
        if fieldsInRecord > 0 { buffer.appendReserved(delimiter) }
        fieldsInRecord &+= 1
        guard let base = field.baseAddress, field.count > 0 else { return }
        buffer.appendBytesReserved(base, count: field.count)
    }

    /// Ends the record; true when the buffer should be flushed.
    mutating func endRecord() -> Bool {
        let recordStartBefore = recordStart
        if fieldsInRecord == 1 && buffer.count == recordStart {
            // A single empty field would read back as a blank line, which readers skip.
            buffer.append(0x22)
            buffer.append(0x22)
        }
        if crlf { buffer.append(0x0D) }
        buffer.append(0x0A)
        fieldsInRecord = 0
        recordStart = buffer.count
        swap(&marks, &previousMarks)
        marks.removeAll()
        previousStart = previousMarks.count == 0 ? -1 : recordStartBefore
        return buffer.count >= flushThreshold
    }

    /// Marks the end of the field just appended (one of the record's leading fields).
    @inline(__always) mutating func markField() {
        marks.append(buffer.count)
    }

    /// Appends the previous record's first `count` marked fields as this record's first fields
    /// (and marks them); false when it has fewer marked or this record has fields already.
    @inline(__always) mutating func repeatFields(_ count: Int) -> Bool {
        guard previousStart >= 0, count > 0, count <= previousMarks.count, fieldsInRecord == 0,
            buffer.count == recordStart
        else {
            return false
        }
        let length = previousMarks[count - 1] &- previousStart
        buffer.reserve(length)
        // The source lies wholly before the record's start: the ranges do not overlap.
        buffer.appendBytesReserved(UnsafeRawPointer(buffer.base + previousStart), count: length)
        fieldsInRecord = count
        let shift = recordStart &- previousStart
        marks.reserve(count)
        for index in 0..<count { marks.appendReserved(previousMarks[index] &+ shift) }
        return true
    }

    /// Forgets marked fields whose bytes are no longer in the buffer.
    mutating func forgetPrefixes() {
        marks.removeAll()
        previousStart = -1
    }
}
