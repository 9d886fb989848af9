import DeidCSV
import DeidEngine
import Foundation
import Synchronization

/// One join a file takes part in: the file's join columns with their normalizers, and the
/// column subsets (indices into `columns`) sketched to rank combinations.
package struct LinkJoin: Sendable {
    package var columns: [Int]
    package var normalizers: [JoinNormalizer]
    package var subsets: [[Int]]
    /// The sketch size of subset `index`: the full join (last) gets `capacity`, the ranked
    /// combinations at most `LinkRequest.rankingCapacity` (they are estimates anyway).
    func capacity(of index: Int, _ capacity: Int) -> Int {
        index == subsets.count - 1 ? capacity : min(capacity, LinkRequest.rankingCapacity)
    }
    /// Whether the full join is counted exactly (a table of every distinct tuple); otherwise
    /// only sketched.
    package var exact: Bool
    /// Per column, about how many distinct (normalized) values it holds, from the file's
    /// sample; nil when many. Only decides how subsets are counted, never what they count.
    package var distinctEstimates: [Int?]

    package init(
        columns: [Int], normalizers: [JoinNormalizer], subsets: [[Int]], exact: Bool, distinctEstimates: [Int?]? = nil
    ) {
        self.columns = columns
        self.normalizers = normalizers
        self.subsets = subsets
        self.exact = exact
        self.distinctEstimates = distinctEstimates ?? columns.map { _ in nil }
    }
}

/// What one pass over a file collects for linkage.
package struct LinkRequest: Sendable {
    package var joins: [LinkJoin] = []
    /// The column naming the individual (household, person); without it a record is one.
    package var entity: Int?
    /// Sketch size of the join subsets (K of KHyperLogLog).
    package var sketchCapacity = LinkRequest.defaultSketchCapacity
    /// Columns whose distinct values are sketched as pseudonyms (value sets, for reuse).
    package var pseudonymColumns: [Int] = []
    /// Columns sketched one by one with their individuals (the catalog's per-column sketches).
    package var columnSketches: [Int] = []
    package var columnSketchCapacity = 4096

    /// The most columns sketched one by one: the first ones of a wider file.
    package static let maxColumnSketches = 1000

    /// Sketches the first of `count` columns one by one (at most `maxColumnSketches`), each with
    /// fewer values kept the more there are: about 64 Ki values in all (per worker state), 4,096
    /// at most a column, 64 at least.
    package mutating func sketchColumns(_ count: Int) {
        columnSketches = Array(0..<min(count, Self.maxColumnSketches))
        columnSketchCapacity = max(64, min(4096, (64 << 10) / max(columnSketches.count, 1)))
    }

    package static let defaultSketchCapacity = 1 << 16
    /// The most columns of a file compared as value sets (`LinkSession.valueColumns`).
    package static let maxValueColumns = 64
    package static let rankingCapacity = 1 << 13
    package static let pseudonymSketchCapacity = 1 << 16

    package init() {}
}

/// The exact table of one join: distinct tuple -> individuals, and, with an entity, every
/// distinct (individual, tuple) pair (to tell which individuals link).
package struct TupleTable: Sendable {
    package var counts = CountTable()
    /// (individual, tuple) pairs, when individuals are entities; nil when a record is one.
    package var pairs: [(individual: UInt64, tuple: UInt64)]?
    /// Records or individuals with an empty value in a join column (they join nothing).
    package var unjoinable = 0

    /// The number of distinct tuples.
    package var distinct: Int { counts.count }
}

/// A file as linkage measured it.
package struct LinkSide: Sendable {
    package var name: String
    package var records = 0
    /// Distinct entities, or the records when there is no entity column.
    package var individuals = 0
    package var hasEntity = false
    /// Per `LinkRequest.joins`: the exact table (nil when not asked) and a sketch per subset.
    package var tables: [TupleTable?] = []
    package var sketches: [[KHyperLogLog]] = []
    /// Per join and subset: records with an empty (or unplaceable) value in one of its columns.
    package var subsetMissing: [[Int]] = []
    /// Per `LinkRequest.pseudonymColumns` and `columnSketches`.
    package var pseudonyms: [KHyperLogLog] = []
    package var columns: [KHyperLogLog] = []
}

/// The pass of `deid link` over one file: blocks parsed on every core. Each block's worker
/// state keeps its sketches from block to block (a sketch does not care in which order values
/// come), so a value is inserted once per state rather than once per block; the exact tables
/// and the individuals go back with each block and the calling thread merges those in order.
/// At the end the states' sketches are merged. Memory: the exact tables hold one entry per
/// distinct tuple (and per distinct individual-tuple pair); each state's sketches at most
/// twice their K entries.
package enum LinkScan {
    package static func run(
        input: BlockInput, request: LinkRequest, workers: Int = ProcessInfo.processInfo.activeProcessorCount,
        progress: ((InputProgress) -> Void)? = nil
    ) throws -> LinkSide {
        let merger = LinkMerger(request: request, name: input.source.displayName)
        let states = (0..<max(1, workers) * 2).map { _ in LinkWorkerState(request: request) }
        let bounds = SketchBounds(states[0].counter.cutoffs)
        let workers = states.map { LinkWorker(request: request, state: $0, bounds: bounds) }
        let counts = try BlockLoop.run(inputs: [input], workers: workers, progress: progress) { result, _ in
            merger.add(result.counts!)
        }
        return merger.finish(records: counts.reduce(0) { $0 + $1.records }, counters: states.map(\.counter))
    }
}

