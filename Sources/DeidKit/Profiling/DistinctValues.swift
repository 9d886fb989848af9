import DeidCSV

/// Counts the distinct values of one column: exactly (each value stored, compared byte for
/// byte) up to `exactLimit` values or `byteLimit` bytes of values, then by a HyperLogLog
/// estimate, which is given every value counted so far when it takes over.
///
/// Each exactly-counted value gets a dense index (0, 1, 2...) in order of first appearance,
/// which lets a caller keep per-value state in plain arrays.
package struct DistinctValues: Sendable {
    /// The most values counted exactly.
    package let exactLimit: Int
    /// The most bytes of values kept for exact counting.
    package let byteLimit: Int
    private var slots: [Int32]  // open addressing: value index + 1, 0 = empty
    private var hashes: [UInt64] = []  // by value index
    private var ends: [Int] = []  // by value index: end offset in `storage`
    private var storage: [UInt8] = []
    /// The estimate once counting stops being exact (made then: a wide file's columns mostly
    /// never need one).
    private var sketch: HyperLogLog?
    /// The sketch's precision (fewer registers for a wide file's many columns).
    package let sketchPrecision: Int
    /// False once the exact limits were passed.
    package private(set) var isExact = true

    /// A counter that is exact up to `exactLimit` values or `byteLimit` bytes of values, then a
    /// HyperLogLog of 2^`sketchPrecision` registers.
    package init(exactLimit: Int = 100_000, byteLimit: Int = 8 << 20, sketchPrecision: Int = 14) {
        self.exactLimit = exactLimit
        self.byteLimit = byteLimit
        self.sketchPrecision = sketchPrecision
        slots = [Int32](repeating: 0, count: 16)
    }

    /// The result of inserting a value.
    package enum Insertion: Equatable {
        /// Seen for the first time; its new index.
        case new(Int)
        /// Seen before, with this index.
        case repeated(Int)
        /// Counting is no longer exact: nothing is known about repeats.
        case uncounted
    }

    /// Counts field `field` of `record`, whose hash is `hash`.
    package mutating func insert(_ record: CSVRecord, field: Int, hash: UInt64) -> Insertion {
        guard isExact else {
            sketch!.insert(hash: hash)
            return .uncounted
        }
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = Int(slots[slot])
            if entry == 0 { break }
            let index = entry - 1
            if hashes[index] == hash {
                let start = index == 0 ? 0 : ends[index - 1]
                if record.field(field, equals: storage, in: start..<ends[index]) {
                    return .repeated(index)
                }
            }
            slot = (slot + 1) & mask
        }
        if hashes.count >= exactLimit || storage.count + record.length(of: field) > byteLimit {
            // The sketch takes over: it gets every value counted so far, then this one.
            var estimate = HyperLogLog(precision: sketchPrecision)
            for known in hashes { estimate.insert(hash: known) }
            estimate.insert(hash: hash)
            sketch = estimate
            isExact = false
            slots = []
            hashes = []
            ends = []
            storage = []
            return .uncounted
        }
        let index = hashes.count
        hashes.append(hash)
        storage.append(contentsOf: record[field])
        ends.append(storage.count)
        slots[slot] = Int32(index + 1)
        if hashes.count * 2 > slots.count { grow() }
        return .new(index)
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for (index, hash) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index + 1)
        }
    }

    /// The number of distinct values: exact while `isExact`, else the sketch's estimate.
    package var count: Int { isExact ? hashes.count : Int(sketch!.estimate.rounded()) }

    /// The bytes of value `index` (exact mode only).
    package func value(at index: Int) -> ArraySlice<UInt8> {
        let start = index == 0 ? 0 : ends[index - 1]
        return storage[start..<ends[index]]
    }
}
