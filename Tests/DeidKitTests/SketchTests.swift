import DeidCSV
import DeidTestSupport
import Testing

@testable import DeidKit

@Suite("Distinct counting")
struct SketchTests {
    @Test func hyperLogLogIsWithinTwoPercent() {
        for count in [1, 10, 1000, 50_000, 1_000_000] {
            var sketch = HyperLogLog()
            for value in 0..<count { sketch.insert(hash: FieldHash.finalize(UInt64(value) &+ 0x1234_5678)) }
            let error = abs(sketch.estimate - Double(count)) / Double(count)
            #expect(error < 0.02, "\(count) values estimated as \(sketch.estimate)")
        }
    }

    @Test func hyperLogLogMergeIsTheUnion() {
        var left = HyperLogLog()
        var right = HyperLogLog()
        var both = HyperLogLog()
        for value in 0..<30_000 {
            let hash = FieldHash.finalize(UInt64(value))
            if value < 20_000 { left.insert(hash: hash) }
            if value >= 10_000 { right.insert(hash: hash) }
            both.insert(hash: hash)
        }
        left.merge(right)
        #expect(left == both)
    }

    @Test func fieldHashDependsOnEveryByte() {
        let base = Array("MTR-000123,0.125".utf8)
        let reference = FieldHash.hash(bytes: base)
        for index in base.indices {
            var changed = base
            changed[index] ^= 1
            #expect(FieldHash.hash(bytes: changed) != reference, "byte \(index)")
        }
        #expect(FieldHash.hash(bytes: [UInt8]()) != FieldHash.hash(bytes: [0]))
        #expect(FieldHash.hash(bytes: base) == reference)
    }

    @Test func exactCountingMatchesASet() {
        var random = SeededRandom(seed: 7)
        var distinct = DistinctValues(exactLimit: 100_000)
        var reference: [String: Int] = [:]
        var record = CSVRecord()
        for _ in 0..<20_000 {
            let value = "v\(random.integer(in: 0...3000))" + (random.unit() < 0.1 ? ",x\"y" : "")
            record.removeAll()
            record.append(field: Array(value.utf8))
            let insertion = distinct.insert(record, field: 0, hash: record.fieldHash(at: 0))
            switch insertion {
            case .new(let index):
                #expect(reference[value] == nil)
                #expect(index == reference.count)
                reference[value] = index
            case .repeated(let index):
                #expect(reference[value] == index)
            case .uncounted:
                Issue.record("left exact mode early")
            }
        }
        #expect(distinct.isExact)
        #expect(distinct.count == reference.count)
        for (value, index) in reference { #expect(distinct.value(at: index) == ArraySlice(value.utf8)) }
    }

    @Test func switchesToAnEstimatePastTheLimit() {
        var distinct = DistinctValues(exactLimit: 1000)
        var record = CSVRecord()
        for value in 0..<40_000 {
            record.removeAll()
            record.append(field: Array("id-\(value % 20_000)".utf8))
            _ = distinct.insert(record, field: 0, hash: record.fieldHash(at: 0))
        }
        #expect(!distinct.isExact)
        #expect(abs(distinct.count - 20_000) < 400, "estimated \(distinct.count)")
    }
}

@Suite("Value shapes")
struct ValueShapeTests {
    @Test(arguments: [
        ("42", "integer"), ("-7", "integer"), ("0", "integer"), ("007", "other"), ("3.25", "decimal"),
        ("-0.5", "decimal"), ("1e-3", "decimal"), (".5", "decimal"), ("1.2.3", "other"), ("2013-01-01", "%Y-%m-%d"),
        ("2013-01-01 00:30:00", "%Y-%m-%d %H:%M:%S"), ("2013-01-01T00:30:00Z", "%Y-%m-%dT%H:%M:%SZ"),
        ("2013-01-01 00:30:00.0000000", "%Y-%m-%d %H:%M:%S.%7f"), ("2013-02-30x", "other"),
        ("31/12/2013", "%d/%m/%Y"), ("12/31/2013", "%m/%d/%Y"), ("2013-13-01", "other"),
        ("2013-01-01 24:00", "other"), ("2013-01-01T08:00+01:00", "%Y-%m-%dT%H:%M%z"),
    ])
    func numbersAndTimes(value: String, expected: String) {
        let shape = ValueShape(Array(value.utf8))
        let found = shape.isInteger ? "integer" : shape.isDecimal ? "decimal" : shape.temporalFormat ?? "other"
        #expect(found == expected, "\(value)")
    }

    @Test func patterns() {
        #expect(ValueShape(Array("ada.lovelace@example.org".utf8)).isEmail)
        #expect(!ValueShape(Array("not an @ email".utf8)).isEmail)
        #expect(ValueShape(Array("+44 20 7946 0958".utf8)).isPhone)
        #expect(ValueShape(Array("020-7946-0958".utf8)).isPhone)
        #expect(!ValueShape(Array("20794609".utf8)).isPhone)
        #expect(ValueShape(Array("SW1A 1AA".utf8)).isUKPostcode)
        #expect(ValueShape(Array("N7 6QP".utf8)).isUKPostcode)
        #expect(!ValueShape(Array("12345".utf8)).isUKPostcode)
        #expect(ValueShape(Array("Mary-Jane O'Neil".utf8)).isPersonName)
        #expect(!ValueShape(Array("semi-detached".utf8)).isPersonName)
        #expect(!ValueShape(Array("SW1A 1AA".utf8)).isPersonName)
    }

    @Test func columnNames() {
        #expect(ColumnNameHint.words(of: "customerName") == ["customer", "name"])
        #expect(ColumnNameHint.words(of: "LCLid") == ["lclid"])
        #expect(ColumnNameHint.words(of: "marital-status") == ["marital", "status"])
        #expect(ColumnNameHint.of("E_Mail") == .directIdentifier("an e-mail address"))
        #expect(ColumnNameHint.of("meter_id") == .entityKey)
        #expect(ColumnNameHint.of("birth_year") == .quasiIdentifier("birth date"))
        #expect(ColumnNameHint.of("pickup_latitude") == .quasiIdentifier("coordinates"))
        #expect(ColumnNameHint.of("tariff") == .none)
    }
}
