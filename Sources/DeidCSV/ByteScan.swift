#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif
#if arch(x86_64)
    import _Builtin_intrinsics.intel
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
    private static func scan(_ buffer: UnsafeRawBufferPointer, _ test: (UInt64) -> Bool, _ byteTest: (UInt8) -> Bool)
        -> Bool
    {
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
        scan(
            buffer, { (equalBytes($0, lineFeeds) | equalBytes($0, returns)) & highs != 0 },
            { $0 == 0x0A || $0 == 0x0D })
    }

    /// True when `buffer` holds a byte of 0x80 or more (not ASCII): 64 bytes a step with
    /// vector ORs on x86-64 (the reader looks at every chunk), the tail eight at a time.
    @inline(__always)
    static func containsNonASCII(_ buffer: UnsafeRawBufferPointer) -> Bool {
        #if arch(x86_64)
            if buffer.count >= 64, let base = buffer.baseAddress {
                var offset = 0
                while offset &+ 64 <= buffer.count {
                    let block = base + offset
                    let any = _mm_or_si128(
                        _mm_or_si128(
                            block.loadUnaligned(as: __m128i.self),
                            block.loadUnaligned(fromByteOffset: 16, as: __m128i.self)),
                        _mm_or_si128(
                            block.loadUnaligned(fromByteOffset: 32, as: __m128i.self),
                            block.loadUnaligned(fromByteOffset: 48, as: __m128i.self)))
                    if _mm_movemask_epi8(any) != 0 { return true }
                    offset &+= 64
                }
                return scan(UnsafeRawBufferPointer(rebasing: buffer[offset...]), { $0 & highs != 0 }, { $0 >= 0x80 })
            }
        #endif
        return scan(buffer, { $0 & highs != 0 }, { $0 >= 0x80 })
    }

    /// True when `buffer` holds the delimiter, a quote, a CR or an LF: a field that must be quoted.
    @inline(__always)
    static func needsQuoting(_ buffer: UnsafeRawBufferPointer, delimiter: UInt8) -> Bool {
        let delimiters = UInt64(delimiter) &* ones
        return scan(
            buffer,
            {
                (equalBytes($0, lineFeeds) | equalBytes($0, returns) | equalBytes($0, quotes)
                    | equalBytes($0, delimiters)) & highs != 0
            }, { $0 == 0x0A || $0 == 0x0D || $0 == 0x22 || $0 == delimiter })
    }

    /// True when `bytes` holds a byte that needs quoting under some supported delimiter
    /// (`,` `;` tab `|`, a quote, CR or LF).
    static func mayNeedQuoting<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        bytes.contains {
            $0 == 0x2C || $0 == 0x3B || $0 == 0x09 || $0 == 0x7C || $0 == 0x22 || $0 == 0x0D || $0 == 0x0A
        }
    }

    /// How many bytes `a` and `b` have in common from the start, up to `limit`: eight bytes a
    /// step.
    @inline(__always) static func commonPrefix(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ limit: Int) -> Int {
        var offset = 0
        while offset &+ 8 <= limit {
            let difference =
                a.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                ^ b.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            if difference != 0 { return offset &+ (difference.littleEndian.trailingZeroBitCount >> 3) }
            offset &+= 8
        }
        while offset < limit
            && a.load(fromByteOffset: offset, as: UInt8.self) == b.load(fromByteOffset: offset, as: UInt8.self)
        {
            offset &+= 1
        }
        return offset
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

    /// What a chunk of CSV holds that changes how libcsv must read it, for a parser that starts
    /// inside a quoted field when `startsQuoted`:
    /// - `quotedLineBreak`: a CR or LF between quotes (a field's line breaks must be counted).
    /// - `hasReturn`: a CR anywhere.
    /// - `spacesMatter`: a space, or a tab unless the tab is the delimiter, outside quotes at
    ///   either end of the chunk or beside the delimiter, a quote, a CR or an LF: the only places
    ///   where libcsv, left to its own notion of spaces, would trim one (around an unquoted field)
    ///   or accept one (after a closing quote). Inside quotes, and anywhere else, such a byte is
    ///   data either way.
    ///
    /// Strict libcsv accepts a quote only to open a field, close it or double it, so quotes
    /// alternate between opening and closing (a doubled quote closes and reopens at once); a
    /// malformed quote stops libcsv there, so what follows it does not matter. On x86-64, 64
    /// bytes a step: vector compares give bit masks of quotes and spaces, a prefix XOR of the
    /// quote mask the bytes inside quotes; line breaks are looked for only where bytes are inside
    /// quotes, and a space's neighbours only for spaces outside them.
    static func chunkShape(_ buffer: UnsafeRawBufferPointer, delimiter: UInt8, startsQuoted: Bool) -> ChunkShape {
        var shape = ChunkShape()
        guard let base = buffer.baseAddress, buffer.count > 0 else { return shape }
        let count = buffer.count
        var inside = startsQuoted
        var offset = 0
        #if arch(x86_64)
            let tabIsSpace = delimiter != 0x09
            let quotes = _mm_set1_epi8(0x22)
            let spaces = _mm_set1_epi8(0x20)
            let tabs = _mm_set1_epi8(0x09)
            let lineFeeds = _mm_set1_epi8(0x0A)
            let returns = _mm_set1_epi8(0x0D)
            var carry: UInt64 = inside ? ~0 : 0
            var anyReturn = _mm_setzero_si128()
            while offset &+ 64 <= count && !(shape.quotedLineBreak && shape.spacesMatter) {
                let block = base + offset
                let v0 = block.loadUnaligned(as: __m128i.self)
                let v1 = block.loadUnaligned(fromByteOffset: 16, as: __m128i.self)
                let v2 = block.loadUnaligned(fromByteOffset: 32, as: __m128i.self)
                let v3 = block.loadUnaligned(fromByteOffset: 48, as: __m128i.self)
                let quoteBits = bits(v0, v1, v2, v3) { _mm_cmpeq_epi8($0, quotes) }
                anyReturn = _mm_or_si128(
                    anyReturn,
                    _mm_or_si128(
                        _mm_or_si128(_mm_cmpeq_epi8(v0, returns), _mm_cmpeq_epi8(v1, returns)),
                        _mm_or_si128(_mm_cmpeq_epi8(v2, returns), _mm_cmpeq_epi8(v3, returns))))
                // Bit i: byte i lies after an opening quote, up to the closing one.
                var quoted = carry
                if quoteBits != 0 {
                    var parity = quoteBits
                    parity ^= parity << 1
                    parity ^= parity << 2
                    parity ^= parity << 4
                    parity ^= parity << 8
                    parity ^= parity << 16
                    parity ^= parity << 32
                    quoted ^= parity
                    carry = UInt64(bitPattern: Int64(bitPattern: quoted) >> 63)
                }
                if !shape.quotedLineBreak && quoted != 0 {
                    let breaks = bits(v0, v1, v2, v3) {
                        _mm_or_si128(_mm_cmpeq_epi8($0, lineFeeds), _mm_cmpeq_epi8($0, returns))
                    }
                    if breaks & quoted != 0 { shape.quotedLineBreak = true }
                }
                if !shape.spacesMatter {
                    var outside =
                        ~quoted
                        & (tabIsSpace
                            ? bits(v0, v1, v2, v3) {
                                _mm_or_si128(_mm_cmpeq_epi8($0, spaces), _mm_cmpeq_epi8($0, tabs))
                            }
                            : bits(v0, v1, v2, v3) { _mm_cmpeq_epi8($0, spaces) })
                    while outside != 0 {
                        let position = offset &+ outside.trailingZeroBitCount
                        if besideSeparator(base, count, position, delimiter) {
                            shape.spacesMatter = true
                            break
                        }
                        outside &= outside &- 1
                    }
                }
                offset &+= 64
            }
            inside = carry != 0
            if _mm_movemask_epi8(anyReturn) != 0 { shape.hasReturn = true }
        #endif
        scanBytes(base, count, from: offset, delimiter: delimiter, inside: &inside, shape: &shape)
        return shape
    }

    /// `chunkShape` one byte at a time from `start` (the tail of a chunk, and other machines).
    static func scanBytes(
        _ base: UnsafeRawPointer, _ count: Int, from start: Int, delimiter: UInt8, inside: inout Bool,
        shape: inout ChunkShape
    ) {
        var position = start
        while position < count && !(shape.quotedLineBreak && shape.spacesMatter) {
            let byte = base.load(fromByteOffset: position, as: UInt8.self)
            if byte == 0x0D { shape.hasReturn = true }
            if byte == 0x22 {
                inside.toggle()
            } else if inside {
                if byte == 0x0A || byte == 0x0D { shape.quotedLineBreak = true }
            } else if (byte == 0x20 || (byte == 0x09 && delimiter != 0x09)) && !shape.spacesMatter {
                shape.spacesMatter = besideSeparator(base, count, position, delimiter)
            }
            position &+= 1
        }
    }

    /// True when the byte at `position` is the first or last of the `count` at `base`, or a
    /// neighbour of it is the delimiter, a quote, a CR or an LF.
    @inline(__always)
    private static func besideSeparator(_ base: UnsafeRawPointer, _ count: Int, _ position: Int, _ delimiter: UInt8)
        -> Bool
    {
        @inline(__always) func isSeparator(_ byte: UInt8) -> Bool {
            byte == delimiter || byte == 0x22 || byte == 0x0A || byte == 0x0D
        }
        return position == 0 || position == count &- 1
            || isSeparator(base.load(fromByteOffset: position &- 1, as: UInt8.self))
            || isSeparator(base.load(fromByteOffset: position &+ 1, as: UInt8.self))
    }

    #if arch(x86_64)
        /// The 64-bit mask of the bytes of four 16-byte vectors for which `test` sets all bits.
        @inline(__always)
        private static func bits(
            _ v0: __m128i, _ v1: __m128i, _ v2: __m128i, _ v3: __m128i, _ test: (__m128i) -> __m128i
        ) -> UInt64 {
            @inline(__always) func mask(_ vector: __m128i) -> UInt64 {
                UInt64(UInt16(truncatingIfNeeded: _mm_movemask_epi8(test(vector))))
            }
            return mask(v0) | mask(v1) << 16 | mask(v2) << 32 | mask(v3) << 48
        }
    #endif
}

/// See `ByteScan.chunkShape`.
struct ChunkShape: Hashable {
    var quotedLineBreak = false
    var spacesMatter = false
    /// A CR anywhere in the chunk (not looked for once `quotedLineBreak` and `spacesMatter`
    /// are both found). Without a CR or a quoted line break, every LF ends a record, and nothing
    /// else does (`CSVReader.parseLines` relies on it).
    var hasReturn = false
}
