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
        #expect(
            columns.compactMap { $0["name"] as? String } == [
                "meter_id", "customer_name", "email", "postcode",
                "dwelling_type", "occupants", "tariff", "reading_time", "kwh",
            ])
        #expect(
            columns.compactMap { $0["role"] as? String } == [
                "entity", "identifier", "identifier", "quasi_identifier",
                "quasi_identifier", "quasi_identifier", "quasi_identifier",
                "timestamp", "sensitive",
            ])
        for column in columns {
            #expect(column["distinct_exact"] as? Bool == true)
            #expect((column["reason"] as? String)?.isEmpty == false)
            #expect(column["empty"] is Int && column["type"] is String && column["distinct"] is Int)
        }
    }

    /// Usage mistakes get a message that says what is wrong (an empty file name, a negative
    /// seed, a command that does not exist even with --help), and exit 2.
    @Test func usageMistakesAreNamed() throws {
        let directory = try TemporaryDirectory()
        let cases: [([String], String)] = [
            (["convert", Self.sample, "-o", ""], "Error: --output needs a file name; an empty one was given"),
            (
                ["publish", "-p", "p.yaml", "-o", "", Self.sample],
                "Error: --out needs a file name; an empty one was given"
            ),
            (
                ["apply", "-p", "p.yaml", Self.sample, ""],
                "Error: the output needs a file name; an empty one was given"
            ),
            (
                ["apply", "-p", "p.yaml", "--seed", "-1", Self.sample, "out.csv"],
                "Error: The value '-1' is invalid for '--seed <n>': a seed is a whole number from 0 to 18446744073709551615"
            ),
            (
                ["risk", Self.sample, "-q", "postcode", "--seed", "x"],
                "Error: The value 'x' is invalid for '--seed <n>': a seed is a whole number from 0 to 18446744073709551615"
            ),
            (
                ["summary", "--help"],
                "deid: unknown command 'deid summary' (commands: publish, apply, risk, link, catalog, profile, convert, split, stats, plan)"
            ),
            (
                ["catalog", "frob", "--help"],
                "deid: unknown command 'deid catalog frob' (commands: list, show, remove, expired, budget)"
            ),
        ]
        for (arguments, message) in cases {
            let result = try CLI.run(arguments, in: directory.path)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.hasPrefix(message), "\(arguments): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(arguments)")
        }
        #expect(try directory.listing().isEmpty)
        // Every catalog subcommand's help has examples.
        for subcommand in ["list", "show", "remove", "expired"] {
            let help = try CLI.run(["catalog", subcommand, "--help"], in: directory.path)
            #expect(
                help.status == 0 && help.stdout.contains("Examples:\n  deid catalog \(subcommand)"), "\(subcommand)")
        }
    }

    /// A byte that is not UTF-8 is refused the same way by every command that reads data, with
    /// the input's line, record and column (publish named its deleted temporary output, and
    /// apply and convert passed it through); --encoding reads such a file.
    @Test func invalidUTF8IsRefusedByEveryCommand() throws {
        let directory = try TemporaryDirectory()
        var lines = String(decoding: try TemporaryDirectory.readFile(Self.sample), as: UTF8.self).split(separator: "\n")
            .map(String.init)
        // The tariff (insensitive, kept as it is) of record 7, as Latin-1 would write "Std±".
        var fields = lines[7].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        fields[6] = "Std\u{1}"
        lines[7] = fields.joined(separator: ",")
        let bytes = Array((lines.joined(separator: "\n") + "\n").utf8).map { $0 == 0x01 ? UInt8(0xB1) : $0 }
        _ = try directory.write("latin.csv", bytes)
        let policy = Paths.root + "/Tests/Fixtures/hourly-series-policy.yaml"
        let environment = ["DEID_KEY": "cli-test-key-0123456789abcdef-0123456789"]
        let expected =
            "deid: latin.csv:8: error: record 7, column 'tariff': the field is not valid UTF-8 (a Latin-1 or Windows-1252 file?"
        for arguments in [
            ["convert", "latin.csv", "-o", "out.csv"], ["apply", "-p", policy, "latin.csv", "out.csv"],
            ["publish", "-p", policy, "-o", "release", "latin.csv"], ["profile", "latin.csv"],
            ["risk", "latin.csv", "-q", "postcode"], ["link", "latin.csv", Self.sample],
        ] {
            let result = try CLI.run(arguments, in: directory.path, environment: environment)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.hasPrefix(expected), "\(arguments): \(result.stderr)")
            #expect(try directory.listing() == ["latin.csv"], "\(arguments) wrote nothing")
        }
        let converted = try CLI.run(["convert", "latin.csv", "--encoding", "latin1"], in: directory.path)
        #expect(converted.status == 0)
        #expect(converted.stdout.split(separator: "\n")[7].contains(",Std±,"))
    }

    /// Named pipes and standard input are read once, like files: publish (whose fingerprint
    /// is taken as it reads), link (whose sample is read ahead) and a linkage file.
    @Test func namedPipesWorkLikeFiles() throws {
        let directory = try TemporaryDirectory()
        let fifo = directory.file("meters.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let environment = ["DEID_KEY": "cli-test-key-0123456789abcdef-0123456789"]
        let policy = Paths.root + "/Tests/Fixtures/hourly-series-policy.yaml"
        let published = try CLI.shell(
            "cat '\(Self.sample)' > meters.fifo & deid publish -p '\(policy)' --seed 1 --no-catalog -o release meters.fifo",
            in: directory.path, environment: environment)
        #expect(published.status == 0, "\(published.stderr)")
        let manifest = try #require(
            try JSONSerialization.jsonObject(with: Data(try directory.read("release/manifest.json"))) as? [String: Any])
        let input = try #require((manifest["inputs"] as? [[String: Any]])?.first)
        let (_, digest) = try output(of: ["sha256sum", Self.sample])
        #expect(
            String(decoding: digest, as: UTF8.self).hasPrefix(input["sha256"] as! String),
            "the pipe's bytes are fingerprinted")
        let linked = try CLI.shell(
            "cat '\(Self.sample)' > meters.fifo & deid link meters.fifo '\(Self.sample)' --entity meter_id --columns postcode",
            in: directory.path)
        #expect(linked.status == 0, "\(linked.stderr)")
        #expect(linked.stdout.contains("file  meters.fifo: 40320 records, 30 individuals"))
        let text = String(decoding: try TemporaryDirectory.readFile(policy), as: UTF8.self)
            .replacingOccurrences(of: "hierarchies/", with: Paths.root + "/Datasets/hierarchies/")
        _ = try directory.write(
            "gated.yaml", text: text + "linkage: { against: [meters.fifo], max_unique_link_share: 1 }\n")
        let gated = try CLI.shell(
            "cat '\(Self.sample)' > meters.fifo & deid publish -p gated.yaml --seed 1 --no-catalog -o gated '\(Self.sample)'",
            in: directory.path, environment: environment)
        #expect(gated.status == 0, "\(gated.stderr)")
        #expect(FileManager.default.fileExists(atPath: directory.file("gated/linkage.json")))
    }

    @Test func profileFromStdinAndGzip() throws {
        let directory = try TemporaryDirectory()
        let plain = try CLI.run(["profile", CommandTests.sample, "--json"], in: directory.path)
        let gzipped = try CLI.shell("gzip -c '\(CommandTests.sample)' | deid profile - --json", in: directory.path)
        #expect(gzipped.status == 0, "\(gzipped.stderr)")
        // The same profile, apart from the file name and the compression flag.
        #expect(
            gzipped.stdout.replacingOccurrences(of: "\"compressed\" : true", with: "\"compressed\" : false")
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
        let toGzip = try CLI.run(
            ["convert", CommandTests.sample, "-o", "copy.csv.gz", "--output-delimiter", ";"],
            in: directory.path)
        #expect(toGzip.status == 0, "\(toGzip.stderr)")
        #expect(try run("/bin/gzip", ["-t", directory.file("copy.csv.gz")]) == 0)
        let back = try CLI.run(
            ["convert", "copy.csv.gz", "-o", "back.csv", "--output-delimiter", ","], in: directory.path)
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
        let gzipped = try CLI.shell(
            "deid convert '\(CommandTests.sample)' --compress | head -c 100 > /dev/null",
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
        let result = try CLI.run(
            ["--households", "30", "--days", "28", "--seed", "42", "-o", "sample.csv"],
            in: directory.path, executable: CLI.binDirectory + "/deid-sample")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try directory.read("sample.csv") == TemporaryDirectory.readFile(CommandTests.sample))
    }
}
