import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A temporary file written once and read back once, front to back (the records between the
/// two passes of a privacy-checked run). It is removed from the directory as soon as it is
/// created, so nothing is left behind whatever happens to the process; the space is freed when
/// the file is closed.
public final class SpoolFile {
    private var fd: Int32
    /// Bytes written.
    public private(set) var size = 0
    /// Bytes consumed since `rewind`.
    public private(set) var consumed = 0
    private var readBuffer: [UInt8] = []
    private var readStart = 0
    private var readEnd = 0
    private var reading = false

    /// Creates the spool in `directory` (the release's staging directory, or the output's).
    public init(directory: String) throws {
        var template = Array("\(directory)/.deid-spool-XXXXXX".utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw CSVError(
                .cannotOpen(reason: "cannot create a temporary file: \(String(cString: strerror(errno)))"),
                at: InputPosition(source: directory))
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Appends `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends a block's bytes handed over by a worker's memory writer.
    public func write(_ bytes: OwnedBytes) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends the bytes of `buffer`.
    public func write(_ buffer: UnsafeRawBufferPointer) throws {
        precondition(!reading, "the spool is being read")
        var offset = 0
        while offset < buffer.count {
            let done = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if done < 0 {
                if errno == EINTR { continue }
                throw CSVError(
                    .writeFailed(reason: "temporary file: \(String(cString: strerror(errno)))"),
                    at: InputPosition(source: "spool"))
            }
            offset += done
        }
        size += buffer.count
    }

    /// Starts reading from the beginning, `bufferSize` bytes at a time (more when a caller asks
    /// for more at once).
    public func rewind(bufferSize: Int = 4 << 20) throws {
        guard lseek(fd, 0, SEEK_SET) == 0 else {
            throw CSVError(
                .readFailed(reason: "temporary file: \(String(cString: strerror(errno)))"),
                at: InputPosition(source: "spool"))
        }
        reading = true
        readBuffer = [UInt8](repeating: 0, count: max(1, bufferSize))
        readStart = 0
        readEnd = 0
        consumed = 0
    }

    /// Calls `body` with the unread bytes, at least `minimum` of them; `body` returns how many
    /// it consumed. Returns false at the end of the file.
    /// - Throws: when the file ends with fewer than `minimum` bytes left (a spool cut short).
    public func withUnread(atLeast minimum: Int, _ body: (UnsafeRawBufferPointer) throws -> Int) throws -> Bool {
        if readEnd - readStart < minimum { try refill(minimum) }
        if readEnd == readStart { return false }
        if readEnd - readStart < minimum {
            throw CSVError(
                .readFailed(reason: "temporary file: it ends inside a record"), at: InputPosition(source: "spool"))
        }
        let consumed = try readBuffer.withUnsafeBytes { buffer in
            try body(UnsafeRawBufferPointer(rebasing: buffer[readStart..<readEnd]))
        }
        readStart += consumed
        self.consumed += consumed
        return true
    }

    private func refill(_ minimum: Int) throws {
        let pending = readEnd - readStart
        if pending > 0 && readStart > 0 {
            readBuffer.withUnsafeMutableBytes { buffer in
                buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + readStart, byteCount: pending)
            }
        }
        readStart = 0
        readEnd = pending
        if readBuffer.count < minimum { readBuffer += [UInt8](repeating: 0, count: minimum - readBuffer.count) }
        while readEnd < readBuffer.count {
            let got = readBuffer.withUnsafeMutableBytes { buffer in
                read(fd, buffer.baseAddress! + readEnd, buffer.count - readEnd)
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw CSVError(
                    .readFailed(reason: "temporary file: \(String(cString: strerror(errno)))"),
                    at: InputPosition(source: "spool"))
            }
            if got == 0 { break }
            readEnd += got
        }
    }
}
