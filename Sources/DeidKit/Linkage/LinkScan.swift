import DeidCSV
import Foundation
import Synchronization

/// One join a file takes part in: the file's join columns with their normalizers, and the
/// column subsets (indices into `columns`) sketched to rank combinations.
public struct LinkJoin: Sendable {
    public var columns: [Int]
    public var normalizers: [JoinNormalizer]
    public var subsets: [[Int]]
    /// The sketch size of subset `index`: the full join (last) gets `capacity`, the ranked
    /// combinations at most `LinkRequest.rankingCapacity` (they are estimates anyway).
    func capacity(of index: Int, _ capacity: Int) -> Int {
        index == subsets.count - 1 ? capacity : min(capacity, LinkRequest.rankingCapacity)
    }
    /// Whether the full join is counted exactly (a table of every distinct tuple); otherwise
    /// only sketched.
    public var exact: Bool
}

/// What one pass over a file collects for linkage.
public struct LinkRequest: Sendable {
    public var joins: [LinkJoin] = []
    /// The column naming the individual (household, person); without it a record is one.
    public var entity: Int?
    /// Sketch size of the join subsets (K of KHyperLogLog).
    public var sketchCapacity = LinkRequest.defaultSketchCapacity
    /// Columns whose distinct values are sketched as pseudonyms (value sets, for reuse).
    public var pseudonymColumns: [Int] = []
    /// Columns sketched one by one with their individuals (the catalog's per-column sketches).
    public var columnSketches: [Int] = []
    public var columnSketchCapacity = 4096

    public static let defaultSketchCapacity = 1 << 16
    public static let rankingCapacity = 1 << 13
    public static let pseudonymSketchCapacity = 1 << 16

    public init() {}
}

/// The exact table of one join: distinct tuple -> individuals, and, with an entity, every
/// distinct (individual, tuple) pair (to tell which individuals link).
public struct TupleTable: Sendable {
    public var counts = CountTable()
    /// (individual, tuple) pairs, when individuals are entities; nil when a record is one.
    public var pairs: [(individual: UInt64, tuple: UInt64)]?
    /// Records or individuals with an empty value in a join column (they join nothing).
    public var unjoinable = 0

    /// The number of distinct tuples.
    public var distinct: Int { counts.count }
}

/// A file as linkage measured it.
public struct LinkSide: Sendable {
    public var name: String
    public var records = 0
    /// Distinct entities, or the records when there is no entity column.
    public var individuals = 0
    public var hasEntity = false
    /// Per `LinkRequest.joins`: the exact table (nil when not asked) and a sketch per subset.
    public var tables: [TupleTable?] = []
    public var sketches: [[KHyperLogLog]] = []
    /// Per join and subset: records with an empty (or unplaceable) value in one of its columns.
    public var subsetMissing: [[Int]] = []
    /// Per `LinkRequest.pseudonymColumns` and `columnSketches`.
    public var pseudonyms: [KHyperLogLog] = []
    public var columns: [KHyperLogLog] = []
}

/// The pass of `deid link` over one file: blocks parsed on every core, each worker keys its
/// block's records (normalized join values hashed into one tuple hash per join and subset), the
/// calling thread merges in order. Memory: the exact tables hold one entry per distinct tuple
/// (and per distinct individual-tuple pair); the sketches at most twice their K entries.
public enum LinkScan {
    public static func run(input: BlockInput, request: LinkRequest, workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                           progress: ((InputProgress) -> Void)? = nil) throws -> LinkSide {
        let merger = LinkMerger(request: request, name: input.source.displayName)
        let bounds = SketchBounds(merger.boundsSnapshot())
        let states = (0..<max(1, workers) * 2).map { _ in CSVRecord() }
        let summary = try TransformRun.forEachBlock(inputs: [input], states: states, progress: progress, process: { block, first, index, input, record in
            Self.process(block, first: first, index: index, input: input, request: request, bounds: bounds.current, record: &record)
        }, consume: { result, _, _, _ in
            merger.add(result.linkCounts!)
            bounds.update(merger.boundsSnapshot())
        })
        return merger.finish(records: summary.recordsIn)
    }

