import DeidTestSupport
@testable import DeidCSV
import Testing

/// The count of a record's chosen fields that repeat the record before, against comparing every
/// field: runs of equal fields, changes in chosen and other fields, empty fields, fields of
/// every length around the comparisons' word sizes, chosen fields out of order.
@Suite struct LeadingFieldsTests {
    @Test func matchesCountFieldsEqualToTheRecordBefore() {
        var generator = TestRandom(seed: 31)
        let lengths = [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40]
        func value(_ length: Int, _ variant: UInt64) -> String {
            String((0..<length).map { Character(UnicodeScalar(UInt8(0x61 + ($0 + Int(variant)) % 26))) })
        }
        for indices in [[0, 3, 4, 5, 6, 7], [3, 0, 5], [2], [0, 1, 2, 3, 4, 5, 6, 7], [7, 6, 5]] {
            var matcher = LeadingFieldsMatcher(indices: indices)
            var current = (0..<8).map { _ in value(lengths[Int(generator.next() % UInt64(lengths.count))], 0) }
            var previous: [String]?
            var seen = Set<Int>()
            for step in 0..<5_000 {
                // Most records repeat the one before; some change one field or two, in or out
                // of the chosen ones (a length, or bytes of the same length).
                for _ in 0..<Int(generator.next() % 3) where generator.next() % 3 == 0 {
                    let field = Int(generator.next() % 8)
                    current[field] = generator.next() % 2 == 0
                        ? value(lengths[Int(generator.next() % UInt64(lengths.count))], 0)
                        : value(current[field].count, generator.next() % 5)
                }
                var expected = 0
                if let previous {
                    while expected < indices.count && current[indices[expected]] == previous[indices[expected]] { expected += 1 }
                }
                let matched = matcher.match(CSVRecord(fields: current))
                #expect(matched == expected, "indices \(indices), step \(step)")
                seen.insert(matched)
                previous = current
            }
            #expect(seen.count > min(indices.count, 3), "indices \(indices): \(seen)")
            matcher.reset()
            #expect(matcher.match(CSVRecord(fields: current)) == 0)
        }
    }
}
