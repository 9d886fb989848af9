import DeidCSV

/// Dense codes for distinct byte strings, in order of first appearance: open addressing over
/// code numbers, with each value's word-at-a-time hash (`FieldHash`) kept beside it, so a
/// lookup hashes once, compares hashes, and compares bytes only on a hash match. A field of a
/// record is looked up in place (no array is built unless the value is new). Exact: equal hashes
/// of different values are told apart by their bytes.
public struct ByteCodeIndex: Sendable {
    /// The values, by code.
    public var values: [[UInt8]] { storedValues }
    @usableFromInline var storedValues: [[UInt8]] = []
    @usableFromInline var hashes: [UInt64] = []
    @usableFromInline var table = NumberSlots()

    public init() {}

    public var count: Int { storedValues.count }

    /// The code of field `field` of `record`, coding it when new (`isNew` tells).
    @inlinable @inline(__always) public mutating func code(of record: CSVRecord, field: Int) -> (
        code: UInt32, isNew: Bool
    ) {
        let hash = record.fieldHash(at: field)
        var slot = table.home(hash)
        while true {
            let stored = table.storedSlots[slot]
            if stored == 0 { break }
            let code = Int(stored &- 1)
            if hashes[code] == hash && record.field(field, equals: storedValues[code][...]) {
                return (UInt32(code), false)
            }
            slot = (slot &+ 1) & table.storedMask
        }
        return (insert(Array(record[field]), hash: hash, at: slot), true)
    }

    /// The code of `value`, coding it when new (`isNew` tells).
    @inlinable public mutating func code(of value: ArraySlice<UInt8>) -> (code: UInt32, isNew: Bool) {
        let hash = FieldHash.hash(value)
        var slot = table.home(hash)
        while true {
            let stored = table.storedSlots[slot]
            if stored == 0 { break }
            let code = Int(stored &- 1)
            if hashes[code] == hash && storedValues[code][...] == value { return (UInt32(code), false) }
            slot = (slot &+ 1) & table.storedMask
        }
        return (insert(Array(value), hash: hash, at: slot), true)
    }

    /// The code of field `field` of `record`, nil when it has none (looked up in place).
    @inlinable @inline(__always) public func existingCode(of record: CSVRecord, field: Int) -> UInt32? {
        let hash = record.fieldHash(at: field)
        var slot = table.home(hash)
        while true {
            let stored = table.storedSlots[slot]
            if stored == 0 { return nil }
            let code = Int(stored &- 1)
            if hashes[code] == hash && record.field(field, equals: storedValues[code][...]) { return UInt32(code) }
            slot = (slot &+ 1) & table.storedMask
        }
    }

    /// The code of `value`, nil when it has none.
    @inlinable public func existingCode(of value: ArraySlice<UInt8>) -> UInt32? {
        let hash = FieldHash.hash(value)
        var slot = table.home(hash)
        while true {
            let stored = table.storedSlots[slot]
            if stored == 0 { return nil }
            let code = Int(stored &- 1)
            if hashes[code] == hash && storedValues[code][...] == value { return UInt32(code) }
            slot = (slot &+ 1) & table.storedMask
        }
    }

    @usableFromInline mutating func insert(_ value: [UInt8], hash: UInt64, at slot: Int) -> UInt32 {
        let code = storedValues.count
        storedValues.append(value)
        hashes.append(hash)
        table.store(code, at: slot, hashes: hashes)
        return UInt32(code)
    }
}

/// Dense numbers for distinct tuples of `width` codes, in order of first appearance; the
/// tuples are kept flat in `tuples` (`width` codes each). Open addressing over tuple numbers
/// with each tuple's hash beside it; exact (codes are compared on a hash match).
public struct CodeTupleIndex: Sendable {
    public let width: Int
    /// The tuples' codes, `width` per tuple.
    public var tuples: [UInt32] { storedTuples }
    @usableFromInline var storedTuples: [UInt32] = []
    @usableFromInline var hashes: [UInt64] = []
    @usableFromInline var table = NumberSlots()

    public init(width: Int) { self.width = width }

    public var count: Int { hashes.count }

