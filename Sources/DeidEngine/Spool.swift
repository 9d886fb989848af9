import DeidCSV
import Foundation
import Synchronization

/// The frames of the spool between pass 1 and pass 2: numbers (32-bit little-endian), then the
/// bytes of an output line as pass 1 wrote it, with the quasi-identifiers' fields left empty.
/// - A full frame: the tuple, the entity (`UInt32.max`: none), the line's length, each
///   quasi-identifier's offset in the line, each measured field's range in the line; the line.
/// - A repeat frame, for a record that repeats the previous frame's leading fields up to past
///   the last quasi-identifier, with the same entity (a household's readings, one after the
///   other): the marker, the length P of the repeated bytes, the length of the rest, each
///   measured field's range from the rest's start; the line's bytes from P on. Its tuple, its
///   entity and its first P bytes are the previous frame's (of the same block: a block's first
///   frame is full), and no measured field lies in those P bytes.
/// A repeat frame is about half a full one on the meter file, and pass 2 copies it in two
/// pieces.
public enum SpoolFrame {
    /// The first number of a repeat frame (a tuple code never reaches it).
    public static let repeatMarker = UInt32.max
    /// The numbers every frame starts with: tuple or marker, entity or prefix, length.
    public static let leading = 12

    public static func fullHeader(width: Int, measured: Int) -> Int { leading + 4 * width + 8 * measured }
    public static func repeatHeader(measured: Int) -> Int { leading + 8 * measured }

    /// Rewrites the block-local tuple and entity codes of a block's frames to the run's, in
    /// place: local tuple t becomes `tuples[t]`, local entity e `entities[e]` (a repeat frame
    /// has neither).
    public static func recode(
        _ frames: OwnedBytes, tuples: [UInt32], entities: [UInt32], fullHeader: Int, repeatHeader: Int
    ) {
        frames.withUnsafeMutableBytes { frames in
            var position = 0
            while position < frames.count {
                let tuple = frames.loadUnaligned(fromByteOffset: position, as: UInt32.self).littleEndian
                if tuple == repeatMarker {
                    position +=
                        repeatHeader
                        + Int(frames.loadUnaligned(fromByteOffset: position + 8, as: UInt32.self).littleEndian)
                    continue
                }
                frames.storeBytes(of: tuples[Int(tuple)].littleEndian, toByteOffset: position, as: UInt32.self)
                let entity = frames.loadUnaligned(fromByteOffset: position + 4, as: UInt32.self).littleEndian
                if entity != UInt32.max {
                    frames.storeBytes(
                        of: entities[Int(entity)].littleEndian, toByteOffset: position + 4, as: UInt32.self)
                }
                let length = Int(frames.loadUnaligned(fromByteOffset: position + 8, as: UInt32.self).littleEndian)
                position += fullHeader + length
            }
        }
    }
}

/// Hands byte chunks, in order, to `deliver` on a background thread, a few chunks ahead at
/// most. The first error `deliver` throws is thrown by the next `submit` or by `finish`; chunks
/// after it are not delivered.
public final class OrderedWriter: @unchecked Sendable {
    private let deliver: (OwnedBytes) throws -> Void
    private let queue = DispatchQueue(label: "deid.pass2.write")
    private let slots = DispatchSemaphore(value: 3)
    private let failure = Mutex<(any Error)?>(nil)

    public init(deliver: @escaping (OwnedBytes) throws -> Void) { self.deliver = deliver }

    public func submit(_ bytes: OwnedBytes) throws {
        if let earlier = failure.withLock({ $0 }) { throw earlier }
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            guard failure.withLock({ $0 }) == nil else { return }
            do { try deliver(bytes) } catch { failure.withLock { $0 = error } }
        }
    }

    /// Waits until every chunk is delivered; throws the first failure.
    public func finish() throws {
        queue.sync {}
        if let earlier = failure.withLock({ $0 }) { throw earlier }
    }
}

