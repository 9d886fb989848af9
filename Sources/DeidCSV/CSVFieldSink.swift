/// Where a transformed record's fields go, one after the other: a `CSVRecord` (when records
/// are combined later, as in aggregation) or straight into a `CSVWriter` (when they are only
/// written, which saves a copy of every field).
public protocol CSVFieldSink {
    /// Appends a copy of field `index` of `record`.
    mutating func append(fieldOf record: CSVRecord, at index: Int)
    /// Appends one field holding `value`.
    mutating func append(field value: [UInt8])
    /// Appends one field holding `storage[range]`; `plain` promises that no byte of it needs
    /// quoting under any supported delimiter, so a writer may copy it without looking.
    mutating func append(fieldFrom storage: [UInt8], range: Range<Int>, plain: Bool)
    /// Appends a number with exactly `places` decimals (see `DecimalFormat`).
    mutating func append(decimal value: Double, places: Int)
    /// Appends one field whose bytes `body` appends to the array it is given.
    mutating func appendField(_ body: (inout [UInt8]) throws -> Void) rethrows

    /// Whether `repeatFields` can ever succeed (a transformer keeps what it needs for it only then).
    static var repeatsFields: Bool { get }
    /// Marks the end of the field just appended, one of the current record's leading fields
    /// that the next record may repeat (called for each of them in turn).
    mutating func markField()
    /// Appends the previous record's first `count` marked fields again, as the current record's
    /// first fields (marked as such); false, with nothing appended, when that is not possible.
    /// The caller promises that they are what it would append (the same inputs through the
    /// same deterministic steps).
    mutating func repeatFields(_ count: Int) -> Bool
}

extension CSVFieldSink {
    public static var repeatsFields: Bool { false }
    public mutating func markField() {}
    public mutating func repeatFields(_ count: Int) -> Bool { false }
}

extension CSVRecord: CSVFieldSink {
    @inlinable public mutating func append(fieldFrom storage: [UInt8], range: Range<Int>, plain: Bool) {
        appendField(from: storage, range: range)
    }
}

extension CSVWriter: CSVFieldSink {
    public static var repeatsFields: Bool { true }

    public func markField() { core.pointee.markField() }

    public func repeatFields(_ count: Int) -> Bool { core.pointee.repeatFields(count) }

    public func append(fieldOf record: CSVRecord, at index: Int) {
        let start = index == 0 ? 0 : record.fieldEnds[index - 1]
        let end = record.fieldEnds[index]
        let core = self.core
        record.bytes.withUnsafeBytes { core.pointee.append(field: UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
    }

    /// Appends a copy of field `index` of `record`, which the caller knows needs no quotes.
    public func append(plainFieldOf record: CSVRecord, at index: Int) {
        let start = index == 0 ? 0 : record.fieldEnds[index - 1]
        let end = record.fieldEnds[index]
        let core = self.core
        record.bytes.withUnsafeBytes {
            core.pointee.append(plainField: UnsafeRawBufferPointer(rebasing: $0[start..<end]))
        }
    }

    public func append(field value: [UInt8]) {
        let core = self.core
        value.withUnsafeBytes { core.pointee.append(field: $0) }
    }

    public func append(fieldFrom storage: [UInt8], range: Range<Int>, plain: Bool) {
        let core = self.core
        storage.withUnsafeBytes { bytes in
            let field = UnsafeRawBufferPointer(rebasing: bytes[range])
            if plain { core.pointee.append(plainField: field) } else { core.pointee.append(field: field) }
        }
    }

    public func appendField(_ body: (inout [UInt8]) throws -> Void) rethrows {
        core.pointee.scratch.removeAll(keepingCapacity: true)
        try body(&core.pointee.scratch)
        let core = self.core
        core.pointee.scratch.withUnsafeBytes { core.pointee.append(field: $0) }
    }
}
