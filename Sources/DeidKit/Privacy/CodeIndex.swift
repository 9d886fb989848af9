import DeidCSV

/// Dense codes for distinct byte strings, in order of first appearance: open addressing over
/// code numbers, with each value's word-at-a-time hash (`FieldHash`) kept beside it, so a
/// lookup hashes once, compares hashes, and compares bytes only on a hash match. A field of a
/// record is looked up in place (no array is built unless the value is new). Exact: equal hashes
/// of different values are told apart by their bytes.
struct ByteCodeIndex {
    /// The values, by code.
    private(set) var values: [[UInt8]] = []
    private var hashes: [UInt64] = []
    private var table = NumberSlots()

    var count: Int { values.count }

    /// The code of field `field` of `record`, coding it when new (`isNew` tells).
    @inline(__always) mutating func code(of record: CSVRecord, field: Int) -> (code: UInt32, isNew: Bool) {
        let hash = record.fieldHash(at: field)
        var slot = table.home(hash)
        while true {
            let stored = table.slots[slot]
            if stored == 0 { break }
            let code = Int(stored &- 1)
            if hashes[code] == hash && record.field(field, equals: values[code][...]) { return (UInt32(code), false) }
            slot = (slot &+ 1) & table.mask
        }
        return (insert(Array(record[field]), hash: hash, at: slot), true)
    }

    /// The code of `value`, coding it when new (`isNew` tells).
    mutating func code(of value: ArraySlice<UInt8>) -> (code: UInt32, isNew: Bool) {
        let hash = value.withUnsafeBytes { FieldHash.hash($0) }
        var slot = table.home(hash)
        while true {
            let stored = table.slots[slot]
            if stored == 0 { break }
            let code = Int(stored &- 1)
            if hashes[code] == hash && values[code][...] == value { return (UInt32(code), false) }
            slot = (slot &+ 1) & table.mask
        }
        return (insert(Array(value), hash: hash, at: slot), true)
    }

    /// The code of field `field` of `record`, nil when it has none (looked up in place).
    @inline(__always) func existingCode(of record: CSVRecord, field: Int) -> UInt32? {
        let hash = record.fieldHash(at: field)
        var slot = table.home(hash)
        while true {
            let stored = table.slots[slot]
            if stored == 0 { return nil }
            let code = Int(stored &- 1)
            if hashes[code] == hash && record.field(field, equals: values[code][...]) { return UInt32(code) }
            slot = (slot &+ 1) & table.mask
        }
    }

    /// The code of `value`, nil when it has none.
    func existingCode(of value: ArraySlice<UInt8>) -> UInt32? {
        let hash = value.withUnsafeBytes { FieldHash.hash($0) }
        var slot = table.home(hash)
        while true {
            let stored = table.slots[slot]
            if stored == 0 { return nil }
            let code = Int(stored &- 1)
            if hashes[code] == hash && values[code][...] == value { return UInt32(code) }
            slot = (slot &+ 1) & table.mask
        }
    }

    private mutating func insert(_ value: [UInt8], hash: UInt64, at slot: Int) -> UInt32 {
        let code = values.count
        values.append(value)
        hashes.append(hash)
        table.store(code, at: slot, hashes: hashes)
        return UInt32(code)
    }
}

/// Dense numbers for distinct tuples of `width` codes, in order of first appearance; the
/// tuples are kept flat in `tuples` (`width` codes each). Open addressing over tuple numbers
/// with each tuple's hash beside it; exact (codes are compared on a hash match).
struct CodeTupleIndex {
    let width: Int
    /// The tuples' codes, `width` per tuple.
    private(set) var tuples: [UInt32] = []
    private var hashes: [UInt64] = []
    private var table = NumberSlots()

    init(width: Int) { self.width = width }

    var count: Int { hashes.count }

    static func hash(_ codes: UnsafeBufferPointer<UInt32>) -> UInt64 {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for code in codes { state = (state ^ UInt64(code)) &* 0xFF51_AFD7_ED55_8CCD; state ^= state >> 29 }
        return state
    }

    /// The number of the tuple `codes` (`width` of them), numbering it when new (`isNew` tells).
    mutating func number(of codes: UnsafeBufferPointer<UInt32>) -> (number: UInt32, isNew: Bool) {
        let hash = Self.hash(codes)
        var slot = table.home(hash)
        let width = self.width
        while true {
            let stored = table.slots[slot]
            if stored == 0 { break }
            let number = Int(stored &- 1)
            if hashes[number] == hash {
                let equal = tuples.withUnsafeBufferPointer { tuples in
                    (0..<width).allSatisfy { tuples[number &* width &+ $0] == codes[$0] }
                }
                if equal { return (UInt32(number), false) }
            }
            slot = (slot &+ 1) & table.mask
        }
        let number = hashes.count
        tuples.append(contentsOf: codes)
        hashes.append(hash)
        table.store(number, at: slot, hashes: hashes)
        return (UInt32(number), true)
    }
}

/// The open-addressing part of both indexes: slots holding a number + 1 (0 is empty), placed
/// by each number's hash, grown at half full.
struct NumberSlots {
    private(set) var slots: [UInt32]
    private(set) var mask: Int

    /// Room for `capacity` numbers before the first doubling (a power of two of at least 16 slots).
    init(capacity: Int = 8) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [UInt32](repeating: 0, count: size)
        mask = size - 1
    }

    /// The first slot to look at for `hash`.
    @inline(__always) func home(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash ^ hash >> 32) & mask }

    /// Stores `number` in `slot` (the empty slot a probe for it ended at); `hashes` holds every
    /// number's hash, `number`'s included.
    mutating func store(_ number: Int, at slot: Int, hashes: [UInt64]) {
        slots[slot] = UInt32(number) &+ 1
        guard hashes.count * 2 > slots.count else { return }
        slots = [UInt32](repeating: 0, count: slots.count * 2)
        mask = slots.count - 1
        for known in 0..<hashes.count {
            var free = home(hashes[known])
            while slots[free] != 0 { free = (free &+ 1) & mask }
            slots[free] = UInt32(known) &+ 1
        }
    }
}