    static func process(_ block: CSVBlock, first: Bool, index: UInt64, input: BlockInput, request: LinkRequest, bounds: [UInt64],
                        record: inout CSVRecord) -> TransformRun.BlockResult {
        var result = TransformRun.BlockResult()
        let reader: CSVReader
        do { reader = try TransformRun.reader(for: block, first: first, input: input) } catch {
            result.failure = error
            return result
        }
        var counter = LinkCounter(request: request, bounds: bounds)
        do {
            while try reader.readRecord(into: &record) {
                result.recordsIn += 1
                // Without an entity, a record is an individual: block number and record.
                let individual = request.entity.map { record.fieldHash(at: $0) }
                    ?? FieldHash.finalize(index << 32 | UInt64(result.recordsIn))
                counter.count(record, individual: individual)
            }
        } catch {
            result.failure = error
        }
        result.lines = reader.linesConsumed
        result.linkCounts = counter
        return result
    }
}

/// The sketches' current cut-offs, read by workers at the start of a block: a value above the
/// merged sketch's bound can never enter it, so workers drop it at once.
final class SketchBounds: Sendable {
    private let bounds: Mutex<[UInt64]>
    init(_ initial: [UInt64]) { bounds = Mutex(initial) }
    var current: [UInt64] { bounds.withLock { $0 } }
    func update(_ new: [UInt64]) { bounds.withLock { $0 = new } }
}

/// The request's joins flattened into arrays of plain values, so that the per-record loop
/// reads no nested arrays (and retains nothing).
struct LinkPlan: Sendable {
    /// Per join column of every join, in order: the file's column, how its key is taken
    /// (0 equal bytes, 2 through the normalizer), the normalizer.
    var columns: [Int] = []
    var kinds: [UInt8] = []
    var normalizers: [JoinNormalizer] = []
    /// Join j's columns are `columnStart[j]..<columnStart[j + 1]`; its subsets
    /// `subsetStart[j]..<subsetStart[j + 1]`, each a bit mask over the join's columns.
    var columnStart: [Int] = [0]
    var subsetStart: [Int] = [0]
    var subsetMasks: [UInt64] = []
    var subsetCapacities: [Int] = []
    var exact: [Bool] = []

    init(_ request: LinkRequest) {
        for join in request.joins {
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
            }
            subsetStart.append(subsetMasks.count)
            exact.append(join.exact)
        }
    }
}

/// One block's keys, on a worker.
struct LinkCounter: Sendable {
    let request: LinkRequest
    private let plan: LinkPlan
    /// Per join: tuple -> records (no entity) or distinct pairs seen in the block.
    var counts: [CountTable]
    /// Per join: (individual, tuple) pairs, keyed by their combined hash.
    var pairs: [HashTable64<Pair>]
    var unjoinable: [Int]
    /// Per subset of every join, flat (`LinkPlan.subsetMasks`' order).
    var sketches: [KHyperLogLog]
    var subsetMissing: [Int]
    var pseudonyms: [KHyperLogLog]
    var columns: [KHyperLogLog]
    var individuals = Set<UInt64>()
    private let bounds: [UInt64]
    private var keys: [UInt64]

    struct Pair: Hashable, Sendable {
        var individual: UInt64
        var tuple: UInt64
    }

    init(request: LinkRequest, bounds: [UInt64]) {
        self.request = request
        plan = LinkPlan(request)
        self.bounds = bounds
        counts = request.joins.map { _ in CountTable(capacity: 1 << 12) }
        pairs = request.joins.map { _ in HashTable64(capacity: 1 << 12, empty: Pair(individual: 0, tuple: 0)) }
        unjoinable = request.joins.map { _ in 0 }
        // `bounds`: the merged sketches' bounds, subsets first, then pseudonyms, then columns.
        sketches = plan.subsetCapacities.enumerated().map { KHyperLogLog(capacity: $1, reserving: 1 << 12, below: bounds[$0]) }
        subsetMissing = plan.subsetMasks.map { _ in 0 }
        let subsetCount = plan.subsetMasks.count
        pseudonyms = request.pseudonymColumns.indices.map {
            KHyperLogLog(capacity: LinkRequest.pseudonymSketchCapacity, reserving: 1 << 12, below: bounds[subsetCount + $0])
        }
        columns = request.columnSketches.indices.map {
            KHyperLogLog(capacity: request.columnSketchCapacity, reserving: 1 << 10, below: bounds[subsetCount + request.pseudonymColumns.count + $0])
        }
        keys = [UInt64](repeating: 0, count: plan.columns.count)
    }

    /// Tuple hashes combine the column keys in order.
    @inline(__always) static func combine(_ hash: UInt64, _ key: UInt64) -> UInt64 {
        FieldHash.finalize((hash &* 0x9E37_79B9_7F4A_7C15) ^ key)
    }

    static let tupleSeed: UInt64 = 0x6C69_6E6B

