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
}
