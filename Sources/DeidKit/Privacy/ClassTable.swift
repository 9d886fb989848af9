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

/// Maps generalized tuples, packed into one integer (mixed radix over the level's domain
/// sizes), to class numbers while a table is rolled up: open addressing, reused from one
/// roll-up to the next (a generation number empties it without clearing).
struct PackedTupleIndex {
    private var keys: [UInt64] = []
    private var values: [Int32] = []
    private var generations: [UInt32] = []
    private var generation: UInt32 = 0
    private var mask = 0
    private var shift: UInt64 = 64

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

    /// Empties the index, with room for `expected` tuples.
    mutating func reset(expected: Int) {
        var capacity = 16
        while capacity < expected * 2 { capacity <<= 1 }
        if capacity > keys.count {
            keys = [UInt64](repeating: 0, count: capacity)
            values = [Int32](repeating: 0, count: capacity)
            generations = [UInt32](repeating: 0, count: capacity)
            generation = 0
            mask = capacity - 1
            shift = UInt64(64 - capacity.trailingZeroBitCount)
        }
        generation &+= 1
        if generation == 0 {
            for slot in generations.indices { generations[slot] = 0 }
            generation = 1
        }
    }

    /// The class of `key`; `next` (stored) when the key is new.
    @inline(__always) mutating func find(_ key: UInt64, next: Int32) -> Int32 {
        var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            if generations[slot] != generation {
                generations[slot] = generation
                keys[slot] = key
                values[slot] = next
                return next
            }
            if keys[slot] == key { return values[slot] }
            slot = (slot &+ 1) & mask
        }
    }
}