/// What `deid link` keyed in one block.
struct LinkBlock: BlockOutcome {
    var counts: LinkBlockCounts?
    var recordsRead = 0
    var linesRead = 0
    var failure: (any Error)?
}

/// `deid link`'s worker: keys a block's records into its state's tables and sketches.
struct LinkWorker: BlockWorker {
    let request: LinkRequest
    let state: LinkWorkerState
    let bounds: SketchBounds

    func process(_ job: BlockJob) -> LinkBlock {
        var result = LinkBlock()
        let reader: CSVReader
        do { reader = try job.reader() } catch {
            result.failure = error
            return result
        }
        let request = self.request
        let bounds = self.bounds
        let index = job.number
        state.withParts { record, previous, counter in
            counter.lower(to: bounds.current)
            do {
                while try reader.readRecord(into: &record) {
                    result.recordsRead += 1
                    state.key(
                        &record, previous: &previous, counter: &counter, entity: request.entity, block: index,
                        number: result.recordsRead)
                }
            } catch {
                result.failure = error
            }
            result.counts = counter.takeBlock()
            bounds.lower(to: counter.cutoffs)
        }
        result.linesRead = reader.linesConsumed
        return result
    }
}

/// One block in flight's state: its record buffer and the counter it keeps between blocks
/// (a class, so that the pass can merge the counters after the last block; one block uses it
/// at a time).
final class LinkWorkerState: @unchecked Sendable {
    var record = CSVRecord()
    /// The record counted before `record` (the two swap places), and its individual: the
    /// counter recognises values repeated from it.
    var previous = CSVRecord()
    var hasPrevious = false
    var previousIndividual: UInt64 = 0
    var counter: LinkCounter

    init(request: LinkRequest) { counter = LinkCounter(request: request) }

    /// Lets go of the sketches and records, once they are merged: the state counts nothing more.
    func release() {
        counter = LinkCounter(request: LinkRequest())
        record = CSVRecord()
        previous = CSVRecord()
        hasPrevious = false
    }

    /// The parts for a whole block, with one access each (not one per record).
    func withParts(_ body: (inout CSVRecord, inout CSVRecord, inout LinkCounter) -> Void) {
        body(&record, &previous, &counter)
    }

    /// Keys `record` into `counter` (this state's parts, from `withParts`) and keeps it as the
    /// previous record: `record` gets the previous record's storage back. Without an entity, a
    /// record is an individual: block number and record number. An entity repeated from the
    /// record before (a meter's readings in a row) is not hashed again.
    @inline(__always) func key(
        _ record: inout CSVRecord, previous: inout CSVRecord, counter: inout LinkCounter,
        entity: Int?, block: UInt64, number: Int
    ) {
        var sameIndividual = false
        let individual: UInt64
        if let entity {
            sameIndividual = hasPrevious && record.fieldsEqual(previous, at: entity)
            individual = sameIndividual ? previousIndividual : record.fieldHash(at: entity)
        } else {
            individual = FieldHash.finalize(block << 32 | UInt64(number))
        }
        counter.count(
            record, individual: individual, previous: previous, hasPrevious: hasPrevious, sameIndividual: sameIndividual
        )
        swap(&record, &previous)
        hasPrevious = true
        previousIndividual = individual
    }
}

/// The lowest cut-off of each sketch over all worker states. A value above any state's cut-off
/// has K smaller values in that state alone, so it cannot be among the K smallest of the merged
/// sketch: every state may drop it. States read the bounds when a block starts and lower them
/// when it ends, so each sketch converges as fast as one sketch of the whole file would.
final class SketchBounds: Sendable {
    private let bounds: Mutex<[UInt64]>
    init(_ initial: [UInt64]) { bounds = Mutex(initial) }
    var current: [UInt64] { bounds.withLock { $0 } }
    func lower(to new: [UInt64]) {
        bounds.withLock { bounds in
            for index in bounds.indices where new[index] < bounds[index] { bounds[index] = new[index] }
        }
    }
}

/// What one block counted exactly, merged in order by the calling thread.
struct LinkBlockCounts: Sendable {
    /// Per join: tuple -> records (no entity) or distinct pairs seen in the block.
    var counts: [CountTable]
    /// Per join: (individual, tuple) pairs, keyed by their combined hash.
    var pairs: [HashTable64<LinkCounter.Pair>]
    var unjoinable: [Int]
    var individuals = Set<UInt64>()

