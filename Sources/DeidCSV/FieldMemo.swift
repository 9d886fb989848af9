/// A memo from field values to computed bytes (pseudonyms, generalized values), so that a value
/// repeated on every row is computed once. Each entry's key and value lie side by side in one
/// flat byte array; an open-addressing table of slots finds them, each slot holding the entry's
/// hash and where its bytes are, so that a lookup reads a slot and then one run of bytes (two
/// cache lines, where separate key, value and entry arrays took four). When `capacity` entries
/// are held the memo starts afresh, which bounds its memory whatever the number of distinct
/// values.
public struct FieldMemo: Sendable {
    /// Where one entry's key and value lie in `bytes`: the key at `start`, the value after it.
    struct Entry {
        var start: UInt32 = 0
        var keyLength: UInt32 = 0
        /// The value's length; the top bit: the value needs no quoting under any delimiter.
        var valueLength: UInt32 = 0

        var plain: Bool { valueLength & Entry.plainBit != 0 }
        var valueCount: Int { Int(valueLength & ~Entry.plainBit) }
        static let plainBit: UInt32 = 1 << 31
    }

    /// One slot of the table: an entry's hash, its index + 1 (0 = empty) and where its bytes
    /// are, side by side, so that a probe reads one cache line.
    struct Slot {
        var hash: UInt64 = 0
        var entry: UInt32 = 0
        var place = Entry()
    }

    private var bytes: [UInt8] = []
    private var entries: [Entry] = []
    private var slots: [Slot]
    private var mask: Int
    /// The entry used last: consecutive records often repeat a value (one meter's readings), or
    /// take the value stored after it.
    private var lastEntry = -1
    public let capacity: Int

    /// A memo holding at most `capacity` entries before it is cleared.
    public init(capacity: Int = 1 << 20) {
        self.capacity = max(capacity, 16)
        slots = [Slot](repeating: Slot(), count: 1024)
        mask = 1023
    }

    /// The number of entries held.
    public var count: Int { entries.count }

    /// Where a value that is not memoized yet goes: returned by `appendMemoized` when it finds
    /// nothing, taken by `store`.
    public struct Miss: Sendable {
        let hash: UInt64
        let slot: Int
    }

    /// Appends to `output` the value memoized for field `index` of `record` and returns nil;
    /// when there is none, appends nothing and returns where `store` puts the computed value.
    @inline(__always)
    public mutating func appendMemoized<Sink: CSVFieldSink>(
        valueFor index: Int, of record: CSVRecord, to output: inout Sink
    ) -> Miss? {
        let start = index == 0 ? 0 : record.fieldEnds[index - 1]
        let length = record.fieldEnds[index] &- start
        precondition(start >= 0 && length >= 0 && start &+ length <= record.bytes.count, "field outside the record")
        var hash: UInt64 = 0
        var slot = 0
        var place = Entry()
        let found: Int = record.bytes.withUnsafeBytes { raw in
            // A record whose storage never held a byte has only empty fields, and no address.
            let field = raw.baseAddress.map { $0 + start } ?? FieldMemo.nowhere
            if lastEntry >= 0 {
                let last = entries[lastEntry]
                if matches(last, field, length) {
                    place = last
                    return lastEntry
                }
                // Series repeat their values in the order they were first stored (every meter's
                // timestamps): the entry after the last one is tried before hashing, which also
                // walks the memo's arrays in order instead of jumping around the table.
                let next = lastEntry &+ 1
                if next < entries.count {
                    let following = entries[next]
                    if matches(following, field, length) {
                        place = following
                        return next
                    }
                }
            }
            hash = FieldHash.hash(UnsafeRawBufferPointer(start: field, count: length))
            return slots.withUnsafeBufferPointer { table in
                slot = Int(truncatingIfNeeded: hash) & mask
                while true {
                    let candidate = table[slot]
                    if candidate.entry == 0 { return -1 }
                    if candidate.hash == hash && matches(candidate.place, field, length) {
                        place = candidate.place
                        return Int(candidate.entry &- 1)
                    }
                    slot = (slot &+ 1) & mask
                }
            }
        }
        guard found >= 0 else { return Miss(hash: hash, slot: slot) }
        lastEntry = found
        let valueStart = Int(place.start &+ place.keyLength)
        output.append(fieldFrom: bytes, range: valueStart..<(valueStart &+ place.valueCount), plain: place.plain)
        return nil
    }

