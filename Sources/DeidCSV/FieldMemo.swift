/// A memo from field values to computed bytes (pseudonyms, generalized values), so that a value
/// repeated on every row is computed once. Keys and values live in two flat byte arrays; an
/// open-addressing table of hashes finds them. When `capacity` entries are held the memo starts
/// afresh, which bounds its memory whatever the number of distinct values.
public struct FieldMemo: Sendable {
    private var keyBytes: [UInt8] = []
    private var valueBytes: [UInt8] = []
    /// Per entry: end offsets of its key in `keyBytes` and of its value in `valueBytes`.
    private var keyEnds: [Int] = []
    private var valueEnds: [Int] = []
    /// Per entry: true when the value needs no quoting under any delimiter.
    private var valuePlain: [Bool] = []
    /// Per slot: entry index + 1 (0 = empty), and the entry's hash.
    private var slots: [Int32]
    private var hashes: [UInt64]
    private var mask: Int
    /// The entry used last: consecutive records often repeat a value (one meter's readings).
    private var lastEntry = -1
    public let capacity: Int

    /// A memo holding at most `capacity` entries before it is cleared.
    public init(capacity: Int = 1 << 20) {
        self.capacity = max(capacity, 16)
        slots = [Int32](repeating: 0, count: 1024)
        hashes = [UInt64](repeating: 0, count: 1024)
        mask = 1023
    }

    /// The number of entries held.
    public var count: Int { keyEnds.count }

    /// Where a value that is not memoized yet goes: returned by `appendMemoized` when it finds
    /// nothing, taken by `store`.
    public struct Miss: Sendable {
        let hash: UInt64
        let slot: Int
    }

    /// Appends to `output` the value memoized for field `index` of `record` and returns nil;
    /// when there is none, appends nothing and returns where `store` puts the computed value.
    @inline(__always)
    public mutating func appendMemoized<Sink: CSVFieldSink>(valueFor index: Int, of record: CSVRecord, to output: inout Sink) -> Miss? {
        if lastEntry >= 0 {
            let keyStart = lastEntry == 0 ? 0 : keyEnds[lastEntry - 1]
            if record.field(index, equals: keyBytes, in: keyStart..<keyEnds[lastEntry]) {
                let valueStart = lastEntry == 0 ? 0 : valueEnds[lastEntry - 1]
                output.append(fieldFrom: valueBytes, range: valueStart..<valueEnds[lastEntry], plain: valuePlain[lastEntry])
                return nil
            }
        }
        let hash = record.fieldHash(at: index)
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 {
            let entry = Int(slots[slot]) - 1
            if hashes[slot] == hash {
                let keyStart = entry == 0 ? 0 : keyEnds[entry - 1]
                if record.field(index, equals: keyBytes, in: keyStart..<keyEnds[entry]) {
                    let valueStart = entry == 0 ? 0 : valueEnds[entry - 1]
                    output.append(fieldFrom: valueBytes, range: valueStart..<valueEnds[entry], plain: valuePlain[entry])
                    lastEntry = entry
                    return nil
                }
            }
            slot = (slot + 1) & mask
        }
        return Miss(hash: hash, slot: slot)
    }

    /// Memoizes `value` for field `index` of `record` (after `appendMemoized` missed) and
    /// appends it to `output`.
    public mutating func store<Sink: CSVFieldSink>(_ value: [UInt8], for miss: Miss, fieldAt index: Int, of record: CSVRecord,
                                                   appendingTo output: inout Sink) {
        output.append(field: value)
        var slot = miss.slot
        if keyEnds.count >= capacity {
            removeAll()
            slot = Int(truncatingIfNeeded: miss.hash) & mask
        }
        keyBytes.append(contentsOf: record[index])
        keyEnds.append(keyBytes.count)
        valueBytes.append(contentsOf: value)
        valueEnds.append(valueBytes.count)
        valuePlain.append(!ByteScan.mayNeedQuoting(value))
        slots[slot] = Int32(keyEnds.count)
        hashes[slot] = miss.hash
        lastEntry = keyEnds.count - 1
        if keyEnds.count * 2 > slots.count { grow() }
    }

    /// Appends to `output` the value memoized for field `index` of `record`, computing it with
    /// `compute` (from the field's bytes) the first time the field's bytes are seen.
    public mutating func append<Sink: CSVFieldSink>(valueFor index: Int, of record: CSVRecord, to output: inout Sink,
                                                    compute: (ArraySlice<UInt8>) throws -> [UInt8]) rethrows {
        guard let miss = appendMemoized(valueFor: index, of: record, to: &output) else { return }
        store(try compute(record[index]), for: miss, fieldAt: index, of: record, appendingTo: &output)
    }

    private mutating func removeAll() {
        keyBytes.removeAll(keepingCapacity: true)
        valueBytes.removeAll(keepingCapacity: true)
        keyEnds.removeAll(keepingCapacity: true)
        valueEnds.removeAll(keepingCapacity: true)
        valuePlain.removeAll(keepingCapacity: true)
        for index in slots.indices { slots[index] = 0 }
        lastEntry = -1
    }

    private mutating func grow() {
        let size = slots.count * 2
        var newSlots = [Int32](repeating: 0, count: size)
        var newHashes = [UInt64](repeating: 0, count: size)
        let newMask = size - 1
        for index in slots.indices where slots[index] != 0 {
            var slot = Int(truncatingIfNeeded: hashes[index]) & newMask
            while newSlots[slot] != 0 { slot = (slot + 1) & newMask }
            newSlots[slot] = slots[index]
            newHashes[slot] = hashes[index]
        }
        slots = newSlots
        hashes = newHashes
        mask = newMask
    }
}

extension CSVRecord {
    /// Appends one field holding `storage[range]`.
    @inlinable mutating func appendField(from storage: [UInt8], range: Range<Int>) {
        if bytes.count > usedBytes { bytes.removeSubrange(usedBytes...) }
        storage.withUnsafeBufferPointer { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: $0[range])) }
        fieldEnds.append(bytes.count)
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
