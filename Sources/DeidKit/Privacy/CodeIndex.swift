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
    /// Code + 1 per slot; 0 is empty.
    private var slots = [UInt32](repeating: 0, count: 16)
    private var mask = 15

    var count: Int { values.count }

    @inline(__always) private func home(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash) & mask }

    /// The code of field `field` of `record`, coding it when new (`isNew` tells).
    @inline(__always) mutating func code(of record: CSVRecord, field: Int) -> (code: UInt32, isNew: Bool) {
        let hash = record.fieldHash(at: field)
        var slot = home(hash)
        while true {
            let stored = slots[slot]
            if stored == 0 { break }
            let code = Int(stored &- 1)
            if hashes[code] == hash && record.field(field, equals: values[code][...]) { return (UInt32(code), false) }
            slot = (slot &+ 1) & mask
        }
        return (insert(Array(record[field]), hash: hash, at: slot), true)
    }

    /// The code of `value`, coding it when new (`isNew` tells).
    mutating func code(of value: ArraySlice<UInt8>) -> (code: UInt32, isNew: Bool) {
        let hash = value.withUnsafeBytes { FieldHash.hash($0) }
        var slot = home(hash)
        while true {
            let stored = slots[slot]
            if stored == 0 { break }
            let code = Int(stored &- 1)
            if hashes[code] == hash && values[code][...] == value { return (UInt32(code), false) }
            slot = (slot &+ 1) & mask
        }
        return (insert(Array(value), hash: hash, at: slot), true)
    }

    /// The code of `value`, nil when it has none.
    func existingCode(of value: ArraySlice<UInt8>) -> UInt32? {
        let hash = value.withUnsafeBytes { FieldHash.hash($0) }
        var slot = home(hash)
        while true {
            let stored = slots[slot]
            if stored == 0 { return nil }
            let code = Int(stored &- 1)
            if hashes[code] == hash && values[code][...] == value { return UInt32(code) }
            slot = (slot &+ 1) & mask
        }
    }

    private mutating func insert(_ value: [UInt8], hash: UInt64, at slot: Int) -> UInt32 {
        let code = UInt32(values.count)
        values.append(value)
        hashes.append(hash)
        slots[slot] = code &+ 1
        if values.count * 2 > slots.count { grow() }
        return code
    }

    private mutating func grow() {
        slots = [UInt32](repeating: 0, count: slots.count * 2)
        mask = slots.count - 1
        for code in 0..<hashes.count {
            var slot = home(hashes[code])
            while slots[slot] != 0 { slot = (slot &+ 1) & mask }
            slots[slot] = UInt32(code) &+ 1
        }
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
    /// Tuple number + 1 per slot; 0 is empty.
    private var slots = [UInt32](repeating: 0, count: 16)
    private var mask = 15

    init(width: Int) { self.width = width }

    var count: Int { hashes.count }

    @inline(__always) private func home(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash >> 32) & mask }

    static func hash(_ codes: UnsafeBufferPointer<UInt32>) -> UInt64 {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for code in codes { state = (state ^ UInt64(code)) &* 0xFF51_AFD7_ED55_8CCD; state ^= state >> 29 }
        return state
    }

    /// The number of the tuple `codes` (`width` of them), numbering it when new (`isNew` tells).
    mutating func number(of codes: UnsafeBufferPointer<UInt32>) -> (number: UInt32, isNew: Bool) {
        let hash = Self.hash(codes)
        var slot = home(hash)
        let width = self.width
        while true {
            let stored = slots[slot]
            if stored == 0 { break }
            let number = Int(stored &- 1)
            if hashes[number] == hash {
                let equal = tuples.withUnsafeBufferPointer { tuples in
                    (0..<width).allSatisfy { tuples[number &* width &+ $0] == codes[$0] }
                }
                if equal { return (UInt32(number), false) }
            }
            slot = (slot &+ 1) & mask
        }
        let number = UInt32(hashes.count)
        tuples.append(contentsOf: codes)
        hashes.append(hash)
        slots[slot] = number &+ 1
        if hashes.count * 2 > slots.count {
            slots = [UInt32](repeating: 0, count: slots.count * 2)
            mask = slots.count - 1
            for known in 0..<hashes.count {
                var free = home(hashes[known])
                while slots[free] != 0 { free = (free &+ 1) & mask }
                slots[free] = UInt32(known) &+ 1
            }
        }
        return (number, true)
    }
}
