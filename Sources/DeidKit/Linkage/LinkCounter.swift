import DeidCSV
import DeidEngine
import Foundation
import Synchronization

/// The request's joins flattened into arrays of plain values, so that the per-record loop
/// reads no nested arrays (and retains nothing).
///
/// Subsets of few distinct tuples (by the sample's estimates) are not counted record by
/// record: each worker state counts the largest sets of such columns ("roots") once per
/// record, and when the scan ends every subset inside a root is counted from the root's
/// distinct tuples (their records and individuals merged in). The sketches come out the same;
/// a ranking of 15 combinations costs about one lookup per record for all the small ones.
struct LinkPlan: Sendable {
    /// Per join column of every join, in order: the file's column, how its key is taken
    /// (0 equal bytes, 2 through the normalizer), the normalizer.
    var columns: [Int] = []
    var kinds: [UInt8] = []
    var normalizers: [JoinNormalizer] = []
    /// Join j's columns are `columnStart[j]..<columnStart[j + 1]`; its subsets
    /// `subsetStart[j]..<subsetStart[j + 1]`, each a bit mask over the join's columns; its
    /// roots `rootStart[j]..<rootStart[j + 1]`.
    var columnStart: [Int] = [0]
    var subsetStart: [Int] = [0]
    var subsetMasks: [UInt64] = []
    var subsetCapacities: [Int] = []
    /// Per subset: the root it is counted through, or -1 when counted record by record.
    var subsetRoot: [Int] = []
    var rootStart: [Int] = [0]
    var rootMasks: [UInt64] = []
    /// Per root: the subsets counted from it.
    var rootSubsets: [[Int]] = []
    var exact: [Bool] = []

    /// A root's estimated distinct tuples at most: its table stays small.
    static let rootLimit = 16_384

    init(_ request: LinkRequest) {
        for join in request.joins {
            let firstSubset = subsetMasks.count
            for (position, column) in join.columns.enumerated() {
                columns.append(column)
                normalizers.append(join.normalizers[position])
                switch join.normalizers[position] {
                case .exact: kinds.append(0)
                default: kinds.append(2)
                }
            }
            columnStart.append(columns.count)
            for (index, subset) in join.subsets.enumerated() {
                subsetMasks.append(subset.reduce(UInt64(0)) { $0 | 1 << UInt64($1) })
                subsetCapacities.append(join.capacity(of: index, request.sketchCapacity))
                subsetRoot.append(-1)
            }
            subsetStart.append(subsetMasks.count)
            exact.append(join.exact)

            // Small subsets, and the largest of them as roots.
            let small = join.subsets.indices.filter { index in
                var product = 1
                for column in join.subsets[index] {
                    guard let estimate = join.distinctEstimates[column] else { return false }
                    product = product.multipliedReportingOverflow(by: max(estimate, 1)).partialValue
                    if product > Self.rootLimit || product <= 0 { return false }
                }
                return true
            }.map { firstSubset + $0 }
            for subset in small {
                let mask = subsetMasks[subset]
                let inside = small.contains { other in
                    other != subset && subsetMasks[other] & mask == mask && subsetMasks[other] != mask
                }
                if !inside && !rootMasks[rootStart.last!...].contains(mask) {
                    rootMasks.append(mask)
                    rootSubsets.append([])
                }
            }
            for subset in small {
                let mask = subsetMasks[subset]
                guard let root = (rootStart.last!..<rootMasks.count).first(where: { rootMasks[$0] & mask == mask })
                else { continue }
                subsetRoot[subset] = root
                rootSubsets[root].append(subset)
            }
            rootStart.append(rootMasks.count)
        }
    }
}

/// One root's distinct tuples in a worker state: per tuple, the join columns' mixed keys (at their
/// positions in the join), which columns were empty, and its records and individuals.
struct RootTable: Sendable {
    var slots = HashTable64<Int>(capacity: 64, empty: -1)
    var mixes: [UInt64] = []
    var missing: [UInt64] = []
    var counts: [IndividualCount] = []
    let width: Int

    init(width: Int) { self.width = width }

