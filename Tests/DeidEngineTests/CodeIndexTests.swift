import DeidCSV
import DeidTestSupport
import Testing

@testable import DeidEngine

/// The engine's tables against the standard library's dictionaries: each fast table is checked
/// against its slow twin on seeded data.
@Suite struct CodeIndexTests {
    /// The value and tuple indexes number what they see in order of first appearance, as a
    /// dictionary would, through many growths; values are looked up in place in a record's field
    /// or as bytes alike, and an absent value has no code.
    @Test func codeIndexesNumberInOrderOfFirstAppearance() {
        var random = TestRandom(seed: 7)
        var values = ByteCodeIndex()
        var expected: [[UInt8]: UInt32] = [:]
        var order: [[UInt8]] = []
        var tuples = CodeTupleIndex(width: 3)
        var expectedTuples: [[UInt32]: UInt32] = [:]
        var record = CSVRecord()
        for _ in 0..<20_000 {
            // Short values of a few letters (many repeats, the empty one included) and longer ones.
            let length =
                Int.random(in: 0...3, using: &random) == 0
                ? Int.random(in: 9...40, using: &random) : Int.random(in: 0...3, using: &random)
            let value = (0..<length).map { _ in UInt8(Int.random(in: 97...100, using: &random)) }
            record.removeAll()
            record.append(field: [UInt8]("x".utf8))
            record.append(field: value)
            let fromRecord = values.code(of: record, field: 1)
            let known = expected[value]
            #expect(fromRecord.code == known ?? UInt32(order.count))
            #expect(fromRecord.isNew == (known == nil))
            if known == nil {
                expected[value] = UInt32(order.count)
                order.append(value)
            }
            #expect(values.code(of: value[...]) == (fromRecord.code, false))
            let codes = (0..<3).map { _ in UInt32(Int.random(in: 0...20, using: &random)) }
            let number = tuples.number(of: codes)
            let knownTuple = expectedTuples[codes]
            #expect(number.number == knownTuple ?? UInt32(expectedTuples.count))
            if knownTuple == nil { expectedTuples[codes] = number.number }
        }
        #expect(values.values == order)
        #expect(values.existingCode(of: [UInt8]("zzz".utf8)[...]) == nil)
        #expect(values.existingCode(of: order[5][...]) == 5)
        #expect(values.existingCode(of: record, field: 1) == values.existingCode(of: record[1][...]))
        #expect(tuples.count == expectedTuples.count)
        for (codes, number) in expectedTuples {
            #expect(Array(tuples.tuples[Int(number) * 3..<Int(number) * 3 + 3]) == codes)
        }
    }

    /// Bins get positions in order of first appearance, as a dictionary would number them,
    /// through the growth of the table.
    @Test func binIndexNumbersKeysInOrderOfFirstAppearance() {
        var random = TestRandom(seed: 11)
        var index = BinIndex()
        var expected: [Int64: Int] = [:]
        for _ in 0..<50_000 {
            let key = Int64.random(in: -5_000...5_000, using: &random) * (Bool.random(using: &random) ? 1 : 1_000_003)
            let position = index.position(of: key)
            #expect(position == expected[key] ?? expected.count)
            if expected[key] == nil { expected[key] = position }
        }
        #expect(index.count == expected.count)
        for (key, position) in expected { #expect(index.keys[position] == key) }
    }

    /// The 64-bit hash table holds what a dictionary holds, through its growths, key 0 (stored
    /// as 1) included; filtering and iterating give the same entries.
    @Test func hashTable64AgreesWithADictionary() {
        var random = TestRandom(seed: 13)
        var table = CountTable()
        var pairs = HashTable64<Int32>(capacity: 4, empty: -1)
        var expected: [UInt64: Int] = [:]
        var expectedPairs: [UInt64: Int32] = [:]
        for step in 0..<40_000 {
            // Small keys repeat; 0 and 1 share a slot by design, so only 1 of them is used.
            let key = Bool.random(using: &random) ? UInt64.random(in: 1...3_000, using: &random) : random.next()
            let amount = Int.random(in: 1...5, using: &random)
            table.add(key, amount)
            expected[key, default: 0] += amount
            let (slot, inserted) = pairs.slot(key)
            #expect(inserted == (expectedPairs[key] == nil))
            pairs.update(at: slot) { $0 = Int32(step % 1000) }
            expectedPairs[key] = Int32(step % 1000)
        }
        #expect(table.count == expected.count && pairs.count == expectedPairs.count)
        for (key, value) in expected { #expect(table[key] == value) }
        #expect(table[0xDEAD_BEEF_0000_0001] == expected[0xDEAD_BEEF_0000_0001])
        var seen: [UInt64: Int] = [:]
        table.forEach { key, value in seen[key] = value }
        #expect(seen == expected)
        let even = table.filtered { $0 % 2 == 0 }
        #expect(even.count == expected.keys.filter { $0 % 2 == 0 }.count)
        for (key, value) in expected where key % 2 == 0 { #expect(even[key] == value) }
    }
}