    mutating func count(_ record: CSVRecord, individual: UInt64) {
        let hasEntity = request.entity != nil
        if hasEntity { individuals.insert(individual) }
        for join in 0..<plan.exact.count {
            let base = plan.columnStart[join]
            // Bit i: join column i is empty (or cannot be brought to the join's level).
            var missing: UInt64 = 0
            for index in base..<plan.columnStart[join + 1] {
                let column = plan.columns[index]
                var key: UInt64?
                switch plan.kinds[index] {
                case 0: key = record.length(of: column) == 0 ? nil : record.fieldHash(at: column)
                default: key = plan.normalizers[index].key(record[column])
                }
                if let key { keys[index] = key } else { missing |= 1 << UInt64(index - base) }
            }
            for subset in plan.subsetStart[join]..<plan.subsetStart[join + 1] {
                var mask = plan.subsetMasks[subset]
                if mask & missing != 0 {
                    subsetMissing[subset] += 1
                    continue
                }
                var hash = Self.tupleSeed
                while mask != 0 {
                    hash = Self.combine(hash, keys[base + mask.trailingZeroBitCount])
                    mask &= mask - 1
                }
                if hash > bounds[subset] { continue }
                if hasEntity { sketches[subset].insert(value: hash, individual: individual) } else { sketches[subset].insertRecord(value: hash) }
            }
            guard plan.exact[join] else { continue }
            if missing != 0 {
                unjoinable[join] += 1
                continue
            }
            var tuple = Self.tupleSeed
            for index in base..<plan.columnStart[join + 1] { tuple = Self.combine(tuple, keys[index]) }
            if hasEntity {
                let (slot, inserted) = pairs[join].slot(Self.combine(individual, tuple))
                if inserted { pairs[join].update(at: slot) { $0 = Pair(individual: individual, tuple: tuple) } }
            } else {
                counts[join].add(tuple)
            }
        }
        for (position, column) in request.pseudonymColumns.enumerated() where record.length(of: column) > 0 {
            // Only the values matter for reuse.
            pseudonyms[position].insertRecord(value: record.fieldHash(at: column))
        }
        for (position, column) in request.columnSketches.enumerated() where record.length(of: column) > 0 {
            if hasEntity { columns[position].insert(value: record.fieldHash(at: column), individual: individual) }
            else { columns[position].insertRecord(value: record.fieldHash(at: column)) }
        }
    }
}

/// Merges the blocks' keys, in order, on the calling thread.
final class LinkMerger: @unchecked Sendable {
    private let request: LinkRequest
    private var side: LinkSide
    private var pairSets: [HashTable64<Bool>]
    private var individuals = Set<UInt64>()
    /// Where each join's subsets begin in a block's flat sketch array.
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
        side.sketches = request.joins.map { join in join.subsets.indices.map { KHyperLogLog(capacity: join.capacity(of: $0, request.sketchCapacity)) } }
        side.subsetMissing = request.joins.map { join in join.subsets.map { _ in 0 } }
        side.pseudonyms = request.pseudonymColumns.map { _ in KHyperLogLog(capacity: LinkRequest.pseudonymSketchCapacity) }
        side.columns = request.columnSketches.map { _ in KHyperLogLog(capacity: request.columnSketchCapacity) }
        pairSets = request.joins.map { _ in HashTable64(capacity: 16, empty: false) }
        flatBase = LinkPlan(request).subsetStart
    }

    /// Per join and subset, then per pseudonym and column sketch: the merged sketch's bound.
    func boundsSnapshot() -> [UInt64] {
        side.sketches.flatMap { $0.map(\.bound) } + side.pseudonyms.map(\.bound) + side.columns.map(\.bound)
    }

    func add(_ block: LinkCounter) {
        individuals.formUnion(block.individuals)
        for join in request.joins.indices {
            for subset in side.sketches[join].indices {
                side.sketches[join][subset].merge(block.sketches[flatBase[join] + subset])
                side.subsetMissing[join][subset] += block.subsetMissing[flatBase[join] + subset]
            }
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
        for index in side.pseudonyms.indices { side.pseudonyms[index].merge(block.pseudonyms[index]) }
        for index in side.columns.indices { side.columns[index].merge(block.columns[index]) }
    }

    func finish(records: Int) -> LinkSide {
        var result = side
        result.records = records
        result.individuals = request.entity != nil ? individuals.count : records
        for join in result.sketches.indices {
            for subset in result.sketches[join].indices { result.sketches[join][subset].trim() }
        }
        for index in result.pseudonyms.indices { result.pseudonyms[index].trim() }
        for index in result.columns.indices { result.columns[index].trim() }
        return result
    }
}
