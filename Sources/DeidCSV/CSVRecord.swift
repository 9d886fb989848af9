#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One CSV record: its fields' bytes stored contiguously, reused from record to record.
///
/// A reader fills a caller-owned record (`CSVReader.readRecord(into:)`), so a loop over a file
/// allocates nothing per record once the storage has grown to the largest record.
public struct CSVRecord: Sendable {
    /// The fields' bytes, one after the other; storage past the last field's end is unused.
    @usableFromInline var bytes: [UInt8] = []
    /// `fieldEnds[i]` is the end offset in `bytes` of field `i`.
    @usableFromInline var fieldEnds: [Int] = []
    /// The 1-based physical line on which the record starts.
    public internal(set) var line: Int = 0
    /// The 1-based number of the record among the data records (the header is record 0).
    public internal(set) var number: Int = 0
    /// How many leading fields the reader knows to hold the same bytes as the record it read
    /// just before (taken from it instead of being parsed again; 0 when it does not know, and
    /// for records not read by a `CSVReader`). At least that many are equal; more may be.
    public internal(set) var repeatedFields: Int = 0
    /// False when the reader knows every byte of the record is below 0x80 (ASCII, valid UTF-8).
    var mayHoldNonASCII = true

    public init() {}

    /// Builds a record from field values (for writers and tests).
    public init(fields: [String]) {
        for field in fields { append(field: Array(field.utf8)) }
    }

    /// The number of fields.
    @inlinable public var count: Int { fieldEnds.count }

    /// The bytes of field `index`, as a slice of the record's storage (no copy).
    @inlinable public subscript(index: Int) -> ArraySlice<UInt8> {
        let start = index == 0 ? 0 : fieldEnds[index - 1]
        return bytes[start..<fieldEnds[index]]
    }

    /// Calls `body` with the bytes of field `index`, in place (no slice, no reference counted).
    @inlinable public func withField<Result>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> Result) rethrows
        -> Result
    {
        let start = index == 0 ? 0 : fieldEnds[index - 1]
        let end = fieldEnds[index]
        return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
    }

    /// Field `index` read as a decimal number, with its places; nil when it is not one.
    @inlinable public func decimal(at index: Int) -> (value: Double, decimals: Int)? {
        withField(index) { DecimalParse.parse($0) }
    }

    /// The length of field `index` in bytes.
    @inlinable public func length(of index: Int) -> Int {
        fieldEnds[index] - (index == 0 ? 0 : fieldEnds[index - 1])
    }

    /// Field `index` decoded as UTF-8, with invalid sequences replaced (for display and tests;
    /// a `CSVReader` refuses fields that are not valid UTF-8).
    public func string(at index: Int) -> String {
        String(decoding: self[index], as: UTF8.self)
    }

    /// All fields as strings.
    public var strings: [String] { (0..<count).map(string(at:)) }

    /// The bytes in use: the end of the last field.
    @usableFromInline var usedBytes: Int { fieldEnds.last ?? 0 }

    /// Removes all fields, keeping the storage (its bytes stay allocated and initialized, so the
    /// next fields are copied in without growing it).
    public mutating func removeAll() {
        fieldEnds.removeAll(keepingCapacity: true)
        repeatedFields = 0
    }

    /// Says that the first `count` fields hold the same bytes as those of the record this one
    /// was made after (a sink that repeats a record's leading fields from the one before keeps
    /// what it captured of them): its consumers may reuse what they made of them.
    public mutating func markRepeated(leadingFields count: Int) {
        repeatedFields = max(0, min(count, fieldEnds.count))
    }

    /// Keeps the first `count` fields (at most the record's count).
    @inlinable public mutating func truncate(toFieldCount count: Int) {
        if fieldEnds.count > count { fieldEnds.removeLast(fieldEnds.count &- max(count, 0)) }
    }

    /// Appends one field holding the `count` bytes at `source`, copied into the storage past the
    /// last field (which only grows), without a call for a short field.
    @inlinable mutating func appendField(bytes source: UnsafeRawPointer?, count: Int) {
        let start = usedBytes
        let end = start &+ count
        if bytes.count < end { growBytes(to: end) }
        if count > 0, let source {
            bytes.withUnsafeMutableBytes {
                copyBytes(to: $0.baseAddress.unsafelyUnwrapped + start, from: source, count: count)
            }
        }
        fieldEnds.append(end)
    }

    /// Grows the byte storage to hold at least `count` bytes, with room to spare: twice the
    /// size, or a quarter more past 16 MiB (a record holding one huge field is not doubled).
    @usableFromInline mutating func growBytes(to count: Int) {
        let spare = bytes.count < 16 << 20 ? bytes.count : bytes.count / 4
        let target = max(count, bytes.count + spare, 64)
        bytes.reserveCapacity(target)
        bytes.append(contentsOf: repeatElement(0, count: target - bytes.count))
    }

    /// Appends a field.
    public mutating func append<Bytes: Collection>(field: Bytes) where Bytes.Element == UInt8 {
        if bytes.count > usedBytes { bytes.removeSubrange(usedBytes...) }
        bytes.append(contentsOf: field)
        fieldEnds.append(bytes.count)
    }

    /// Resizes the record to `byteCount` bytes and `fieldCount` fields and lets `body` fill both.
    /// The byte storage only grows (its tail past the last field is unused), so a loop over a
    /// file resizes nothing once the largest record has been seen.
    @inline(__always) mutating func fill(
        byteCount: Int, fieldCount: Int,
        _ body: (UnsafeMutablePointer<UInt8>, UnsafeMutableBufferPointer<Int>) -> Void
    ) {
        if bytes.count < byteCount { bytes.append(contentsOf: repeatElement(0, count: byteCount - bytes.count)) }
        repeatedFields = 0
        if fieldEnds.count != fieldCount {
            if fieldEnds.count > fieldCount {
                fieldEnds.removeLast(fieldEnds.count - fieldCount)
            } else {
                fieldEnds.append(contentsOf: repeatElement(0, count: fieldCount - fieldEnds.count))
            }
        }
        bytes.withUnsafeMutableBufferPointer { byteBuffer in
            fieldEnds.withUnsafeMutableBufferPointer { endBuffer in body(byteBuffer.baseAddress!, endBuffer) }
        }
    }

    /// True when field `index` is valid UTF-8.
    /// - Complexity: O(length of the field).
    public func isValidUTF8(at index: Int) -> Bool {
        let start = index == 0 ? 0 : fieldEnds[index - 1]
        let end = fieldEnds[index]
        return bytes.withUnsafeBytes { raw in
            let field = UnsafeRawBufferPointer(rebasing: raw[start..<end])
            // ASCII (eight bytes a step) is valid; anything else is checked in full.
            if !ByteScan.containsNonASCII(field) { return true }
            return String(validating: field.assumingMemoryBound(to: UInt8.self), as: UTF8.self) != nil
        }
    }
}