/// Pass 2's inner loop: copies spool frames to output lines, dropping those of suppressed
/// tuples and entities and putting in the chosen levels' values (pre-encoded CSV fields, one
/// flat table). A kept frame is shown to `observer` (the release's risk count) before its line
/// is copied.
public final class PassTwoCopier {
    private let width: Int
    private let tuples: [UInt32]
    private let suppressedTuples: [Bool]
    private let suppressedEntities: Set<UInt32>
    private let singleColumn: Bool
    /// Encoded labels: column c's value code v spans labelBytes[labelStarts[base[c] + v] ..< labelStarts[base[c] + v + 1]].
    private var labelBytes: [UInt8] = []
    private var labelStarts: [Int] = [0]
    private var bases: [Int] = []
    /// Output built here and handed over in chunks of about `chunkBytes` (1 MiB; tests make
    /// them small).
    public var chunkBytes = 1 << 20
    private var output: UnsafeMutableRawPointer
    private var capacity = (1 << 20) + (256 << 10)
    private var count = 0
    /// The sum of the longest encoded label of each column: what a line can grow by.
    private let longestLabels: Int
    public private(set) var kept = 0
    public private(set) var suppressed = 0
    /// Sees every kept frame (the release's risk count), when set.
    public var observer: KeptFrameObserver?
    /// The bytes of the first frame `copy` could not take whole.
    public private(set) var needed = 0
    /// The last frame read: its tuple, entity and fate (a repeat frame's are the same), the
    /// label bytes put in its line, and where its output line starts in `output` (-1: in
    /// `carried`, kept when the output was handed over).
    private struct Previous {
        var tuple = 0
        var entity: UInt32 = 0
        var suppressed = false
        var labelBytes = 0
        var line = -1
    }
    private var previous = Previous()
    private var carried = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 16)
    private var carriedCapacity = 256

    /// - Parameters:
    ///   - tuples: the run's finest tuples, `width` value codes each.
    ///   - labels: per quasi-identifier, per value code, the published value as an encoded CSV
    ///     field.
    ///   - singleColumn: the output has one column (a lone empty field is written `""`).
    public init(
        width: Int, tuples: [UInt32], suppressedTuples: [Bool], suppressedEntities: Set<UInt32>, labels: [[[UInt8]]],
        singleColumn: Bool
    ) {
        self.width = width
        self.tuples = tuples
        self.suppressedTuples = suppressedTuples
        self.suppressedEntities = suppressedEntities
        self.singleColumn = singleColumn
        for column in 0..<width {
            bases.append(labelStarts.count - 1)
            for label in labels[column] {
                labelBytes += label
                labelStarts.append(labelBytes.count)
            }
        }
        var longest = 0
        let starts = labelStarts
        let firsts = bases
        for column in 0..<width {
            let end = column + 1 < width ? firsts[column + 1] : starts.count - 1
            var columnLongest = 0
            for label in firsts[column]..<end { columnLongest = max(columnLongest, starts[label + 1] - starts[label]) }
            longest += columnLongest
        }
        longestLabels = longest + 2
        output = UnsafeMutableRawPointer.allocate(byteCount: (1 << 20) + (256 << 10), alignment: 16)
    }

    /// Copies the whole frames in `frames`; returns the bytes consumed. `write` takes full buffers.
    public func copy(
        _ frames: UnsafeRawBufferPointer, frameHeader: Int, repeatHeader: Int, write: (OwnedBytes) throws -> Void
    ) throws -> Int {
        var position = 0
        needed = SpoolFrame.leading
        let checkEntities = !suppressedEntities.isEmpty
        let width = self.width
        let singleColumn = self.singleColumn
        let fullRanges = SpoolFrame.leading + 4 * width
        // Read once, and called without a retain and a release per frame (`self` keeps it).
        let observer = self.observer.map { Unmanaged.passUnretained($0) }
        var kept = self.kept
        var suppressed = self.suppressed
        var previous = self.previous
        defer {
            self.kept = kept
            self.suppressed = suppressed
            self.previous = previous
        }
        try tuples.withUnsafeBufferPointer { tuples in
            try suppressedTuples.withUnsafeBufferPointer { suppressedTuples in
                try labelBytes.withUnsafeBytes { labels in
                    try labelStarts.withUnsafeBufferPointer { starts in
                        try bases.withUnsafeBufferPointer { bases in
                            let source = frames.baseAddress!
                            while frames.count - position >= SpoolFrame.leading {
                                let first = frames.loadUnaligned(fromByteOffset: position, as: UInt32.self).littleEndian
                                let isRepeat = first == SpoolFrame.repeatMarker
                                let header = isRepeat ? repeatHeader : frameHeader
                                let length = Int(
                                    frames.loadUnaligned(fromByteOffset: position + 8, as: UInt32.self).littleEndian)
                                guard frames.count - position >= header + length else {
                                    needed = header + length
                                    break
                                }
                                let second = frames.loadUnaligned(fromByteOffset: position + 4, as: UInt32.self)
                                    .littleEndian
                                let line = position + header
                                let frameStart = position
                                position = line + length
                                if isRepeat {
                                    // The previous frame's tuple, entity and fate.
                                    if previous.suppressed {
                                        suppressed &+= 1
                                        continue
                                    }
                                } else {
                                    previous.tuple = Int(first)
                                    previous.entity = second
                                    previous.suppressed =
                                        suppressedTuples[Int(first)]
                                        || (checkEntities && suppressedEntities.contains(second))
                                    if previous.suppressed {
                                        suppressed &+= 1
                                        continue
                                    }
                                }
                                let tuple = previous.tuple
                                kept &+= 1
                                if let observer {
                                    let frame = KeptFrame(
                                        tuple: tuple, entity: previous.entity,
                                        frame: UnsafeRawBufferPointer(rebasing: frames[frameStart..<position]),
                                        ranges: isRepeat ? SpoolFrame.leading : fullRanges, lineOffset: header)
                                    try observer._withUnsafeGuaranteedRef { try $0.count(frame) }
                                }
                                if isRepeat {
                                    // The previous output line's first bytes (the repeated bytes
                                    // and the labels put in them), then the rest.
                                    let prefix = Int(second) + previous.labelBytes
                                    if count + prefix + length > capacity { grow(count + prefix + length) }
                                    let from =
                                        previous.line >= 0
                                        ? UnsafeRawPointer(output + previous.line) : UnsafeRawPointer(carried)
                                    let out = output + count
                                    out.copyMemory(from: from, byteCount: prefix)
                                    (out + prefix).copyMemory(from: source + line, byteCount: length)
                                    previous.line = count
                                    count += prefix + length
                                } else {
                                    // Room for the line and the longest labels, then plain copies.
                                    if count + length + longestLabels > capacity {
                                        grow(count + length + longestLabels)
                                    }
                                    var out = output + count
                                    var start = 0
                                    var labelTotal = 0
                                    for column in 0..<width {
                                        let offset =
                                            singleColumn
                                            ? length - 1
                                            : Int(
                                                frames.loadUnaligned(
                                                    fromByteOffset: frameStart + 12 + 4 * column, as: UInt32.self
                                                ).littleEndian)
                                        if !singleColumn {
                                            out.copyMemory(from: source + line + start, byteCount: offset - start)
                                            out += offset - start
                                        }
                                        let label = bases[column] &+ Int(tuples[tuple &* width &+ column])
                                        let labelLength = starts[label + 1] - starts[label]
                                        if labelLength > 0 {
                                            out.copyMemory(
                                                from: labels.baseAddress! + starts[label], byteCount: labelLength)
                                        }
                                        out += labelLength
                                        labelTotal += labelLength
                                        start = offset
                                    }
                                    out.copyMemory(from: source + line + start, byteCount: length - start)
                                    out += length - start
                                    previous.line = count
                                    previous.labelBytes = labelTotal
                                    count = out - output
                                }
                                if count >= chunkBytes {
                                    self.previous = previous
                                    try flush(write)
                                    previous = self.previous
                                }
                            }
                        }
                    }
                }
            }
        }
        return position
    }

    private func grow(_ needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        grown.copyMemory(from: output, byteCount: count)
        output.deallocate()
        output = grown
        capacity = newCapacity
    }

    /// Hands the output built so far to `write` (its memory goes with it) and starts anew.
    public func flush(_ write: (OwnedBytes) throws -> Void) throws {
        guard count > 0 else { return }
        if previous.line >= 0 {
            // The last line goes on being the previous one: keep its bytes.
            let length = count - previous.line
            if length > carriedCapacity {
                carried.deallocate()
                carriedCapacity = max(length, 2 * carriedCapacity)
                carried = UnsafeMutableRawPointer.allocate(byteCount: carriedCapacity, alignment: 16)
            }
            carried.copyMemory(from: output + previous.line, byteCount: length)
            previous.line = -1
        }
        let chunk = OwnedBytes(taking: output, count: count)
        output = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        count = 0
        try write(chunk)
    }

    deinit {
        output.deallocate()
        carried.deallocate()
    }
}

