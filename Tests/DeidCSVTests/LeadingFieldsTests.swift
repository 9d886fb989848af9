import DeidTestSupport
import Testing

@testable import DeidCSV

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
                    current[field] =
                        generator.next() % 2 == 0
                        ? value(lengths[Int(generator.next() % UInt64(lengths.count))], 0)
                        : value(current[field].count, generator.next() % 5)
                }
                var expected = 0
                if let previous {
                    while expected < indices.count && current[indices[expected]] == previous[indices[expected]] {
                        expected += 1
                    }
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

    /// The inline copies and comparisons behind it, at every length up to past their vector
    /// paths: a copy equals its source and leaves the bytes around it alone; a difference at
    /// any position is seen.
    @Test func inlineCopiesAndComparisonsAtEveryLength() {
        var generator = TestRandom(seed: 32)
        for count in 0...300 {
            let source = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            var target = [UInt8](repeating: 0xEE, count: count + 2)
            source.withUnsafeBytes { from in
                target.withUnsafeMutableBytes { to in
                    copyShortOrLong(
                        to: to.baseAddress! + 1, from: from.baseAddress ?? UnsafeRawPointer(to.baseAddress!),
                        count: count)
                }
            }
            #expect(
                Array(target[1..<(count + 1)]) == source && target.first == 0xEE && target.last == 0xEE,
                "copy of \(count)")
            var copied = [UInt8](repeating: 0, count: count + 1)
            source.withUnsafeBytes { from in
                copied.withUnsafeMutableBytes {
                    copyBytes(
                        to: $0.baseAddress!, from: from.baseAddress ?? UnsafeRawPointer($0.baseAddress!),
                        count: min(count, 64))
                }
            }
            #expect(Array(copied[0..<min(count, 64)]) == Array(source.prefix(64)), "copyBytes of \(count)")
            guard count > 0 else { continue }
            for position in Set([0, count / 2, count - 1, Int(generator.next() % UInt64(count))]) {
                var other = source
                other[position] ^= 0x01
                let (equalToChanged, equalToItself) = source.withUnsafeBytes { a in
                    (
                        other.withUnsafeBytes { shortOrLongEqual(a.baseAddress!, $0.baseAddress!, count) },
                        source.withUnsafeBytes { shortOrLongEqual(a.baseAddress!, $0.baseAddress!, count) }
                    )
                }
                #expect(!equalToChanged && equalToItself, "compare of \(count), difference at \(position)")
            }
        }
    }

    /// A record's chosen fields, copied into a record of their own, compare equal to the same
    /// fields of a later record, and unequal when one of them differs in a byte or a length
    /// (the copy holds only those fields; a field of 2,000 bytes takes the long comparison).
    @Test func aCopyOfChosenFieldsComparesWithLaterRecords() {
        let long = String(repeating: "x", count: 2_000)
        let first = CSVRecord(fields: ["m1", "SE1", "", long, "0.5"])
        var copy = CSVRecord()
        copy.copyFields(of: first, at: [3, 1, 2])
        #expect(
            copy.count == 3 && copy.string(at: 0) == long && copy.string(at: 1) == "SE1" && copy.string(at: 2) == "")
        #expect(CSVRecord(fields: ["m2", "SE1", "", long, "0.7"]).fields([3, 1, 2], equalCopy: copy))
        #expect(!CSVRecord(fields: ["m1", "SE2", "", long, "0.5"]).fields([3, 1, 2], equalCopy: copy))
        #expect(!CSVRecord(fields: ["m1", "SE1", "a", long, "0.5"]).fields([3, 1, 2], equalCopy: copy))
        #expect(!CSVRecord(fields: ["m1", "SE1", "", long + "y", "0.5"]).fields([3, 1, 2], equalCopy: copy))
        #expect(
            !CSVRecord(fields: ["m1", "SE1", "", String(long.dropLast()) + "y", "0.5"]).fields(
                [3, 1, 2], equalCopy: copy))
        #expect(!first.fields([3, 1], equalCopy: copy), "another number of fields")
        // Copied again from a shorter record, the storage is reused and holds only the new fields.
        copy.copyFields(of: CSVRecord(fields: ["m3", "N1", "b", "y", "1"]), at: [3, 1, 2])
        #expect(CSVRecord(fields: ["m9", "N1", "b", "y", "2"]).fields([3, 1, 2], equalCopy: copy))
        #expect(!first.fields([3, 1, 2], equalCopy: copy))
    }
}

@Suite struct MemoryReuseTests {
    /// The allocator keeps freed blocks for reuse (glibc accepts both settings).
    @Test func allocatorKeepsFreedBlocks() {
        #if canImport(Glibc)
            #expect(MemoryReuse.keepFreedBlocks())
        #endif
    }
}