extension CSVRecord: Equatable {
    /// Records are equal when their fields are (positions are not compared).
    public static func == (lhs: CSVRecord, rhs: CSVRecord) -> Bool {
        lhs.fieldEnds == rhs.fieldEnds && lhs.bytes[..<lhs.usedBytes] == rhs.bytes[..<rhs.usedBytes]
    }
}

extension CSVRecord {
    /// Appends a copy of field `index` of `other`.
    @inlinable public mutating func append(fieldOf other: CSVRecord, at index: Int) {
        let start = index == 0 ? 0 : other.fieldEnds[index - 1]
        let end = other.fieldEnds[index]
        other.bytes.withUnsafeBytes { appendField(bytes: $0.baseAddress.map { $0 + start }, count: end - start) }
    }

    /// Appends one field holding `bytes`.
    @inlinable public mutating func append(field value: [UInt8]) {
        value.withUnsafeBytes { appendField(bytes: $0.baseAddress, count: $0.count) }
    }

    /// Sets the position the record reports (for records built from others).
    public mutating func setPosition(line: Int, number: Int) {
        self.line = line
        self.number = number
    }
}

extension CSVRecord {
    /// Appends one field whose bytes `body` appends to the storage it is given (it must only
    /// append): a computed value is written in place, without an array of its own.
    @inlinable public mutating func appendField(_ body: (inout [UInt8]) throws -> Void) rethrows {
        if bytes.count > usedBytes { bytes.removeSubrange(usedBytes...) }
        try body(&bytes)
        fieldEnds.append(bytes.count)
    }
}

extension CSVRecord {
    /// Makes this record hold `record`'s fields `indices`, in that order, in its own storage
    /// (which only grows): a record kept to compare the next ones with, without sharing the
    /// reader's storage (a shared one would be copied whole on the reader's next fill).
    public mutating func copyFields(of record: CSVRecord, at indices: [Int]) {
        removeAll()
        for index in indices { append(fieldOf: record, at: index) }
    }

