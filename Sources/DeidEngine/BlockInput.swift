import Crypto
import DeidCSV
import Foundation

/// One input of a run, cut into blocks of whole records. The first block is read at once, to
/// learn the header (and the delimiter) before the policy is loaded. Every byte of the input is
/// read once: a sample of its first records (`sample`) is read ahead and handed out again by
/// `nextBlock`, and its fingerprint is taken as it is read, so named pipes and standard input
/// work like files.
public final class BlockInput {
    public let source: InputSource
    private let splitter: CSVBlockSplitter
    /// Blocks read ahead (the header's, and those a sample took), still to be handed out.
    private var pending: [CSVBlock] = []
    public let header: CSVHeader
    public let delimiter: CSVDelimiter
    public let options: CSVReadOptions
    /// The SHA-256 of a plain UTF-8 input, from its blocks as they are handed out (on a queue
    /// of its own); of any other input (gzip, a converted encoding), from the file's bytes as
    /// they are read.
    private var blockDigest: BlockDigest?
    private var rawDigest: RawDigest?
    private var handedOutAll = false
    private var handedOutAny = false

    /// Opens `path` (`-` for standard input) and reads its header.
    /// - Parameter fingerprint: take the SHA-256 of the input's bytes while it is read
    ///   (`fingerprint()`).
    public init(path: String, options: CSVReadOptions, blockSize: Int = 2 << 20, fingerprint: Bool = false) throws {
        source = try InputSource(path: path, encoding: options.encoding)
        if fingerprint {
            if source.isCompressed || options.encoding != .utf8 {
                let digest = RawDigest()
                source.rawBytesObserver = { digest.update($0) }
                rawDigest = digest
            } else {
                blockDigest = BlockDigest()
            }
        }
        splitter = CSVBlockSplitter(source: source, blockSize: blockSize, maxRecordBytes: options.maxRecordBytes)
        guard var first = try splitter.next() else {
            throw CSVError(.emptyInput, at: InputPosition(source: source.displayName))
        }
        var reader: CSVReader
        while true {
            do {
                reader = try CSVReader(
                    source: InputSource(
                        bytes: first.bytes, chunkSizes: [options.chunkSize], displayName: source.displayName),
                    options: options, endsInsideRecord: first.endsInsideRecord)
                break
            } catch let error as CSVError where error.kind == .emptyInput {
                // Blank lines only, so far: the header comes in a later block.
                guard let next = try splitter.next() else { throw error }
                first = first.joined(with: next)
            }
        }
        header = reader.header
        delimiter = reader.delimiter
        var fixed = options
        fixed.delimiter = reader.delimiter
        self.options = fixed
        pending = [first]
    }

    /// The first block (the header and the records after it, up to 64 KiB), when it has not
    /// been handed out yet.
    public var pendingFirstBlock: CSVBlock? { handedOutAny ? nil : pending.first }

    /// The first `limit` bytes or more of whole records (the header included), read ahead, as
    /// the blocks that hold them (not copied into one array): `nextBlock` still hands out every
    /// block from the first. Before any block was handed out.
    public func sample(bytes limit: Int) throws -> (pieces: [[UInt8]], endsInsideRecord: Bool) {
        precondition(!handedOutAny, "a sample is taken before the pass")
        var total = pending.reduce(0) { $0 + $1.bytes.count }
        while total < limit || pending.last?.endsInsideRecord == true, let next = try splitter.next() {
            pending.append(next)
            total += next.bytes.count
        }
        return (pending.map(\.bytes), pending.last?.endsInsideRecord ?? false)
    }

    public func nextBlock() throws -> CSVBlock? {
        handedOutAny = true
        let block: CSVBlock
        if !pending.isEmpty {
            block = pending.removeFirst()
        } else {
            guard let next = try splitter.next() else {
                handedOutAll = true
                return nil
            }
            block = next
        }
        blockDigest?.add(block.bytes)
        return block
    }

    /// A reader for one of this input's blocks: its first block starts with the header; any
    /// other is read with the header already known, its lines and records counted from its start.
    public func reader(for block: CSVBlock, first: Bool) throws -> CSVReader {
        let name = source.displayName
        if first {
            return try CSVReader(
                source: InputSource(bytes: block.bytes, chunkSizes: [options.chunkSize], displayName: name),
                options: options, endsInsideRecord: block.endsInsideRecord)
        }
        return CSVReader(
            block: block.bytes, header: header, delimiter: delimiter, options: options, displayName: name,
            endsInsideRecord: block.endsInsideRecord)
    }

    /// The SHA-256 of the input's bytes as stored (compressed bytes for gzip), once every block
    /// was handed out; nil before, or when it was not asked for.
    public func fingerprint() -> String? {
        guard handedOutAll else { return nil }
        return blockDigest?.finish() ?? rawDigest?.finish()
    }
}

/// SHA-256 of byte arrays given in order, hashed on a serial queue; at most 4 arrays wait.
final class BlockDigest: @unchecked Sendable {
    private let queue = DispatchQueue(label: "deid.block-digest")
    private let room = DispatchSemaphore(value: 4)
    private var hasher = SHA256()

    func add(_ bytes: [UInt8]) {
        room.wait()
        queue.async { [self] in
            hasher.update(data: bytes)
            room.signal()
        }
    }

    /// Waits for the arrays given so far and returns their digest in hex.
    func finish() -> String {
        queue.sync { hex(hasher.finalize()) }
    }
}

/// SHA-256 of bytes given in order, hashed at once on the reading thread (a gzip file's bytes
/// are a fraction of what it decodes to).
final class RawDigest {
    private var hasher = SHA256()
    func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }
    func finish() -> String { hex(hasher.finalize()) }
}

/// The SHA-256 of an output, from its bytes in the order they are written (a release's
/// fingerprint, taken while it is written instead of reading the file again).
public final class OutputDigest: @unchecked Sendable {
    private var hasher = SHA256()
    /// Whether any bytes were given (a pass that writes through another path gives none).
    public private(set) var isUsed = false

    public init() {}

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        isUsed = true
    }

    public func update(_ bytes: OwnedBytes) {
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        isUsed = true
    }

    /// The digest in hex; the digest takes no more bytes.
    public func finish() -> String { hex(hasher.finalize()) }
}

/// SHA-256 fingerprints of whole files and of bytes, in hex: a written release, a linkage
/// input named by path (`BlockInput` fingerprints its input as it reads it).
public enum Fingerprint {
    /// - Complexity: reads the whole file.
    public static func sha256(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CSVError(.cannotOpen(reason: "cannot read it to fingerprint it"), at: InputPosition(source: path))
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hex(hasher.finalize())
    }

    public static func sha256(of bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }
}

/// A digest in lower-case hex.
func hex(_ digest: some Sequence<UInt8>) -> String { digest.map { String(format: "%02x", $0) }.joined() }
