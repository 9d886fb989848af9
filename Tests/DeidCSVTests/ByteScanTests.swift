import DeidTestSupport
import Testing

@testable import DeidCSV

/// The word- and vector-at-a-time byte tests against plain loops.
@Suite struct ByteScanTests {
    static func naiveQuotes(_ bytes: ArraySlice<UInt8>) -> Int { bytes.reduce(0) { $0 + ($1 == 0x22 ? 1 : 0) } }

    @Test func quoteCountsEqualAPlainCount() {
        var generator = TestRandom(seed: 11)
        // Every length up to ten vector steps, at every start within a vector, at several
        // densities of quotes (none, sparse, half, all).
        for density in [0, 3, 50, 100] as [UInt64] {
            let bytes = (0..<400).map { _ in
                generator.next() % 100 < density ? UInt8(0x22) : UInt8(0x41 + generator.next() % 20)
            }
            for start in 0..<32 {
                for end in stride(from: start, through: bytes.count, by: 7) {
                    let slice = bytes[start..<end]
                    let counted = slice.withUnsafeBytes { ByteScan.countQuotes($0) }
                    #expect(counted == Self.naiveQuotes(slice), "density \(density), bytes \(start)..<\(end)")
                }
            }
        }
        // Long runs of quotes: the byte counters are summed before they could overflow.
        for length in [127 * 32, 127 * 32 + 1, 128 * 32, 300_000] {
            let quotes = [UInt8](repeating: 0x22, count: length)
            #expect(quotes.withUnsafeBytes { ByteScan.countQuotes($0) } == length)
        }
    }

    /// The ASCII test and the UTF-8 check built on it, against plain loops and the standard
    /// library: one byte of 0x80 or more at any position of every length up to 40, and valid
    /// and broken multi-byte sequences inside a record's field.
    @Test func nonASCIIBytesAreFoundAnywhere() {
        for length in 0...40 {
            let plain = [UInt8](repeating: 0x61, count: length)
            #expect(!plain.withUnsafeBytes { ByteScan.containsNonASCII($0) })
            for position in 0..<length {
                var bytes = plain
                bytes[position] = 0x80
                #expect(bytes.withUnsafeBytes { ByteScan.containsNonASCII($0) }, "length \(length), at \(position)")
            }
        }
        var record = CSVRecord()
        let fields: [[UInt8]] = [
            Array("plain".utf8), Array("Zoë Müller, Łódź".utf8), [0x61, 0xC3],
            [0xE2, 0x82, 0xAC, 0x20, 0x61, 0x62, 0x63, 0x64, 0x65],
            [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0xFF], [],
        ]
        for field in fields { record.append(field: field) }
        for (index, field) in fields.enumerated() {
            #expect(
                record.isValidUTF8(at: index) == (String(validating: field, as: UTF8.self) != nil), "field \(index)")
        }
    }

    /// The scan that decides whether libcsv may use its own notion of spaces, whether fields
    /// must be scanned for line breaks and whether a chunk has a quote or a CR, against a plain
    /// loop: random chunks of letters, spaces,
    /// tabs, delimiters, quotes and line breaks, of every length up to five vector steps and
    /// more, starting inside or outside quotes, for a comma and a tab delimiter; the vector scan
    /// and the byte-at-a-time one (the tail, and other machines) both.
    @Test func chunkShapeFindsQuotedLineBreaksAndSpacesThatMatter() {
        var generator = TestRandom(seed: 29)
        let alphabet: [UInt8] = [0x61, 0x62, 0x20, 0x09, 0x2C, 0x22, 0x0A, 0x0D, 0x3B]
        var seen = [ChunkShape: Int]()
        var plainChunks = 0
        for delimiter: UInt8 in [0x2C, 0x09] {
            func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (byte == 0x09 && delimiter != 0x09) }
            func isSeparator(_ byte: UInt8) -> Bool {
                byte == delimiter || byte == 0x22 || byte == 0x0A || byte == 0x0D
            }
            for round in 0..<6000 {
                let length = round < 4000 ? Int(generator.next() % 330) : Int(generator.next() % 3000)
                // Mostly letters, and sparse specials in some chunks, so that every answer is common.
                let sparse = generator.next() % 2 == 0
                let bytes = (0..<length).map { _ in
                    generator.next() % (sparse ? 40 : 4) == 0 ? alphabet[Int(generator.next() % 9)] : UInt8(0x61)
                }
                let startsQuoted = generator.next() % 3 == 0
                var expected = ChunkShape()
                expected.hasReturn = bytes.contains(0x0D)
                var inside = startsQuoted
                for (index, byte) in bytes.enumerated() {
                    if byte == 0x22 {
                        inside.toggle()
                        continue
                    }
                    if inside && (byte == 0x0A || byte == 0x0D) { expected.quotedLineBreak = true }
                    if !inside && isSpace(byte)
                        && (index == 0 || index == length - 1 || isSeparator(bytes[index - 1])
                            || isSeparator(bytes[index + 1]))
                    {
                        expected.spacesMatter = true
                    }
                }
                var flags = expected
                flags.hasReturn = false
                seen[flags, default: 0] += 1
                if !expected.quotedLineBreak && !expected.hasReturn { plainChunks += 1 }
                // Once both are found, the scan stops: a CR after that point goes unseen.
                let stopsEarly = expected.quotedLineBreak && expected.spacesMatter
                bytes.withUnsafeBytes { raw in
                    var vector = ByteScan.chunkShape(raw, delimiter: delimiter, startsQuoted: startsQuoted)
                    var shape = ChunkShape()
                    var quoted = startsQuoted
                    if let base = raw.baseAddress {
                        ByteScan.scanBytes(base, length, from: 0, delimiter: delimiter, inside: &quoted, shape: &shape)
                    }
                    if stopsEarly {
                        vector.hasReturn = expected.hasReturn
                        shape.hasReturn = expected.hasReturn
                    }
                    #expect(vector == expected, "\(bytes) \(startsQuoted)")
                    #expect(shape == expected, "\(bytes) \(startsQuoted)")
                }
            }
        }
        #expect(seen.count == 4 && seen.values.allSatisfy { $0 > 100 }, "\(seen)")
        #expect(plainChunks > 500)
    }
}