    /// The entry of tuple `hash`, created from the record's mixed keys (`mixes` from `base`)
    /// when new.
    @inline(__always) mutating func entry(
        _ hash: UInt64, mask: UInt64, missing absent: UInt64, mixes source: [UInt64], base: Int
    ) -> Int {
        let (slot, inserted) = slots.slot(hash)
        if !inserted { return slots.value(at: slot) }
        let entry = counts.count
        slots.update(at: slot) { $0 = entry }
        for position in 0..<width { mixes.append(mask & (1 << UInt64(position)) != 0 ? source[base + position] : 0) }
        missing.append(absent & mask)
        counts.append(IndividualCount())
        return entry
    }
}

/// One worker state's keys: the sketches (kept from block to block) and the current block's
/// exact counts (`takeBlock`).
struct LinkCounter: Sendable {
    /// A value longer than this (free text) is no key: counted as missing in joins, and not
    /// counted as a pseudonym or a column's value (`LinkSample.longestValue`, the sample's rule).
    static let longestKey = LinkSample.longestValue

    let request: LinkRequest
    private let plan: LinkPlan
    var block: LinkBlockCounts
    /// Per subset of every join, flat (`LinkPlan.subsetMasks`' order).
    var sketches: [KHyperLogLog]
    /// Records with an empty join column, per subset; complete only after `flushRoots`.
    var subsetMissing: [Int]
    var pseudonyms: [KHyperLogLog]
    var columns: [KHyperLogLog]
    /// Per pseudonym and column sketch: where the last value counted went
    /// (`KHyperLogLog.insertKeepingSlot`).
    private var pseudonymSlots: [Int]
    private var columnSlots: [Int]
    /// Per pseudonym and column sketch: the hash of the last value counted.
    private var pseudonymHashes: [UInt64]
    private var columnHashes: [UInt64]
    private var roots: [RootTable]
    /// Per join column: its key's mix (0 when empty), for the record being counted.
    private var mixes: [UInt64]

    struct Pair: Hashable, Sendable {
        var individual: UInt64
        var tuple: UInt64
    }

    /// A root table this large is counted into its subsets and emptied (the sample's estimate
    /// was too low), so that memory stays bounded.
    static let rootFlushSize = 1 << 16

    init(request: LinkRequest) {
        self.request = request
        let plan = LinkPlan(request)
        self.plan = plan
        block = LinkBlockCounts(joins: request.joins.count)
        // Tables start small and grow with what they hold (a wide file has many of them).
        sketches = plan.subsetCapacities.map { KHyperLogLog(capacity: $0, reserving: 1 << 8) }
        subsetMissing = plan.subsetMasks.map { _ in 0 }
        pseudonyms = request.pseudonymColumns.indices.map { _ in
            KHyperLogLog(capacity: LinkRequest.pseudonymSketchCapacity, reserving: 1 << 8)
        }
        // A wide file's hundreds of column sketches start small too (each grows with its values).
        let columnReserve = request.columnSketches.count > 64 ? 8 : min(1 << 10, request.columnSketchCapacity)
        columns = request.columnSketches.indices.map { _ in
            KHyperLogLog(capacity: request.columnSketchCapacity, reserving: columnReserve)
        }
        pseudonymSlots = request.pseudonymColumns.map { _ in KHyperLogLog.slotUnknown }
        columnSlots = request.columnSketches.map { _ in KHyperLogLog.slotUnknown }
        pseudonymHashes = request.pseudonymColumns.map { _ in 0 }
        columnHashes = request.columnSketches.map { _ in 0 }
        roots = request.joins.enumerated().flatMap { join, value in
            (plan.rootStart[join]..<plan.rootStart[join + 1]).map { _ in RootTable(width: value.columns.count) }
        }
        mixes = [UInt64](repeating: 0, count: plan.columns.count)
    }

    /// Tuple hashes: every column's key mixed with its position in the join, summed (so any
    /// subset's hash is a few additions from the record's mixes), then finalized. The catalog's
    /// class tables are keyed the same way (`LinkSession.project`).
    @inline(__always) static func mix(_ key: UInt64, position: Int) -> UInt64 {
        FieldHash.finalize(key &+ UInt64(position + 1) &* 0x9E37_79B9_7F4A_7C15)
    }

    @inline(__always) static func tuple(_ sum: UInt64) -> UInt64 { FieldHash.finalize(sum ^ 0x6C69_6E6B) }

