import DeidTestSupport
import Foundation
import Testing

/// The README's Swift example is the program the package builds as `deid-example`, without
/// package access (so it compiles against DeidKit's public API alone), and it publishes.
@Suite struct LibraryExampleTests {
    @Test func theReadmeShowsTheExampleThePackageBuilds() throws {
        let readme = String(decoding: try TemporaryDirectory.readFile(Paths.root + "/README.md"), as: UTF8.self)
        let example = String(
            decoding: try TemporaryDirectory.readFile(Paths.root + "/Examples/publish/main.swift"), as: UTF8.self)
        #expect(readme.contains("```swift\n" + example + "```\n"))
        let package = String(decoding: try TemporaryDirectory.readFile(Paths.root + "/Package.swift"), as: UTF8.self)
        #expect(package.contains(#"path: "Examples/publish", packageAccess: false"#))
    }

    @Test func theExamplePublishesTheSample() throws {
        let directory = try TemporaryDirectory()
        try FileManager.default.createSymbolicLink(
            atPath: directory.file("Datasets"), withDestinationPath: Paths.root + "/Datasets")
        let result = try CLI.run(
            [], in: directory.path, executable: CLI.binDirectory + "/deid-example",
            environment: ["DEID_KEY": "library-example-key-0123456789abcdef"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("policy for dataset 'smart-meter-readings'\npublished "), "\(result.stdout)")
        for file in ["manifest.json", "report.md", "report.json", "smart-meter-readings.csv"] {
            #expect(FileManager.default.fileExists(atPath: directory.file("example-release/" + file)), "\(file)")
        }
        let manifest =
            try JSONSerialization.jsonObject(
                with: Data(try TemporaryDirectory.readFile(directory.file("example-release/manifest.json"))))
            as? [String: Any]
        let rows = manifest?["rows"] as? [String: Int]
        #expect(
            result.stdout.contains("published \(rows?["out"] ?? -1) of \(rows?["in"] ?? -1) rows into example-release"))
        // Without the key the example reports the policy problem, and publishes nothing.
        let second = try TemporaryDirectory()
        try FileManager.default.createSymbolicLink(
            atPath: second.file("Datasets"), withDestinationPath: Paths.root + "/Datasets")
        var environment = ProcessInfo.processInfo.environment
        environment["DEID_KEY"] = nil
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binDirectory + "/deid-example")
        process.currentDirectoryURL = URL(fileURLWithPath: second.path)
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(printed.contains("not published: ") && printed.contains("DEID_KEY"), "\(printed)")
        #expect(!FileManager.default.fileExists(atPath: second.file("example-release")))
    }
}
