import DeidCSV

/// Where pass 1's transformer writes a record: straight into the block's writer, except the
/// quasi-identifiers, which are kept aside (their fields are left empty in the line, and their
/// offsets noted), and the sensitive column of l-diversity or t-closeness, which is written and
/// kept aside.
struct SpoolSink: CSVFieldSink {
    let writer: CSVWriter
    /// Per output field: 0 written, 1 kept aside only, 2 both.
    private let modes: [UInt8]
    /// The fields kept aside, in output order.
    private(set) var captured = CSVRecord()
    /// Where in `captured` each quasi-identifier and the sensitive value are.
    let quasiIdentifierFields: [Int]
    let sensitiveField: Int?
    /// The current line's start in the writer, and its quasi-identifiers' offsets from there.
    private(set) var lineStart = 0
    private(set) var offsets: [Int] = []
    /// Per measured field: its bytes in the line as written (a leading delimiter included).
    private(set) var measured: [Range<Int>] = []
    private let measuredFlags: [Bool]
    private var position = 0
    private var fieldStart = 0
    /// For each marked leading field of the line (`markField`): the fields kept aside, the
    /// offsets and the measured ranges noted up to it.
    private var marks: [(captured: Int, offsets: Int, measured: Int)]
    private var markCount = 0
    /// How many leading fields of the current record were repeated from the record before, and
    /// their bytes in the line (0 when none were).
    private(set) var repeatedFields = 0
    private(set) var repeatedBytes = 0

    init(writer: CSVWriter, layout: PrivacyLayout, outputCount: Int) {
        self.writer = writer
        var modes = [UInt8](repeating: 0, count: outputCount)
        var measuredFlags = [Bool](repeating: false, count: outputCount)
        for output in layout.measuredOutputs { measuredFlags[output] = true }
        self.measuredFlags = measuredFlags
        for output in layout.outputs { modes[output] = 1 }
        if let sensitive = layout.sensitiveOutput { modes[sensitive] = 2 }
        self.modes = modes
        var capturedIndex = 0
        var quasiIdentifierFields: [Int] = []
        var sensitiveField: Int?
        for mode in modes where mode != 0 {
            if mode == 1 { quasiIdentifierFields.append(capturedIndex) } else { sensitiveField = capturedIndex }
            capturedIndex += 1
        }
        self.quasiIdentifierFields = quasiIdentifierFields
        self.sensitiveField = sensitiveField
        marks = Array(repeating: (0, 0, 0), count: outputCount)
    }

    /// Starts a record at the writer's current end (its first field clears what the previous
    /// record kept, unless its leading fields repeat).
    mutating func begin() {
        position = 0
        lineStart = writer.byteCount
        repeatedBytes = 0
    }

    static var repeatsFields: Bool { true }

    mutating func markField() {
        writer.markField()
        marks[markCount] = (captured.count, offsets.count, measured.count)
        markCount &+= 1
    }

    /// Repeats the previous line's leading fields: the line's bytes up to them are the same, so
    /// are the fields kept aside and the offsets noted from the line's start.
    mutating func repeatFields(_ count: Int) -> Bool {
        guard position == 0, count <= markCount, writer.repeatFields(count) else { return false }
        let mark = marks[count - 1]
        captured.truncate(toFieldCount: mark.captured)
        captured.markRepeated(leadingFields: mark.captured)
        offsets.removeLast(offsets.count - mark.offsets)
        measured.removeLast(measured.count - mark.measured)
        markCount = count
        repeatedFields = count
        repeatedBytes = writer.byteCount - lineStart
        position = count
        return true
    }

    /// The mode of the next field; for a field kept aside only, its empty field is written.
    @inline(__always) private mutating func next() -> UInt8 {
        if position == 0 {
            captured.removeAll()
            offsets.removeAll(keepingCapacity: true)
            measured.removeAll(keepingCapacity: true)
            markCount = 0
            repeatedFields = 0
            repeatedBytes = 0
        }
        let mode = modes[position]
        fieldStart = writer.byteCount
        position &+= 1
        if mode == 1 {
            writer.append(field: [])
            offsets.append(writer.byteCount - lineStart)
        }
        return mode
    }

    /// Notes where a measured field just written lies in the line.
    @inline(__always) private mutating func ended() {
        if measuredFlags[position - 1] { measured.append((fieldStart - lineStart)..<(writer.byteCount - lineStart)) }
    }

    mutating func append(fieldOf record: CSVRecord, at index: Int) {
        let mode = next()
        if mode != 0 { captured.append(fieldOf: record, at: index) }
        if mode != 1 { writer.append(fieldOf: record, at: index) }
        ended()
    }

    mutating func append(field value: [UInt8]) {
        let mode = next()
        if mode != 0 { captured.append(field: value) }
        if mode != 1 { writer.append(field: value) }
        ended()
    }

    mutating func append(fieldFrom storage: [UInt8], range: Range<Int>, plain: Bool) {
        let mode = next()
        if mode != 0 { captured.append(fieldFrom: storage, range: range, plain: plain) }
        if mode != 1 { writer.append(fieldFrom: storage, range: range, plain: plain) }
        ended()
    }

    mutating func append(decimal value: Double, places: Int) {
        let mode = next()
        if mode != 0 { captured.append(decimal: value, places: places) }
        if mode != 1 { writer.append(decimal: value, places: places) }
        ended()
    }

    mutating func appendField(_ body: (inout [UInt8]) throws -> Void) rethrows {
        let mode = next()
        if mode == 0 {
            try writer.appendField(body)
            ended()
            return
        }
        var bytes: [UInt8] = []
        try body(&bytes)
        captured.append(field: bytes)
        if mode != 1 { writer.append(field: bytes) }
        ended()
    }
}