    /// The hash of the (individual, tuple) pair.
    @inline(__always) static func pair(_ individual: UInt64, _ tuple: UInt64) -> UInt64 {
        FieldHash.finalize((individual &* 0x9E37_79B9_7F4A_7C15) ^ tuple)
    }

    /// Every sketch's cut-off: subsets, then pseudonyms, then columns.
    var cutoffs: [UInt64] { sketches.map(\.cutoff) + pseudonyms.map(\.cutoff) + columns.map(\.cutoff) }

    /// Drops values above `bounds` (`cutoffs`' order) from now on.
    mutating func lower(to bounds: [UInt64]) {
        for index in sketches.indices { sketches[index].lower(to: bounds[index]) }
        for index in pseudonyms.indices { pseudonyms[index].lower(to: bounds[sketches.count + index]) }
        for index in columns.indices { columns[index].lower(to: bounds[sketches.count + pseudonyms.count + index]) }
    }

    /// The block's exact counts, leaving empty ones for the next block.
    mutating func takeBlock() -> LinkBlockCounts {
        defer { block = LinkBlockCounts(joins: request.joins.count) }
        return block
    }

    /// Counts `record` of `individual`. `previous` is the record this counter counted last (when
    /// `hasPrevious`); `sameIndividual` says it belongs to the same individual. A value sketch counts a
    /// value repeated from it (for the same individual, when individuals are tracked) at the
    /// slot that value took, without hashing it or looking it up: the same counts as a full
    /// insert, since the individual is already counted for it.
    /// The slot of a column whose last value was skipped (empty, or too long to be a key).
    static let skippedSlot = -3

    /// True when the counter keys only value sketches (no joins), so that a record's fields
    /// repeated from the previous one need not be read.
    var keysSketchesOnly: Bool { plan.exact.isEmpty }

