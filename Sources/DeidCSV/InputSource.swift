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

/// What `stat(2)` says of a path (following links), for the library's checks that are not about
/// reading: a key file's permissions, whether an output is a regular file.
public struct FileStatus: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case regular, directory, other }
    public var kind: Kind
    /// The permission bits (`st_mode & 0o7777`).
    public var permissions: UInt32

    /// The status of `path`, or nil when it does not exist or cannot be looked at.
    public static func of(path: String) -> FileStatus? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let type = info.st_mode & S_IFMT
        return FileStatus(
            kind: type == S_IFREG ? .regular : type == S_IFDIR ? .directory : .other,
            permissions: UInt32(info.st_mode & 0o7777))
    }
}

/// The character encoding of an input's text. Everything inside `deid` is UTF-8; an input in a
/// single-byte legacy encoding is converted as it is read (every byte of 0x80 or more becomes
/// the UTF-8 of its character), so that quotes, delimiters and line breaks are untouched.
public enum TextEncoding: String, Sendable, CaseIterable {
    case utf8 = "utf-8"
    /// ISO-8859-1: byte n is the character U+00nn.
    case latin1
    /// Windows' Western European code page: Latin-1 but for 0x80-0x9F (€, curly quotes, ...);
    /// its five unassigned bytes are read as the C1 controls Latin-1 has there.
    case windows1252 = "windows-1252"

    /// Parses `utf-8`, `utf8`, `latin1`, `latin-1`, `iso-8859-1`, `windows-1252`, `cp1252`
    /// (any case).
    public init?(argument: String) {
        switch argument.lowercased() {
        case "utf-8", "utf8": self = .utf8
        case "latin1", "latin-1", "iso-8859-1", "iso8859-1": self = .latin1
        case "windows-1252", "cp1252", "windows1252": self = .windows1252
        default: return nil
        }
    }

    /// The UTF-8 of each byte of 0x80 or more (index byte - 0x80), for the single-byte encodings.
    fileprivate var highBytes: [[UInt8]] {
        let windows: [UInt32] = [
            0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
            0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
            0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
        ]
        return (0x80...0xFF).map { byte -> [UInt8] in
            let scalar = self == .windows1252 && byte < 0xA0 ? windows[byte - 0x80] : UInt32(byte)
            return Array(String(Character(Unicode.Scalar(scalar)!)).utf8)
        }
    }
}

/// A stream of bytes to parse: a file, a named pipe, standard input, or bytes in memory.
///
/// `deid` reads the file itself (`read(2)` into a 1 MiB buffer) and decodes gzip, recognised by
/// its magic bytes, with zlib's inflate: concatenated members decode in full; a truncated or
/// corrupt stream, or bytes after the last member that are not another member, are errors that
/// name the byte offset in the file, never a short read. Every byte is read once, so named pipes
/// and standard input work like files, and `rawBytesObserver` sees the file's own bytes (for a
/// fingerprint) without a second read. A single-byte legacy encoding is converted to UTF-8 after
/// decompression.
public final class InputSource {
    private enum Backing {
        case descriptor(Int32)
        /// `pieces` read one after the other; `offset` is in `pieces[piece]`.
        case memory(pieces: [[UInt8]], chunkSizes: [Int], piece: Int, offset: Int, chunkIndex: Int)
        case closed
    }

    private var backing: Backing
    /// The name used in messages: the path as given, or `<stdin>`.
    public let displayName: String
    /// The size of the underlying file in bytes (compressed size for gzip), when known.
    public let totalBytes: Int?
    /// The file's identity, when it is a regular file on disk (not a pipe or a device).
    public let identity: FileIdentity?
    /// True when the input is gzip (its first bytes are gzip's magic number).
    public private(set) var isCompressed = false
    /// The encoding the input's text is converted from.
    public let encoding: TextEncoding
    /// Called with the file's bytes, in order, as they are consumed (compressed bytes for gzip,
    /// before any conversion of the encoding). Set it before the first read.
    public var rawBytesObserver: ((UnsafeRawBufferPointer) -> Void)?

