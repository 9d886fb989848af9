import DeidCSV
import DeidTestSupport
import Foundation
import Testing
import Yams

@Suite("deid commands")
struct CommandTests {
    static let sample = Paths.root + "/Datasets/smart_meter_sample.csv"

    @Test func profileJSONHasTheFixedKeys() throws {
        let directory = try TemporaryDirectory()
        let result = try CLI.run(["profile", CommandTests.sample, "--json"], in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["rows"] as? Int == 40_320)
        let columns = try #require(object["columns"] as? [[String: Any]])
        #expect(columns.compactMap { $0["name"] as? String } == ["meter_id", "customer_name", "email", "postcode",
                                                                 "dwelling_type", "occupants", "tariff", "reading_time", "kwh"])
        #expect(columns.compactMap { $0["role"] as? String } == ["entity", "identifier", "identifier", "quasi_identifier",
                                                                 "quasi_identifier", "quasi_identifier", "quasi_identifier",
                                                                 "timestamp", "sensitive"])
        for column in columns {
            #expect(column["distinct_exact"] as? Bool == true)
            #expect((column["reason"] as? String)?.isEmpty == false)
            #expect(column["empty"] is Int && column["type"] is String && column["distinct"] is Int)
        }
    }

    @Test func profileFromStdinAndGzip() throws {
        let directory = try TemporaryDirectory()
        let plain = try CLI.run(["profile", CommandTests.sample, "--json"], in: directory.path)
        let gzipped = try CLI.shell("gzip -c '\(CommandTests.sample)' | deid profile - --json", in: directory.path)
        #expect(gzipped.status == 0, "\(gzipped.stderr)")
        // The same profile, apart from the file name and the compression flag.
        #expect(gzipped.stdout.replacingOccurrences(of: "\"compressed\" : true", with: "\"compressed\" : false")
                    .replacingOccurrences(of: "<stdin>", with: CommandTests.sample) == plain.stdout)
    }

    @Test func policyOutWritesALoadableStarterPolicy() throws {
        let directory = try TemporaryDirectory()
        let result = try CLI.run(["profile", CommandTests.sample, "--policy-out", "policy.yaml"], in: directory.path)
        #expect(result.status == 0)
        #expect(result.stderr.contains("wrote a starter policy to policy.yaml"))
        let text = String(decoding: try directory.read("policy.yaml"), as: UTF8.self)
        let policy = try #require(try Yams.load(yaml: text) as? [String: Any])
        #expect((policy["columns"] as? [String: Any])?.count == 9)
        #expect((policy["dataset"] as? [String: Any])?["name"] as? String == "smart_meter_sample")
    }

    @Test func convertRoundTripsGzipAndDelimiters() throws {
        let directory = try TemporaryDirectory()
        let toGzip = try CLI.run(["convert", CommandTests.sample, "-o", "copy.csv.gz", "--output-delimiter", ";"],
                                 in: directory.path)
        #expect(toGzip.status == 0, "\(toGzip.stderr)")
        #expect(try run("/bin/gzip", ["-t", directory.file("copy.csv.gz")]) == 0)
        let back = try CLI.run(["convert", "copy.csv.gz", "-o", "back.csv", "--output-delimiter", ","], in: directory.path)
        #expect(back.status == 0)
        #expect(try directory.read("back.csv") == TemporaryDirectory.readFile(CommandTests.sample))
        #expect(try directory.listing() == ["back.csv", "copy.csv.gz"])
    }

    @Test func devicesAreWrittenDirectly() throws {
        // /dev/null is not a regular file: no temporary file beside it, no rename.
        let directory = try TemporaryDirectory()
        let result = try CLI.run(["convert", CommandTests.sample, "-o", "/dev/null"], in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let toStdout = try CLI.run(["convert", CommandTests.sample, "-o", "/dev/stdout"], in: directory.path)
        #expect(toStdout.status == 0)
        #expect(Array(toStdout.stdout.utf8) == (try TemporaryDirectory.readFile(CommandTests.sample)))
        let toDirectory = try CLI.run(["convert", CommandTests.sample, "-o", directory.path], in: directory.path)
        #expect(toDirectory.status == 2)
        #expect(toDirectory.stderr.contains("error: cannot open: it is a directory"))
    }

    @Test func brokenPipeEndsQuietly() throws {
        let directory = try TemporaryDirectory()
        let result = try CLI.shell("deid convert '\(CommandTests.sample)' | head -n 2", in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        #expect(result.stdout.split(separator: "\n").count == 2)
        // The same through the background gzip stream.
        let gzipped = try CLI.shell("deid convert '\(CommandTests.sample)' --compress | head -c 100 > /dev/null",
                                    in: directory.path)
        #expect(gzipped.status == 0, "\(gzipped.stderr)")
        #expect(gzipped.stderr.isEmpty)
    }

    @Test func helpShowsExamples() throws {
        let directory = try TemporaryDirectory()
        for command in ["profile", "convert"] {
            let result = try CLI.run([command, "--help"], in: directory.path)
            #expect(result.status == 0)
            #expect(result.stdout.contains("Examples:"))
            #expect(result.stdout.contains("deid \(command) "))
        }
        let sample = try CLI.run(["--help"], in: directory.path, executable: CLI.binDirectory + "/deid-sample")
        #expect(sample.status == 0 && sample.stdout.contains("--households"))
    }

    @Test func sampleGeneratorCommandMatchesTheBundledSample() throws {
        let directory = try TemporaryDirectory()
        let result = try CLI.run(["--households", "30", "--days", "28", "--seed", "42", "-o", "sample.csv"],
                                 in: directory.path, executable: CLI.binDirectory + "/deid-sample")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try directory.read("sample.csv") == TemporaryDirectory.readFile(CommandTests.sample))
    }
}
