import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A directory built in a temporary place beside its destination and renamed into place only
/// when complete: readers see the whole release or none of it. Removed when abandoned, when the
/// process is interrupted, or when the value is released uncommitted.
public final class StagingDirectory {
    /// The final path.
    public let destination: String
    /// Where the files are written until commit.
    public let path: String
    private var committed = false
    /// Holds the directory's lock while the run lives (`TemporaryFiles`).
    private var lock: Int32

    /// Creates the staging directory for `destination`, which must not exist yet.
    public init(destination: String) throws {
        var trimmed = destination
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.destination = trimmed
        if FileManager.default.fileExists(atPath: trimmed) {
            throw CSVError(
                .cannotOpen(reason: "it already exists; a release is never overwritten"),
                at: InputPosition(source: trimmed))
        }
        let directory = PathName.directory(of: trimmed)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CSVError(
                .cannotOpen(reason: "its parent directory does not exist"), at: InputPosition(source: trimmed))
        }
        (path, lock) = try TemporaryFiles.createDirectory(for: trimmed)
    }

    deinit { if !committed { abandon() } }

    /// The path of `name` inside the staging directory.
    public func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Writes a small text file completely (and syncs it).
    public func write(text: String, to name: String) throws {
        let output = try OutputFile(path: file(name), compress: false)
        try output.write(text: text)
        try output.commit()
    }

    /// Renames the directory into place and syncs its parent.
    public func commit() throws {
        precondition(!committed, "commit twice")
        // mkdtemp made it private; a release gets the usual permissions.
        let mask = umask(0)
        umask(mask)
        chmod(path, 0o777 & ~mask)
        if rename(path, destination) != 0 {
            let reason = String(cString: strerror(errno))
            abandon()
            throw CSVError(.writeFailed(reason: reason), at: InputPosition(source: destination))
        }
        committed = true
        TemporaryFiles.unregister(path)
        close(lock)
        let fd = open(PathName.directory(of: destination), O_RDONLY | O_DIRECTORY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// Removes the staging directory and everything in it.
    public func abandon() {
        guard !committed else { return }
        committed = true
        try? FileManager.default.removeItem(atPath: path)
        TemporaryFiles.unregister(path)
        close(lock)
    }
}
