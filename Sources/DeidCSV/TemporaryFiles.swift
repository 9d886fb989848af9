@preconcurrency import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Temporary output files and staging directories: created beside their destination, locked
/// while the run that made them lives, removed when it fails or is interrupted, and, when a
/// run was killed outright (`kill -9`, a power cut), removed by the next run into the same
/// place, which can tell they are dead because their lock is free.
///
/// Names: `.NAME.deid-tmp-XXXXXX` beside the destination `NAME`. Each is made under another name
/// (`.NAME.deid-new-XXXXXX`), locked (`flock`), then renamed, so a `deid-tmp` name is locked from
/// the moment it exists; a `deid-new` name is only ever left by a run killed within that step.
public enum TemporaryFiles {
    private static let paths = Mutex<Set<String>>([])
    private static let staleNotice = Mutex<(@Sendable (String) -> Void)?>(nil)

    static func register(_ path: String) { paths.withLock { _ = $0.insert(path) } }
    static func unregister(_ path: String) { paths.withLock { _ = $0.remove(path) } }

    /// Called with the path of every stale temporary file or directory removed (the command
    /// line says so on stderr).
    public static func onStaleRemoved(_ notice: @escaping @Sendable (String) -> Void) {
        staleNotice.withLock { $0 = notice }
    }

    /// Creates and locks a temporary file for `destination`, after removing stale ones; returns
    /// its path and descriptor (opened for writing, locked until it is closed).
    static func createFile(for destination: String) throws -> (path: String, fd: Int32) {
        removeStale(for: destination)
        let (directory, base) = (PathName.directory(of: destination), PathName.base(of: destination))
        var template = Array("\(directory)/.\(base).deid-new-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw CSVError(
                .cannotOpen(reason: String(cString: strerror(errno))), at: InputPosition(source: destination))
        }
        let made = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        do {
            return (try lockAndName(made, fd: fd, destination: destination), fd)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Creates and locks a temporary directory for `destination`, after removing stale ones;
    /// returns its path and the descriptor that holds the lock (close it to release).
    static func createDirectory(for destination: String) throws -> (path: String, lock: Int32) {
        removeStale(for: destination)
        let (directory, base) = (PathName.directory(of: destination), PathName.base(of: destination))
        var template = Array("\(directory)/.\(base).deid-new-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw CSVError(
                .cannotOpen(reason: String(cString: strerror(errno))), at: InputPosition(source: destination))
        }
        let made = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let fd = open(made, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            rmdir(made)
            throw CSVError(.cannotOpen(reason: reason), at: InputPosition(source: destination))
        }
        do {
            return (try lockAndName(made, fd: fd, destination: destination), fd)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Locks `made` through `fd` and renames it from its `deid-new` name to its `deid-tmp` name.
    private static func lockAndName(_ made: String, fd: Int32, destination: String) throws -> String {
        let named = made.replacingOccurrences(of: ".deid-new-", with: ".deid-tmp-", options: .backwards)
        guard flock(fd, LOCK_EX | LOCK_NB) == 0, rename(made, named) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: made)
            throw CSVError(.cannotOpen(reason: reason), at: InputPosition(source: destination))
        }
        register(named)
        return named
    }

    /// How old a `deid-new` name must be before a run that finds it unlocked removes it (it is
    /// unlocked for an instant while it is being made).
    static let newNameGrace: TimeInterval = 60

    /// Removes the temporary files and directories of `destination` whose run is dead (their
    /// lock is free), and says so through `onStaleRemoved`. Those of a live run are left.
    public static func removeStale(for destination: String) {
        let (directory, base) = (PathName.directory(of: destination), PathName.base(of: destination))
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        let current = ".\(base).deid-tmp-"
        let making = ".\(base).deid-new-"
        for name in names where name.hasPrefix(current) || name.hasPrefix(making) {
            let path = directory == "/" ? "/\(name)" : "\(directory)/\(name)"
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }  // a live run holds it
            if name.hasPrefix(making) {
                var info = stat()
                guard fstat(fd, &info) == 0, Date().timeIntervalSince1970 - Double(info.st_mtim.tv_sec) > newNameGrace
                else { continue }
            }
            if (try? FileManager.default.removeItem(atPath: path)) != nil {
                staleNotice.withLock { $0 }?(directory == "." ? name : path)
            }
        }
    }

    /// Removes every registered temporary file (from a signal handler's queue, before exiting).
    public static func removeAll() {
        paths.withLock { set in
            // Files first: a staging directory's files are registered too, and go with it.
            for path in set where unlink(path) != 0 { try? FileManager.default.removeItem(atPath: path) }
            set.removeAll()
        }
    }

    nonisolated(unsafe) private static var signalSources: [DispatchSourceSignal] = []

    /// On SIGINT, SIGTERM or SIGHUP: removes every temporary output file, calls `report` with
    /// the signal number, and exits with 128 + that number. Call once, at start-up.
    public static func removeAllOnInterrupt(report: @escaping @Sendable (Int32) -> Void) {
        signalSources = [SIGINT, SIGTERM, SIGHUP].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                removeAll()
                report(number)
                exit(128 + number)
            }
            source.resume()
            return source
        }
    }
}

/// An exclusive lock on a file (`flock`), held from `lock()` until `unlock()` or the end of the
/// process, however it ends: the kernel releases it when the process dies, so a killed run
/// never leaves it held.
public final class FileLock: @unchecked Sendable {
    public let path: String
    private let fd: Int32

    /// Opens (creating when missing) the lock file at `path`.
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
        guard fd >= 0 else {
            throw CSVError(.cannotOpen(reason: String(cString: strerror(errno))), at: InputPosition(source: path))
        }
    }

    deinit { close(fd) }

    /// Waits for the lock.
    public func lock() throws {
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            throw CSVError(
                .cannotOpen(reason: "cannot lock it: \(String(cString: strerror(errno)))"),
                at: InputPosition(source: path))
        }
    }

    /// Takes the lock if it is free; false when another process holds it.
    public func tryLock() -> Bool { flock(fd, LOCK_EX | LOCK_NB) == 0 }

    public func unlock() { flock(fd, LOCK_UN) }
}