/// Sees pass 2's kept frames, on the thread that copies them: a class to subclass rather than a
/// protocol, so that the copy calls it without retaining it per frame (`Unmanaged`).
open class KeptFrameObserver {
    public init() {}

    /// Counts a kept frame.
    open func count(_ frame: KeptFrame) throws {}
}

/// A kept frame of pass 2: its tuple and entity (the run's codes), and its measured fields as
/// pass 1 wrote them. Valid only during the observer's call.
public struct KeptFrame {
    public let tuple: Int
    public let entity: UInt32
    let frame: UnsafeRawBufferPointer
    /// Where the frame's measured ranges are, and where the bytes they count from start (a full
    /// frame's line, a repeat frame's rest).
    let ranges: Int
    let lineOffset: Int

    /// Measured field `index` as written; `afterDelimiter`: a delimiter precedes it in the
    /// line (it is not part of the field).
    public func measured(_ index: Int, afterDelimiter: Bool) -> FieldBytes {
        var start = Int(frame.loadUnaligned(fromByteOffset: ranges + 8 * index, as: UInt32.self).littleEndian)
        let end = Int(frame.loadUnaligned(fromByteOffset: ranges + 4 + 8 * index, as: UInt32.self).littleEndian)
        if afterDelimiter && start < end { start += 1 }
        return FieldBytes(UnsafeRawBufferPointer(rebasing: frame[(lineOffset + start)..<(lineOffset + end)]))
    }
}

