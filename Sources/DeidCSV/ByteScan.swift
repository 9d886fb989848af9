#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Word-at-a-time byte tests ("SWAR": eight bytes per step) for the hot paths that look at every
/// byte of every field: is there a line break (reader), does the field need quotes (writer); and
/// a vector count of quotes (block splitter).
enum ByteScan {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080
    private static let lineFeeds: UInt64 = 0x0A * ones
    private static let returns: UInt64 = 0x0D * ones
    private static let quotes: UInt64 = 0x22 * ones

    /// Nonzero high bits where a byte of `word` equals the byte repeated in `needle`.
    @inline(__always)
    private static func equalBytes(_ word: UInt64, _ needle: UInt64) -> UInt64 {
        let difference = word ^ needle
        return (difference &- ones) & ~difference
    }

    @inline(__always)
    private static func scan(_ buffer: UnsafeRawBufferPointer, _ test: (UInt64) -> Bool, _ byteTest: (UInt8) -> Bool) -> Bool {
        let count = buffer.count
        guard let base = buffer.baseAddress else { return false }
        if count < 8 {
            if count >= 4 {
                // Two overlapping 4-byte loads make one word to test.
                let low = UInt64(base.loadUnaligned(as: UInt32.self))
                let high = UInt64(base.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self))
                return test(low | high << 32)
            }
            for offset in 0..<count where byteTest(base.load(fromByteOffset: offset, as: UInt8.self)) { return true }
            return false
        }
        var offset = 0
        while offset + 8 <= count {
            if test(base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) { return true }
            offset += 8
        }
        // The last, overlapping word covers the tail.
        return offset < count && test(base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self))
    }

    /// True when `buffer` holds a CR or an LF.
    @inline(__always)
    static func containsLineBreak(_ buffer: UnsafeRawBufferPointer) -> Bool {
        scan(buffer, { (equalBytes($0, lineFeeds) | equalBytes($0, returns)) & highs != 0 },
             { $0 == 0x0A || $0 == 0x0D })
    }

    /// True when `buffer` holds a byte of 0x80 or more (not ASCII).
    @inline(__always)
    static func containsNonASCII(_ buffer: UnsafeRawBufferPointer) -> Bool {
        scan(buffer, { $0 & highs != 0 }, { $0 >= 0x80 })
    }

    /// True when `buffer` holds the delimiter, a quote, a CR or an LF: a field that must be quoted.
    @inline(__always)
    static func needsQuoting(_ buffer: UnsafeRawBufferPointer, delimiter: UInt8) -> Bool {
        let delimiters = UInt64(delimiter) &* ones
        return scan(buffer, {
            (equalBytes($0, lineFeeds) | equalBytes($0, returns) | equalBytes($0, quotes) | equalBytes($0, delimiters)) & highs != 0
        }, { $0 == 0x0A || $0 == 0x0D || $0 == 0x22 || $0 == delimiter })
    }

    /// True when `bytes` holds a byte that needs quoting under some supported delimiter
    /// (`,` `;` tab `|`, a quote, CR or LF).
    static func mayNeedQuoting<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        bytes.contains { $0 == 0x2C || $0 == 0x3B || $0 == 0x09 || $0 == 0x7C || $0 == 0x22 || $0 == 0x0D || $0 == 0x0A }
    }

    /// The number of quote bytes in `buffer`: 32 bytes a step with vector compares, whose
    /// all-ones lanes (-1) are subtracted into byte counters, summed every 127 steps before they
    /// could overflow (the block splitter counts every byte of its input this way).
    static func countQuotes(_ buffer: UnsafeRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        let count = buffer.count
        let needle = SIMD32<UInt8>(repeating: 0x22)
        var total = 0
        var offset = 0
        while offset + 32 <= count {
            var lanes = SIMD32<Int8>()
            let steps = min(127, (count - offset) / 32)
            for step in 0..<steps {
                let bytes = base.loadUnaligned(fromByteOffset: offset &+ step &* 32, as: SIMD32<UInt8>.self)
                lanes &-= unsafeBitCast(bytes .== needle, to: SIMD32<Int8>.self)
            }
            offset += steps * 32
            total &+= Int(SIMD32<Int16>(truncatingIfNeeded: lanes).wrappedSum())
        }
        while offset < count {
            if base.load(fromByteOffset: offset, as: UInt8.self) == 0x22 { total &+= 1 }
            offset += 1
        }
        return total
    }

    /// True when `buffer` holds a space, or a tab unless the tab is the delimiter, at either end
    /// or beside the delimiter, a quote, a CR or an LF: the only places where libcsv, left to its
    /// own notion of spaces, would trim one (around an unquoted field) or accept one (after a
    /// closing quote). Anywhere else such a byte is ordinary data either way. Spaces are found
    /// with `memchr`; in text a few to a line, that is far cheaper than a call per byte.
    static func spaceBesideSeparator(_ buffer: UnsafeRawBufferPointer, delimiter: UInt8) -> Bool {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return false }
        let count = buffer.count
        let end = base + count
        @inline(__always) func isSeparator(_ byte: UInt8) -> Bool {
            byte == delimiter || byte == 0x22 || byte == 0x0A || byte == 0x0D
        }
        func besideSeparator(_ space: UInt8) -> Bool {
            var position = base
            while position < end, let found = memchr(position, Int32(space), end - position) {
                let offset = UnsafeRawPointer(found) - base
                if offset == 0 || offset == count - 1 { return true }
                if isSeparator(base.load(fromByteOffset: offset - 1, as: UInt8.self))
                    || isSeparator(base.load(fromByteOffset: offset + 1, as: UInt8.self)) {
                    return true
                }
                position = UnsafeRawPointer(found) + 1
            }
            return false
        }
        return besideSeparator(0x20) || (delimiter != 0x09 && besideSeparator(0x09))
    }
}
