import DeidCSV
import DeidTestSupport
import Foundation
import Testing

/// A malformed input, and the position its error must name. Every bad row holds the word
/// SECRET, which must never appear in a message.
struct BadInput: Sendable, CustomTestStringConvertible {
    var name: String
    var file: String
    var bytes: [UInt8]
    /// The start of the expected message, after `deid: `.
    var expected: String
    var extraArguments: [String] = []
    var testDescription: String { name }
}

let badInputs: [BadInput] = [
    BadInput(
        name: "field count", file: "meters.csv",
        bytes: Array(("id,kwh\n" + String(repeating: "m1,0.5\n", count: 1203) + "m1,0.5,SECRET\n").utf8),
        expected: "meters.csv:1205: error: record 1204 has 3 fields; the header has 2"),
    BadInput(
        name: "stray quote", file: "q.csv", bytes: Array("id,kwh\nm1,0.5\nm2,SE\"CRET\n".utf8),
        expected: "q.csv:3: error: record 2, column 'kwh': malformed quoting"),
    BadInput(
        name: "unterminated quote", file: "u.csv", bytes: Array("id,kwh\nm1,0.5\nm2,\"SECRET\n".utf8),
        expected: "u.csv:3: error: record 2, column 'kwh': a quoted field is not closed before the end of the input"),
    BadInput(
        name: "field over the limit", file: "big.csv",
        bytes: Array(("id,note\nm1,\"" + String(repeating: "SECRET", count: 400_000) + "\"\n").utf8),
        expected: "big.csv:2: error: record 1, column 'note': a field is larger than the limit of 1 MiB",
        extraArguments: ["--max-field-size", "1"]),
    BadInput(
        name: "duplicate column", file: "dup.csv", bytes: Array("id,kwh,id\n1,2,SECRET\n".utf8),
        expected: "dup.csv:1: error: the header's column 3 repeats the name 'id' of column 1"),
    BadInput(name: "empty file", file: "empty.csv", bytes: [], expected: "empty.csv: error: the input is empty"),
    BadInput(
        name: "truncated gzip", file: "cut.csv.gz", bytes: [],
        expected: "cut.csv.gz: error: the gzip stream is truncated"),
    BadInput(
        name: "corrupt gzip", file: "bad.csv.gz", bytes: [], expected: "bad.csv.gz: error: the gzip stream is corrupt"),
]

@Suite("Bad input: exit 2, a position, no value, no output")
struct BadInputTests {
    func prepare(_ input: BadInput, in directory: TemporaryDirectory) throws {
        if input.file.hasSuffix(".gz") {
            let plain = "id,kwh\n" + (0..<20_000).map { "SECRET\($0),0.\($0)\n" }.joined()
            _ = try directory.write("whole.csv", Array(plain.utf8))
            try run("/bin/gzip", [directory.file("whole.csv")])
            var whole = try directory.read("whole.csv.gz")
            if input.file.hasPrefix("cut") {
                whole = Array(whole[0..<(whole.count * 2 / 3)])
            } else {
                whole[whole.count - 6] ^= 0xFF  // the CRC: every byte decodes, the check fails
            }
            _ = try directory.write(input.file, whole)
            try FileManager.default.removeItem(atPath: directory.file("whole.csv.gz"))
        } else {
            _ = try directory.write(input.file, input.bytes)
        }
    }

    @Test("convert", arguments: badInputs)
    func convert(_ input: BadInput) throws {
        let directory = try TemporaryDirectory()
        try prepare(input, in: directory)
        let result = try CLI.run(["convert", input.file, "-o", "out.csv"] + input.extraArguments, in: directory.path)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("deid: " + input.expected), "\(result.stderr)")
        #expect(!result.stderr.contains("SECRET") && !result.stdout.contains("SECRET"))
        #expect(try directory.listing() == [input.file], "no output, no temporary file")
    }

    @Test("profile", arguments: badInputs)
    func profile(_ input: BadInput) throws {
        let directory = try TemporaryDirectory()
        try prepare(input, in: directory)
        let result = try CLI.run(
            ["profile", input.file, "--policy-out", "policy.yaml"] + input.extraArguments,
            in: directory.path)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("deid: " + input.expected), "\(result.stderr)")
        #expect(!result.stderr.contains("SECRET") && !result.stdout.contains("SECRET"))
        #expect(try directory.listing() == [input.file])
    }

    @Test func invalidUTF8IsRefusedByProfile() throws {
        let directory = try TemporaryDirectory()
        _ = try directory.write("names.csv", Array("id,name\n1,Ann\n2,SECRET".utf8) + [0xE9] + Array("\n".utf8))
        let result = try CLI.run(["profile", "names.csv", "--policy-out", "p.yaml"], in: directory.path)
        #expect(result.status == 2)
        #expect(
            result.stderr.hasPrefix(
                "deid: names.csv:3: error: record 2, column 'name': the field is not valid UTF-8 (a Latin-1 or Windows-1252 file? read it with --encoding latin1"
            ))
        #expect(try directory.listing() == ["names.csv"])
    }

    @Test func refusesToWriteOverTheInput() throws {
        let directory = try TemporaryDirectory()
        let original = Array("id,kwh\nm1,0.5\n".utf8)
        _ = try directory.write("in.csv", original)
        for arguments in [
            ["convert", "in.csv", "-o", "in.csv"], ["convert", "in.csv", "-o", "./in.csv"],
            ["profile", "in.csv", "--policy-out", "in.csv"],
        ] {
            let result = try CLI.run(arguments, in: directory.path)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.contains("error: refusing to write"), "\(result.stderr)")
            #expect(try directory.read("in.csv") == original)
            #expect(try directory.listing() == ["in.csv"])
        }
    }

    @Test func missingFileAndUsageErrorsExitTwo() throws {
        let directory = try TemporaryDirectory()
        let missing = try CLI.run(["profile", "nope.csv"], in: directory.path)
        #expect(missing.status == 2)
        #expect(missing.stderr == "deid: nope.csv: error: cannot open: No such file or directory\n")
        let usage = try CLI.run(["profile"], in: directory.path)
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("Missing expected argument"))
        let delimiter = try CLI.run(["profile", "x.csv", "--delimiter", "x"], in: directory.path)
        #expect(delimiter.status == 2)
        #expect(delimiter.stderr.contains("--delimiter must be one of"))
        let unknown = try CLI.run(["frobnicate"], in: directory.path)
        #expect(unknown.status == 2)
    }

    @Test func interruptedGeneratorLeavesNoPartialOutput() throws {
        let directory = try TemporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binDirectory + "/deid-sample")
        process.arguments = ["--households", "3000", "--days", "365", "-o", "big.csv"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        process.standardError = Pipe()
        try process.run()
        try CLI.waitForAnEntry(in: directory)
        #expect(try directory.listing().first?.hasPrefix(".big.csv.deid-tmp-") == true)
        process.terminate()  // SIGTERM
        process.waitUntilExit()
        #expect(process.terminationStatus == 128 + SIGTERM)
        #expect(try directory.listing().isEmpty)
    }

    @Test func interruptLeavesNoPartialOutput() throws {
        let directory = try TemporaryDirectory()
        // deid has opened its temporary output: interrupt it mid-stream.
        let (process, input) = try CLI.convertMidStream(in: directory, rows: 200_000)
        #expect(try directory.listing().first?.hasPrefix(".out.csv.deid-tmp-") == true)
        process.interrupt()
        process.waitUntilExit()
        try? input.fileHandleForWriting.close()
        #expect(process.terminationStatus == 130)
        #expect(try directory.listing().isEmpty)
    }
}
