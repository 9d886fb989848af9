/// The equivalence classes of one transformation (a lattice node): for each class a
/// representative finest tuple, its records, its individuals counted whole, its sensitive
/// histogram, and the classes of the entities that span several. Rolled up from the finest
/// table, or from any table of a node below (levels nest, so a class's representative decides
/// its class at every higher node).
final class ClassTable {
    let node: [Int]
    var representative: [Int32] = []
    var records: [Int] = []
    var individuals: [Int] = []
    /// Per class: sensitive code -> individuals counted whole.
    var histogram = SparseRows()
    /// Per entity spanning several tuples: its (class, sensitive) pairs, deduplicated, with
    /// records; sensitive codes in `multiSensitive`.
    var multi = SparseRows()
    var multiSensitive: [UInt32] = []
    /// Per class, its codes at this table's levels packed into bit fields (`KeyLayout`), when
    /// the quasi-identifiers' domains fit in 64 bits; empty otherwise.
    var keys: [UInt64] = []

    var count: Int { records.count }

    init(node: [Int]) { self.node = node }

    /// Individuals in each class: those counted whole in it, plus every entity spanning
    /// several classes once in each class it is in.
    func individualSizes() -> [Int] {
        var sizes = individuals
        for entity in 0..<multi.rowCount {
            var lastClass = -1
            // An entity's pairs are sorted by class: count each class once.
            for entry in multi.offsets[entity]..<multi.offsets[entity + 1] {
                let found = Int(multi.keys[entry])
                if found != lastClass { sizes[found] += 1; lastClass = found }
            }
        }
        return sizes
    }

    /// The finest table: one class per tuple.
    init(finest statistics: PrivacyStatistics, width: Int) {
        node = [Int](repeating: 0, count: width)
        representative = (0..<Int32(statistics.tupleCount)).map { $0 }
        records = statistics.tupleRecords
        individuals = statistics.tupleIndividuals
        histogram = statistics.histogram
        multi = statistics.multiEntities
        multiSensitive = statistics.multiSensitive
    }
}

/// Bit fields for a tuple of codes: column c's code at any level lies in `width[c]` bits from
/// bit `shift[c]` (levels nest, so no level has more codes than level 0). A table's keys can
/// then be rolled up to a coarser node by rewriting just the fields of the columns that change.
struct KeyLayout {
    let shifts: [UInt64]
    let masks: [UInt64]

    /// nil when the fields need more than 64 bits.
    init?(domainSizes: [Int]) {
        var shifts: [UInt64] = [], masks: [UInt64] = []
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

    /// The radix of each column, or nil when the tuples do not fit in 64 bits.
    static func strides(_ domainSizes: [Int]) -> [UInt64]? {
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
        return Table(slots: slots, mask: size - 1, shift: UInt64(64 - size.trailingZeroBitCount), generation: generation)
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