    /// True when fields `indices` of this record hold the bytes of `copy`'s fields 0, 1, ...
    /// (made by `copyFields(of:at:)` with the same indices).
    public func fields(_ indices: [Int], equalCopy copy: CSVRecord) -> Bool {
        guard copy.count == indices.count else { return false }
        return bytes.withUnsafeBytes { mine in
            copy.bytes.withUnsafeBytes { theirs in
                for (position, index) in indices.enumerated() {
                    let start = index == 0 ? 0 : fieldEnds[index - 1]
                    let copyStart = position == 0 ? 0 : copy.fieldEnds[position - 1]
                    let length = fieldEnds[index] - start
                    guard length == copy.fieldEnds[position] - copyStart else { return false }
                    if length > 0
                        && !shortOrLongEqual(mine.baseAddress! + start, theirs.baseAddress! + copyStart, length)
                    {
                        return false
                    }
                }
                return true
            }
        }
    }

    /// True when field `index` holds the same bytes here and in `other` (no copies).
    @inline(__always) public func fieldsEqual(_ other: CSVRecord, at index: Int) -> Bool {
        let start = index == 0 ? 0 : fieldEnds[index - 1]
        let otherStart = index == 0 ? 0 : other.fieldEnds[index - 1]
        let length = fieldEnds[index] - start
        guard length == other.fieldEnds[index] - otherStart else { return false }
        guard length > 0 else { return true }
        return bytes.withUnsafeBytes { mine in
            other.bytes.withUnsafeBytes { theirs in
                shortEqual(mine.baseAddress! + start, theirs.baseAddress! + otherStart, length)
            }
        }
    }

    /// True when field `index` holds exactly `value` (no copies).
    public func field(_ index: Int, equals value: [UInt8]) -> Bool {
        let start = index == 0 ? 0 : fieldEnds[index - 1]
        let length = fieldEnds[index] - start
        guard length == value.count else { return false }
        guard length > 0 else { return true }
        return bytes.withUnsafeBytes { mine in
            value.withUnsafeBytes { theirs in shortEqual(mine.baseAddress! + start, theirs.baseAddress!, length) }
        }
    }
}

extension CSVRecord {
    /// True when fields 0 through `last` hold the same bytes here and in `other` (both have
    /// that many): their ends and their bytes compared at once.
    @inline(__always) func leadingFieldsEqual(_ other: CSVRecord, through last: Int) -> Bool {
        fieldEnds.withUnsafeBytes { ends in
            other.fieldEnds.withUnsafeBytes { otherEnds in
                let endBytes = (last &+ 1) &* MemoryLayout<Int>.stride
                guard
                    shortOrLongEqual(
                        ends.baseAddress.unsafelyUnwrapped, otherEnds.baseAddress.unsafelyUnwrapped, endBytes)
                else { return false }
                let byteCount = ends.load(fromByteOffset: last &* MemoryLayout<Int>.stride, as: Int.self)
                return byteCount == 0
                    || bytes.withUnsafeBytes { mine in
                        other.bytes.withUnsafeBytes { theirs in
                            shortOrLongEqual(
                                mine.baseAddress.unsafelyUnwrapped, theirs.baseAddress.unsafelyUnwrapped, byteCount)
                        }
                    }
            }
        }
    }

    /// Makes this record a copy of `other`'s first `count` fields (storage reused).
    @inline(__always) mutating func copyLeadingFields(of other: CSVRecord, count: Int) {
        let byteCount = count == 0 ? 0 : other.fieldEnds[count &- 1]
        fill(byteCount: byteCount, fieldCount: count) { target, ends in
            other.bytes.withUnsafeBytes {
                copyShortOrLong(to: target, from: $0.baseAddress.unsafelyUnwrapped, count: byteCount)
            }
            other.fieldEnds.withUnsafeBytes {
                copyShortOrLong(
                    to: UnsafeMutableRawPointer(ends.baseAddress.unsafelyUnwrapped),
                    from: $0.baseAddress.unsafelyUnwrapped,
                    count: count &* MemoryLayout<Int>.stride)
            }
        }
    }
}

/// How many of a record's chosen fields, taken in order from the first, hold the same bytes as
/// in the record before (one household's readings repeat its identifier and attributes).
///
/// The previous record's leading fields are kept whole. When the last record matched `m` of
/// the chosen fields, the span of fields 0 through the highest of those `m` is compared at once
/// (ends and bytes, two comparisons); only the fields after them, or all of them when the span
/// differs, are compared one by one.
public struct LeadingFieldsMatcher: Sendable {
    /// The chosen fields, in order.
    public let indices: [Int]
    /// `spanEnds[m]`: the highest field index among the first `m` chosen ones (m >= 1).
    private let spanEnds: [Int]
    private let leadingCount: Int
    private var previous = CSVRecord()
    private var hasPrevious = false
    private var expected = 0

