/// A run of whole records cut from an input, for parsing on another thread.
public struct CSVBlock: Sendable {
    /// The block's position in the input, from 0; block 0 starts with the header.
    public let index: Int
    /// The bytes (decompressed), ending at a record boundary (or at the end of the input).
    public let bytes: [UInt8]
    /// True when the block ends inside a record longer than the record limit: its reader
    /// reports the limit instead of taking the end of the block as the end of the record.
    public let endsInsideRecord: Bool

    /// This block followed by `next` (the one after it), as one block: a first block that holds
    /// only blank lines is joined with the next until the header is in it.
    public func joined(with next: CSVBlock) -> CSVBlock {
        CSVBlock(index: index, bytes: bytes + next.bytes, endsInsideRecord: next.endsInsideRecord)
    }
}

/// Cuts an input into blocks of whole records, so that several parsers can work at once: a
/// block ends after a line break that is outside quotes (the quote count before it is even;
/// RFC 4180's doubled quotes count twice, so the parity is exact). Only counting quotes and
/// finding the last line break are done here, eight bytes at a time; the parsing is the
/// workers'.
public final class CSVBlockSplitter {
    public let source: InputSource
    private let blockSize: Int
    private let maxRecordBytes: Int
    private var pending: [UInt8] = []
    private var ended = false
    private var nextIndex = 0
    private let chunk: UnsafeMutableRawBufferPointer

    /// - Parameters:
    ///   - blockSize: the bytes read per block (a block is cut at the last record end in it).
    ///   - maxRecordBytes: a record longer than this is handed on whole, for the parser to reject.
    public init(source: InputSource, blockSize: Int = 4 << 20, maxRecordBytes: Int = 16 << 20) {
        self.source = source
        self.blockSize = max(blockSize, 1)
        self.maxRecordBytes = maxRecordBytes
        chunk = .allocate(byteCount: 1 << 20, alignment: 16)
    }

    deinit { chunk.deallocate() }

    /// The bytes wanted for block 0, which is read before anything else to learn the header:
    /// small, so that little of the input is read before the policy has been checked.
    public static let firstBlockSize = 64 << 10

