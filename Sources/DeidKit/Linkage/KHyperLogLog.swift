import DeidCSV
import DeidEngine
import Foundation

/// The individuals holding one value, counted exactly while they are few and by a small
/// HyperLogLog beyond: uniqueness (one individual or more?) is what linkage asks, so small
/// counts must be exact. Mergeable: two counts of the same value add up to the count of the
/// union of their individuals.
package struct IndividualCount: Sendable, Equatable {
    /// Records counted (the low 62 bits); bit 63: individuals are tracked (`first` holds one);
    /// bit 62: they are counted by the sketch in `extra`.
    private var tally: UInt64 = 0
    /// The first individual: most values of a large file are held by one.
    private var first: UInt64 = 0
    /// The individuals after the first while exact (up to `exactLimit` in all), then the
    /// sketch's 256 one-byte registers packed eight to a word. 24 bytes in all, and no class:
    /// a sketch's table of counts stays small in the cache, and copying a count retains at most
    /// one array.
    private var extra: [UInt64] = []

    private static let tracked: UInt64 = 1 << 63
    private static let sketched: UInt64 = 1 << 62
    private static let flags = tracked | sketched

    /// Individuals kept exactly before the count turns into a sketch.
    package static let exactLimit = 8
    /// Precision of the sketch past `exactLimit`: 256 registers, about 6.5% standard error.
    package static let sketchPrecision = 8
    private static let registerWords = (1 << sketchPrecision) / 8

    package init() {}

    /// Every insertion, repeated individuals included (records, when a record is an individual).
    package var occurrences: Int { Int(tally & ~Self.flags) }

    private var isTracked: Bool { tally & Self.tracked != 0 }
    private var isSketched: Bool { tally & Self.sketched != 0 }

    /// The individuals while counted exactly (empty once sketched, or when not tracked).
    private var exact: [UInt64] { isTracked && !isSketched ? [first] + extra : [] }

    /// The sketch's registers, one byte each (nil while exact).
    private var registers: [UInt8]? {
        guard isSketched else { return nil }
        return (0..<(1 << Self.sketchPrecision)).map {
            UInt8(truncatingIfNeeded: extra[$0 >> 3] >> UInt64(($0 & 7) * 8))
        }
    }

    /// The same records and the same individuals (in any order).
    package static func == (a: IndividualCount, b: IndividualCount) -> Bool {
        a.tally == b.tally && (a.isSketched ? a.extra == b.extra : a.exact.sorted() == b.exact.sorted())
    }

    package mutating func insert(_ individual: UInt64) {
        tally &+= 1
        add(individual)
    }

    /// Counts one more record without tracking who holds it: for files where every record is
    /// its own individual, the count is the number of records.
    @inline(__always) package mutating func insertRecord() {
        tally &+= 1
    }

    private mutating func add(_ individual: UInt64) {
        if isSketched {
            setRegister(hash: individual)
            return
        }
        guard isTracked else {
            first = individual
            tally |= Self.tracked
            return
        }
        if first == individual || extra.contains(individual) { return }
        extra.append(individual)
        if 1 + extra.count > Self.exactLimit { spill() }
    }

    /// HyperLogLog's register update (`HyperLogLog.insert`) on the packed registers.
    @inline(__always) private mutating func setRegister(hash: UInt64) {
        let precision = UInt64(Self.sketchPrecision)
        let index = Int(hash >> (64 - precision))
        let rest = (hash << precision) | (1 << (precision - 1))
        setRegister(index, UInt64(rest.leadingZeroBitCount + 1))
    }

    @inline(__always) private mutating func setRegister(_ index: Int, _ rank: UInt64) {
        let shift = UInt64((index & 7) * 8)
        let word = extra[index >> 3]
        if (word >> shift) & 0xFF < rank { extra[index >> 3] = word & ~(0xFF << shift) | rank << shift }
    }

    private mutating func spill() {
        let individuals = exact
        extra = [UInt64](repeating: 0, count: Self.registerWords)
        tally |= Self.tracked | Self.sketched
        for individual in individuals { setRegister(hash: individual) }
        first = 0
    }

    package mutating func merge(_ other: IndividualCount) {
        tally = (tally & Self.flags) | ((tally & ~Self.flags) &+ (other.tally & ~Self.flags))
        if other.isSketched {
            if !isSketched { spill() }
            for word in 0..<Self.registerWords where extra[word] != other.extra[word] {
                for byte in 0..<8 { setRegister(word * 8 + byte, (other.extra[word] >> UInt64(byte * 8)) & 0xFF) }
            }
        } else {
            for individual in other.exact { add(individual) }
        }
    }

    /// The number of individuals: exact up to `exactLimit`, estimated beyond (never below
    /// `exactLimit + 1`, since it was exact until then).
    package var count: Int {
        guard isTracked else { return occurrences }
        guard let registers else { return 1 + extra.count }
        let sketch = HyperLogLog(precision: Self.sketchPrecision, registers: registers)
        return max(Self.exactLimit + 1, Int(sketch.estimate.rounded()))
    }

    /// Whether exactly one individual holds the value.
    package var isUnique: Bool { count == 1 }

    // Serialization: a tag byte, then the hashes or the registers.
    func encode(into bytes: inout [UInt8]) {
        bytes.appendLittleEndian(UInt64(occurrences))
        if let registers {
            bytes.append(0xFF)
            bytes.append(contentsOf: registers)
        } else {
            bytes.append(UInt8(exact.count))
            for individual in exact { bytes.appendLittleEndian(individual) }
        }
    }

    static func decode(_ bytes: [UInt8], at offset: inout Int) throws -> IndividualCount {
        var count = IndividualCount()
        let occurrences = try bytes.readLittleEndian(at: &offset) as UInt64
        guard occurrences & flags == 0 else { throw SketchDecodingError() }
        let tag = try bytes.readByte(at: &offset)
        if tag == 0xFF {
            let size = 1 << sketchPrecision
            guard offset + size <= bytes.count else { throw SketchDecodingError() }
            count.spill()
            for index in 0..<size { count.setRegister(index, UInt64(bytes[offset + index])) }
            offset += size
        } else {
            guard Int(tag) <= exactLimit else { throw SketchDecodingError() }
            for _ in 0..<Int(tag) { count.add(try bytes.readLittleEndian(at: &offset)) }
        }
        count.tally = (count.tally & flags) | occurrences
        return count
    }
}

