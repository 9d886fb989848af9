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
    @Test(arguments: [UInt64(1), 2, 3, 4])
    func repeatedFieldsSketchLikeFullRecords(seed: UInt64) {
        var random = TestRandom(seed: seed)
        var request = LinkRequest()
        request.entity = 1
        request.sketchColumns(5)
        request.pseudonymColumns = [0, 2]
        request.columnSketchCapacity = 16
        var full = LinkKeying(counter: LinkCounter(request: request))
        var fast = LinkKeying(counter: LinkCounter(request: request))
        var fields: [[UInt8]] = (0..<5).map { _ in [] }
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
            full.key(&whole, entity: 1, block: 0, number: number)
            fast.key(&sparse, entity: 1, block: 0, number: number, repeated: repeated)
            if repeated > 0 { shortcuts += 1 }
        }
        #expect(shortcuts > 10_000)
        #expect(fast.counter.columns == full.counter.columns)
        #expect(fast.counter.pseudonyms == full.counter.pseudonyms)
        #expect(fast.counter.columns.contains { $0.isSampled })
    }
}