    init(joins: Int) {
        counts = (0..<joins).map { _ in CountTable(capacity: 1 << 12) }
        pairs = (0..<joins).map { _ in HashTable64(capacity: 1 << 12, empty: LinkCounter.Pair(individual: 0, tuple: 0))
        }
        unjoinable = (0..<joins).map { _ in 0 }
    }
}

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
    mutating func count(
        _ record: CSVRecord, individual: UInt64, previous: CSVRecord = CSVRecord(), hasPrevious: Bool = false,
        sameIndividual: Bool = false
    ) {
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
        for (position, column) in request.pseudonymColumns.enumerated()
        where (1...Self.longestKey).contains(record.length(of: column)) {
            // Only the values matter for reuse (records, not individuals, are counted).
            let slot = pseudonymSlots[position]
            if slot != KHyperLogLog.slotUnknown, hasPrevious, record.fieldsEqual(previous, at: column) {
                if slot >= 0 { pseudonyms[position].repeatInsert(at: slot) }
                continue
            }
            pseudonymSlots[position] = pseudonyms[position].insertKeepingSlot(
                value: record.fieldHash(at: column), individual: nil)
        }
        for (position, column) in request.columnSketches.enumerated()
        where (1...Self.longestKey).contains(record.length(of: column)) {
            let slot = columnSlots[position]
            if slot != KHyperLogLog.slotUnknown, hasPrevious, sameIndividual || !hasEntity,
                record.fieldsEqual(previous, at: column)
            {
                if slot >= 0 { columns[position].repeatInsert(at: slot) }
                continue
            }
            columnSlots[position] = columns[position].insertKeepingSlot(
                value: record.fieldHash(at: column), individual: hasEntity ? individual : nil)
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

/// Merges the blocks' exact counts in order on the calling thread, and the worker states'
/// sketches at the end.
final class LinkMerger: @unchecked Sendable {
    private let request: LinkRequest
    private var side: LinkSide
    private var pairSets: [HashTable64<Bool>]
    private var individuals = Set<UInt64>()
    /// Where each join's subsets begin in a counter's flat sketch array.
    private let flatBase: [Int]

    init(request: LinkRequest, name: String) {
        self.request = request
        side = LinkSide(name: name)
        side.hasEntity = request.entity != nil
        side.tables = request.joins.map { join in
            guard join.exact else { return nil }
            var table = TupleTable()
            if request.entity != nil { table.pairs = [] }
            return table
        }
        side.sketches = request.joins.map { join in
            join.subsets.indices.map { KHyperLogLog(capacity: join.capacity(of: $0, request.sketchCapacity)) }
        }
        side.subsetMissing = request.joins.map { join in join.subsets.map { _ in 0 } }
        side.pseudonyms = request.pseudonymColumns.map { _ in
            KHyperLogLog(capacity: LinkRequest.pseudonymSketchCapacity)
        }
        side.columns = request.columnSketches.map { _ in KHyperLogLog(capacity: request.columnSketchCapacity) }
        pairSets = request.joins.map { _ in HashTable64(capacity: 16, empty: false) }
        flatBase = LinkPlan(request).subsetStart
    }

    func add(_ block: LinkBlockCounts) {
        individuals.formUnion(block.individuals)
        for join in request.joins.indices {
            guard side.tables[join] != nil else { continue }
            side.tables[join]!.unjoinable += block.unjoinable[join]
            if request.entity != nil {
                block.pairs[join].forEach { key, pair in
                    guard pairSets[join].slot(key).inserted else { return }
                    side.tables[join]!.counts.add(pair.tuple)
                    side.tables[join]!.pairs!.append((pair.individual, pair.tuple))
                }
            } else {
                block.counts[join].forEach { tuple, count in side.tables[join]!.counts.add(tuple, count) }
            }
        }
    }

    func finish(records: Int, counters: [LinkCounter]) -> LinkSide {
        var result = side
        result.records = records
        result.individuals = request.entity != nil ? individuals.count : records
        for var counter in counters {
            counter.flushRoots()
            for join in result.sketches.indices {
                for subset in result.sketches[join].indices {
                    result.sketches[join][subset].merge(counter.sketches[flatBase[join] + subset])
                    result.subsetMissing[join][subset] += counter.subsetMissing[flatBase[join] + subset]
                }
            }
            for index in result.pseudonyms.indices { result.pseudonyms[index].merge(counter.pseudonyms[index]) }
            for index in result.columns.indices { result.columns[index].merge(counter.columns[index]) }
        }
        for join in result.sketches.indices {
            for subset in result.sketches[join].indices { result.sketches[join][subset].trim() }
        }
        for index in result.pseudonyms.indices { result.pseudonyms[index].trim() }
        for index in result.columns.indices { result.columns[index].trim() }
        return result
    }
}
