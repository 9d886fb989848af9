/// The equivalence classes of one transformation (a lattice node): for each class a
/// representative finest tuple, its records, its individuals counted whole, its sensitive
/// histogram, and the classes of the entities that span several. Rolled up from the finest
/// table, or from any table of a node below (levels nest, so a class's representative decides
/// its class at every higher node).
final class ClassTable {
    let node: Transformation
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

    init(node: Transformation) { self.node = node }

    /// Individuals in each class: those counted whole in it, plus every entity spanning
    /// several classes once in each class it is in.
    func individualSizes() -> [Int] {
        var sizes = individuals
        for entity in 0..<multi.rowCount {
            var lastClass = -1
            // An entity's pairs are sorted by class: count each class once.
            for entry in multi.offsets[entity]..<multi.offsets[entity + 1] {
                let found = Int(multi.keys[entry])
                if found != lastClass {
                    sizes[found] += 1
                    lastClass = found
                }
            }
        }
        return sizes
    }

    /// The finest table: one class per tuple.
    init(finest statistics: PrivacyStatistics, width: Int) {
        node = Transformation(width: width)
        representative = (0..<Int32(statistics.tupleCount)).map { $0 }
        records = statistics.tupleRecords
        individuals = statistics.tupleIndividuals
        histogram = statistics.histogram
        multi = statistics.multiEntities
        multiSensitive = statistics.multiSensitive
    }
}
