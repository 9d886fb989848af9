import DeidCSV
import DeidTestSupport
import Foundation
import Testing

@testable import DeidKit

/// The three scale-out steps (`deid stats`, `deid plan`, `deid apply --plan`) against a publish
/// of the whole file on one machine, on shards cut so that most people's records lie in several.
@Suite struct ScaleOutTests {
    /// The whole file and `count` shards dealt from its records in turn: a person with two or
    /// more records has them in two or more shards.
    static func shards(_ csv: String, count: Int) -> [String] {
        let lines = csv.split(separator: "\n").map(String.init)
        return (0..<count).map { shard in
            let dealt = lines.dropFirst().enumerated().filter { $0.offset % count == shard }.map(\.element)
            return ([lines[0]] + dealt).joined(separator: "\n") + "\n"
        }
    }

    static func json<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Each shard's statistics, made by `ScaleOut.statistics` from its own file.
    static func statistics(_ shards: [String], policy: String, in directory: TemporaryDirectory) throws
        -> [StatisticsFile]
    {
        try shards.enumerated().map { index, shard in
            let input = try directory.write("shard\(index).csv", text: shard)
            return try ScaleOut.statistics(
                TransformRequest(policyPath: policy, inputs: [input], environment: [:], workers: 2))
        }
    }

