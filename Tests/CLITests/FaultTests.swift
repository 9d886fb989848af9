import DeidTestSupport
import Foundation
import Testing

/// What `deid publish` leaves when things go wrong around it: an unreadable catalog, a kill at
/// each step of the commit and at random moments, concurrent gated publishes, a full disk, and
/// what a killed run leaves for the next one. Docs/SECURITY.md lists the promises these check.
@Suite("Faults: kills, concurrency, full disks, unreadable catalogs", .serialized)
struct FaultTests {
    static let environment = PublishCommandTests.environment
    static let sample = PublishCommandTests.sample
    static let policy = PublishCommandTests.policy

    /// The policy of the bundled sample with a linkage gate against the catalog.
    static func gatedPolicy(in directory: TemporaryDirectory) throws -> String {
        let text = String(decoding: try TemporaryDirectory.readFile(Self.policy), as: UTF8.self)
            .replacingOccurrences(of: "hierarchies/", with: Paths.root + "/Datasets/hierarchies/")
        return try directory.write(
            "gated.yaml", text: text + "linkage: { catalog: true, max_unique_link_share: 0.01 }\n")
    }

    /// Starts `deid` without waiting.
    static func launch(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws
        -> Process
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.deid)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// The releases in the catalog after a reader settled what killed runs left pending:
    /// id -> (location, pending).
    static func catalog(_ path: String, in directory: TemporaryDirectory) throws -> [String: (
        location: String, pending: Bool
    )] {
        let listed = try CLI.run(["catalog", "list", "--json", "--catalog-path", path], in: directory.path)
        #expect(listed.status == 0, "\(listed.stderr)")
        guard listed.stdout.hasPrefix("[") else { return [:] }
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        var result: [String: (location: String, pending: Bool)] = [:]
        for entry in entries {
            result[entry["id"] as! String] = (entry["location"] as! String, entry["status"] as? String == "pending")
        }
        return result
    }

    /// A release directory is whole: its manifest names it, its data matches the manifest's
    /// fingerprint, its report is there. Returns its release id.
    static func expectWhole(_ path: String) throws -> String {
        let manifestData = try Data(contentsOf: URL(fileURLWithPath: path + "/manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: manifestData) as? [String: Any])
        let data = try #require(manifest["data"] as? [String: Any])
        let file = try #require(data["file"] as? String)
        let (status, digest) = try output(of: ["sha256sum", path + "/" + file])
        #expect(status == 0)
        #expect(
            String(decoding: digest, as: UTF8.self).hasPrefix(data["sha256"] as! String),
            "\(path): data matches the manifest")
        #expect(FileManager.default.fileExists(atPath: path + "/report.md"))
        return try #require(manifest["release_id"] as? String)
    }

    /// The catalog and the directory agree: every release recorded is in place and published,
    /// every release in place is recorded.
    static func expectConsistent(catalogPath: String, in directory: TemporaryDirectory) throws {
        let recorded = try catalog(catalogPath, in: directory)
        for (id, entry) in recorded {
            #expect(!entry.pending, "\(id) settled")
            #expect(try expectWhole(entry.location) == id, "\(id) is in place")
        }
        for name in try directory.listing()
        where !name.hasPrefix(".") && FileManager.default.fileExists(atPath: directory.file(name) + "/manifest.json") {
            let id = try expectWhole(directory.file(name))
            #expect(recorded[id] != nil, "\(name) is recorded")
        }
    }

    @Test(arguments: ["random bytes", "a directory"])
    func anUnreadableCatalogStopsThePublishBeforeAnythingIsWritten(_ kind: String) throws {
        let directory = try TemporaryDirectory()
        if kind == "a directory" {
            try FileManager.default.createDirectory(
                atPath: directory.file("catalog.sqlite"), withIntermediateDirectories: false)
        } else {
            var random = TestRandom(seed: 5)
            _ = try directory.write("catalog.sqlite", (0..<8192).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        }
        let before = try directory.listing()
        let result = try CLI.run(
            ["publish", "-p", Self.policy, "-o", "release", "--catalog-path", "catalog.sqlite", Self.sample],
            in: directory.path, environment: Self.environment)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("deid: catalog.sqlite: cannot open the catalog"), "\(result.stderr)")
        #expect(try directory.listing() == before, "no release, no staging directory")
    }

    /// A kill at each step of the commit: before the catalog entry, between the pending entry
    /// and the rename, between the rename and the entry's confirmation. The catalog then lists
    /// the release exactly when its directory is in place, and the next run into the same
    /// place removes what the killed one left and says so.
    @Test(arguments: ["publish-before-record", "publish-after-record", "publish-after-rename"])
    func aKillAtEachCommitStepLeavesTheCatalogAndTheDirectoryInAgreement(_ point: String) throws {
        let directory = try TemporaryDirectory()
        let arguments = [
            "publish", "-p", Self.policy, "-o", "release", "--catalog-path", "catalog.sqlite", Self.sample,
        ]
        let killed = try CLI.run(
            arguments, in: directory.path, environment: Self.environment.merging(["DEID_FAULT_POINT": point]) { $1 })
        #expect(killed.status == 9, "killed at \(point)")
        let renamed = point == "publish-after-rename"
        #expect(FileManager.default.fileExists(atPath: directory.file("release")) == renamed)
        try Self.expectConsistent(catalogPath: "catalog.sqlite", in: directory)
        #expect(try Self.catalog("catalog.sqlite", in: directory).count == (renamed ? 1 : 0))
        let again = try CLI.run(
            arguments.map { $0 == "release" ? "second" : $0 }, in: directory.path, environment: Self.environment)
        #expect(again.status == 0, "\(again.stderr)")
        if !renamed {
            // The staging directory of the killed run was beside `release`: a run into `release` removes it.
            let third = try CLI.run(arguments, in: directory.path, environment: Self.environment)
            #expect(third.status == 0, "\(third.stderr)")
            #expect(
                third.stderr.contains("deid: note: removed .release.deid-tmp-")
                    && third.stderr.contains("left by a run that was killed"))
        }
        #expect(try directory.listing().filter { $0.contains(".deid-") }.isEmpty, "nothing temporary is left")
        try Self.expectConsistent(catalogPath: "catalog.sqlite", in: directory)
    }

