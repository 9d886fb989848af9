/// Class-table roll-ups for the privacy search: the packed-key and packed-tuple kernels and
/// their index. The search (DeidKit) decides what to roll up; this does the counting.

/// The fields a roll-up on packed keys rewrites: per changed column its shift, mask and the
/// start of its code map in `parts` (the column's codes at the source's level mapped to the
/// target level's codes, shifted into place); `keep` masks the unchanged fields.
public struct ChangedFields: Sendable {
    public var shifts: [UInt64] = []
    public var masks: [UInt64] = []
    public var starts: [Int] = []
    public var parts: [UInt64] = []
    public var keep: UInt64 = .max

    public init() {}

    /// Adds a column whose field (at `shift`, `mask`) is rewritten through `map`, indexed by its
    /// code at the source's level.
    public mutating func change(shift: UInt64, mask: UInt64, map: [UInt64]) {
        shifts.append(shift)
        masks.append(mask)
        starts.append(parts.count)
        parts.append(contentsOf: map.map { $0 &<< shift })
        keep &= ~(mask &<< shift)
    }
}

/// The classes a roll-up made: per class its packed key (roll-ups on keys), its representative
/// finest tuple, its records and its individuals; per source class, its class (`map`, when
/// asked for).
public struct RolledClasses: Sendable {
    public var keys: [UInt64] = []
    public var representative: [Int32] = []
    public var records: [Int] = []
    public var individuals: [Int] = []
    public var map: [Int32] = []
}

/// Rolls a class table up to a coarser transformation: the source's classes are counted into
/// the target's by their generalized tuples, in one pass over the source with a reused
/// open-addressing index. Two ways, giving the same classes in the same order: on bit-packed
/// keys (`KeyLayout`), rewriting only the fields of the columns whose level changes, or
/// through each class's representative finest tuple, with its codes at the target levels
/// packed by radix (`strides`).
public final class ClassRollUp {
    private let index = PackedTupleIndex()
    private let scratch = RollUpScratch()

    public init() {}

    /// The radix of each column, or nil when the tuples do not fit in 64 bits.
    public static func strides(_ domainSizes: [Int]) -> [UInt64]? {
        var strides: [UInt64] = []
        var product: UInt64 = 1
        for size in domainSizes {
            strides.append(product)
            let (next, overflow) = product.multipliedReportingOverflow(by: UInt64(max(size, 1)))
            if overflow { return nil }
            product = next
        }
        return strides
    }