/// A KHyperLogLog sketch (Chia et al., "KHyperLogLog: Estimating Reidentifiability and
/// Joinability of Large Data at Scale", IEEE S&P 2019): the K smallest hashes of a column's
/// values (or of a tuple of columns), each with the individuals that hold it. The K hashes are
/// a uniform sample of the distinct values, so shares over values (how many are held by one
/// individual, how many the other file also holds) are estimated from the sample, and the
/// number of distinct values from the K-th smallest hash (K-minimum values, Bar-Yossef et al.
/// 2002). Exact while a column has at most K distinct values. Two sketches merge (the K
/// smallest of the union, individual counts merged), so blocks are sketched apart.
package struct KHyperLogLog: Sendable, Equatable {
    package let capacity: Int
    /// Value hash -> its individuals; the smallest hashes seen, at most twice `capacity` until
    /// `trim` keeps `capacity` of them.
    private var table: HashTable64<IndividualCount>
    /// The largest hash kept while full (values above it are not kept).
    private var threshold = UInt64.max
    /// Whether more than `capacity` distinct values were seen (the sketch is a sample).
    package private(set) var isSampled = false

    package init(capacity: Int, reserving: Int = 0) {
        precondition(capacity >= 2, "a sketch keeps at least two values")
        self.capacity = capacity
        table = HashTable64(capacity: min(max(reserving, 8), 2 * capacity), empty: IndividualCount())
    }

    package static func == (a: KHyperLogLog, b: KHyperLogLog) -> Bool {
        a.capacity == b.capacity && a.isSampled == b.isSampled && a.sampledValues() == b.sampledValues()
    }

    /// The kept values and their individuals: a copy, built on each call (for analysis).
    package func sampledValues() -> [UInt64: IndividualCount] {
        var result: [UInt64: IndividualCount] = [:]
        result.reserveCapacity(table.count)
        table.forEach { result[$0] = $1 }
        return result
    }

    /// The number of kept values.
    package var count: Int { table.count }

    /// Adds value hash `value` held by `individual`.
    @inline(__always) package mutating func insert(value: UInt64, individual: UInt64) {
        if value > threshold { return }
        let (slot, inserted) = table.slot(value)
        table.update(at: slot) { $0.insert(individual) }
        // Grows to twice the capacity, then drops the largest half in one sweep: amortized.
        if inserted && table.count >= 2 * capacity { trim() }
    }

    /// Adds value hash `value` held by a record that is its own individual (no entity column).
    @inline(__always) package mutating func insertRecord(value: UInt64) {
        if value > threshold { return }
        let (slot, inserted) = table.slot(value)
        table.update(at: slot) { $0.insertRecord() }
        if inserted && table.count >= 2 * capacity { trim() }
    }

    /// Where a value inserted by `insertKeepingSlot` is kept: its slot, or one of these.
    static let notKept = -1, slotUnknown = -2

    /// Adds value hash `value` held by `individual` (nil: a record that is its own individual)
    /// and returns the slot that holds it (`notKept` when it is above the cut-off, which only
    /// falls; `slotUnknown` after a trim moved the values). The slot stays valid until the next
    /// insertion into this sketch: the same value for the same individual can then be counted
    /// again with `repeatInsert(at:)`, without hashing or looking it up.
    @inline(__always) mutating func insertKeepingSlot(value: UInt64, individual: UInt64?) -> Int {
        if value > threshold { return Self.notKept }
        let (slot, inserted) = table.slot(value)
        if let individual {
            table.update(at: slot) { $0.insert(individual) }
        } else {
            table.update(at: slot) { $0.insertRecord() }
        }
        if inserted && table.count >= 2 * capacity {
            trim()
            return Self.slotUnknown
        }
        return slot
    }

    /// Counts one more record of the value at `slot` (from `insertKeepingSlot`, with nothing
    /// inserted since) for the individual that holds it already: the individual count stays.
    @inline(__always) mutating func repeatInsert(at slot: Int) {
        table.update(at: slot) { $0.insertRecord() }
    }

    /// Adds value hash `value` with the records and individuals `count` holds (a block's
    /// distinct tuples counted first, then added here).
    package mutating func add(value: UInt64, _ count: IndividualCount) {
        if value > threshold { return }
        let (slot, inserted) = table.slot(value)
        table.update(at: slot) { $0.merge(count) }
        if inserted && table.count >= 2 * capacity { trim() }
    }

    /// Keeps only the `capacity` smallest hashes (and remembers the cut). Every reader of the
    /// sketch sees it trimmed: `merge`, `encoded` and the estimates trim first.
    package mutating func trim() {
        guard table.count > capacity else { return }
        isSampled = true
        var keys: [UInt64] = []
        keys.reserveCapacity(table.count)
        table.forEach { key, _ in keys.append(key) }
        let cut = min(Self.select(&keys, rank: capacity - 1), threshold)
        table = table.filtered { $0 <= cut }
        threshold = cut
    }

    /// The value of rank `rank` (0 = smallest) among `keys` (reordered): quickselect, expected
    /// linear time (a full sort was a tenth of a sketched link run).
    static func select(_ keys: inout [UInt64], rank: Int) -> UInt64 {
        precondition(rank >= 0 && rank < keys.count)
        var low = 0
        var high = keys.count - 1
        var generator = SystemRandomNumberGenerator()
        while low < high {
            let pivot = keys[Int.random(in: low...high, using: &generator)]
            // Three-way partition of keys[low...high] around the pivot.
            var less = low
            var index = low
            var greater = high
            while index <= greater {
                let key = keys[index]
                if key < pivot {
                    keys.swapAt(less, index)
                    less += 1
                    index += 1
                } else if key > pivot {
                    keys.swapAt(index, greater)
                    greater -= 1
                } else {
                    index += 1
                }
            }
            if rank < less { high = less - 1 } else if rank > greater { low = greater + 1 } else { return pivot }
        }
        return keys[rank]
    }

    /// Takes in `other`'s values. The result holds every value up to the smaller of the two
    /// bounds; it may hold up to twice `capacity` entries until `trim`.
    package mutating func merge(_ other: KHyperLogLog) {
        precondition(other.capacity == capacity, "merging sketches of different sizes")
        if other.table.count == 0 && !other.isSampled { return }
        isSampled = isSampled || other.isSampled
        let lowered = other.threshold < threshold
        threshold = min(threshold, other.threshold)
        let limit = threshold
        other.table.forEach { value, count in
            guard value <= limit else { return }
            let (slot, _) = table.slot(value)
            table.update(at: slot) { $0.merge(count) }
        }
        // Values above the other's bound were not all seen by it: keep what both would have kept.
        if lowered { table = table.filtered { $0 <= limit } }
        if table.count >= 2 * capacity { trim() }
    }

    /// The estimated number of distinct values (exact when not sampled).
    package var distinctValues: Double {
        precondition(table.count <= capacity, "estimates need a trimmed sketch")
        guard isSampled, table.count >= 2 else { return Double(table.count) }
        var largest: UInt64 = 0
        table.forEach { key, _ in largest = max(largest, key) }
        let fraction = (Double(largest) + 1) / 18_446_744_073_709_551_616.0
        return Double(table.count - 1) / fraction
    }

    /// Keeps no value above `bound` from now on (a bound known to lie above the K smallest
    /// values of the merged sketch this one will join).
    @inline(__always) mutating func lower(to bound: UInt64) {
        if bound < threshold { threshold = bound }
    }

    /// Values above this are not kept (read before a mutating insert, it spares the
    /// uniqueness check of the array holding the sketch).
    @inline(__always) var cutoff: UInt64 { threshold }

    /// The hash below which every value of this sketch's column is known to be kept.
    package var bound: UInt64 { isSampled ? threshold : UInt64.max }

    // MARK: serialization (the catalog stores sketches as blobs)

    /// Version 1: "KHL1", capacity, sampled flag, entry count, then per entry the hash and its
    /// individual count.
    package func encoded() -> [UInt8] {
        var sketch = self
        sketch.trim()
        return sketch.encodedTrimmed()
    }

    private func encodedTrimmed() -> [UInt8] {
        var bytes = Array("KHL1".utf8)
        bytes.appendLittleEndian(UInt64(capacity))
        bytes.append(isSampled ? 1 : 0)
        let kept = sampledValues()
        bytes.appendLittleEndian(UInt64(kept.count))
        for value in kept.keys.sorted() {
            bytes.appendLittleEndian(value)
            kept[value]!.encode(into: &bytes)
        }
        return bytes
    }

    package init(encoded bytes: [UInt8]) throws {
        guard bytes.count >= 21, Array(bytes[0..<4]) == Array("KHL1".utf8) else { throw SketchDecodingError() }
        var offset = 4
        let capacity = Int(try bytes.readLittleEndian(at: &offset) as UInt64)
        guard capacity >= 2 else { throw SketchDecodingError() }
        self.init(capacity: capacity)
        isSampled = try bytes.readByte(at: &offset) == 1
        let count = Int(try bytes.readLittleEndian(at: &offset) as UInt64)
        guard count <= capacity else { throw SketchDecodingError() }
        for _ in 0..<count {
            let value: UInt64 = try bytes.readLittleEndian(at: &offset)
            let decoded = try IndividualCount.decode(bytes, at: &offset)
            let (slot, _) = table.slot(value)
            table.update(at: slot) { $0 = decoded }
            if isSampled { threshold = threshold == .max ? value : max(threshold, value) }
        }
    }
}

/// A sketch blob that is not one this version wrote.
package struct SketchDecodingError: ReportedError, CustomStringConvertible {
    package var description: String { "a stored sketch is damaged or of an unknown version" }
    package var problems: [ReportedProblem] { [ReportedProblem(description)] }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian(_ value: UInt64) { append(contentsOf: littleEndianBytes(value)) }

    func readLittleEndian(at offset: inout Int) throws -> UInt64 {
        guard offset + 8 <= count else { throw SketchDecodingError() }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(self[offset + index]) << UInt64(8 * index) }
        offset += 8
        return value
    }

    func readByte(at offset: inout Int) throws -> UInt8 {
        guard offset < count else { throw SketchDecodingError() }
        defer { offset += 1 }
        return self[offset]
    }
}
