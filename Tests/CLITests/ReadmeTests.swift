import DeidTestSupport
import Foundation
import Testing

/// Docs that run: every ```console block in README.md is a command (`$ ...`) and its output.
/// Each block runs in a fresh directory holding a link to Datasets/, with the built tools first
/// on PATH, and must print exactly what the README shows (stdout and stderr together).
/// `DEID_RECORD_README=1 swift test --filter ReadmeTests` rewrites the README with real output.
@Suite("README tour")
struct ReadmeTests {
    struct Block {
        var command: String
        var expected: String
        var range: Range<String.Index>
    }

    static func blocks(in text: String) -> [Block] {
        var result: [Block] = []
        var searchStart = text.startIndex
        while let open = text.range(of: "```console\n", range: searchStart..<text.endIndex),
            let close = text.range(of: "```\n", range: open.upperBound..<text.endIndex)
        {
            let body = text[open.upperBound..<close.lowerBound]
            let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
            let command = String(lines[0].dropFirst(2))
            let output = lines.dropFirst().joined(separator: "\n")
            result.append(Block(command: command, expected: output, range: open.upperBound..<close.lowerBound))
            searchStart = close.upperBound
        }
        return result
    }

    @Test func everyBlockPrintsWhatTheReadmeShows() throws {
        let path = Paths.root + "/README.md"
        var text = String(decoding: try TemporaryDirectory.readFile(path), as: UTF8.self)
        let blocks = ReadmeTests.blocks(in: text)
        #expect(blocks.count >= 6)
        let record = ProcessInfo.processInfo.environment["DEID_RECORD_README"] == "1"
        for block in blocks.reversed() {
            #expect(["deid", "gzip", "printf", "export DEID_KEY="].contains { block.command.hasPrefix($0) })
            let directory = try TemporaryDirectory()
            try FileManager.default.createSymbolicLink(
                atPath: directory.file("Datasets"),
                withDestinationPath: Paths.root + "/Datasets")
            let result = try CLI.shell("{ \(block.command) ; } 2>&1", in: directory.path)
            if record {
                text.replaceSubrange(block.range, with: "$ \(block.command)\n\(result.stdout)")
            } else {
                #expect(result.stdout == block.expected, "$ \(block.command)")
            }
        }
        if record { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }
    }
}