    /// The roll-up on packed keys. `needsMap`: return each source class's class.
    public func rollUp(
        keys sourceKeys: [UInt64], representatives sourceRepresentative: [Int32], records sourceRecords: [Int],
        individuals sourceIndividuals: [Int], fields: ChangedFields, needsMap: Bool
    ) -> RolledClasses {
        let sourceCount = sourceKeys.count
        var map = needsMap ? [Int32](repeating: 0, count: sourceCount) : []
        scratch.reserve(sourceCount)
        let index = self.index.table(expected: sourceCount)
        let keys = scratch.keys
        let representatives = scratch.representatives
        let sums = scratch.sums
        let changed = fields.shifts.count
        let keep = fields.keep
        var classes = 0
        sourceKeys.withUnsafeBufferPointer { sourceKeys in
            sourceRepresentative.withUnsafeBufferPointer { sourceRepresentative in
                sourceRecords.withUnsafeBufferPointer { sourceRecords in
                    sourceIndividuals.withUnsafeBufferPointer { sourceIndividuals in
                        fields.shifts.withUnsafeBufferPointer { shifts in
                            fields.masks.withUnsafeBufferPointer { masks in
                                fields.starts.withUnsafeBufferPointer { starts in
                                    fields.parts.withUnsafeBufferPointer { parts in
                                        map.withUnsafeMutableBufferPointer { map in
                                            for sourceClass in 0..<sourceKeys.count {
                                                let sourceKey = sourceKeys[sourceClass]
                                                var key = sourceKey & keep
                                                for position in 0..<changed {
                                                    key |=
                                                        parts[
                                                            starts[position]
                                                                &+ Int(
                                                                    truncatingIfNeeded: (sourceKey &>> shifts[position])
                                                                        & masks[position])]
                                                }
                                                let found = Int(
                                                    index.find(key, next: Int32(truncatingIfNeeded: classes)))
                                                if found == classes {
                                                    keys[found] = key
                                                    representatives[found] = sourceRepresentative[sourceClass]
                                                    sums[2 &* found] = sourceRecords[sourceClass]
                                                    sums[2 &* found &+ 1] = sourceIndividuals[sourceClass]
                                                    classes &+= 1
                                                } else {
                                                    sums[2 &* found] &+= sourceRecords[sourceClass]
                                                    sums[2 &* found &+ 1] &+= sourceIndividuals[sourceClass]
                                                }
                                                if needsMap { map[sourceClass] = Int32(truncatingIfNeeded: found) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var result = RolledClasses()
        result.keys = Array(UnsafeBufferPointer(start: keys, count: classes))
        result.representative = Array(UnsafeBufferPointer(start: representatives, count: classes))
        result.records = (0..<classes).map { sums[2 &* $0] }
        result.individuals = (0..<classes).map { sums[2 &* $0 &+ 1] }
        result.map = map
        return result
    }

    /// The roll-up through representative finest tuples (`tuples`: `width` level-0 codes per
    /// finest tuple). Column c's level-0 code v adds `parts[offsets[c] + v]` to a class's key
    /// (its code at the target level times the column's stride). `identity`: the source is the
    /// finest table, whose class i is tuple i. Always returns the map.
    public func rollUp(
        tuples: [UInt32], width: Int, parts: [UInt64], offsets: [Int], identity: Bool,
        representatives sourceRepresentative: [Int32], records sourceRecords: [Int],
        individuals sourceIndividuals: [Int]
    ) -> RolledClasses {
        let sourceCount = sourceRepresentative.count
        let table = index.table(expected: sourceCount)
        var map = [Int32](repeating: 0, count: sourceCount)
        var representatives = [Int32](repeating: 0, count: sourceCount)
        var sums = [Int](repeating: 0, count: 2 * sourceCount)
        var classes = 0
        tuples.withUnsafeBufferPointer { tuples in
            parts.withUnsafeBufferPointer { parts in
                offsets.withUnsafeBufferPointer { offsets in
                    map.withUnsafeMutableBufferPointer { map in
                        representatives.withUnsafeMutableBufferPointer { representatives in
                            sums.withUnsafeMutableBufferPointer { sums in
                                sourceRepresentative.withUnsafeBufferPointer { sourceRepresentative in
                                    sourceRecords.withUnsafeBufferPointer { sourceRecords in
                                        sourceIndividuals.withUnsafeBufferPointer { sourceIndividuals in
                                            guard let tuples = tuples.baseAddress, let parts = parts.baseAddress,
                                                let offsets = offsets.baseAddress
                                            else { return }
                                            for sourceClass in 0..<sourceCount {
                                                let representative =
                                                    identity
                                                    ? Int32(truncatingIfNeeded: sourceClass)
                                                    : sourceRepresentative[sourceClass]
                                                let row = tuples + Int(representative) &* width
                                                var key: UInt64 = 0
                                                for column in 0..<width {
                                                    key &+= parts[offsets[column] &+ Int(row[column])]
                                                }
                                                let found = Int(
                                                    table.find(key, next: Int32(truncatingIfNeeded: classes)))
                                                if found == classes {
                                                    representatives[found] = representative
                                                    classes &+= 1
                                                }
                                                map[sourceClass] = Int32(truncatingIfNeeded: found)
                                                sums[2 &* found] &+= sourceRecords[sourceClass]
                                                sums[2 &* found &+ 1] &+= sourceIndividuals[sourceClass]
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var result = RolledClasses()
        result.representative = Array(representatives[0..<classes])
        result.records = (0..<classes).map { sums[2 * $0] }
        result.individuals = (0..<classes).map { sums[2 * $0 + 1] }
        result.map = map
        return result
    }
}

/// Bit fields for a tuple of codes: column c's code at any level lies in `width[c]` bits from
/// bit `shift[c]` (levels nest, so no level has more codes than level 0). A table's keys can
/// then be rolled up to a coarser node by rewriting just the fields of the columns that change.
public struct KeyLayout: Sendable {
    public let shifts: [UInt64]
    public let masks: [UInt64]

    /// nil when the fields need more than 64 bits.
    public init?(domainSizes: [Int]) {
        var shifts: [UInt64] = []
        var masks: [UInt64] = []
        var used = 0
        for size in domainSizes {
            let bits = max(1, Int.bitWidth - (max(size, 1) - 1).leadingZeroBitCount)
            guard used + bits <= 64 else { return nil }
            shifts.append(UInt64(used))
            masks.append(bits == 64 ? .max : (1 << UInt64(bits)) - 1)
            used += bits
        }
        self.shifts = shifts
        self.masks = masks
    }
}

/// Maps generalized tuples, packed into one integer, to class numbers while a table is rolled
/// up: open addressing over one array of slots (key, class and generation side by side, so a
/// probe touches one cache line), reused from one roll-up to the next (a generation number
/// empties it without clearing). Each roll-up uses a power-of-two prefix of the slots, twice
/// its source's classes, so a small roll-up stays as small in the cache as its classes.
final class PackedTupleIndex {
    struct Slot {
        var key: UInt64
        var value: Int32
        var generation: UInt32
    }

    private var slots: UnsafeMutablePointer<Slot>
    private var capacity = 0
    private var generation: UInt32 = 0

    init() { slots = .allocate(capacity: 1) }

    deinit { slots.deallocate() }

    /// An empty table with room for `expected` keys.
    func table(expected: Int) -> Table {
        var size = 16
        while size < expected * 2 { size <<= 1 }
        if size > capacity {
            slots.deallocate()
            slots = .allocate(capacity: size)
            slots.initialize(repeating: Slot(key: 0, value: 0, generation: 0), count: size)
            capacity = size
            generation = 0
        }
        generation &+= 1
        if generation == 0 {
            slots.update(repeating: Slot(key: 0, value: 0, generation: 0), count: capacity)
            generation = 1
        }
        return Table(
            slots: slots, mask: size - 1, shift: UInt64(64 - size.trailingZeroBitCount), generation: generation)
    }

    struct Table {
        let slots: UnsafeMutablePointer<Slot>
        let mask: Int
        let shift: UInt64
        let generation: UInt32

        /// The class of `key`; `next` (stored) when the key is new.
        @inline(__always) func find(_ key: UInt64, next: Int32) -> Int32 {
            var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) &>> shift)
            while true {
                let entry = slots[slot]
                if entry.generation != generation {
                    slots[slot] = Slot(key: key, value: next, generation: generation)
                    return next
                }
                if entry.key == key { return entry.value }
                slot = (slot &+ 1) & mask
            }
        }
    }
}

/// Buffers a roll-up fills before it knows how many classes there are, kept from one roll-up
/// to the next (they are written before they are read, so never cleared).
final class RollUpScratch {
    private(set) var keys: UnsafeMutablePointer<UInt64>
    private(set) var representatives: UnsafeMutablePointer<Int32>
    /// Records and individuals of each class, side by side.
    private(set) var sums: UnsafeMutablePointer<Int>
    private var capacity = 0

    init() {
        keys = .allocate(capacity: 1)
        representatives = .allocate(capacity: 1)
        sums = .allocate(capacity: 2)
    }

    deinit {
        keys.deallocate()
        representatives.deallocate()
        sums.deallocate()
    }

    /// Room for `count` classes.
    func reserve(_ count: Int) {
        guard count > capacity else { return }
        keys.deallocate()
        representatives.deallocate()
        sums.deallocate()
        capacity = max(count, 2 * capacity)
        keys = .allocate(capacity: capacity)
        representatives = .allocate(capacity: capacity)
        sums = .allocate(capacity: 2 * capacity)
    }
}