    @Test(arguments: PrivacyTests.cases) func shardsPublishWhatOneMachinePublishes(_ test: PrivacyTests.Case) throws {
        let data = PrivacyTests.Generated(seed: test.seed, people: 240, moving: max(test.moving, 0.3))
        let policyText = PrivacyTests.policy(privacy: test.privacy, entity: test.entity)
        let (directory, policy, input) = try PrivacyTests.fixture(data.csv, policyText: policyText)
        let whole = try Publisher.publish(
            TransformRequest(policyPath: policy, inputs: [input], environment: [:], workers: 2),
            directory: directory.file("release"), dryRun: false)
        let wholeRows = String(decoding: try directory.read("release/people.csv"), as: UTF8.self)
            .split(separator: "\n").dropFirst()

        let parts = Self.shards(data.csv, count: 3)
        let files = try Self.statistics(parts, policy: policy, in: directory)
        // Any grouping and order of the merge gives the same bytes.
        let names = ["a", "b", "c"]
        let flat = try ScaleOut.encode(try ScaleOut.merge(files, names: names))
        let reordered = try ScaleOut.encode(try ScaleOut.merge([files[2], files[0], files[1]], names: names))
        let leftFirst = try ScaleOut.merge(
            [try ScaleOut.merge([files[0], files[1]], names: names), files[2]], names: names)
        let rightFirst = try ScaleOut.merge(
            [files[0], try ScaleOut.merge([files[1], files[2]], names: names)], names: names)
        #expect(flat == reordered)
        #expect(flat == (try ScaleOut.encode(leftFirst)))
        #expect(flat == (try ScaleOut.encode(rightFirst)))
        let merged = try ScaleOut.merge(files, names: names)
        #expect(merged.summary.recordsIn == whole.manifest.rows.in)
        #expect(merged.summary.inputs.count == 3)
        #expect(merged.counts?.entities.count == (test.entity ? data.people.count : 0))

        // The plan is the one-machine search's decision, and the manifest's privacy object the same.
        let planned = try ScaleOut.plan(merged, policyPath: policy, seed: nil, environment: [:])
        // (Less the search's time, and the distance measured on the written release, which a
        // plan has not seen.)
        var expected = try #require(whole.manifest.privacy)
        expected.search.milliseconds = try #require(planned.privacy).search.milliseconds
        expected.highestTDistanceRelease = nil
        #expect(planned.privacy == expected)
        // A saved plan, applied to each shard: together they write the whole's rows.
        let saved = try JSONDecoder().decode(PlanFile.self, from: Data(try ScaleOut.encode(planned)))
        #expect(saved == planned)
        var shardRows: [Substring] = []
        var suppressed = 0
        for index in parts.indices {
            let output = directory.file("out\(index).csv")
            let request = TransformRequest(
                policyPath: policy, inputs: [directory.file("shard\(index).csv")], environment: [:], workers: 2)
            suppressed += try ScaleOut.apply(request, plan: saved, output: output).suppressedRecords
            shardRows += String(decoding: try directory.read("out\(index).csv"), as: UTF8.self)
                .split(separator: "\n").dropFirst()
        }
        #expect(shardRows.sorted() == wholeRows.sorted())
        #expect(suppressed == expected.suppressedRecords)

        // The parts assembled: the release one machine writes, its risk counted on the parts.
        let assembled = try ScaleOut.assemble(
            TransformRequest(
                policyPath: policy, inputs: parts.indices.map { directory.file("out\($0).csv") }, environment: [:]),
            plan: saved, statistics: merged, statisticsName: "merged", directory: directory.file("assembled"))
        var manifest = assembled.manifest
        manifest.privacy?.search.milliseconds = try #require(whole.manifest.privacy).search.milliseconds
        #expect(manifest.privacy == whole.manifest.privacy)
        #expect(try Self.json(manifest.rows) == Self.json(whole.manifest.rows))
        #expect(try Self.json(manifest.columns) == Self.json(whole.manifest.columns))
        #expect(try Self.json(manifest.records) == Self.json(whole.manifest.records))
        #expect(try assembled.risk?.json() == whole.risk?.json())
        let assembledRows = String(decoding: try directory.read("assembled/people.csv"), as: UTF8.self)
            .split(separator: "\n").dropFirst()
        #expect(assembledRows.sorted() == wholeRows.sorted())
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.file("assembled")).sorted()
                == FileManager.default.contentsOfDirectory(atPath: directory.file("release")).sorted())
    }

    /// The counts of shards merged are the counts of the whole file read at once: the same
    /// values, tuples, entities and pairs (only where each value was first seen differs).
    @Test func mergedCountsAreTheWholeFilesCounts() throws {
        let data = PrivacyTests.Generated(seed: 77, people: 300, moving: 0.4)
        let privacy = "{ k: 3, l_diversity: { column: diagnosis, l: 2 } }"
        let (directory, policy, input) = try PrivacyTests.fixture(
            data.csv, policyText: PrivacyTests.policy(privacy: privacy))
        let whole = try ScaleOut.statistics(
            TransformRequest(policyPath: policy, inputs: [input], environment: [:], workers: 2))
        let merged = try ScaleOut.merge(
            try Self.statistics(Self.shards(data.csv, count: 4), policy: policy, in: directory),
            names: ["1", "2", "3", "4"])
        var counts = try #require(merged.counts)
        let wholeCounts = try #require(whole.counts)
        counts.sources = wholeCounts.sources
        counts.valuePositions = wholeCounts.valuePositions
        #expect(counts == wholeCounts)
        #expect(counts.statistics().individuals == wholeCounts.statistics().individuals)
        #expect(counts.statistics().multiEntities.rowCount > 0)
    }

    @Test func mismatchesAreRefused() throws {
        let data = PrivacyTests.Generated(seed: 5, people: 60, moving: 0.2)
        let (directory, policy, input) = try PrivacyTests.fixture(
            data.csv, policyText: PrivacyTests.policy(privacy: "{ k: 2, suppression_limit: 0.1 }"))
        let request = TransformRequest(policyPath: policy, inputs: [input], environment: [:], workers: 2)
        let statistics = try ScaleOut.statistics(request)
        let plan = try ScaleOut.plan(statistics, policyPath: policy, seed: nil, environment: [:])

        // Another policy: its statistics do not merge with these, and the plan is not applied.
        let other = try directory.write("other.yaml", text: PrivacyTests.policy(privacy: "{ k: 3 }"))
        let otherStatistics = try ScaleOut.statistics(
            TransformRequest(policyPath: other, inputs: [input], environment: [:], workers: 2))
        #expect(throws: ScaleOutError.self) { try ScaleOut.merge([statistics, otherStatistics], names: ["a", "b"]) }
        #expect(throws: ScaleOutError.self) {
            try ScaleOut.plan(statistics, policyPath: other, seed: nil, environment: [:])
        }
        var otherRequest = request
        otherRequest.policyPath = other
        #expect(throws: ScaleOutError.self) {
            try ScaleOut.apply(otherRequest, plan: plan, output: directory.file("out.csv"))
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("out.csv")))

        // A file of another format or version is named.
        var future = statistics
        future.version = 2
        let error = #expect(throws: ScaleOutError.self) {
            try ScaleOut.merge([statistics, future], names: ["a", "b"])
        }
        #expect(error?.file == "b")
        let garbage = try directory.write("garbage.json", text: "{\"format\": 1")
        #expect(throws: ScaleOutError.self) {
            try ScaleOut.load(StatisticsFile.self, path: garbage, what: "statistics")
        }
        // A plan of a later version, or a statistics file given as a plan: named, refused.
        var laterPlan = plan
        laterPlan.version = 2
        let saved = try directory.write(
            "later-plan.json", text: String(decoding: try ScaleOut.encode(laterPlan), as: UTF8.self))
        let later = #expect(throws: ScaleOutError.self) { try ScaleOut.load(PlanFile.self, path: saved, what: "plan") }
        #expect(later?.message == "not a version-1 deid-plan file (format deid-plan, version 2)")
        let statisticsPath = try directory.write(
            "statistics.json", text: String(decoding: try ScaleOut.encode(statistics), as: UTF8.self))
        #expect(throws: ScaleOutError.self) { try ScaleOut.load(PlanFile.self, path: statisticsPath, what: "plan") }
    }

    /// A record-by-record policy without privacy models runs in shards too (no search): with a
    /// risk section the release is one machine's; with no protection chosen, the default gates
    /// refuse it on the assembled data as on one machine.
    @Test func policiesWithoutPrivacyModelsRunInShards() throws {
        let data = PrivacyTests.Generated(seed: 44, people: 300, moving: 0.3)
        let base = PrivacyTests.policy(privacy: "{ k: 2 }").replacingOccurrences(
            of: "income: { role: sensitive }", with: "income: { role: insensitive, noise: { laplace: 5, round: 1 } }")
        for risk in ["risk: { min_class_size: 1 }\n", ""] {
            let policyText = base.replacingOccurrences(of: "privacy: { k: 2 }\n", with: risk)
            #expect(!policyText.contains("privacy"))
            let (directory, policy, input) = try PrivacyTests.fixture(data.csv, policyText: policyText)
            let parts = Self.shards(data.csv, count: 3)
            let files = try Self.statistics(parts, policy: policy, in: directory)
            #expect(files.allSatisfy { $0.counts == nil })
            let merged = try ScaleOut.merge(files, names: ["a", "b", "c"])
            let plan = try ScaleOut.plan(merged, policyPath: policy, seed: 6, environment: [:])
            #expect(plan.plan == nil && plan.privacy == nil && plan.seed == 6)
            for index in parts.indices {
                let request = TransformRequest(
                    policyPath: policy, inputs: [directory.file("shard\(index).csv")], environment: [:])
                try ScaleOut.apply(request, plan: plan, output: directory.file("out\(index).csv"))
            }
            let whole = Result {
                try Publisher.publish(
                    TransformRequest(policyPath: policy, inputs: [input], seed: 6, environment: [:]),
                    directory: directory.file("release"), dryRun: false)
            }
            let assembled = Result {
                try ScaleOut.assemble(
                    TransformRequest(
                        policyPath: policy, inputs: parts.indices.map { directory.file("out\($0).csv") },
                        environment: [:]),
                    plan: plan, statistics: merged, statisticsName: "merged", directory: directory.file("assembled"))
            }
            if risk.isEmpty {
                for result in [whole.map { _ in () }, assembled.map { _ in () }] {
                    let error = #expect(throws: PrivacyGateError.self) { try result.get() }
                    #expect(error?.refusal.reasons.first?.contains("(the default: the policy has no privacy") == true)
                }
                #expect(!FileManager.default.fileExists(atPath: directory.file("assembled")))
            } else {
                let (one, sharded) = (try whole.get(), try assembled.get())
                #expect(try sharded.risk?.json() == one.risk?.json())
                #expect(try Self.json(sharded.manifest.rows) == Self.json(one.manifest.rows))
                #expect(try Self.json(sharded.manifest.columns) == Self.json(one.manifest.columns))
                func rows(_ path: String) throws -> [Substring] {
                    String(decoding: try directory.read(path), as: UTF8.self).split(separator: "\n").dropFirst()
                        .sorted()
                }
                #expect(try rows("assembled/people.csv") == rows("release/people.csv"))
            }
        }
    }

    /// A risk section's gates are checked on the assembled release, as one machine checks them on
    /// its own: a gate the release fails refuses it (nothing written); one it passes gives one
    /// machine's report.
    @Test func riskGatesAreCheckedOnTheAssembledRelease() throws {
        let data = PrivacyTests.Generated(seed: 23, people: 200, moving: 0.3)
        for (gate, passes) in [("min_class_size: 2, max_prosecutor_risk: 0.5", true), ("min_class_size: 40", false)] {
            let policyText = PrivacyTests.policy(privacy: "{ k: 2, suppression_limit: 0.1 }") + "\nrisk: { \(gate) }\n"
            let (directory, policy, input) = try PrivacyTests.fixture(data.csv, policyText: policyText)
            let lines = data.csv.split(separator: "\n")
            let cut = lines.count / 2 + 3
            let parts = [lines[1..<cut], lines[cut...]].map { ([lines[0]] + $0).joined(separator: "\n") + "\n" }
            let merged = try ScaleOut.merge(
                try Self.statistics(parts, policy: policy, in: directory), names: ["a", "b"])
            let plan = try ScaleOut.plan(merged, policyPath: policy, seed: nil, environment: [:])
            for index in parts.indices {
                let request = TransformRequest(
                    policyPath: policy, inputs: [directory.file("shard\(index).csv")], environment: [:])
                try ScaleOut.apply(request, plan: plan, output: directory.file("out\(index).csv"))
            }
            let request = TransformRequest(
                policyPath: policy, inputs: parts.indices.map { directory.file("out\($0).csv") }, environment: [:])
            let whole = Result {
                try Publisher.publish(
                    TransformRequest(policyPath: policy, inputs: [input], environment: [:]),
                    directory: directory.file("release"), dryRun: false)
            }
            let assembled = Result {
                try ScaleOut.assemble(
                    request, plan: plan, statistics: merged, statisticsName: "merged",
                    directory: directory.file("assembled"))
            }
            if passes {
                let (one, sharded) = (try whole.get(), try assembled.get())
                #expect(try sharded.risk?.json() == one.risk?.json())
                #expect(try directory.read("assembled/people.csv") == directory.read("release/people.csv"))
            } else {
                for result in [whole.map { _ in () }, assembled.map { _ in () }] {
                    #expect(throws: PrivacyGateError.self) { try result.get() }
                }
                #expect(!FileManager.default.fileExists(atPath: directory.file("assembled")))
                if case .failure(let error as PrivacyGateError) = assembled {
                    #expect(
                        error.refusal.reasons.first?.hasPrefix("the release exceeds risk.min_class_size 40") == true)
                }
            }
        }
    }

    /// Seeded noise is drawn per record from the seed and the record's fields: shards dealt in
    /// turn write the same noised values as one machine reading the whole file.
    @Test func seededNoiseIsTheSameInShards() throws {
        let data = PrivacyTests.Generated(seed: 31, people: 200, moving: 0.3)
        let policyText = PrivacyTests.policy(privacy: "{ k: 2, suppression_limit: 0.1 }").replacingOccurrences(
            of: "income: { role: sensitive }", with: "income: { role: insensitive, noise: { laplace: 5, round: 1 } }")
        #expect(policyText.contains("laplace"))
        let (directory, policy, input) = try PrivacyTests.fixture(data.csv, policyText: policyText)
        let whole = try Publisher.publish(
            TransformRequest(policyPath: policy, inputs: [input], seed: 8, environment: [:], workers: 2),
            directory: directory.file("release"), dryRun: false)
        let parts = Self.shards(data.csv, count: 3)
        let merged = try ScaleOut.merge(
            try Self.statistics(parts, policy: policy, in: directory), names: ["a", "b", "c"])
        let plan = try ScaleOut.plan(merged, policyPath: policy, seed: 8, environment: [:])
        for index in parts.indices {
            let request = TransformRequest(
                policyPath: policy, inputs: [directory.file("shard\(index).csv")], environment: [:], workers: 1)
            try ScaleOut.apply(request, plan: plan, output: directory.file("out\(index).csv"))
        }
        let assembled = try ScaleOut.assemble(
            TransformRequest(
                policyPath: policy, inputs: parts.indices.map { directory.file("out\($0).csv") }, environment: [:]),
            plan: plan, statistics: merged, statisticsName: "merged", directory: directory.file("assembled"))
        func rows(_ path: String) throws -> [Substring] {
            String(decoding: try directory.read(path), as: UTF8.self).split(separator: "\n").dropFirst().sorted()
        }
        let wholeRows = try rows("release/people.csv")
        #expect(try rows("assembled/people.csv") == wholeRows)
        #expect(assembled.manifest.seed == 8 && whole.manifest.seed == 8)
        // The noise is there: the published incomes are not the input's multiples of 10.
        #expect(wholeRows.contains { !$0.hasSuffix("0.0") && !$0.hasSuffix(",0") })
    }

    /// The bundled policy aggregates each meter's readings per month (noised, gated by a trace
    /// risk): shards that each hold whole meters give one machine's release, seeded noise
    /// included; shards that split a meter are refused when merged.
    @Test func aggregatingPoliciesNeedWholeEntitiesPerShard() throws {
        let directory = try TemporaryDirectory()
        let policyText = String(
            decoding: try TemporaryDirectory.readFile(Paths.root + "/Datasets/smart_meter_policy.yaml"), as: UTF8.self
        ).replacingOccurrences(of: "hierarchies/", with: Paths.root + "/Datasets/hierarchies/")
        let policy = try directory.write("policy.yaml", text: policyText)
        let sample = Paths.root + "/Datasets/smart_meter_sample.csv"
        let lines = String(decoding: try TemporaryDirectory.readFile(sample), as: UTF8.self).split(separator: "\n")
        let key = ["DEID_KEY": String(repeating: "k", count: 32)]
        // The sample holds 30 meters of 1,344 readings each, one meter after the other.
        for (cut, whole) in [(1 + 1_344 * 11, true), (1 + 1_344 * 11 + 500, false)] {
            let parts = [lines[1..<cut], lines[cut...]].map { ([lines[0]] + $0).joined(separator: "\n") + "\n" }
            var files: [StatisticsFile] = []
            for (index, part) in parts.enumerated() {
                let input = try directory.write("part\(index).csv", text: part)
                files.append(
                    try ScaleOut.statistics(TransformRequest(policyPath: policy, inputs: [input], environment: key)))
            }
            #expect(files.map { $0.entities?.count } == (whole ? [11, 19] : [12, 19]))
            guard whole else {
                let error = #expect(throws: ScaleOutError.self) { try ScaleOut.merge(files, names: ["0", "1"]) }
                #expect(error?.message.hasPrefix("an entity has records in this shard and in 0") == true)
                continue
            }
            let merged = try ScaleOut.merge(files, names: ["0", "1"])
            let plan = try ScaleOut.plan(merged, policyPath: policy, seed: 1, environment: key)
            for index in parts.indices {
                try ScaleOut.apply(
                    TransformRequest(
                        policyPath: policy, inputs: [directory.file("part\(index).csv")], environment: key),
                    plan: plan, output: directory.file("out\(index).csv"))
            }
            let assembled = try ScaleOut.assemble(
                TransformRequest(
                    policyPath: policy, inputs: parts.indices.map { directory.file("out\($0).csv") }, environment: key),
                plan: plan, statistics: merged, statisticsName: "merged", directory: directory.file("assembled"))
            let one = try Publisher.publish(
                TransformRequest(policyPath: policy, inputs: [sample], seed: 1, environment: key),
                directory: directory.file("release"), dryRun: false)
            #expect(assembled.manifest.rows.out == 30 && one.manifest.rows.out == 30)
            #expect(try Self.json(assembled.manifest.columns) == Self.json(one.manifest.columns))
            #expect(try assembled.risk?.json() == one.risk?.json())
            #expect(
                try directory.read("assembled/smart-meter-readings.csv")
                    == directory.read("release/smart-meter-readings.csv"))
        }
    }

    /// The report's "before" charts of an assembled release: each shard's apply counts its
    /// input's sampled values (`--charts`), and the assembly merges them in the parts' order.
    /// The shards are files, cut into blocks as one machine cuts them, so the charts are one
    /// machine's; without them the report has none. Charts of another plan are refused.
    @Test func assembledReportsChartTheInputLikeOneMachine() throws {
        let directory = try TemporaryDirectory()
        let policy = try directory.write(
            "policy.yaml",
            text: String(
                decoding: try TemporaryDirectory.readFile(Paths.root + "/Datasets/smart_meter_k_anonymity.yaml"),
                as: UTF8.self
            ).replacingOccurrences(of: "hierarchies/", with: Paths.root + "/Datasets/hierarchies/"))
        let key = ["DEID_KEY": String(repeating: "k", count: 32)]
        let lines = String(
            decoding: try TemporaryDirectory.readFile(Paths.root + "/Datasets/smart_meter_sample.csv"), as: UTF8.self
        ).split(separator: "\n")
        let inputs = try [lines[1..<20_001], lines[20_001...]].enumerated().map { index, part in
            try directory.write("part\(index).csv", text: ([lines[0]] + part).joined(separator: "\n") + "\n")
        }
        let statistics = try inputs.map {
            try ScaleOut.statistics(TransformRequest(policyPath: policy, inputs: [$0], environment: key))
        }
        let merged = try ScaleOut.merge(statistics, names: ["0", "1"])
        let plan = try ScaleOut.plan(merged, policyPath: policy, seed: 1, environment: key)
        var charts: [InputChartsFile] = []
        for (index, input) in inputs.enumerated() {
            try ScaleOut.apply(
                TransformRequest(policyPath: policy, inputs: [input], environment: key), plan: plan,
                output: directory.file("out\(index).csv"), charts: directory.file("charts\(index).json"))
            charts.append(
                try ScaleOut.load(InputChartsFile.self, path: directory.file("charts\(index).json"), what: "charts"))
        }
        func assemble(_ name: String, charts: [InputChartsFile], plan: PlanFile = plan) throws {
            try ScaleOut.assemble(
                TransformRequest(
                    policyPath: policy, inputs: [directory.file("out0.csv"), directory.file("out1.csv")],
                    environment: key), plan: plan, statistics: merged, statisticsName: "merged", charts: charts,
                chartNames: charts.indices.map { "charts\($0).json" }, directory: directory.file(name))
        }
        try assemble("charted", charts: charts)
        try assemble("uncharted", charts: [])
        _ = try Publisher.publish(
            TransformRequest(policyPath: policy, inputs: inputs, seed: 1, environment: key),
            directory: directory.file("one"), dryRun: false)
        // Each "before" chart of the confidential page: its note and its picture.
        func beforeCharts(_ release: String) throws -> [String] {
            let page = String(decoding: try directory.read("\(release)/confidential/report.html"), as: UTF8.self)
            return page.components(separatedBy: "before (input)").dropFirst().map {
                $0.components(separatedBy: "</svg>")[0]
            }
        }
        let one = try beforeCharts("one")
        #expect(one.count == 4 && one.allSatisfy { $0.contains("<rect") })
        #expect(try beforeCharts("charted") == one)
        #expect(try beforeCharts("uncharted").isEmpty)
        // Charts of another plan (another release id): refused, no release.
        let other = try ScaleOut.plan(merged, policyPath: policy, seed: 1, environment: key)
        #expect(throws: ScaleOutError.self) { try assemble("foreign", charts: charts, plan: other) }
        #expect(!FileManager.default.fileExists(atPath: directory.file("foreign")))
    }

    /// Parts missing, repeated or foreign, or statistics other than the plan's: the assembly is
    /// refused and no release directory is left.
    @Test func assemblyChecksItsParts() throws {
        let data = PrivacyTests.Generated(seed: 12, people: 150, moving: 0.3)
        let (directory, policy, _) = try PrivacyTests.fixture(
            data.csv, policyText: PrivacyTests.policy(privacy: "{ k: 2, suppression_limit: 0.1 }"))
        let parts = Self.shards(data.csv, count: 2)
        let files = try Self.statistics(parts, policy: policy, in: directory)
        let merged = try ScaleOut.merge(files, names: ["0", "1"])
        let plan = try ScaleOut.plan(merged, policyPath: policy, seed: nil, environment: [:])
        for index in parts.indices {
            let request = TransformRequest(
                policyPath: policy, inputs: [directory.file("shard\(index).csv")], environment: [:])
            try ScaleOut.apply(request, plan: plan, output: directory.file("out\(index).csv"))
        }
        func assemble(_ outputs: [String], statistics: StatisticsFile = merged) throws {
            _ = try ScaleOut.assemble(
                TransformRequest(policyPath: policy, inputs: outputs.map(directory.file), environment: [:]),
                plan: plan, statistics: statistics, statisticsName: "merged", directory: directory.file("release"))
        }
        let missing = #expect(throws: ScaleOutError.self) { try assemble(["out0.csv"]) }
        #expect(missing?.message.hasPrefix("the parts hold") == true)
        #expect(throws: ScaleOutError.self) { try assemble(["out0.csv", "out1.csv", "out1.csv"]) }
        _ = try directory.write("foreign.csv", text: "a,b\n1,2\n")
        #expect(throws: TransformError.self) { try assemble(["out0.csv", "foreign.csv"]) }
        #expect(throws: ScaleOutError.self) { try assemble(["out0.csv", "out1.csv"], statistics: files[0]) }
        #expect(!FileManager.default.fileExists(atPath: directory.file("release")))
        try assemble(["out0.csv", "out1.csv"])
        #expect(FileManager.default.fileExists(atPath: directory.file("release/manifest.json")))
    }

    /// A pseudonymizing policy: each shard must be given the key the plan was made with, and
    /// per-release pseudonyms come from the plan's release id, so every shard writes the same
    /// pseudonym for one person.
    @Test func keysMustBeThePlans() throws {
        let data = PrivacyTests.Generated(seed: 9, people: 120, moving: 0.3)
        let policyText = PrivacyTests.policy(privacy: "{ k: 2 }").replacingOccurrences(
            of: "person: { role: insensitive }",
            with: "person: { role: identifier, pseudonymize: { key: \"env:KEY\", per_release: true } }")
        let (directory, policy, _) = try PrivacyTests.fixture(data.csv, policyText: policyText)
        let key = ["KEY": String(repeating: "k", count: 32)]
        let parts = Self.shards(data.csv, count: 2)
        var files: [StatisticsFile] = []
        for (index, part) in parts.enumerated() {
            let input = try directory.write("shard\(index).csv", text: part)
            files.append(
                try ScaleOut.statistics(TransformRequest(policyPath: policy, inputs: [input], environment: key)))
        }
        let plan = try ScaleOut.plan(
            try ScaleOut.merge(files, names: ["0", "1"]), policyPath: policy, seed: nil, environment: key)
        #expect(plan.keyIDs.count == 1 && plan.plan?.keyIDs == plan.keyIDs)
        var pseudonyms: [Set<String>] = []
        for index in parts.indices {
            let request = TransformRequest(
                policyPath: policy, inputs: [directory.file("shard\(index).csv")], environment: key)
            try ScaleOut.apply(request, plan: plan, output: directory.file("out\(index).csv"))
            let rows = String(decoding: try directory.read("out\(index).csv"), as: UTF8.self).split(separator: "\n")
            pseudonyms.append(Set(rows.dropFirst().map { String($0.prefix { $0 != "," }) }))
        }
        // People are in both shards: the same pseudonyms.
        #expect(pseudonyms[0].intersection(pseudonyms[1]).count > 30)
        let otherKey = ["KEY": String(repeating: "o", count: 32)]
        let wrong = TransformRequest(
            policyPath: policy, inputs: [directory.file("shard0.csv")], environment: otherKey)
        let error = #expect(throws: PolicyError.self) {
            try ScaleOut.apply(wrong, plan: plan, output: directory.file("wrong.csv"))
        }
        #expect(error?.diagnostics.first?.path == "columns.person.pseudonymize.key")
    }
}