    /// `kill -9` at random moments of a larger publish: never a partial release, never a
    /// catalog entry without its directory or a directory without its entry.
    @Test func randomKillsNeverLeaveAPartialRelease() throws {
        let directory = try TemporaryDirectory()
        for (name, households, days) in [("meters.csv", 60, 20), ("tiny.csv", 2, 1)] {
            let generated = try CLI.run(
                ["--households", "\(households)", "--days", "\(days)", "--seed", "9", "-o", name],
                in: directory.path, executable: CLI.binDirectory + "/deid-sample")
            #expect(generated.status == 0)
        }
        // How long a whole publish takes here: the kills fall anywhere in it.
        let started = Date()
        let whole = try CLI.run(
            ["publish", "-p", Self.policy, "-o", "whole", "--catalog-path", "catalog.sqlite", "meters.csv"],
            in: directory.path, environment: Self.environment)
        #expect(whole.status == 0, "\(whole.stderr)")
        let span = max(Int(Date().timeIntervalSince(started) * 1_000_000), 100_000)
        var random = TestRandom(seed: 19)
        var outcomes: [Int32: Int] = [:]
        for round in 0..<8 {
            let process = try Self.launch(
                ["publish", "-p", Self.policy, "-o", "r\(round)", "--catalog-path", "catalog.sqlite", "meters.csv"],
                in: directory.path, environment: Self.environment)
            usleep(UInt32(Int.random(in: 0...span, using: &random)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            outcomes[process.terminationStatus, default: 0] += 1
            if FileManager.default.fileExists(atPath: directory.file("r\(round)")) {
                _ = try Self.expectWhole(directory.file("r\(round)"))
            }
            try Self.expectConsistent(catalogPath: "catalog.sqlite", in: directory)
        }
        #expect(outcomes[9, default: 0] > 0, "some runs were killed: \(outcomes)")
        // A run into each place cleans up after the killed one.
        for round in 0..<8 where !FileManager.default.fileExists(atPath: directory.file("r\(round)")) {
            let result = try CLI.run(
                ["publish", "-p", Self.policy, "-o", "r\(round)", "--no-catalog", "tiny.csv"], in: directory.path,
                environment: Self.environment)
            #expect(result.status == 0, "\(result.stderr)")
        }
        #expect(try directory.listing().filter { $0.contains(".deid-") }.isEmpty, "nothing temporary is left")
    }

    /// Identical publishes started at once with a linkage gate against the catalog: checking
    /// the catalog and recording the release are one step, so exactly one commits and the
    /// others are refused by it (without a seed, each release's noise differs, so the others
    /// are not the same data as the first).
    @Test func concurrentGatedPublishesCommitExactlyOnce() throws {
        let directory = try TemporaryDirectory()
        let policy = try Self.gatedPolicy(in: directory)
        let processes = try (0..<6).map { index in
            try Self.launch(
                ["publish", "-p", policy, "-o", "release\(index)", "--catalog-path", "catalog.sqlite", Self.sample],
                in: directory.path, environment: Self.environment)
        }
        for process in processes { process.waitUntilExit() }
        let statuses = processes.map(\.terminationStatus).sorted()
        #expect(statuses == [0, 1, 1, 1, 1, 1], "one commits, the others are refused: \(statuses)")
        #expect(try Self.catalog("catalog.sqlite", in: directory).count == 1)
        #expect(try directory.listing().filter { $0.hasPrefix("release") }.count == 1)
        try Self.expectConsistent(catalogPath: "catalog.sqlite", in: directory)
    }

    /// A full disk where the release is written, and where the catalog is: exit 2, no release,
    /// nothing temporary, the catalog as it was.
    @Test func aFullDiskWritesNothing() throws {
        let directory = try TemporaryDirectory()
        let full = try FullDisk(in: directory)
        defer { full.unmount() }
        // The release on the full disk.
        let onFull = try CLI.run(
            ["publish", "-p", Self.policy, "-o", full.path + "/release", "--no-catalog", Self.sample],
            in: directory.path, environment: Self.environment)
        #expect(onFull.status == 2)
        #expect(onFull.stderr.contains("No space left on device"), "\(onFull.stderr)")
        #expect(try full.listing() == ["filler"])
        // The catalog on the full disk (made while there was room), the release elsewhere.
        try full.makeRoom()
        let first = try CLI.run(
            [
                "publish", "-p", Self.policy, "-o", "first", "--catalog-path", full.path + "/catalog.sqlite",
                Self.sample,
            ],
            in: directory.path, environment: Self.environment)
        #expect(first.status == 0, "\(first.stderr)")
        try full.fill()
        let second = try CLI.run(
            [
                "publish", "-p", Self.policy, "-o", "second", "--catalog-path", full.path + "/catalog.sqlite",
                Self.sample,
            ],
            in: directory.path, environment: Self.environment)
        #expect(second.status == 2)
        #expect(second.stderr.contains("catalog.sqlite"), "\(second.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("second")), "not renamed into place")
        try full.makeRoom()
        try Self.expectConsistent(catalogPath: full.path + "/catalog.sqlite", in: directory)
        #expect(try Self.catalog(full.path + "/catalog.sqlite", in: directory).count == 1)
        #expect(try directory.listing().filter { $0.contains(".deid-") }.isEmpty)
    }

    /// `convert` and `apply` killed outright leave their temporary output (no process is left
    /// to remove it); the next run into the same file removes it and says so.
    @Test func aKilledConvertIsCleanedUpByTheNextRun() throws {
        let directory = try TemporaryDirectory()
        let (process, input) = try CLI.convertMidStream(in: directory, rows: 100_000)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? input.fileHandleForWriting.close()
        let left = try directory.listing()
        #expect(left.count == 1 && left[0].hasPrefix(".out.csv.deid-tmp-"), "\(left)")
        _ = try directory.write("in.csv", text: "id,kwh\nm1,0.5\n")
        let next = try CLI.run(["convert", "in.csv", "-o", "out.csv"], in: directory.path)
        #expect(next.status == 0)
        #expect(next.stderr == "deid: note: removed \(left[0]), left by a run that was killed\n")
        #expect(try directory.listing() == ["in.csv", "out.csv"])
    }
}

/// A small filesystem (tmpfs, 2 MiB) mounted for one test and filled to the last byte, to see
/// what deid does on a full disk. Needs root, as `make test` runs.
final class FullDisk {
    let path: String

    init(in directory: TemporaryDirectory) throws {
        path = directory.file("full")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let mounted = try CLI.run(
            ["-c", "mount -t tmpfs -o size=2m tmpfs '\(path)'"], in: directory.path, executable: "/bin/sh")
        guard mounted.status == 0 else {
            throw Failure(
                description:
                    "cannot mount a tmpfs to fill (the fault tests run as root, as make test does): \(mounted.stderr)")
        }
        try fill()
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Writes a filler file until the filesystem is full.
    func fill() throws {
        let filler = path + "/filler"
        if !FileManager.default.fileExists(atPath: filler) {
            FileManager.default.createFile(atPath: filler, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: filler))
        defer { try? handle.close() }
        try handle.seekToEnd()
        let chunk = Data(repeating: 0x2A, count: 4096)
        while (try? handle.write(contentsOf: chunk)) != nil {}
        // The last bytes, one at a time.
        while (try? handle.write(contentsOf: Data([0x2A]))) != nil {}
    }

    /// Frees the filler's space.
    func makeRoom() throws { try FileManager.default.removeItem(atPath: path + "/filler") }

    func listing() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

    func unmount() { _ = try? CLI.run(["-c", "umount '\(path)'"], in: "/", executable: "/bin/sh") }
}