    @inlinable static func hash(_ codes: UnsafeBufferPointer<UInt32>) -> UInt64 {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for code in codes {
            state = (state ^ UInt64(code)) &* 0xFF51_AFD7_ED55_8CCD
            state ^= state >> 29
        }
        return state
    }

    /// The number of the tuple `codes` (`width` of them), numbering it when new (`isNew` tells).
    @inlinable public mutating func number(of codes: [UInt32]) -> (number: UInt32, isNew: Bool) {
        codes.withUnsafeBufferPointer { number(of: $0) }
    }

    @inlinable mutating func number(of codes: UnsafeBufferPointer<UInt32>) -> (number: UInt32, isNew: Bool) {
        let hash = Self.hash(codes)
        var slot = table.home(hash)
        let width = self.width
        while true {
            let stored = table.storedSlots[slot]
            if stored == 0 { break }
            let number = Int(stored &- 1)
            if hashes[number] == hash {
                let equal = storedTuples.withUnsafeBufferPointer { tuples in
                    (0..<width).allSatisfy { tuples[number &* width &+ $0] == codes[$0] }
                }
                if equal { return (UInt32(number), false) }
            }
            slot = (slot &+ 1) & table.storedMask
        }
        let number = hashes.count
        storedTuples.append(contentsOf: codes)
        hashes.append(hash)
        table.store(number, at: slot, hashes: hashes)
        return (UInt32(number), true)
    }
}

/// Dense positions for 64-bit keys (a value distribution's numeric bins), in order of first
/// appearance (open addressing, the keys compared exactly).
public struct BinIndex: Sendable {
    public var keys: [Int64] { storedKeys }
    @usableFromInline var storedKeys: [Int64] = []
    @usableFromInline var hashes: [UInt64] = []
    /// Sized for a block's bins at once (a block's sample of a reading column has a thousand or
    /// two): growing from 16 slots rehashed them six times per block.
    @usableFromInline var table = NumberSlots(capacity: 2048)

    public init() {}

    public var count: Int { storedKeys.count }

    /// The position of bin `key`, added when new.
    @inlinable @inline(__always) public mutating func position(of key: Int64) -> Int {
        let hash = UInt64(bitPattern: key) &* 0x9E37_79B9_7F4A_7C15
        var slot = table.home(hash)
        while true {
            let stored = table.storedSlots[slot]
            if stored == 0 { break }
            let position = Int(stored &- 1)
            if storedKeys[position] == key { return position }
            slot = (slot &+ 1) & table.storedMask
        }
        storedKeys.append(key)
        hashes.append(hash)
        table.store(storedKeys.count - 1, at: slot, hashes: hashes)
        return storedKeys.count - 1
    }
}

/// The open-addressing part of both indexes: slots holding a number + 1 (0 is empty), placed
/// by each number's hash, grown at half full.
public struct NumberSlots: Sendable {
    public var slots: [UInt32] { storedSlots }
    @usableFromInline var storedSlots: [UInt32]
    public var mask: Int { storedMask }
    @usableFromInline var storedMask: Int

    /// Room for `capacity` numbers before the first doubling (a power of two of at least 16 slots).
    public init(capacity: Int = 8) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        storedSlots = [UInt32](repeating: 0, count: size)
        storedMask = size - 1
    }

    /// The first slot to look at for `hash`.
    @inlinable @inline(__always) public func home(_ hash: UInt64) -> Int {
        Int(truncatingIfNeeded: hash ^ hash >> 32) & storedMask
    }

    /// Stores `number` in `slot` (the empty slot a probe for it ended at); `hashes` holds every
    /// number's hash, `number`'s included.
    @inlinable public mutating func store(_ number: Int, at slot: Int, hashes: [UInt64]) {
        storedSlots[slot] = UInt32(number) &+ 1
        guard hashes.count * 2 > storedSlots.count else { return }
        grow(hashes: hashes)
    }

    @usableFromInline mutating func grow(hashes: [UInt64]) {
        storedSlots = [UInt32](repeating: 0, count: storedSlots.count * 2)
        storedMask = storedSlots.count - 1
        for known in 0..<hashes.count {
            var free = home(hashes[known])
            while storedSlots[free] != 0 { free = (free &+ 1) & storedMask }
            storedSlots[free] = UInt32(known) &+ 1
        }
    }
}
