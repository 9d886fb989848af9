import DeidTestSupport
import Testing

@testable import DeidCSV

/// The memo of computed field values and the record's in-place field copies, against plain
/// dictionaries and arrays.
@Suite struct FieldMemoTests {
    /// A computed value that differs for every key (and is sometimes longer than 32 bytes, or
    /// needs quotes).
    static func compute(_ key: ArraySlice<UInt8>) -> [UInt8] {
        let text = String(decoding: key, as: UTF8.self)
        return Array("<\(text.count)|\(text)\(text.count % 5 == 0 ? ",q" : "")>".utf8)
    }

    /// Lookups through many growths and two clearings (a small capacity), with runs of one value
    /// (the last-entry check), empty fields, and values of every length from 0 to 40, give the
    /// same bytes as computing every value afresh; each distinct value is computed once until
    /// the memo is cleared.
    @Test func memoizedValuesEqualFreshOnes() {
        var generator = TestRandom(seed: 5)
        let keys: [[UInt8]] = (0..<900).map { index in
            let length = index % 41
            return (0..<length).map { _ in UInt8(0x61 + generator.next() % 3) } + Array("\(index)".utf8).prefix(length)
        }
        var memo = FieldMemo(capacity: 400)
        var computed = 0
        var seenSinceClear = Set<[UInt8]>()
        var record = CSVRecord()
        for step in 0..<6_000 {
            let key = step % 7 == 0 ? keys[(step / 7) % keys.count] : keys[Int(generator.next() % UInt64(keys.count))]
            let repeats = step % 11 == 0 ? 3 : 1
            for _ in 0..<repeats {
                record.removeAll()
                record.append(field: Array("x".utf8))
                record.append(field: key)
                var output = CSVRecord()
                // A full memo is cleared when it stores the next value.
                let clears = memo.count >= 400
                memo.append(valueFor: 1, of: record, to: &output) { value in
                    computed += 1
                    if clears { seenSinceClear.removeAll() }
                    let again = seenSinceClear.contains(Array(value))
                    #expect(!again, "a memoized value was computed again at step \(step)")
                    seenSinceClear.insert(Array(value))
                    return Self.compute(value)
                }
                #expect(output.count == 1)
                #expect(Array(output[0]) == Self.compute(key[...]), "step \(step)")
            }
        }
        #expect(computed > keys.count, "the small capacity clears the memo")
        #expect(memo.count <= 400)
    }

    /// A record that never held a byte (only empty fields) is looked up like any other.
    @Test func emptyFieldsOfAnEmptyRecordAreMemoized() {
        var memo = FieldMemo()
        var computed = 0
        for _ in 0..<3 {
            var record = CSVRecord()
            record.append(field: [UInt8]())
            var output = CSVRecord()
            memo.append(valueFor: 0, of: record, to: &output) { _ in
                computed += 1
                return Array("none".utf8)
            }
            #expect(output.strings == ["none"])
        }
        #expect(computed == 1)
        #expect(memo.count == 1)
    }

    /// Fields copied into a reused record, of every length from 0 to 70 and after `removeAll`,
    /// read back as appended; numbers are written in place like the writer writes them.
    @Test func recordAppendsKeepEveryByte() {
        var generator = TestRandom(seed: 9)
        var record = CSVRecord()
        var source = CSVRecord()
        for round in 0..<50 {
            record.removeAll()
            source.removeAll()
            var expected: [[UInt8]] = []
            for length in 0...70 where (length + round) % 3 != 0 {
                let field = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                source.append(field: field)
                switch length % 3 {
                case 0: record.append(field: field)
                case 1: record.append(fieldOf: source, at: source.count - 1)
                default: record.appendField(from: field, range: 0..<field.count)
                }
                expected.append(field)
            }
            let value = Double(generator.next() % 2_000_000) / 1000 - 1000
            record.append(decimal: value, places: 3)
            let written = CSVWriter(delimiter: .comma)
            written.append(decimal: value, places: 3)
            expected.append(written.takeBytes())
            #expect(record.count == expected.count)
            for index in expected.indices {
                #expect(Array(record[index]) == expected[index], "round \(round), field \(index)")
            }
        }
    }

    /// A record's hash (seeded noise's per-record stream) depends on its fields' bytes and where
    /// they split, not on its position or on what the record held before.
    @Test func recordHashIsTheFieldsOnly() {
        func record(_ fields: [String], line: Int = 1, before: [String] = []) -> CSVRecord {
            var record = CSVRecord()
            for field in before { record.append(field: Array(field.utf8)) }
            record.removeAll()
            for field in fields { record.append(field: Array(field.utf8)) }
            record.setPosition(line: line, number: line)
            return record
        }
        let plain = record(["MTR-1", "2013-01-01 00:30", "0.25"])
        #expect(plain.recordHash() == record(["MTR-1", "2013-01-01 00:30", "0.25"], line: 900).recordHash())
        #expect(
            plain.recordHash()
                == record(["MTR-1", "2013-01-01 00:30", "0.25"], before: [String(repeating: "x", count: 300)])
                .recordHash())
        #expect(plain.recordHash() != record(["MTR-", "12013-01-01 00:30", "0.25"]).recordHash())
        #expect(plain.recordHash() != record(["MTR-1", "2013-01-01 00:30", "0.26"]).recordHash())
        #expect(record([]).recordHash() != record([""]).recordHash())
    }
}
