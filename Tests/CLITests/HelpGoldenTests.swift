import DeidTestSupport
import Foundation
import Testing

/// The help of every command, pinned in Tests/CLITests/Golden/. After a deliberate change,
/// re-record with `DEID_RECORD_GOLDEN=1 swift test --filter HelpGoldenTests` and review the diff.
@Suite("Help output")
struct HelpGoldenTests {
    static let commands: [(name: String, executable: String, arguments: [String])] = [
        ("deid", "deid", ["--help"]),
        ("deid-publish", "deid", ["publish", "--help"]),
        ("deid-apply", "deid", ["apply", "--help"]),
        ("deid-risk", "deid", ["risk", "--help"]),
        ("deid-link", "deid", ["link", "--help"]),
        ("deid-catalog", "deid", ["catalog", "--help"]),
        ("deid-profile", "deid", ["profile", "--help"]),
        ("deid-convert", "deid", ["convert", "--help"]),
        ("deid-split", "deid", ["split", "--help"]),
        ("deid-stats", "deid", ["stats", "--help"]),
        ("deid-plan", "deid", ["plan", "--help"]),
        ("deid-sample", "deid-sample", ["--help"]),
    ]

    @Test(arguments: HelpGoldenTests.commands.map(\.name))
    func helpMatchesGolden(name: String) throws {
        let command = try #require(HelpGoldenTests.commands.first { $0.name == name })
        let directory = try TemporaryDirectory()
        // A fixed width, so the wrapping does not depend on the terminal running the tests.
        let result = try CLI.shell(
            "COLUMNS=100 \(command.executable) \(command.arguments.joined(separator: " "))",
            in: directory.path)
        #expect(result.status == 0)
        let golden = Paths.root + "/Tests/CLITests/Golden/\(name).txt"
        if ProcessInfo.processInfo.environment["DEID_RECORD_GOLDEN"] == "1" {
            try Data(result.stdout.utf8).write(to: URL(fileURLWithPath: golden))
            return
        }
        let expected = String(decoding: try TemporaryDirectory.readFile(golden), as: UTF8.self)
        #expect(result.stdout == expected, "help of \(name) changed; re-record if deliberate")
    }
}
