import CZlib
@preconcurrency import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where output goes: a file written atomically, or standard output.
///
/// A file is written to a temporary file beside the destination and renamed into place by
/// `commit()`. If the run fails, `abandon()` (or deinit, or on an interrupt
/// the CLI's interrupt handler, through `TemporaryFiles.removeAll()`) removes the temporary
/// file: a failed run leaves no partial output. Devices and pipes (`/dev/null`, a FIFO) are
/// written directly.
public final class OutputFile {
    /// The name used in messages.
    public let displayName: String
    /// The final path, nil for standard output.
    public let destination: String?
    private let temporaryPath: String?
    private var fd: Int32
    /// The gzip stream, compressed on a second core while the caller goes on.
    private var compressor: BackgroundGzip?
    private var committed = false
    private var closed = false
    /// Early write-back of a file that `commit()` will sync: bytes written, and where the
    /// last write-back request ended.
    private var writtenBytes: Int64 = 0
    private var writeBackEnd: Int64 = 0
    /// True when the output is gzip-compressed.
    public let isCompressed: Bool

    /// Opens `path` for writing, or standard output when `path` is `-`.
    /// - Parameters:
    ///   - compress: gzip the output; nil means: when the name ends in `.gz`.
    ///   - compressionLevel: zlib level 1 (fastest) to 9 (smallest).
    ///   - inputs: files that must not be overwritten (the inputs of the run).
    public init(path: String, compress: Bool? = nil, compressionLevel: Int = 6, protecting inputs: [FileIdentity] = [])
        throws
    {
        let useGzip = compress ?? path.hasSuffix(".gz")
        isCompressed = useGzip
        if path == "-" {
            displayName = "<stdout>"
            destination = nil
            temporaryPath = nil
            fd = dup(1)
        } else {
            displayName = path
            destination = path
            if let existing = FileIdentity.of(path: path), inputs.contains(existing) {
                throw CSVError(.wouldOverwriteInput(output: path), at: InputPosition(source: path))
            }
            var info = stat()
            if stat(path, &info) == 0, (info.st_mode & S_IFMT) != S_IFREG {
                // A device or a pipe (/dev/null, /dev/stdout, a FIFO): write to it directly.
                if (info.st_mode & S_IFMT) == S_IFDIR {
                    throw CSVError(.cannotOpen(reason: "it is a directory"), at: InputPosition(source: path))
                }
                temporaryPath = nil
                fd = open(path, O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else {
                    throw CSVError(
                        .cannotOpen(reason: String(cString: strerror(errno))), at: InputPosition(source: path))
                }
                if useGzip { try openGzip(level: compressionLevel) }
                return
            }
            // Locked while this run lives: a later run removes it only once the lock is free.
            let (temporary, descriptor) = try TemporaryFiles.createFile(for: path)
            fd = descriptor
            temporaryPath = temporary
        }
        guard fd >= 0 else {
            throw CSVError(
                .cannotOpen(reason: String(cString: strerror(errno))), at: InputPosition(source: displayName))
        }
        if useGzip { try openGzip(level: compressionLevel) }
    }

    private func openGzip(level: Int) throws {
        guard let file = gzdopen(fd, "wb\(min(max(level, 1), 9))") else {
            abandon()
            throw CSVError(
                .cannotOpen(reason: "zlib could not open the stream"), at: InputPosition(source: displayName))
        }
        gzbuffer(file, 1 << 20)
        compressor = BackgroundGzip(file: file, writingBack: temporaryPath != nil ? fd : nil)
    }

    deinit { if !committed { abandon() } }

    /// Writes all of `buffer`.
    public func write(_ buffer: UnsafeRawBufferPointer) throws {
        guard var base = buffer.baseAddress, buffer.count > 0 else { return }
        if let compressor {
            if let problem = compressor.write(buffer) { throw failure(problem.reason, broken: problem.brokenPipe) }
            return
        }
        var remaining = buffer.count
        while remaining > 0 {
            let written = Glibc.write(fd, base, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw failure(String(cString: strerror(errno)), broken: errno == EPIPE)
            }
            remaining -= written
            base += written
        }
        if temporaryPath != nil {
            writtenBytes += Int64(buffer.count)
            if writtenBytes - writeBackEnd >= WriteBack.step {
                WriteBack.start(fd, from: writeBackEnd, count: writtenBytes - writeBackEnd)
                writeBackEnd = writtenBytes
            }
        }
    }

    /// Writes bytes (a block of CSV made by a memory writer).
    public func write(bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes a finished block handed over by a worker's memory writer.
    public func write(_ bytes: OwnedBytes) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes text as UTF-8.
    public func write(text: String) throws {
        var copy = text
        try copy.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Flushes, closes and renames the temporary file into place.
    public func commit() throws {
        precondition(!committed, "commit twice")
        try closeStream()
        if let temporaryPath, let destination {
            var mask = umask(0)
            umask(mask)
            mask = 0o666 & ~mask
            chmod(temporaryPath, mask)
            if rename(temporaryPath, destination) != 0 {
                let reason = String(cString: strerror(errno))
                unlink(temporaryPath)
                TemporaryFiles.unregister(temporaryPath)
                throw CSVError(.writeFailed(reason: reason), at: InputPosition(source: displayName))
            }
            TemporaryFiles.unregister(temporaryPath)
        }
        committed = true
    }

    /// Closes and removes the temporary file; the destination is untouched.
    public func abandon() {
        if !closed {
            closed = true
            if let compressor {
                _ = compressor.finish()
            } else {
                close(fd)
            }
        }
        if let temporaryPath {
            unlink(temporaryPath)
            TemporaryFiles.unregister(temporaryPath)
        }
    }

    private func closeStream() throws {
        guard !closed else { return }
        closed = true
        if let compressor {
            // fsync below needs the descriptor, which gzclose closes: flush, sync, then close.
            if let problem = compressor.finish(syncing: temporaryPath != nil ? fd : nil) {
                throw failure(problem.reason, broken: problem.brokenPipe)
            }
        } else {
            if temporaryPath != nil, fsync(fd) != 0, errno != EINVAL {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw failure(reason)
            }
            if close(fd) != 0 { throw failure(String(cString: strerror(errno))) }
        }
    }

    private func failure(_ reason: String, broken: Bool = false) -> Error {
        if broken { return BrokenPipe() }
        return CSVError(.writeFailed(reason: reason), at: InputPosition(source: displayName))
    }

}

/// The parts of a file path, by its last slash. (Foundation's NSString path methods crash on
/// some one-character paths in this toolchain.)
public enum PathName {
    /// The directory part: `.` when there is no slash, `/` for a file at the root.
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }

    /// The last component.
    public static func base(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

/// The process's limit on open files.
public enum OpenFileLimit {
    /// Raises the soft limit on open files, up to the hard limit, so that `count` more files
    /// can be open at once (a split into many parts); returns false when the hard limit is too
    /// low (opening then fails with a message naming the file).
    @discardableResult public static func allow(_ count: Int) -> Bool {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return false }
        let wanted = rlim_t(count + 64)
        if limit.rlim_cur >= wanted { return true }
        limit.rlim_cur = min(wanted, limit.rlim_max)
        return setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur >= wanted
    }
}

/// Starts the kernel writing a file's pages to disk while the run goes on, so that the sync
/// before the rename (the release is durable before it appears) finds little left to write.
/// Synced at the end only, a 650 MB output kept both cores idle for 0.28 s at the end of a
/// 4.8 s publish. Linux only (`sync_file_range` with `SYNC_FILE_RANGE_WRITE`, which does not
/// wait for the writing); elsewhere nothing is done and the final sync does it all.
enum WriteBack {
    /// Bytes written between two requests.
    static let step: Int64 = 16 << 20

    private typealias SyncFileRange = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32
    /// Not in Swift's Glibc module (it needs _GNU_SOURCE): looked up once.
    private static let syncFileRange: SyncFileRange? = {
        #if os(Linux)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range") else { return nil }
            return unsafeBitCast(symbol, to: SyncFileRange.self)
        #else
            return nil
        #endif
    }()

    /// Asks for `count` bytes from `offset` (0 for everything written so far) to be written
    /// out; returns false when the system cannot (a pipe, another system). A failure here is
    /// not an error: the final sync reports what matters.
    @discardableResult static func start(_ descriptor: Int32, from offset: Int64, count: Int64) -> Bool {
        guard let syncFileRange else { return false }
        return syncFileRange(descriptor, offset, count, 2 /* SYNC_FILE_RANGE_WRITE */) == 0
    }
}

/// A gzip stream written by a serial queue: `write` copies the block and returns at once, so
/// compressing runs on a second core while the caller parses the next block. At most two blocks
/// wait. The first failure is kept and reported by the next call.
final class BackgroundGzip: @unchecked Sendable {
    struct Problem: Sendable {
        var reason: String
        var brokenPipe: Bool
    }

    private let file: gzFile
    private let queue = DispatchQueue(label: "deid.gzip")
    private let slots = DispatchSemaphore(value: 2)
    private let problem = Mutex<Problem?>(nil)
    /// The descriptor to write back early (`WriteBack`), and the bytes given to zlib since the
    /// last request (queue only).
    private let writeBack: Int32?
    private nonisolated(unsafe) var sinceWriteBack: Int64 = 0

    init(file: gzFile, writingBack descriptor: Int32? = nil) {
        self.file = file
        writeBack = descriptor
    }

    /// Queues a copy of `buffer`; returns an earlier failure, if any.
    func write(_ buffer: UnsafeRawBufferPointer) -> Problem? {
        if let earlier = problem.withLock({ $0 }) { return earlier }
        let block = Array(buffer)
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            guard problem.withLock({ $0 }) == nil else { return }
            let written = block.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
            if written != block.count {
                let failure = describe()
                problem.withLock { $0 = failure }
            } else if let writeBack {
                // Compressed, the bytes are fewer; requests stay a few MiB apart.
                sinceWriteBack += Int64(block.count)
                if sinceWriteBack >= 4 * WriteBack.step {
                    WriteBack.start(writeBack, from: 0, count: 0)
                    sinceWriteBack = 0
                }
            }
        }
        return nil
    }

    /// Waits for the queued blocks, ends the stream (syncing `descriptor` to disk first, when
    /// given) and closes it; returns the first failure, if any.
    func finish(syncing descriptor: Int32? = nil) -> Problem? {
        queue.sync {}
        var failure = problem.withLock { $0 }
        if failure == nil, let descriptor {
            if gzflush(file, Z_FINISH) != Z_OK {
                failure = describe()
            } else if fsync(descriptor) != 0, errno != EINVAL {
                failure = Problem(reason: String(cString: strerror(errno)), brokenPipe: false)
            }
        }
        let status = gzclose_w(file)
        if failure == nil, status != Z_OK {
            failure = Problem(reason: "zlib could not finish the stream (code \(status))", brokenPipe: errno == EPIPE)
        }
        return failure
    }

    private func describe() -> Problem {
        var code: Int32 = 0
        let text = gzerror(file, &code)
        if code == Z_ERRNO {
            return Problem(reason: String(cString: strerror(errno)), brokenPipe: errno == EPIPE)
        }
        return Problem(reason: text.map { String(cString: $0) } ?? "unknown", brokenPipe: false)
    }
}

/// The reader of our output went away (`deid ... | head`): stop quietly.
public struct BrokenPipe: Error, Sendable {
    public init() {}
}