    /// An address for an empty field that has none (never read: its length is 0).
    nonisolated(unsafe) private static let nowhere = UnsafeRawPointer(
        UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1))

    /// True when the key at `place` is the `length` bytes at `field`.
    @inline(__always) private func matches(_ place: Entry, _ field: UnsafeRawPointer, _ length: Int) -> Bool {
        guard Int(place.keyLength) == length else { return false }
        guard length > 0 else { return true }
        return bytes.withUnsafeBytes {
            shortEqual($0.baseAddress.unsafelyUnwrapped + Int(place.start), field, length)
        }
    }

    /// The first slot probed for `hash` (an empty table's probe, for an empty record).
    private func home(of hash: UInt64) -> Int {
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot].entry != 0 { slot = (slot + 1) & mask }
        return slot
    }

    /// Memoizes `value` for field `index` of `record` (after `appendMemoized` missed) and
    /// appends it to `output`. A key or value too long to place (over 2 GiB together with the
    /// memo's bytes) is not memoized.
    public mutating func store<Sink: CSVFieldSink>(
        _ value: [UInt8], for miss: Miss, fieldAt index: Int, of record: CSVRecord,
        appendingTo output: inout Sink
    ) {
        output.append(field: value)
        let key = record[index]
        guard key.count + value.count < Int(Entry.plainBit) else { return }
        var slot = miss.slot
        if entries.count >= capacity || bytes.count + key.count + value.count >= Int(Entry.plainBit) {
            removeAll()
            slot = home(of: miss.hash)
        }
        var place = Entry(start: UInt32(bytes.count), keyLength: UInt32(key.count), valueLength: UInt32(value.count))
        if !ByteScan.mayNeedQuoting(value) { place.valueLength |= Entry.plainBit }
        bytes.append(contentsOf: key)
        bytes.append(contentsOf: value)
        entries.append(place)
        slots[slot] = Slot(hash: miss.hash, entry: UInt32(entries.count), place: place)
        lastEntry = entries.count - 1
        if entries.count * 2 > slots.count { grow() }
    }

    /// Appends to `output` the value memoized for field `index` of `record`, computing it with
    /// `compute` (from the field's bytes) the first time the field's bytes are seen.
    public mutating func append<Sink: CSVFieldSink>(
        valueFor index: Int, of record: CSVRecord, to output: inout Sink,
        compute: (ArraySlice<UInt8>) throws -> [UInt8]
    ) rethrows {
        guard let miss = appendMemoized(valueFor: index, of: record, to: &output) else { return }
        store(try compute(record[index]), for: miss, fieldAt: index, of: record, appendingTo: &output)
    }

    private mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
        for index in slots.indices { slots[index] = Slot() }
        lastEntry = -1
    }

    private mutating func grow() {
        let size = slots.count * 2
        var newSlots = [Slot](repeating: Slot(), count: size)
        let newMask = size - 1
        for old in slots where old.entry != 0 {
            var slot = Int(truncatingIfNeeded: old.hash) & newMask
            while newSlots[slot].entry != 0 { slot = (slot + 1) & newMask }
            newSlots[slot] = old
        }
        slots = newSlots
        mask = newMask
    }
}

extension CSVRecord {
    /// Appends one field holding `storage[range]`.
    @inlinable mutating func appendField(from storage: [UInt8], range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= storage.count, "range outside the storage")
        storage.withUnsafeBytes { appendField(bytes: $0.baseAddress.map { $0 + range.lowerBound }, count: range.count) }
    }
}

#if canImport(Glibc)
    import Glibc
#endif

/// Random bytes from the operating system's CSPRNG (glibc's arc4random_buf, which reads
/// getrandom), fetched in bulk.
public enum SystemEntropy {
    /// Fills `words` with random bits.
    public static func fill(_ words: inout [UInt64]) {
        words.withUnsafeMutableBytes { buffer in
            arc4random_buf(buffer.baseAddress!, buffer.count)
        }
    }
}

/// The memos of several output columns, in memory of their own: an array of `FieldMemo`s
/// would be checked for uniqueness at every lookup. One per transformer (one per thread).
public final class FieldMemos {
    @usableFromInline let base: UnsafeMutablePointer<FieldMemo>
    public let count: Int

    /// `count` empty memos of `capacity` entries each.
    public init(count: Int, capacity: Int) {
        self.count = count
        base = .allocate(capacity: max(count, 1))
        base.initialize(repeating: FieldMemo(capacity: capacity), count: count)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    /// Appends memo `column`'s value for field `index` of `record` to `output`; on a miss the
    /// value is computed with `compute` from the field's bytes and kept.
    @inlinable @inline(__always)
    public func append<Sink: CSVFieldSink>(
        column: Int, valueFor index: Int, of record: CSVRecord, to output: inout Sink,
        compute: (ArraySlice<UInt8>) throws -> [UInt8]
    ) rethrows {
        precondition(column >= 0 && column < count, "no memo for this column")
        let memo = base + column
        if let miss = memo.pointee.appendMemoized(valueFor: index, of: record, to: &output) {
            let value = try compute(record[index])
            memo.pointee.store(value, for: miss, fieldAt: index, of: record, appendingTo: &output)
        }
    }
}