/// A field's bytes in a buffer the engine lends for the length of a call.
public struct FieldBytes: RandomAccessCollection {
    let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public var startIndex: Int { 0 }
    public var endIndex: Int { bytes.count }
    public subscript(position: Int) -> UInt8 { bytes[position] }

    /// The field as a number with its places (`DecimalParse`); nil when it is not one.
    public var decimal: (value: Double, decimals: Int)? { DecimalParse.parse(bytes) }

    /// The field's value: without its quotes, when the writer quoted it.
    public func unquoted() -> [UInt8] {
        guard bytes.count >= 2, bytes.first == 0x22, bytes.last == 0x22 else { return Array(bytes) }
        var result: [UInt8] = []
        var index = 1
        while index < bytes.count - 1 {
            result.append(bytes[index])
            index += bytes[index] == 0x22 ? 2 : 1
        }
        return result
    }
}

/// Pass 2 of a privacy run: the spool read once through `copier`, the copied lines written
/// to `output` and fingerprinted (`digest`), each on a thread of its own and in order, so
/// that pass 2 keeps both cores busy (the copy is lighter than either).
public enum PassTwo {
    public static func run(
        spool: SpoolFile, copier: PassTwoCopier, frameHeader: Int, repeatHeader: Int, output: OutputFile,
        digest: OutputDigest?, progress: ((InputProgress) -> Void)?
    ) throws {
        let writer = OrderedWriter { chunk in try output.write(chunk) }
        let fingerprint = digest.map { digest in OrderedWriter { chunk in digest.update(chunk) } }
        let submit = { (chunk: OwnedBytes) throws in
            try writer.submit(chunk)
            try fingerprint?.submit(chunk)
        }
        // Each call consumes the whole frames it is given; the next asks for at least the frame
        // that did not fit.
        var minimum = SpoolFrame.leading
        do {
            while try spool.withUnread(
                atLeast: minimum,
                { frames in
                    let consumed = try copier.copy(
                        frames, frameHeader: frameHeader, repeatHeader: repeatHeader, write: submit)
                    minimum = consumed == 0 ? copier.needed : SpoolFrame.leading
                    return consumed
                })
            {
                progress?(
                    InputProgress(
                        consumed: spool.consumed, total: spool.size, decoded: spool.consumed,
                        phase: "second pass: writing"))
            }
            try copier.flush(submit)
        } catch {
            // Whatever failed, nothing is left writing behind it.
            _ = try? writer.finish()
            _ = try? fingerprint?.finish()
            throw error
        }
        try writer.finish()
        try fingerprint?.finish()
    }
}
