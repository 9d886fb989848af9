import DeidCSV
import Foundation

/// One block of records handed to a worker.
public struct BlockJob: @unchecked Sendable {
    public let block: CSVBlock
    /// Whether the block is its input's first, which starts with the header.
    public let isFirst: Bool
    /// The block's number in the run, over all inputs: a seeded pass draws the block's noise
    /// from stream `number`, so its output depends neither on the workers nor on timing.
    public let number: UInt64
    public let input: BlockInput

    /// The input's name as the user gave it.
    public var sourceName: String { input.source.displayName }

    /// A reader for the block's records, lines and records counted from the block's start.
    public func reader() throws -> CSVReader { try input.reader(for: block, first: isFirst) }
}

/// What a worker made of one block: the pass's own type, with the counts the loop needs to
/// place the next block's positions.
public protocol BlockOutcome: Sendable {
    /// Records read from the block.
    var recordsRead: Int { get }
    /// Physical lines the block's records took.
    var linesRead: Int { get }
    /// The error that stopped the block; its position counts from the block's start.
    var failure: (any Error)? { get }
}

/// The outcome of a pass that counts: what a block counted, in the pass's own type.
public struct CountedBlock<Counts: Sendable>: BlockOutcome {
    public var counts: Counts?
    public var recordsRead = 0
    public var linesRead = 0
    public var failure: (any Error)?

    public init() {}
}

/// A pass over blocks of records: one worker per block in flight, kept from block to block (its
/// buffers and tables are made once).
public protocol BlockWorker {
    associatedtype Outcome: BlockOutcome
    mutating func process(_ job: BlockJob) -> Outcome
}

/// Where a block lies in the run: its input, and the lines and records of that input before it.
public struct BlockPlace: Sendable {
    public let input: Int
    public let lineBase: Int
    public let recordBase: Int

    public init(input: Int, lineBase: Int, recordBase: Int) {
        self.input = input
        self.lineBase = lineBase
        self.recordBase = recordBase
    }
}

/// What one input gave a pass.
public struct InputCount: Sendable, Equatable {
    public let name: String
    /// The file's size (nil for standard input and pipes).
    public let bytes: Int?
    public let records: Int
    public let compressed: Bool
}

/// The multi-core block loop every streaming pass runs on. The calling thread cuts each input
/// into blocks of whole records and hands them to the workers on a concurrent queue (at most
/// one block per worker state in flight), and it consumes the outcomes in input order. A
/// failing block's error is placed in the whole input (`PositionedError`) and thrown once
/// every block before it was consumed, so errors do not depend on timing either.
public enum BlockLoop {
    /// Runs `workers` (one per block in flight: at least two per core keeps the cores busy)
    /// over every block of `inputs`, and hands each outcome to `consume` on this thread, in
    /// input order. Returns what each input gave.
    public static func run<Worker: BlockWorker>(
        inputs: [BlockInput], workers: [Worker], progress: ((InputProgress) -> Void)? = nil,
        consume: (Worker.Outcome, BlockPlace) throws -> Void
    ) throws -> [InputCount] {
        precondition(!workers.isEmpty, "a pass needs a worker")
        let results = ResultBoard<Worker.Outcome>()
        // Blocks handed out and not yet consumed; only this thread changes it.
        var inFlight = 0
        let maxInFlight = workers.count
        let pool = WorkerPool(workers)
        let group = DispatchGroup()
        let queue = DispatchQueue(label: "deid.blocks", attributes: .concurrent)
        defer {
            results.cancel()
            group.wait()
        }
        var counts: [InputCount] = []
        var globalIndex = 0
        var nextToConsume = 0

        for (inputIndex, input) in inputs.enumerated() {
            let firstOfInput = globalIndex
            var lineBase = 0
            var recordBase = 0
            // Consumes finished outcomes in order; when `waiting`, until `limit` is reached.
            func drain(upTo limit: Int, waiting: Bool) throws {
                while nextToConsume < limit {
                    guard let outcome = results.take(nextToConsume, waiting: waiting) else { return }
                    inFlight -= 1
                    if let failure = outcome.failure { throw placed(failure, lines: lineBase, records: recordBase) }
                    try consume(outcome, BlockPlace(input: inputIndex, lineBase: lineBase, recordBase: recordBase))
                    lineBase += outcome.linesRead
                    recordBase += outcome.recordsRead
                    nextToConsume += 1
                }
            }
            while let block = try input.nextBlock() {
                // When no worker is free, consume the oldest block first.
                while inFlight >= maxInFlight { try drain(upTo: nextToConsume + 1, waiting: true) }
                inFlight += 1
                let index = globalIndex
                globalIndex += 1
                let job = BlockJob(block: block, isFirst: index == firstOfInput, number: UInt64(index), input: input)
                group.enter()
                queue.async {
                    defer { group.leave() }
                    results.put(index, pool.with { $0.process(job) })
                }
                try drain(upTo: globalIndex, waiting: false)
                progress?(input.source.progress)
            }
            try drain(upTo: globalIndex, waiting: true)
            counts.append(
                InputCount(
                    name: input.source.displayName, bytes: input.source.totalBytes, records: recordBase,
                    compressed: input.source.isCompressed))
        }
        return counts
    }

    /// `failure` placed in the whole input, when it names a position.
    public static func placed(_ failure: any Error, lines: Int, records: Int) -> any Error {
        guard let positioned = failure as? any PositionedError else { return failure }
        return positioned.shifted(lines: lines, records: records)
    }
}

/// The workers' states: one per block in flight.
final class WorkerPool<State>: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [State]

    init(_ states: [State]) { free = states }

    func with<Result>(_ body: (inout State) -> Result) -> Result {
        lock.lock()
        var worker = free.removeLast()
        lock.unlock()
        let result = body(&worker)
        lock.lock()
        free.append(worker)
        lock.unlock()
        return result
    }
}

/// Finished blocks waiting to be consumed in order.
final class ResultBoard<Outcome>: @unchecked Sendable {
    private let condition = NSCondition()
    private var results: [Int: Outcome] = [:]
    private var cancelled = false

    func put(_ index: Int, _ result: Outcome) {
        condition.lock()
        if !cancelled { results[index] = result }
        condition.broadcast()
        condition.unlock()
    }

    /// The outcome of block `index`, waiting for it when `waiting`; nil when not ready.
    func take(_ index: Int, waiting: Bool) -> Outcome? {
        condition.lock()
        defer { condition.unlock() }
        while waiting && results[index] == nil && !cancelled { condition.wait() }
        return results.removeValue(forKey: index)
    }

    func cancel() {
        condition.lock()
        cancelled = true
        results.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