    /// The next block, or nil at the end of the input.
    public func next() throws -> CSVBlock? {
        let blockSize = nextIndex == 0 ? min(self.blockSize, CSVBlockSplitter.firstBlockSize) : self.blockSize
        if !ended && pending.count < blockSize {
            // The input is read straight into the new block's storage, after the partial record
            // the last block left (no copy through a chunk buffer).
            let carried = pending
            pending = try [UInt8](unsafeUninitializedCapacity: blockSize + (1 << 20)) { storage, initialized in
                let base = UnsafeMutableRawPointer(storage.baseAddress!)
                carried.withUnsafeBytes {
                    if $0.count > 0 { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                }
                initialized = carried.count
                while !ended && initialized < blockSize {
                    let count = try source.read(
                        into: UnsafeMutableRawBufferPointer(start: base + initialized, count: blockSize - initialized))
                    if count == 0 {
                        ended = true
                        break
                    }
                    initialized += count
                }
            }
        }
        if pending.isEmpty { return nil }
        var cut = ended ? pending.count : pending.withUnsafeBytes { CSVBlockSplitter.lastRecordEnd($0) }
        // A record longer than the block: read on until its end (or the limit) is in the buffer.
        // Only what each read adds is looked at (and the byte before it: a CR may end a record
        // once the next byte is known): the bytes before hold no record end, and their quotes
        // are counted once.
        var scanned = 0
        var quotesBefore = 0
        while cut == 0 && !ended && pending.count <= maxRecordBytes + blockSize {
            let count = try source.read(into: chunk)
            if count == 0 {
                ended = true
                cut = pending.count
                break
            }
            let from = max(0, pending.count - 1)
            quotesBefore += pending.withUnsafeBytes {
                ByteScan.countQuotes(UnsafeRawBufferPointer(rebasing: $0[scanned..<from]))
            }
            scanned = from
            // A quarter more room at a time, not twice as much: the record may be tens of MB.
            if pending.capacity < pending.count + count {
                pending.reserveCapacity(pending.count + max(count, pending.count / 4))
            }
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
            cut = pending.withUnsafeBytes { CSVBlockSplitter.lastRecordEnd($0, from: from, quotesBefore: quotesBefore) }
        }
        let endsInsideRecord = cut == 0 && !ended
        if cut == 0 { cut = pending.count }
        // The block keeps the buffer; only the partial record after the cut is copied (into
        // the next block's storage, when it is read).
        var bytes = pending
        pending = cut == bytes.count ? [] : Array(bytes[cut...])
        bytes.removeLast(bytes.count - cut)
        defer { nextIndex += 1 }
        return CSVBlock(index: nextIndex, bytes: bytes, endsInsideRecord: endsInsideRecord)
    }

    /// The offset just after the last line break outside quotes, given that `bytes` starts at a
    /// record boundary; 0 when there is none. A CR is only taken when it is not the last byte
    /// (it may be the first half of a CR LF). Only line breaks at `from` or later are looked
    /// for, the bytes before it holding `quotesBefore` quotes (and, the caller knows, no record
    /// end).
    static func lastRecordEnd(_ bytes: UnsafeRawBufferPointer, from: Int = 0, quotesBefore: Int = 0) -> Int {
        guard let base = bytes.baseAddress, bytes.count > 1 else { return 0 }
        let total = quotesBefore + ByteScan.countQuotes(UnsafeRawBufferPointer(rebasing: bytes[from...]))
        var quotesAfter = 0
        var searchEnd = bytes.count
        while searchEnd > from {
            guard let position = lastIndex(of: 0x0A, in: base, before: searchEnd, notBefore: from) else { break }
            quotesAfter += ByteScan.countQuotes(
                UnsafeRawBufferPointer(start: base + position, count: searchEnd - position))
            if (total - quotesAfter) % 2 == 0 { return position + 1 }
            searchEnd = position
        }
        // No usable LF: a file with CR line ends (quotes counted from the end down, once).
        quotesAfter = ByteScan.countQuotes(UnsafeRawBufferPointer(start: base + bytes.count - 1, count: 1))
        searchEnd = bytes.count - 1
        while searchEnd > from {
            guard let position = lastIndex(of: 0x0D, in: base, before: searchEnd, notBefore: from) else { return 0 }
            quotesAfter += ByteScan.countQuotes(
                UnsafeRawBufferPointer(start: base + position, count: searchEnd - position))
            if (total - quotesAfter) % 2 == 0 && base.load(fromByteOffset: position + 1, as: UInt8.self) != 0x0A {
                return position + 1
            }
            searchEnd = position
        }
        return 0
    }

    /// The last offset below `end`, and at `start` or later, holding `byte` (records are short,
    /// so it is mostly near the end): eight bytes a step.
    private static func lastIndex(of byte: UInt8, in base: UnsafeRawPointer, before end: Int, notBefore start: Int)
        -> Int?
    {
        var position = end
        let ones: UInt64 = 0x0101_0101_0101_0101
        let needle = UInt64(byte) &* ones
        while position - 8 >= start {
            let word = base.loadUnaligned(fromByteOffset: position - 8, as: UInt64.self) ^ needle
            let found = (word &- ones) & ~word & (ones << 7)
            if found != 0 {
                // The highest matching byte of the word (little-endian: the last in memory);
                // bytes below it may be false positives of the borrow, so check from the top.
                for offset in stride(from: position - 1, through: position - 8, by: -1)
                where base.load(fromByteOffset: offset, as: UInt8.self) == byte { return offset }
            }
            position -= 8
        }
        while position > start {
            position -= 1
            if base.load(fromByteOffset: position, as: UInt8.self) == byte { return position }
        }
        return nil
    }
}
