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

/// `deid link`'s worker: keys a block's records into its state's tables and sketches.
struct LinkWorker: BlockWorker {
    let request: LinkRequest
    let state: LinkWorkerState
    let bounds: SketchBounds

    func process(_ job: BlockJob) -> CountedBlock<LinkBlockCounts> {
        var result = CountedBlock<LinkBlockCounts>()
        let reader: CSVReader
        do { reader = try job.reader() } catch {
            result.failure = error
            return result
        }
        let request = self.request
        let bounds = self.bounds
        let index = job.number
        var keying = state.takeKeying()
        var record = state.record
        keying.counter.lower(to: bounds.current)
        do {
            while try reader.readRecord(into: &record) {
                result.recordsRead += 1
                keying.key(&record, entity: request.entity, block: index, number: result.recordsRead)
            }
        } catch {
            result.failure = error
        }
        result.counts = keying.counter.takeBlock()
        bounds.lower(to: keying.counter.cutoffs)
        state.putKeying(keying)
        state.record = record
        result.linesRead = reader.linesConsumed
        return result
    }
}

/// One block in flight's state: its record buffer and the counter it keeps between blocks
/// (a class, so that the pass can merge the counters after the last block; one block uses it
/// at a time).
final class LinkWorkerState: @unchecked Sendable {
    var record = CSVRecord()
    /// What keys records into the counter, between blocks. A block takes it out
    /// (`takeKeying`) and puts it back when done, so that its records are keyed in a local
    /// value: no access to this class, no closure, no uniqueness check per record.
    private var keying: LinkKeying
    /// The counter (merged after the last block).
    var counter: LinkCounter { keying.counter }

    init(request: LinkRequest) { keying = LinkKeying(counter: LinkCounter(request: request)) }

    /// Lets go of the sketches and records, once they are merged: the state counts nothing more.
    func release() {
        keying = LinkKeying(counter: LinkCounter(request: LinkRequest()))
        record = CSVRecord()
    }

    /// The keying, for one block (the state holds an empty one until `putKeying`).
    func takeKeying() -> LinkKeying {
        var taken = LinkKeying(counter: LinkCounter(request: LinkRequest()))
        swap(&taken, &keying)
        return taken
    }

    /// Gives the keying back after a block.
    func putKeying(_ keying: LinkKeying) { self.keying = keying }
}

/// Keys records into a `LinkCounter`, remembering the record before: the counter recognises
/// values repeated from it, and an entity repeated from it (a meter's readings in a row) is not
/// hashed again.
struct LinkKeying {
    /// The record counted before (the record keyed and this one swap places).
    var previous = CSVRecord()
    var hasPrevious = false
    var previousIndividual: UInt64 = 0
    /// The leading fields of `previous` left empty because they repeated the record before
    /// it (not compared with).
    var previousBlank = 0
    var counter: LinkCounter

    init(counter: LinkCounter) { self.counter = counter }

    /// Keys `record` and keeps it as the previous record: `record` gets the previous record's
    /// storage back. Without an entity, a record is an individual: block number and record
    /// number. Its first `repeated` fields are known to equal the previous record's (they may
    /// be left empty: they are not read).
    @inline(__always) mutating func key(
        _ record: inout CSVRecord, entity: Int?, block: UInt64, number: Int, repeated: Int = 0
    ) {
        var sameIndividual = false
        let individual: UInt64
        if let entity {
            sameIndividual =
                hasPrevious
                && (entity < repeated || (entity >= previousBlank && record.fieldsEqual(previous, at: entity)))
            individual = sameIndividual ? previousIndividual : record.fieldHash(at: entity)
        } else {
            individual = FieldHash.finalize(block << 32 | UInt64(number))
        }
        counter.count(
            record, individual: individual, previous: previous, hasPrevious: hasPrevious,
            sameIndividual: sameIndividual,
            repeated: hasPrevious ? repeated : 0, previousBlank: previousBlank)
        // (A record whose repeated fields were left empty becomes the previous record: the next
        // one compares equal to it only where it says it repeats it, and is counted in full
        // elsewhere, which counts the same.)
        swap(&record, &previous)
        previousBlank = hasPrevious ? repeated : 0
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