    /// Raw bytes read from the descriptor and not yet consumed: `raw[rawStart..<rawEnd]`.
    private var raw: UnsafeMutableRawBufferPointer
    private var rawStart = 0
    private var rawEnd = 0
    private var rawEnded = false
    /// Raw bytes consumed (given to zlib, or handed out as they are).
    private var rawConsumed = 0
    private var memoryConsumed = 0
    /// zlib's state while a gzip member is being decoded.
    private var stream: UnsafeMutablePointer<z_stream>?
    private var inMember = false
    /// The UTF-8 of bytes 0x80-0xFF, and the decoded bytes waiting to be converted.
    private let conversion: [[UInt8]]?
    private var unconverted: UnsafeMutableRawBufferPointer?

    /// Opens `path`, or standard input when `path` is `-`, and reads its first bytes to tell
    /// gzip from plain text.
    /// - Parameter bufferSize: how many bytes of the file are read at a time.
    public init(path: String, encoding: TextEncoding = .utf8, bufferSize: Int = 1 << 20) throws {
        let name = path == "-" ? "<stdin>" : path
        let fd = path == "-" ? dup(0) : open(path, O_RDONLY | O_CLOEXEC)
        displayName = name
        self.encoding = encoding
        guard fd >= 0 else {
            throw CSVError(.cannotOpen(reason: String(cString: strerror(errno))), at: InputPosition(source: name))
        }
        var info = stat()
        if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {
            totalBytes = Int(info.st_size)
            identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        } else if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            Glibc.close(fd)
            throw CSVError(.cannotOpen(reason: "it is a directory"), at: InputPosition(source: name))
        } else {
            totalBytes = nil
            identity = nil
        }
        backing = .descriptor(fd)
        raw = .allocate(byteCount: max(bufferSize, 64), alignment: 16)
        conversion = encoding == .utf8 ? nil : encoding.highBytes
        // Two bytes tell gzip (0x1f 0x8b) from anything else; a pipe may hand them out one by one.
        while rawEnd < 2 && !rawEnded { try fillRaw() }
        if rawEnd >= 2 && raw[0] == 0x1F && raw[1] == 0x8B {
            isCompressed = true
            try startMember()
        }
    }

    /// Bytes in memory, handed out in the given chunk sizes (cycled; the last is repeated). For
    /// tests that feed a decoder in every chunking, and for small in-memory inputs.
    public convenience init(bytes: [UInt8], chunkSizes: [Int] = [1 << 20], displayName: String = "<memory>") {
        self.init(pieces: [bytes], chunkSizes: chunkSizes, displayName: displayName)
    }

    /// The bytes of `pieces`, one after the other, as one input (without copying them into one
    /// array: blocks read ahead are read again in place). A chunk ends at the end of a piece.
    public init(pieces: [[UInt8]], chunkSizes: [Int] = [1 << 20], displayName: String = "<memory>") {
        precondition(!chunkSizes.isEmpty && chunkSizes.allSatisfy { $0 > 0 }, "chunk sizes must be positive")
        self.backing = .memory(pieces: pieces, chunkSizes: chunkSizes, piece: 0, offset: 0, chunkIndex: 0)
        self.displayName = displayName
        self.totalBytes = pieces.reduce(0) { $0 + $1.count }
        self.identity = nil
        self.encoding = .utf8
        raw = .allocate(byteCount: 0, alignment: 16)
        conversion = nil
    }

    deinit {
        close()
        raw.deallocate()
        unconverted?.deallocate()
    }

    /// Releases the file. Further reads return end of input.
    public func close() {
        if case .descriptor(let fd) = backing { Glibc.close(fd) }
        if let stream {
            inflateEnd(stream)
            stream.deallocate()
            self.stream = nil
        }
        backing = .closed
    }

    /// How far a read has come: the share of the file consumed and the bytes decoded so far.
    public var progress: InputProgress {
        InputProgress(consumed: bytesConsumed, total: totalBytes, decoded: bytesDecoded)
    }

    /// Bytes handed out so far (after decompression and conversion).
    public private(set) var bytesDecoded = 0

    /// Bytes consumed from the underlying file so far (compressed bytes for gzip).
    public var bytesConsumed: Int {
        switch backing {
        case .descriptor: return rawConsumed
        case .memory: return memoryConsumed
        case .closed: return totalBytes ?? rawConsumed
        }
    }

    /// Reads up to `buffer.count` bytes; returns 0 at the end of the input.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        let count: Int
        if let conversion {
            count = try readConverted(into: buffer, conversion)
        } else {
            count = try readDecoded(into: buffer)
        }
        bytesDecoded += count
        return count
    }

    // MARK: - Plain and gzip

    /// Reads up to `buffer.count` decoded bytes (before any conversion of the encoding).
    private func readDecoded(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        switch backing {
        case .closed:
            return 0
        case .memory(let pieces, let sizes, var piece, var offset, let index):
            while piece < pieces.count && offset == pieces[piece].count {
                piece += 1
                offset = 0
            }
            guard piece < pieces.count else { return 0 }
            let size = sizes[min(index, sizes.count - 1)]
            let count = min(size, buffer.count, pieces[piece].count - offset)
            guard count > 0 else { return 0 }
            pieces[piece].withUnsafeBytes { source in
                buffer.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
            }
            backing = .memory(
                pieces: pieces, chunkSizes: sizes, piece: piece, offset: offset + count,
                chunkIndex: index + 1 < sizes.count ? index + 1 : (sizes.count == 1 ? 0 : index))
            memoryConsumed += count
            return count
        case .descriptor(let fd):
            return isCompressed ? try inflate(into: buffer) : try readPlain(fd, into: buffer)
        }
    }

    /// Plain text: what is left of the buffered first bytes, then straight from the file into
    /// the caller's buffer.
    private func readPlain(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if rawStart < rawEnd {
            let count = min(buffer.count, rawEnd - rawStart)
            buffer.baseAddress!.copyMemory(from: raw.baseAddress! + rawStart, byteCount: count)
            consumeRaw(UnsafeRawBufferPointer(start: raw.baseAddress! + rawStart, count: count))
            rawStart += count
            return count
        }
        guard !rawEnded else { return 0 }
        let count = try readSome(fd, into: buffer)
        if count == 0 { rawEnded = true }
        consumeRaw(UnsafeRawBufferPointer(start: buffer.baseAddress!, count: count))
        return count
    }

    private func consumeRaw(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        rawConsumed += bytes.count
        rawBytesObserver?(bytes)
    }

    /// One `read(2)`, retried when interrupted.
    private func readSome(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw CSVError(
                .readFailed(reason: String(cString: strerror(errno))), at: InputPosition(source: displayName))
        }
    }

    /// Appends what the file holds next to the unconsumed raw bytes (moving them to the
    /// buffer's start first); sets `rawEnded` at the end of the file.
    private func fillRaw() throws {
        guard case .descriptor(let fd) = backing, !rawEnded else { return }
        if rawStart > 0 {
            let left = rawEnd - rawStart
            if left > 0 { raw.baseAddress!.copyMemory(from: raw.baseAddress! + rawStart, byteCount: left) }
            rawStart = 0
            rawEnd = left
        }
        guard rawEnd < raw.count else { return }
        let count = try readSome(
            fd, into: UnsafeMutableRawBufferPointer(start: raw.baseAddress! + rawEnd, count: raw.count - rawEnd))
        if count == 0 { rawEnded = true }
        rawEnd += count
    }

    /// Begins decoding a gzip member at `rawStart` (the magic bytes were checked).
    private func startMember() throws {
        if stream == nil {
            let fresh = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            fresh.initialize(to: z_stream())
            let status = deid_inflate_init_gzip(fresh)
            guard status == Z_OK else {
                fresh.deallocate()
                throw CSVError(
                    status == Z_MEM_ERROR ? .outOfMemory : .readFailed(reason: "zlib could not start (code \(status))"),
                    at: InputPosition(source: displayName))
            }
            stream = fresh
        } else {
            inflateReset(stream)
        }
        inMember = true
    }

    /// Decodes gzip into `buffer`: member after member, until the file ends after a complete
    /// member. Returns 0 at the end.
    private func inflate(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let stream else { return 0 }
        var produced = 0
        while produced == 0 {
            if !inMember {
                // Between members: the end of the file, or the magic bytes of another member.
                while rawEnd - rawStart < 2 && !rawEnded { try fillRaw() }
                let left = rawEnd - rawStart
                if left == 0 { return 0 }
                if left >= 2 && raw[rawStart] == 0x1F && raw[rawStart + 1] == 0x8B {
                    try startMember()
                } else {
                    throw CSVError(.trailingData(offset: rawConsumed), at: InputPosition(source: displayName))
                }
            }
            if rawStart == rawEnd {
                try fillRaw()
                if rawStart == rawEnd {
                    throw CSVError(.truncatedGzip(offset: rawConsumed), at: InputPosition(source: displayName))
                }
            }
            let input = raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + rawStart
            stream.pointee.next_in = input
            stream.pointee.avail_in = UInt32(rawEnd - rawStart)
            stream.pointee.next_out = (buffer.baseAddress! + produced).assumingMemoryBound(to: UInt8.self)
            stream.pointee.avail_out = UInt32(min(buffer.count - produced, Int(UInt32.max)))
            let status = CZlib.inflate(stream, Z_NO_FLUSH)
            let used = rawEnd - rawStart - Int(stream.pointee.avail_in)
            let offsetBefore = rawConsumed
            consumeRaw(UnsafeRawBufferPointer(start: input, count: used))
            rawStart += used
            produced = buffer.count - Int(stream.pointee.avail_out)
            switch status {
            case Z_OK:
                break
            case Z_STREAM_END:
                inMember = false
            case Z_BUF_ERROR:
                // No progress: more input is needed (the loop reads it, or reports truncation).
                if used == 0 && produced == 0 && rawEnded && rawStart == rawEnd {
                    throw CSVError(.truncatedGzip(offset: rawConsumed), at: InputPosition(source: displayName))
                }
            case Z_MEM_ERROR:
                throw CSVError(.outOfMemory, at: InputPosition(source: displayName))
            default:
                let reason = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                throw CSVError(
                    .corruptGzip(reason: reason, offset: offsetBefore + used), at: InputPosition(source: displayName))
            }
        }
        return produced
    }

    // MARK: - Legacy encodings

    /// Decodes at most a third of `buffer` and converts it to UTF-8 into `buffer` (no
    /// character takes more than three bytes).
    private func readConverted(into buffer: UnsafeMutableRawBufferPointer, _ conversion: [[UInt8]]) throws -> Int {
        let want = max(1, buffer.count / 3)
        if unconverted == nil || unconverted!.count < want {
            unconverted?.deallocate()
            unconverted = .allocate(byteCount: want, alignment: 16)
        }
        let scratch = UnsafeMutableRawBufferPointer(rebasing: unconverted![0..<want])
        let count = try readDecoded(into: scratch)
        var written = 0
        let output = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        for index in 0..<count {
            let byte = scratch[index]
            if byte < 0x80 {
                output[written] = byte
                written += 1
            } else {
                for unit in conversion[Int(byte) - 0x80] {
                    output[written] = unit
                    written += 1
                }
            }
        }
        return written
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
