import DeidTestSupport
import Foundation
import Testing

/// `deid stats`, `deid plan` and `deid apply --plan` as a cluster job runs them: exit codes,
/// nothing written on a refusal or an error, and the shards' rows equal to one publish's.
@Suite("deid stats, plan and apply --plan")
struct ScaleOutCommandTests {
    static let environment = PublishCommandTests.environment
    static let sample = PublishCommandTests.sample
    static let policy = Paths.root + "/Datasets/smart_meter_k_anonymity.yaml"

    /// The sample cut in two at a line inside one meter's series, each part with the header.
    static func shards(in directory: TemporaryDirectory) throws -> [String] {
        let lines = String(decoding: try TemporaryDirectory.readFile(sample), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        let cut = lines.count / 2 + 17
        return try [lines[1..<cut], lines[cut...]].enumerated().map { index, part in
            try directory.write("part\(index).csv", text: ([lines[0]] + part).joined(separator: "\n") + "\n")
        }
    }

    @Test func shardsGiveTheRowsOfOnePublish() throws {
        let directory = try TemporaryDirectory()
        let parts = try Self.shards(in: directory)
        for (index, part) in parts.enumerated() {
            let stats = try CLI.run(
                ["stats", "--policy", Self.policy, "--out", "part\(index).stats.json", part], in: directory.path,
                environment: Self.environment)
            #expect(stats.status == 0, "\(stats.stderr)")
        }
        let merged = try CLI.run(
            ["stats", "--merge", "part1.stats.json", "part0.stats.json"], in: directory.path,
            environment: Self.environment)
        #expect(merged.status == 0 && merged.stdout.hasPrefix("{\"counts\":"))
        let plan = try CLI.run(
            [
                "plan", "--policy", Self.policy, "--seed", "4", "--out", "plan.json", "part0.stats.json",
                "part1.stats.json",
            ],
            in: directory.path, environment: Self.environment)
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("40320 records in 2 inputs; levels dwelling_type=1, occupants=1, postcode=4"))
        for index in 0..<2 {
            let apply = try CLI.run(
                ["apply", "--policy", Self.policy, "--plan", "plan.json", "part\(index).csv", "out\(index).csv"],
                in: directory.path, environment: Self.environment)
            #expect(apply.status == 0, "\(apply.stderr)")
        }
        let publish = try CLI.run(
            ["publish", "--policy", Self.policy, "--no-catalog", "--out", "release", Self.sample],
            in: directory.path, environment: Self.environment)
        #expect(publish.status == 0, "\(publish.stderr)")
        // Per-release pseudonyms and noise differ between any two releases: the rows are
        // compared on the quasi-identifiers, the tariff and the time.
        func rows(_ files: [String]) throws -> [String] {
            try files.flatMap { file in
                String(decoding: try directory.read(file), as: UTF8.self).split(separator: "\n").dropFirst().map {
                    String($0.split(separator: ",").dropFirst().dropLast().joined(separator: ","))
                }
            }.sorted()
        }
        let shardRows = try rows(["out0.csv", "out1.csv"])
        #expect(shardRows.count == 36288)
        #expect(shardRows == (try rows(["release/smart-meter-readings-k5.csv"])))

        // The parts assembled into a release, recorded in the catalog (the default one here).
        #expect(
            try CLI.run(
                ["stats", "--merge", "-o", "all.stats.json", "part0.stats.json", "part1.stats.json"],
                in: directory.path
            ).status == 0)
        let assembled = try CLI.run(
            [
                "publish", "--policy", Self.policy, "--plan", "plan.json", "--statistics", "all.stats.json", "--out",
                "assembled", "out0.csv", "out1.csv",
            ], in: directory.path, environment: Self.environment)
        #expect(assembled.status == 0, "\(assembled.stderr)")
        #expect(assembled.stdout.hasPrefix("published 36288 rows of smart-meter-readings-k5 to assembled/\n"))
        #expect(assembled.stdout.contains("recorded in .deid/catalog.sqlite"))
        #expect(try rows(["assembled/smart-meter-readings-k5.csv"]) == shardRows)
        let listed = try CLI.run(["catalog", "list"], in: directory.path)
        #expect(listed.status == 0 && listed.stdout.contains("smart-meter-readings-k5"))
        // A part given twice: refused, no release.
        let repeated = try CLI.run(
            [
                "publish", "--policy", Self.policy, "--plan", "plan.json", "--statistics", "all.stats.json", "--out",
                "twice", "out0.csv", "out1.csv", "out1.csv",
            ], in: directory.path, environment: Self.environment)
        #expect(repeated.status == 2 && repeated.stderr.contains("the parts hold"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("twice")))
    }

    @Test func refusalsAndMismatchesWriteNothing() throws {
        let directory = try TemporaryDirectory()
        let parts = try Self.shards(in: directory)
        #expect(
            try CLI.run(
                ["stats", "--policy", Self.policy, "-o", "a.json", parts[0]], in: directory.path,
                environment: Self.environment
            ).status == 0)
        // Models no transformation meets: exit 1, the reasons, no plan.
        let strict = try directory.write(
            "strict.yaml",
            text: String(decoding: try TemporaryDirectory.readFile(Self.policy), as: UTF8.self)
                .replacingOccurrences(of: "k: 5", with: "k: 500")
                .replacingOccurrences(of: "hierarchies/", with: Paths.root + "/Datasets/hierarchies/"))
        let refusedStats = try CLI.run(
            ["stats", "--policy", strict, "-o", "strict.json", parts[0]], in: directory.path,
            environment: Self.environment)
        #expect(refusedStats.status == 0, "\(refusedStats.stderr)")
        let refused = try CLI.run(
            ["plan", "--policy", strict, "-o", "plan.json", "strict.json"], in: directory.path,
            environment: Self.environment)
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("deid: refused: no transformation satisfies k=500"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("plan.json")))
        // Statistics of another policy: exit 2, the file named.
        let mixed = try CLI.run(
            ["plan", "--policy", Self.policy, "-o", "plan.json", "a.json", "strict.json"], in: directory.path,
            environment: Self.environment)
        #expect(mixed.status == 2)
        #expect(mixed.stderr.hasPrefix("deid: strict.json: made with another policy or header than a.json"))
        // A plan applied with another key: exit 2, no output.
        #expect(
            try CLI.run(
                ["plan", "--policy", Self.policy, "-o", "plan.json", "a.json"], in: directory.path,
                environment: Self.environment
            ).status == 0)
        let wrongKey = try CLI.run(
            ["apply", "--policy", Self.policy, "--plan", "plan.json", parts[0], "out.csv"], in: directory.path,
            environment: ["DEID_KEY": String(repeating: "x", count: 40)])
        #expect(wrongKey.status == 2)
        #expect(wrongKey.stderr.contains("columns.meter_id.pseudonymize.key: this key"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("out.csv")))
        // An aggregate release (cells of many entities) does not run in shards.
        let aggregating = try CLI.run(
            [
                "stats", "--policy", Paths.root + "/Datasets/smart_meter_aggregate.yaml", "-o", "aggregating.json",
                parts[0],
            ],
            in: directory.path, environment: Self.environment)
        #expect(aggregating.status == 2)
        #expect(aggregating.stderr.contains("error: aggregate: an aggregate release's cells are not split into shards"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("aggregating.json")))
        // --seed belongs to the plan.
        let seeded = try CLI.run(
            ["apply", "--policy", Self.policy, "--plan", "plan.json", "--seed", "1", parts[0], "out.csv"],
            in: directory.path, environment: Self.environment)
        #expect(seeded.status == 2 && seeded.stderr.contains("--seed comes from the plan"))
    }

    /// Time-ordered files (each holds a period of every meter) under the monthly-totals policy:
    /// split by meter, each part index counted and applied as one shard, merged with the
    /// receipts, and assembled into the rows one publish of the files writes.
    @Test func splitPartsRunThroughTheCommands() throws {
        let directory = try TemporaryDirectory()
        let policy = Paths.root + "/Datasets/smart_meter_policy.yaml"
        let lines = String(decoding: try TemporaryDirectory.readFile(Self.sample), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        let byTime = lines.dropFirst().sorted { $0.split(separator: ",")[7] < $1.split(separator: ",")[7] }
        let half = byTime.count / 2
        let periods = try [byTime[..<half], byTime[half...]].enumerated().map { index, records in
            try directory.write("period\(index).csv", text: ([lines[0]] + records).joined(separator: "\n") + "\n")
        }
        // The split needs no key: it runs no technique.
        for (index, period) in periods.enumerated() {
            let split = try CLI.run(
                ["split", "--policy", policy, "--parts", "3", "--out", "split\(index)", period], in: directory.path,
                environment: ["DEID_KEY": ""])
            #expect(split.status == 0, "\(split.stderr)")
        }
        var shards: [[String]] = []
        for part in 0..<3 {
            let files = (0..<2).map { "split\($0)/part-0000\(part).csv" }
                .filter { FileManager.default.fileExists(atPath: directory.file($0)) }
            let stats = try CLI.run(
                ["stats", "--policy", policy, "-o", "shard\(part).json"] + files, in: directory.path,
                environment: Self.environment)
            #expect(stats.status == 0, "\(stats.stderr)")
            shards.append(files)
        }
        let receipts = ["split0/split.json", "split1/split.json"]
        let missing = try CLI.run(
            ["stats", "--merge", "-o", "missing.json"] + receipts + ["shard0.json", "shard1.json"], in: directory.path)
        #expect(missing.status == 2 && missing.stderr.contains("was counted by no shard"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("missing.json")))
        let merged = try CLI.run(
            ["stats", "--merge", "-o", "all.json"] + receipts + ["shard0.json", "shard1.json", "shard2.json"],
            in: directory.path)
        #expect(merged.status == 0, "\(merged.stderr)")
        let plan = try CLI.run(
            ["plan", "--policy", policy, "--seed", "3", "-o", "plan.json", "all.json"], in: directory.path,
            environment: Self.environment)
        #expect(plan.status == 0, "\(plan.stderr)")
        for (index, files) in shards.enumerated() {
            let apply = try CLI.run(
                ["apply", "--policy", policy, "--plan", "plan.json"] + files + ["out\(index).csv"],
                in: directory.path, environment: Self.environment)
            #expect(apply.status == 0, "\(apply.stderr)")
        }
        let assembled = try CLI.run(
            [
                "publish", "--policy", policy, "--plan", "plan.json", "--statistics", "all.json", "--no-catalog",
                "--out", "assembled", "out0.csv", "out1.csv", "out2.csv",
            ], in: directory.path, environment: Self.environment)
        #expect(assembled.status == 0, "\(assembled.stderr)")
        let one = try CLI.run(
            ["publish", "--policy", policy, "--seed", "3", "--no-catalog", "--out", "release"] + periods,
            in: directory.path, environment: Self.environment)
        #expect(one.status == 0, "\(one.stderr)")
        func rows(_ file: String) throws -> [Substring] {
            String(decoding: try directory.read(file), as: UTF8.self).split(separator: "\n").sorted()
        }
        #expect(try rows("assembled/smart-meter-readings.csv") == rows("release/smart-meter-readings.csv"))
        // The manifest names the periods, with their fingerprints, not the parts.
        let manifest = String(decoding: try directory.read("assembled/manifest.json"), as: UTF8.self)
        #expect(manifest.contains("period0.csv") && manifest.contains("period1.csv") && !manifest.contains("part-0"))
        // More parts than the soft limit on open files allows: the limit is raised (up to the hard one).
        let many = try CLI.shell(
            "ulimit -S -n 256 && \(CLI.deid) split --policy \(policy) --parts 600 --out many \(periods[0])",
            in: directory.path)
        #expect(many.status == 0, "\(many.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("many")).contains("split.json"))
        // A directory in use, and a part count out of range: exit 2.
        let used = try CLI.run(
            ["split", "--policy", policy, "--parts", "3", "--out", "split0", periods[0]], in: directory.path)
        #expect(used.status == 2 && used.stderr.contains("split0: exists and is not an empty directory"))
        let zero = try CLI.run(
            ["split", "--policy", policy, "--parts", "0", "--out", "split9", periods[0]], in: directory.path)
        #expect(zero.status == 2 && zero.stderr.contains("--parts must be 1 to 100000"))
    }
}
