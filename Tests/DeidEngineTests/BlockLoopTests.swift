import DeidCSV
import DeidTestSupport
import Foundation
import Testing

@testable import DeidEngine

/// The block loop on its own: outcomes come back in input order whatever the number of
/// workers, every record is read once, blocks are numbered over all inputs, and a block's error
/// is placed in its whole input.
@Suite struct BlockLoopTests {
    /// Counts a block's records and sums its first column; fails on a record whose first field
    /// is "bad", naming it from the block's start.
    struct SummingWorker: BlockWorker {
        var record = CSVRecord()

        struct Outcome: BlockOutcome {
            var recordsRead = 0
            var linesRead = 0
            var failure: (any Error)?
            var sum = 0
            var number: UInt64 = 0
            var input = ""
        }

        mutating func process(_ job: BlockJob) -> Outcome {
            var outcome = Outcome(number: job.number, input: job.sourceName)
            do {
                let reader = try job.reader()
                while try reader.readRecord(into: &record) {
                    outcome.recordsRead += 1
                    guard let value = Int(String(decoding: record[0], as: UTF8.self)) else {
                        throw CSVError(
                            .malformedQuote,
                            at: InputPosition(source: job.sourceName, line: record.line, record: record.number))
                    }
                    outcome.sum += value
                }
                outcome.linesRead = reader.linesConsumed
            } catch {
                outcome.failure = error
            }
            return outcome
        }
    }

    @Test(arguments: [1, 2, 7])
    func outcomesComeInInputOrder(workers: Int) throws {
        let directory = try TemporaryDirectory()
        // Quoted line breaks make lines and records differ.
        func file(_ name: String, from: Int, count: Int) throws -> String {
            let rows = (from..<(from + count)).map { "\($0),\"a\nb\"" }
            return try directory.write(name, text: "n,text\n" + rows.joined(separator: "\n") + "\n")
        }
        let inputs = try [file("a.csv", from: 0, count: 3_000), file("b.csv", from: 3_000, count: 2_000)]
            .map { try BlockInput(path: $0, options: CSVReadOptions(), blockSize: 4 << 10) }
        var numbers: [UInt64] = []
        var sums = [0, 0]
        var places: [BlockPlace] = []
        let counts = try BlockLoop.run(inputs: inputs, workers: (0..<workers).map { _ in SummingWorker() }) {
            outcome, place in
            numbers.append(outcome.number)
            sums[place.input] += outcome.sum
            places.append(place)
            #expect(outcome.input == inputs[place.input].source.displayName)
        }
        #expect(numbers == (0..<UInt64(numbers.count)).map { $0 })
        #expect(numbers.count >= 8)
        #expect(counts.map(\.records) == [3_000, 2_000])
        let expectedSums: [Int] = [(0..<3_000).reduce(0, +), (3_000..<5_000).reduce(0, +)]
        #expect(sums == expectedSums)
        // Each block starts where the one before it ended: after the header's line and two
        // lines a record.
        for place in places { #expect(place.lineBase == (place.recordBase == 0 ? 0 : 1 + 2 * place.recordBase)) }
    }

    @Test func aBlocksErrorIsPlacedInItsInput() throws {
        let directory = try TemporaryDirectory()
        var rows = (0..<4_000).map { "\($0),x" }
        rows[2_345] = "bad,x"
        let path = try directory.write("c.csv", text: "n,text\n" + rows.joined(separator: "\n") + "\n")
        let input = try BlockInput(path: path, options: CSVReadOptions(), blockSize: 4 << 10)
        #expect {
            _ = try BlockLoop.run(inputs: [input], workers: [SummingWorker(), SummingWorker(), SummingWorker()]) {
                _, _ in
            }
        } throws: { error in
            guard let error = error as? CSVError else { return false }
            // Record 2,346 is on line 2,347 (the header is line 1).
            return error.position.record == 2_346 && error.position.line == 2_347
        }
    }
}
