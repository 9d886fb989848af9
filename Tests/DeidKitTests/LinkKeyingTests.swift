import DeidCSV
import DeidTestSupport
import Testing

@testable import DeidKit

/// The release's sketches take a record's leading fields repeated from the record before
/// without their bytes (`LinkKeying.key(repeated:)`, fed by the transform's repeat of leading
/// fields): against the slow twin that reads every field, the sketches are the same, with
/// trims (small capacities), skipped values (empty fields) and individuals that change inside
/// a run of repeated fields.
@Suite struct LinkKeyingTests {
    /// The slowest twin's step: every value of `record` a sketch counts (not empty, not too
    /// long for a key) inserted into its column's sketch, held by the record's individual.
    static func insertEveryValue(of record: CSVRecord, individualAt entity: Int, into sketches: inout [KHyperLogLog]) {
        for column in sketches.indices where (1...LinkCounter.longestKey).contains(record.length(of: column)) {
            sketches[column].insert(value: record.fieldHash(at: column), individual: record.fieldHash(at: entity))
        }
    }

    /// A request that sketches `columns` columns of records whose field `entity` names the
    /// individual, each column sketch trimmed at `capacity` values.
    static func columnSketches(_ columns: Int, entity: Int, capacity: Int) -> LinkRequest {
        var request = LinkRequest()
        request.entity = entity
        request.sketchColumns(columns)
        request.columnSketchCapacity = capacity
        return request
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func repeatedFieldsSketchLikeFullRecords(seed: UInt64) {
        var random = TestRandom(seed: seed)
        var request = Self.columnSketches(5, entity: 1, capacity: 16)
        request.pseudonymColumns = [0, 2]
        var full = LinkKeying(counter: LinkCounter(request: request))
        var fast = LinkKeying(counter: LinkCounter(request: request))
        var fields: [[UInt8]] = (0..<5).map { _ in [] }
        // The slowest twin: every value of every record inserted into a sketch.
        var twins = (0..<5).map { _ in KHyperLogLog(capacity: 16) }
        var shortcuts = 0
        for number in 1...20_000 {
            // Some leading fields repeat the record before's (a meter's readings in a row).
            let repeated = number == 1 ? 0 : Int.random(in: 0...4, using: &random)
            for column in repeated..<5 {
                let choices = [4, 60, 3, 400, 100_000][column]
                let value = Int.random(in: 0..<choices, using: &random)
                fields[column] = value % 17 == 0 ? [] : Array("v\(value)".utf8)
            }
            var whole = CSVRecord()
            for field in fields { whole.append(field: field) }
            var sparse = CSVRecord()
            for (column, field) in fields.enumerated() { sparse.append(field: column < repeated ? [] : field) }
            Self.insertEveryValue(of: whole, individualAt: 1, into: &twins)
            full.key(&whole, entity: 1, block: 0, number: number)
            fast.key(&sparse, entity: 1, block: 0, number: number, repeated: repeated)
            if repeated > 0 { shortcuts += 1 }
        }
        #expect(shortcuts > 10_000)
        #expect(fast.counter.columns == full.counter.columns)
        #expect(full.counter.columns == twins)
        #expect(fast.counter.pseudonyms == full.counter.pseudonyms)
        #expect(fast.counter.columns.contains { $0.isSampled })
    }

    /// A time-ordered file: individuals take turns (each one's records far apart), some columns
    /// constant per individual, some changing, now and then two records of one individual in a
    /// row (the previous-record shortcut). Against the slow twin that inserts every value of
    /// every record into a sketch, the column sketches are the same, with trims and skipped
    /// values.
    @Test(arguments: [UInt64(1), 2, 3])
    func individualsTakingTurnsSketchLikeEveryInsert(seed: UInt64) {
        var random = TestRandom(seed: seed)
        let request = Self.columnSketches(5, entity: 0, capacity: 32)
        let individuals = seed == 3 ? 20_000 : 300
        var keying = LinkKeying(counter: LinkCounter(request: request))
        var twins = (0..<5).map { _ in KHyperLogLog(capacity: 32) }
        let steady: [[Int]] = (0..<individuals).map { _ in (0..<2).map { _ in Int.random(in: 0..<50, using: &random) } }
        var number = 0
        for step in 0..<(seed == 3 ? 3 : 40) {
            for individual in 0..<individuals {
                // Now and then an individual's two records in a row (its own run).
                for _ in 0...(Int.random(in: 0..<10, using: &random) == 0 ? 1 : 0) {
                    number += 1
                    var record = CSVRecord()
                    record.append(field: Array("m\(individual)".utf8))
                    record.append(field: Array("a\(steady[individual][0])".utf8))
                    // A steady value that is sometimes empty (skipped) or changes for a while.
                    let second = step % 7 == 3 ? step : steady[individual][1]
                    record.append(field: second % 11 == 0 ? [] : Array("b\(second)".utf8))
                    record.append(field: Array("h\(step / 2)".utf8))
                    record.append(field: Array("r\(Int.random(in: 0..<5_000, using: &random))".utf8))
                    Self.insertEveryValue(of: record, individualAt: 0, into: &twins)
                    keying.key(&record, entity: 0, block: 0, number: number)
                }
            }
        }
        #expect(keying.counter.columns == twins)
        #expect(twins.filter(\.isSampled).count >= 2)
    }

    /// A household-sorted file: each individual's records in one run, its values repeating
    /// within the run but seldom from one record to the next (a meter's readings), the
    /// previous-record shortcut taking the repeats in a row. Against the slow twin that inserts
    /// every value of every record, the sketches are the same, with trims, skipped values and
    /// runs of one record.
    @Test(arguments: [UInt64(1), 2, 3])
    func runsOfOneIndividualSketchLikeEveryInsert(seed: UInt64) {
        var random = TestRandom(seed: seed)
        let request = Self.columnSketches(4, entity: 0, capacity: seed == 3 ? 4096 : 64)
        var keying = LinkKeying(counter: LinkCounter(request: request))
        var twins = (0..<4).map { _ in KHyperLogLog(capacity: request.columnSketchCapacity) }
        var number = 0
        for individual in 0..<400 {
            let length = individual % 9 == 0 ? 1 : Int.random(in: 2...600, using: &random)
            let choices = Int.random(in: 1...3_000, using: &random)
            for step in 0..<length {
                number += 1
                var record = CSVRecord()
                record.append(field: Array("m\(individual)".utf8))
                record.append(field: Array("h\(step / 2)".utf8))
                let value = Int.random(in: 0..<choices, using: &random)
                record.append(field: value % 13 == 0 ? [] : Array("k\(value)".utf8))
                record.append(field: Array("d\(individual % 7)".utf8))
                Self.insertEveryValue(of: record, individualAt: 0, into: &twins)
                keying.key(&record, entity: 0, block: 0, number: number)
            }
        }
        #expect(keying.counter.columns == twins)
        #expect(twins[2].isSampled == (seed != 3))
    }
}
