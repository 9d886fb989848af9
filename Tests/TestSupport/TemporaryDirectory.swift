import Foundation

/// A fresh directory for one test, removed when the value goes away.
public final class TemporaryDirectory {
    public let path: String

    public init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/deid-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    /// The names in the directory, hidden ones included.
    public func listing() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

    public func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    /// Writes `text` as UTF-8 to `name`; returns its path.
    @discardableResult
    public func write(_ name: String, text: String) throws -> String { try write(name, Array(text.utf8)) }

    public func read(_ name: String) throws -> [UInt8] { try TemporaryDirectory.readFile(file(name)) }

    public static func readFile(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// Runs a program and returns its exit status.
@discardableResult
public func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}

/// Runs a program found on PATH (`["python3", "script.py", ...]`) and returns its exit status
/// and standard output (oracles, gzip).
public func output(of command: [String]) throws -> (status: Int32, stdout: Data) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = command
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, data)
}

/// Edits of policy texts that tests make.
public enum PolicyText {
    /// The text without its top-level `risk` section (the last section of the bundled
    /// policies), so that a test can give its own.
    public static func withoutRisk(_ text: String) -> String {
        var kept: [Substring] = []
        var inRisk = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("risk:") {
                inRisk = true
                continue
            }
            if inRisk && (line.hasPrefix(" ") || line.hasPrefix("#") || line.isEmpty) { continue }
            inRisk = false
            kept.append(line)
        }
        var result = kept.joined(separator: "\n")
        if !result.hasSuffix("\n") { result += "\n" }
        return result
    }

    /// A policy for the bundled sample with an `aggregate` section (its lines, indented by two):
    /// identifiers dropped, the postcode cut to its area (levels above it to merge into),
    /// every other column kept as read; `filter` is a whole `filter:` section, if any.
    public static func sampleAggregate(_ aggregate: String, dataset: String = "meter-areas", filter: String = "")
        -> String
    {
        """
        version: 1
        dataset: { name: \(dataset) }
        entity: meter_id
        \(filter)columns:
          meter_id:      { role: identifier, drop: true }
          customer_name: { role: identifier, drop: true }
          email:         { role: identifier, drop: true }
          postcode:      { role: quasi_identifier, generalize: { prefix: [4, 2, 1], level: 2 } }
          dwelling_type: { role: quasi_identifier }
          occupants:     { role: quasi_identifier }
          tariff:        { role: insensitive }
          reading_time:  { role: insensitive }
          kwh:           { role: sensitive }
        aggregate:
        \(aggregate)
        """
    }
}
