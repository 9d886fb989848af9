import DeidTestSupport
import Foundation

/// What a command printed and how it exited.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the built `deid` tools as a user would, each case in its own directory.
enum CLI {
    /// The directory holding the built executables (beside the test bundle).
    static let binDirectory: String = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" && !FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("deid").path)
        {
            url.deleteLastPathComponent()
        }
        return url.path
    }()

    static var deid: String { binDirectory + "/deid" }

    /// Runs `deid` with `arguments` in `directory`, feeding `input` to stdin.
    static func run(
        _ arguments: [String], in directory: String, input: Data? = nil,
        executable: String = CLI.deid, environment: [String: String] = [:]
    ) throws -> CommandResult {
        let process = Process()
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe()
        let err = Pipe()
        let inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        try process.run()
        // Read both pipes while the process runs, so a large output cannot block it.
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            outData = out.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        if let input { inPipe.fileHandleForWriting.write(input) }
        try inPipe.fileHandleForWriting.close()
        group.wait()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Starts `deid convert - -o out.csv` in `directory` and feeds it `rows` records on stdin,
    /// the pipe left open (the run is mid-stream); returns once its temporary output exists.
    static func convertMidStream(in directory: TemporaryDirectory, rows: Int) throws -> (process: Process, input: Pipe)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.deid)
        process.arguments = ["convert", "-", "-o", "out.csv"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        let input = Pipe()
        process.standardInput = input
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data(("id,kwh\n" + String(repeating: "m1,0.5\n", count: rows)).utf8))
        try waitForAnEntry(in: directory)
        return (process, input)
    }

    /// Waits (up to 30 s) until `directory` holds something: a run's temporary output.
    static func waitForAnEntry(in directory: TemporaryDirectory) throws {
        var waited = 0
        while try directory.listing().isEmpty && waited < 600 {
            usleep(50_000)
            waited += 1
        }
    }

    /// Runs a shell command line with the built tools first on PATH.
    static func shell(_ line: String, in directory: String, environment: [String: String] = [:]) throws -> CommandResult
    {
        let path = binDirectory + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        return try run(
            ["-c", "export PATH='\(path)'; set -o pipefail; \(line)"], in: directory, executable: "/bin/bash",
            environment: environment)
    }
}