    ///
    /// `repeated`: the record's leading fields known to equal `previous`'s (left empty, not
    /// read: their values' hashes are kept from when they were counted); only for a counter
    /// without joins (`keysSketchesOnly`). `previousBlank`: the leading fields `previous` left
    /// empty that way, which a field of this record is not compared with.
    mutating func count(
        _ record: CSVRecord, individual: UInt64, previous: CSVRecord = CSVRecord(), hasPrevious: Bool = false,
        sameIndividual: Bool = false, repeated: Int = 0, previousBlank: Int = 0
    ) {
        precondition(repeated == 0 || (keysSketchesOnly && hasPrevious), "repeated fields without their values")
        let hasEntity = request.entity != nil
        if hasEntity && !sameIndividual { block.individuals.insert(individual) }
        for join in 0..<plan.exact.count {
            let base = plan.columnStart[join]
            let end = plan.columnStart[join + 1]
            // Bit i: join column i is empty (or cannot be brought to the join's level).
            var missing: UInt64 = 0
            for index in base..<end {
                let column = plan.columns[index]
                var key: UInt64?
                let length = record.length(of: column)
                if length == 0 || length > Self.longestKey {
                    key = nil
                } else if plan.kinds[index] == 0 {
                    key = record.fieldHash(at: column)
                } else {
                    key = plan.normalizers[index].key(record[column])
                }
                if let key {
                    mixes[index] = Self.mix(key, position: index - base)
                } else {
                    mixes[index] = 0
                    missing |= 1 << UInt64(index - base)
                }
            }
            for root in plan.rootStart[join]..<plan.rootStart[join + 1] {
                let mask = plan.rootMasks[root]
                var sum = missing & mask
                var bits = mask
                while bits != 0 {
                    sum &+= mixes[base + bits.trailingZeroBitCount]
                    bits &= bits - 1
                }
                let entry = roots[root].entry(
                    FieldHash.finalize(sum), mask: mask, missing: missing, mixes: mixes, base: base)
                if hasEntity {
                    roots[root].counts[entry].insert(individual)
                } else {
                    roots[root].counts[entry].insertRecord()
                }
                if roots[root].counts.count >= Self.rootFlushSize { flush(root: root) }
            }
            for subset in plan.subsetStart[join]..<plan.subsetStart[join + 1] where plan.subsetRoot[subset] < 0 {
                var mask = plan.subsetMasks[subset]
                if mask & missing != 0 {
                    subsetMissing[subset] += 1
                    continue
                }
                var sum: UInt64 = 0
                while mask != 0 {
                    sum &+= mixes[base + mask.trailingZeroBitCount]
                    mask &= mask - 1
                }
                let hash = Self.tuple(sum)
                if hash > sketches[subset].cutoff { continue }
                if hasEntity {
                    sketches[subset].insert(value: hash, individual: individual)
                } else {
                    sketches[subset].insertRecord(value: hash)
                }
            }
            guard plan.exact[join] else { continue }
            if missing != 0 {
                block.unjoinable[join] += 1
                continue
            }
            var sum: UInt64 = 0
            for index in base..<end { sum &+= mixes[index] }
            let tuple = Self.tuple(sum)
            if hasEntity {
                let (slot, inserted) = block.pairs[join].slot(Self.pair(individual, tuple))
                if inserted { block.pairs[join].update(at: slot) { $0 = Pair(individual: individual, tuple: tuple) } }
            } else {
                block.counts[join].add(tuple)
            }
        }
        for (position, column) in request.pseudonymColumns.enumerated() {
            // Only the values matter for reuse (records, not individuals, are counted).
            let slot = pseudonymSlots[position]
            if column < repeated {
                // Equal to the previous record's value: its hash is known, its bytes not read.
                if slot == Self.skippedSlot { continue }
                if slot != KHyperLogLog.slotUnknown {
                    if slot >= 0 { pseudonyms[position].repeatInsert(at: slot) }
                    continue
                }
                pseudonymSlots[position] = pseudonyms[position].insertKeepingSlot(
                    value: pseudonymHashes[position], individual: nil)
                continue
            }
            guard (1...Self.longestKey).contains(record.length(of: column)) else {
                pseudonymSlots[position] = Self.skippedSlot
                continue
            }
            if slot != KHyperLogLog.slotUnknown, slot != Self.skippedSlot, hasPrevious, column >= previousBlank,
                record.fieldsEqual(previous, at: column)
            {
                if slot >= 0 { pseudonyms[position].repeatInsert(at: slot) }
                continue
            }
            let hash = record.fieldHash(at: column)
            pseudonymHashes[position] = hash
            pseudonymSlots[position] = pseudonyms[position].insertKeepingSlot(value: hash, individual: nil)
        }
        for (position, column) in request.columnSketches.enumerated() {
            let slot = columnSlots[position]
            if column < repeated {
                if slot == Self.skippedSlot { continue }
                if slot != KHyperLogLog.slotUnknown && (sameIndividual || !hasEntity) {
                    if slot >= 0 { columns[position].repeatInsert(at: slot) }
                    continue
                }
                columnSlots[position] = columns[position].insertKeepingSlot(
                    value: columnHashes[position], individual: hasEntity ? individual : nil)
                continue
            }
            guard (1...Self.longestKey).contains(record.length(of: column)) else {
                columnSlots[position] = Self.skippedSlot
                continue
            }
            if slot != KHyperLogLog.slotUnknown, slot != Self.skippedSlot, hasPrevious, sameIndividual || !hasEntity,
                column >= previousBlank, record.fieldsEqual(previous, at: column)
            {
                if slot >= 0 { columns[position].repeatInsert(at: slot) }
                continue
            }
            let hash = record.fieldHash(at: column)
            columnHashes[position] = hash
            columnSlots[position] = columns[position].insertKeepingSlot(
                value: hash, individual: hasEntity ? individual : nil)
        }
    }

    /// Counts the subsets kept in roots from the roots' distinct tuples, and empties the roots:
    /// after the last block (and whenever a root grows past `rootFlushSize`).
    mutating func flushRoots() {
        for root in roots.indices { flush(root: root) }
    }

    private mutating func flush(root: Int) {
        let table = roots[root]
        roots[root] = RootTable(width: table.width)
        for subset in plan.rootSubsets[root] {
            let mask = plan.subsetMasks[subset]
            for entry in table.counts.indices {
                if table.missing[entry] & mask != 0 {
                    subsetMissing[subset] += table.counts[entry].occurrences
                    continue
                }
                var sum: UInt64 = 0
                var bits = mask
                while bits != 0 {
                    sum &+= table.mixes[entry * table.width + bits.trailingZeroBitCount]
                    bits &= bits - 1
                }
                sketches[subset].add(value: Self.tuple(sum), table.counts[entry])
            }
        }
    }
}