    public init(indices: [Int]) {
        self.indices = indices
        var ends = [-1]
        for index in indices { ends.append(max(ends.last!, index)) }
        spanEnds = ends
        leadingCount = (indices.max() ?? -1) + 1
    }

    /// How many of `indices`, from the first, hold the same bytes in `record` as in the record
    /// given last (0 for the first); `record` is then remembered. With `readInOrder`, the
    /// record given last is the one its reader read just before it, so the fields the reader
    /// took from that record (`CSVRecord.repeatedFields`) need no comparison, nor a copy.
    public mutating func match(_ record: CSVRecord, readInOrder: Bool = false) -> Int {
        precondition(record.count >= leadingCount, "no such field")
        if readInOrder && hasPrevious && record.repeatedFields >= leadingCount {
            expected = indices.count
            return indices.count
        }
        var matched = 0
        if hasPrevious {
            if expected > 0 && record.leadingFieldsEqual(previous, through: spanEnds[expected]) { matched = expected }
            while matched < indices.count && record.fieldsEqual(previous, at: indices[matched]) { matched &+= 1 }
        }
        expected = matched
        // A record of over 1 MiB is not kept to compare with (a 50 MB field is not copied):
        // the next record then matches nothing, which is always right.
        if record.usedBytes > Self.longestKept {
            hasPrevious = false
            expected = 0
            return matched
        }
        previous.copyLeadingFields(of: record, count: leadingCount)
        hasPrevious = true
        return matched
    }

    /// The longest record kept to compare the next one with.
    static let longestKept = 1 << 20

    /// Forgets the record before (the next one matches nothing).
    public mutating func reset() {
        hasPrevious = false
        expected = 0
    }
}

/// Byte equality of two ranges of `count` (>= 0) bytes: up to 32 as `shortEqual`, up to 256
/// sixteen at a time (the last 16 overlapping), longer ones with memcmp.
@inline(__always) func shortOrLongEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    if count <= 32 { return count == 0 || shortEqual(a, b, count) }
    if count > 256 { return memcmp(a, b, count) == 0 }
    // Two words at a time (a SIMD vector's == compiles to a loop over its lanes).
    @inline(__always) func sixteenDiffer(_ offset: Int) -> Bool {
        (a.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            ^ b.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            | (a.loadUnaligned(fromByteOffset: offset &+ 8, as: UInt64.self)
                ^ b.loadUnaligned(fromByteOffset: offset &+ 8, as: UInt64.self)) != 0
    }
    var offset = 0
    while offset &+ 16 < count {
        if sixteenDiffer(offset) { return false }
        offset &+= 16
    }
    return !sixteenDiffer(count &- 16)
}

/// Copies `count` (>= 0) bytes between ranges that do not overlap: up to 64 as `copyBytes`, up
/// to 256 sixteen at a time (the last 16 overlapping), longer ones with memcpy.
@inline(__always) func copyShortOrLong(to target: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count: Int) {
    if count <= 64 || count > 256 {
        copyBytes(to: target, from: source, count: count)
        return
    }
    var offset = 0
    while offset &+ 16 < count {
        target.storeBytes(
            of: source.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt8>.self), toByteOffset: offset,
            as: SIMD16<UInt8>.self)
        offset &+= 16
    }
    target.storeBytes(
        of: source.loadUnaligned(fromByteOffset: count &- 16, as: SIMD16<UInt8>.self), toByteOffset: count &- 16,
        as: SIMD16<UInt8>.self)
}

/// Byte equality of two ranges of `count` (> 0) bytes: short ones (up to 32 bytes) with
/// overlapping loads, long ones with memcmp (a call costs more than the comparison of a short field).
@inline(__always) func shortEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    if count > 16 && count <= 32 {
        return a.loadUnaligned(as: UInt64.self) == b.loadUnaligned(as: UInt64.self)
            && a.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                == b.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            && a.loadUnaligned(fromByteOffset: count - 16, as: UInt64.self)
                == b.loadUnaligned(fromByteOffset: count - 16, as: UInt64.self)
            && a.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
                == b.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
    }
    if count >= 8 && count <= 16 {
        return a.loadUnaligned(as: UInt64.self) == b.loadUnaligned(as: UInt64.self)
            && a.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
                == b.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
    }
    if count >= 4 && count < 8 {
        return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
            && a.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
                == b.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
    }
    if count < 4 {
        for offset in 0..<count
        where a.load(fromByteOffset: offset, as: UInt8.self) != b.load(fromByteOffset: offset, as: UInt8.self) {
            return false
        }
        return true
    }
    return memcmp(a, b, count) == 0
}
