import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The identity of a file on disk (device and inode), used to refuse writing over an input.
public struct FileIdentity: Sendable, Hashable {
    /// The device the file is on (`st_dev`).
    public var device: UInt64
    /// The file's inode number (`st_ino`).
    public var inode: UInt64

    /// The identity of the file at `path`, or nil when it does not exist.
    public static func of(path: String) -> FileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}

/// A stream of bytes to parse: a file, standard input, or bytes in memory. gzip is recognised by
/// its magic bytes (zlib's gzread decodes it, and passes plain data through unchanged), and
/// concatenated gzip members decode in full. A truncated or corrupt stream is an error, never a
/// short read.
public final class InputSource {
    private enum Backing {
        case zlib(gzFile)
        case memory(bytes: [UInt8], chunkSizes: [Int], offset: Int, chunkIndex: Int)
        case closed
    }

    private var backing: Backing
    /// The name used in messages: the path as given, or `<stdin>`.
    public let displayName: String
    /// The size of the underlying file in bytes (compressed size for gzip), when known.
    public let totalBytes: Int?
    /// The file's identity, when it is a file on disk.
    public let identity: FileIdentity?
    private var memoryConsumed = 0

    /// Opens `path`, or standard input when `path` is `-`.
    /// - Parameter bufferSize: zlib's internal buffer; 8 KiB (its default) is far too small.
    public init(path: String, bufferSize: Int = 1 << 20) throws {
        let fd: Int32
        if path == "-" {
            displayName = "<stdin>"
            fd = dup(0)
        } else {
            displayName = path
            fd = open(path, O_RDONLY | O_CLOEXEC)
        }
        guard fd >= 0 else {
            throw CSVError(.cannotOpen(reason: String(cString: strerror(errno))), at: InputPosition(source: displayName))
        }
        var info = stat()
        if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {
            totalBytes = Int(info.st_size)
            identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        } else if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            Glibc.close(fd)
            throw CSVError(.cannotOpen(reason: "it is a directory"), at: InputPosition(source: displayName))
        } else {
            totalBytes = nil
            identity = nil
        }
        guard let file = gzdopen(fd, "rb") else {
            Glibc.close(fd)
            throw CSVError(.cannotOpen(reason: "zlib could not open the stream"), at: InputPosition(source: displayName))
        }
        gzbuffer(file, UInt32(bufferSize))
        backing = .zlib(file)
    }

    /// Bytes in memory, handed out in the given chunk sizes (cycled; the last is repeated). For
    /// tests that feed a decoder in every chunking, and for small in-memory inputs.
    public init(bytes: [UInt8], chunkSizes: [Int] = [1 << 20], displayName: String = "<memory>") {
        precondition(!chunkSizes.isEmpty && chunkSizes.allSatisfy { $0 > 0 }, "chunk sizes must be positive")
        self.backing = .memory(bytes: bytes, chunkSizes: chunkSizes, offset: 0, chunkIndex: 0)
        self.displayName = displayName
        self.totalBytes = bytes.count
        self.identity = nil
    }

    deinit { close() }

    /// Releases the file. Further reads return end of input.
    public func close() {
        if case .zlib(let file) = backing { gzclose_r(file) }
        backing = .closed
    }

    /// How far a read has come: the share of the file consumed and the bytes decoded so far.
    public var progress: InputProgress {
        InputProgress(consumed: bytesConsumed, total: totalBytes, decoded: bytesDecoded)
    }

    /// Bytes handed out so far (after decompression).
    public private(set) var bytesDecoded = 0

    /// Bytes consumed from the underlying file so far (compressed bytes for gzip).
    public var bytesConsumed: Int {
        switch backing {
        case .zlib(let file): return Int(gzoffset(file))
        case .memory: return memoryConsumed
        case .closed: return totalBytes ?? 0
        }
    }

    /// True when the input was recognised as gzip. Only meaningful after the first read.
    public var isCompressed: Bool {
        if case .zlib(let file) = backing { return gzdirect(file) == 0 }
        return false
    }

    /// Reads up to `buffer.count` bytes; returns 0 at the end of the input.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = try readBacking(into: buffer)
        bytesDecoded += count
        return count
    }

    private func readBacking(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        switch backing {
        case .closed:
            return 0
        case .memory(let bytes, let sizes, let offset, let index):
            let size = sizes[min(index, sizes.count - 1)]
            let count = min(size, buffer.count, bytes.count - offset)
            guard count > 0 else { return 0 }
            bytes.withUnsafeBytes { source in
                buffer.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
            }
            backing = .memory(bytes: bytes, chunkSizes: sizes, offset: offset + count,
                              chunkIndex: index + 1 < sizes.count ? index + 1 : (sizes.count == 1 ? 0 : index))
            memoryConsumed = offset + count
            return count
        case .zlib(let file):
            let request = UInt32(min(buffer.count, Int(Int32.max)))
            let count = gzread(file, buffer.baseAddress, request)
            var code: Int32 = 0
            let text = gzerror(file, &code)
            if count < 0 || (code != Z_OK && code != Z_STREAM_END) {
                let reason = text.map { String(cString: $0) } ?? "unknown"
                let position = InputPosition(source: displayName)
                switch code {
                case Z_BUF_ERROR: throw CSVError(.truncatedGzip, at: position)
                case Z_DATA_ERROR: throw CSVError(.corruptGzip(reason: reason), at: position)
                case Z_MEM_ERROR: throw CSVError(.outOfMemory, at: position)
                case Z_ERRNO: throw CSVError(.readFailed(reason: String(cString: strerror(errno))), at: position)
                default: throw CSVError(.readFailed(reason: reason), at: position)
                }
            }
            return Int(count)
        }
    }
}

/// Progress through an input, for progress bars.
public struct InputProgress: Sendable, Equatable {
    /// Bytes consumed from the file (compressed bytes for gzip).
    public var consumed: Int
    /// The file's size, when known (not for a pipe).
    public var total: Int?
    /// Bytes decoded so far: the CSV text read.
    public var decoded: Int
    /// What the run is doing when it is not reading the input (a second pass), for people.
    public var phase: String?

    public init(consumed: Int, total: Int?, decoded: Int, phase: String? = nil) {
        self.consumed = consumed
        self.total = total
        self.decoded = decoded
        self.phase = phase
    }

    /// The share of the input consumed, from 0 to 1, when the size is known.
    public var fraction: Double? {
        guard let total, total > 0 else { return nil }
        return min(Double(consumed) / Double(total), 1)
    }
}
