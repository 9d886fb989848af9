import DeidCSV
import DeidTestSupport
import Foundation
import Synchronization
import Testing

@testable import DeidKit

/// The privacy search against the in-memory reference (`PrivacyReference`) on seeded generated
/// data, and the properties every release with a privacy section must have.
@Suite struct PrivacyTests {
    /// A seeded table of people with 1-4 rows each: age, zip and sex are quasi-identifiers,
    /// diagnosis and income sensitive. With `moving`, some people's later rows have another
    /// age (a birthday): they fall in several classes.
    struct Generated {
        var csv: String
        var rows: [PrivacyReference.Row]
        var people: [String]

        init(seed: UInt64, people count: Int, moving: Double, rowsAreIndividuals: Bool = false) {
            var random = TestRandom(seed: seed)
            var lines = ["person,age,zip,sex,diagnosis,income"]
            var rows: [PrivacyReference.Row] = []
            let zips = ["10115", "10117", "10119", "10243", "10245", "12043", "12045", "12047", "13347", "13349"]
            let diagnoses = ["flu", "flu", "flu", "asthma", "asthma", "diabetes", "cancer", "none", "none", "none"]
            var people: [String] = []
            for person in 0..<count {
                let id = String(format: "P%04d", person)
                people.append(id)
                var age = Int.random(in: 20...76, using: &random)
                let zip = zips[Int.random(in: 0..<zips.count, using: &random)]
                let sex = Bool.random(using: &random) ? "M" : "F"
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    if Double.random(in: 0..<1, using: &random) < moving { age += 1 }
                    let diagnosis = diagnoses[Int.random(in: 0..<diagnoses.count, using: &random)]
                    let income = String(Int.random(in: 1...6, using: &random) * 10)
                    lines.append("\(id),\(age),\(zip),\(sex),\(diagnosis),\(income)")
                    rows.append(
                        PrivacyReference.Row(
                            entity: rowsAreIndividuals ? "row\(rows.count)" : id,
                            quasiIdentifiers: [String(age), zip, sex], sensitive: ""))
                }
            }
            csv = lines.joined(separator: "\n") + "\n"
            self.rows = rows
            self.people = people
        }

        /// The reference over these rows, with `sensitive` (a column index of the CSV) as the sensitive value.
        func reference(sensitive: Int?) -> PrivacyReference {
            let values = Array(csv.split(separator: "\n").dropFirst()).map { $0.split(separator: ",").map(String.init) }
            var rows = self.rows
            for index in rows.indices { rows[index].sensitive = sensitive.map { values[index][$0] } ?? "" }
            let ages: [(String) -> String] = [5, 10, 20].map { base in { String(Int($0)! / base * base) } }
            let zips: [(String) -> String] = [4, 3, 2].map { length in { String($0.prefix(length)) } }
            return PrivacyReference(rows: rows, generalizations: [ages, zips, [{ _ in "*" }]])
        }
    }

    static func policy(privacy: String, entity: Bool = true) -> String {
        """
        version: 1
        dataset: { name: people }
        \(entity ? "entity: person" : "")
        privacy: \(privacy)
        columns:
          person: { role: insensitive }
          age: { role: quasi_identifier, generalize: { round: [5, 10, 20] } }
          zip: { role: quasi_identifier, generalize: { prefix: [4, 3, 2] } }
          sex: { role: quasi_identifier, generalize: { hierarchy: sex.csv } }
          diagnosis: { role: sensitive }
          income: { role: sensitive }
        """
    }

    /// A directory with the test policy (and its sex hierarchy) and `csv` as in.csv.
    static func fixture(_ csv: String, policyText: String) throws -> (
        directory: TemporaryDirectory, policy: String, input: String
    ) {
        let directory = try TemporaryDirectory()
        try directory.write("sex.csv", text: "M;*\nF;*\n")
        let policyPath = try directory.write("policy.yaml", text: policyText)
        let input = try directory.write("in.csv", text: csv)
        return (directory, policyPath, input)
    }

    /// Publishes `csv` with `policy`; returns the manifest and the data rows (split on commas).
    static func publish(_ csv: String, _ policy: String) throws -> (ReleaseManifest, [[String]]) {
        let (directory, policyPath, input) = try fixture(csv, policyText: policy)
        let request = TransformRequest(policyPath: policyPath, inputs: [input], seed: 1, environment: [:], workers: 2)
        let outcome = try Publisher.publish(request, directory: directory.file("release"), dryRun: false)
        let data = String(decoding: try directory.read("release/people.csv"), as: UTF8.self)
        let rows = data.split(separator: "\n").dropFirst().map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        return (outcome.manifest, rows)
    }

    struct Case: CustomStringConvertible, Sendable {
        var seed: UInt64
        var privacy: String
        var model: PrivacyReference.Model
        var sensitive: Int?
        var moving = 0.0
        var entity = true
        var description: String { "seed \(seed): \(privacy)\(moving > 0 ? ", moving" : "")\(entity ? "" : ", rows")" }
    }

    static let cases: [Case] = [
        Case(seed: 1, privacy: "{ k: 2 }", model: .init(k: 2, limit: 0)),
        Case(seed: 2, privacy: "{ k: 4 }", model: .init(k: 4, limit: 0)),
        Case(seed: 3, privacy: "{ k: 5, suppression_limit: 0.05 }", model: .init(k: 5, limit: 0.05)),
        Case(seed: 4, privacy: "{ k: 3, suppression_limit: 0.1 }", model: .init(k: 3, limit: 0.1), moving: 0.3),
        Case(seed: 5, privacy: "{ k: 2, suppression_limit: 0.02 }", model: .init(k: 2, limit: 0.02), moving: 0.5),
        Case(seed: 6, privacy: "{ k: 3, suppression_limit: 0.05 }", model: .init(k: 3, limit: 0.05), entity: false),
        Case(
            seed: 7, privacy: "{ k: 2, suppression_limit: 0.05, l_diversity: { column: diagnosis, l: 3 } }",
            model: .init(k: 2, limit: 0.05, l: 3), sensitive: 4),
        Case(
            seed: 8,
            privacy: "{ k: 2, suppression_limit: 0.1, l_diversity: { column: diagnosis, l: 2.5, variant: entropy } }",
            model: .init(k: 2, limit: 0.1, entropyL: 2.5), sensitive: 4, moving: 0.3),
        Case(
            seed: 9,
            privacy: "{ k: 2, suppression_limit: 0.05, t_closeness: { column: diagnosis, t: 0.3, distance: equal } }",
            model: .init(k: 2, limit: 0.05, t: 0.3), sensitive: 4),
        Case(
            seed: 10, privacy: "{ k: 2, suppression_limit: 0.05, t_closeness: { column: income, t: 0.15 } }",
            model: .init(k: 2, limit: 0.05, t: 0.15, orderedT: true), sensitive: 5, moving: 0.2),
        Case(
            seed: 11,
            privacy:
                "{ k: 3, t_closeness: { column: income, t: 0.2, distance: ordered }, l_diversity: { column: income, l: 3 } }",
            model: .init(k: 3, limit: 0, l: 3, t: 0.2, orderedT: true), sensitive: 5, entity: false),
    ]

    /// The streaming engine and the reference choose the same levels, suppress the same people
    /// and publish the same rows with the same values.
    @Test(arguments: cases) func agreesWithTheReference(_ test: Case) throws {
        let data = Generated(seed: test.seed, people: 160, moving: test.moving, rowsAreIndividuals: !test.entity)
        let reference = data.reference(sensitive: test.sensitive)
        guard let expected = reference.solve(test.model) else {
            Issue.record("the reference finds no transformation for \(test)")
            return
        }
        let (manifest, rows) = try Self.publish(data.csv, Self.policy(privacy: test.privacy, entity: test.entity))
        let privacy = try #require(manifest.privacy)
        #expect(
            [privacy.transformation["age"], privacy.transformation["zip"], privacy.transformation["sex"]]
                == expected.levels.map { $0 })
        #expect(abs(privacy.informationLoss - expected.loss) < 1e-6)
        #expect(rows.map { Array($0[1...3]) } == expected.rows.map(\.values))
        let inputRows = Array(data.csv.split(separator: "\n").dropFirst()).map {
            $0.split(separator: ",").map(String.init)
        }
        #expect(rows.map { $0[0] } == expected.rows.map { inputRows[$0.index][0] })
        if test.entity { #expect(privacy.suppressedEntities == expected.suppressedEntities.count) }
        #expect(manifest.rows.out == manifest.rows.in - privacy.suppressedRecords)
    }

    /// What every release with a privacy section must satisfy, checked on the output itself.
    @Test(arguments: [(UInt64(21), 2, 0.0), (22, 3, 0.05), (23, 5, 0.1), (24, 4, 0.02), (25, 6, 0.2)])
    func releasesSatisfyTheModel(seed: UInt64, k: Int, limit: Double) throws {
        let data = Generated(seed: seed, people: 200, moving: 0.25)
        let (manifest, rows) = try Self.publish(
            data.csv, Self.policy(privacy: "{ k: \(k), suppression_limit: \(limit) }"))
        let privacy = try #require(manifest.privacy)
        // Every published class holds at least k people.
        var classes: [[String]: Set<String>] = [:]
        for row in rows { classes[Array(row[1...3]), default: []].insert(row[0]) }
        #expect(classes.values.allSatisfy { $0.count >= k })
        #expect(classes.values.map(\.count).min() == privacy.minClassSize)
        // A person is published with all their rows or not at all.
        var inputCounts: [String: Int] = [:]
        var outputCounts: [String: Int] = [:]
        for line in data.csv.split(separator: "\n").dropFirst() { inputCounts[String(line.prefix(5)), default: 0] += 1 }
        for row in rows { outputCounts[row[0], default: 0] += 1 }
        #expect(outputCounts.allSatisfy { inputCounts[$0.key] == $0.value })
        #expect(data.people.count - outputCounts.count == privacy.suppressedEntities)
        #expect(Double(privacy.suppressedEntities) <= limit * Double(data.people.count) + 1e-9)
        #expect(manifest.rows.out == manifest.rows.in - privacy.suppressedRecords)
        #expect(privacy.individuals == data.people.count)
    }

    /// Runs pass 1 and the search on `csv`; returns the outcome.
    static func outcome(_ csv: String, privacy: String) throws -> PrivacyOutcome {
        let (directory, policyPath, input) = try fixture(csv, policyText: policy(privacy: privacy))
        let request = TransformRequest(policyPath: policyPath, inputs: [input], environment: [:], workers: 2)
        let (_, plan, inputs) = try Publisher.prepare(request, releaseID: "test")
        let output = try OutputFile(path: "/dev/null")
        return try TransformRun(plan: plan, workers: 2).runPrivate(
            inputs: inputs, output: output, delimiter: .comma,
            spoolDirectory: directory.path
        ).1
    }

    /// The second pass reads the spool in pieces: frames cut at any point between two reads
    /// give the same output as one read of the whole spool.
    @Test func spoolReadInSmallPiecesGivesTheSameOutput() throws {
        let data = Generated(seed: 61, people: 400, moving: 0.2)
        let (directory, policyPath, input) = try Self.fixture(
            data.csv, policyText: Self.policy(privacy: "{ k: 3, suppression_limit: 0.05 }"))
        var outputs: [[UInt8]] = []
        for bufferSize in [1 << 22, 1, 7, 64, 1000] {
            let request = TransformRequest(policyPath: policyPath, inputs: [input], environment: [:], workers: 2)
            let (_, plan, inputs) = try Publisher.prepare(request, releaseID: "test")
            let output = try OutputFile(path: directory.file("out-\(bufferSize).csv"))
            var run = TransformRun(plan: plan, workers: 2)
            run.spoolBufferSize = bufferSize
            _ = try run.runPrivate(inputs: inputs, output: output, delimiter: .comma, spoolDirectory: directory.path)
            try output.commit()
            outputs.append(try directory.read("out-\(bufferSize).csv"))
        }
        #expect(outputs[0].count > 10_000)
        #expect(outputs.allSatisfy { $0 == outputs[0] })
    }

    /// A record that repeats the one before through its quasi-identifiers is spooled as a repeat
    /// frame, about half a full one. Pass 2 gives the same release, data and counts, as with full
    /// frames only, read whole or a few bytes at a time. Where a measured field (here the
    /// l-diversity column) lies among the repeated fields, the frames stay full.
    @Test(arguments: [false, true]) func repeatFramesGiveTheSameRelease(measuredRepeats: Bool) throws {
        let data = Generated(seed: 81, people: 500, moving: 0.2)
        // The diagnosis made a person's own, and put before the quasi-identifiers.
        var diagnosisOf: [String: String] = [:]
        let csv =
            data.csv.split(separator: "\n").enumerated().map { index, line -> String in
                var fields = line.split(separator: ",").map(String.init)
                guard measuredRepeats else { return fields.joined(separator: ",") }
                if index > 0 {
                    fields[4] = diagnosisOf[fields[0], default: fields[4]]
                    diagnosisOf[fields[0]] = fields[4]
                }
                return ([fields[0], fields[4]] + fields[1...3] + [fields[5]]).joined(separator: ",")
            }.joined(separator: "\n") + "\n"
        let privacy = "{ k: 2, suppression_limit: 0.1, l_diversity: { column: diagnosis, l: 2 } }"
        let (directory, policyPath, input) = try Self.fixture(csv, policyText: Self.policy(privacy: privacy))
        let request = TransformRequest(policyPath: policyPath, inputs: [input], environment: [:], workers: 2)
        var outputs: [[UInt8]] = []
        var reports: [RiskReport] = []
        var statistics: [PrivacyStatistics] = []
        var spools: [Int] = []
        for repeating in [true, false] {
            let (policy, prepared, inputs) = try Publisher.prepare(request, releaseID: "test")
            var plan = prepared
            let spec = try #require(
                Publisher.releaseRiskSpec(
                    policy: policy, header: plan.outputHeader,
                    distributions: Publisher.changedColumns(policy: policy, output: plan.outputHeader)))
            var observers = ReleaseObservers()
            try Publisher.measure(release: spec, of: plan, by: &observers, policy: policy)
            #expect(observers.measuredOutputs.contains(plan.outputHeader.firstIndex(of: "diagnosis")!))
            plan.privacy!.repeatFrames = repeating
            spools.append(
                try TransformRun(plan: plan, observers: observers, workers: 2).passOne(
                    inputs: inputs, delimiter: .comma, spoolDirectory: directory.path,
                    progress: nil
                ).spool.size)
            // Read whole and written in 1 MiB chunks; read and written a few bytes at a time
            // (a repeat frame's previous line is then mostly in a chunk handed over before).
            for (bufferSize, chunkBytes) in [(1 << 22, 1 << 20), (5, 40)] {
                let (_, _, inputs) = try Publisher.prepare(request, releaseID: "test")
                let name = "out-\(repeating)-\(bufferSize).csv"
                let output = try OutputFile(path: directory.file(name))
                var run = TransformRun(plan: plan, observers: observers, workers: 2)
                run.spoolBufferSize = bufferSize
                run.passTwoChunkBytes = chunkBytes
                _ = try run.runPrivate(
                    inputs: inputs, output: output, delimiter: .comma, spoolDirectory: directory.path)
                try output.commit()
                outputs.append(try directory.read(name))
                let counted = try #require(run.observation.privacyReleaseCounts)
                statistics.append(counted.statistics)
                reports.append(
                    try RiskAnalysis.report(counted, spec: spec, inputs: [name], thresholds: RiskThresholds()))
            }
        }
        #expect(outputs[0].count > 10_000)
        #expect(outputs.allSatisfy { $0 == outputs[0] })
        #expect(statistics.allSatisfy { $0 == statistics[0] })
        // The reports differ only in the file they name.
        let unnamed = reports.map { report -> RiskReport in
            var unnamed = report
            unnamed.inputs = []
            return unnamed
        }
        #expect(unnamed.allSatisfy { $0 == unnamed[0] })
        if measuredRepeats {
            #expect(spools[0] == spools[1])
        } else {
            #expect(Double(spools[0]) < 0.9 * Double(spools[1]))
        }
    }

    /// Records a filter drops leave nothing in the spool: filtering in the policy gives the same
    /// release as filtering the input first.
    @Test func filteredRecordsAreNotCounted() throws {
        let data = Generated(seed: 71, people: 300, moving: 0.2)
        let lines = data.csv.split(separator: "\n")
        let kept = [lines[0]] + lines.dropFirst().filter { Int($0.split(separator: ",")[5])! >= 30 }
        let privacy = "{ k: 3, suppression_limit: 0.05 }"
        let filtered = Self.policy(privacy: privacy) + "\nfilter:\n  - { column: income, min: 30 }\n"
        let (manifest, rows) = try Self.publish(data.csv, filtered)
        let (expectedManifest, expectedRows) = try Self.publish(
            kept.joined(separator: "\n") + "\n", Self.policy(privacy: privacy))
        #expect(rows == expectedRows)
        #expect(manifest.rows.filtered == lines.count - kept.count)
        #expect(manifest.privacy?.transformation == expectedManifest.privacy?.transformation)
        #expect(manifest.privacy?.individuals == expectedManifest.privacy?.individuals)
    }

    /// Every metric's value on a table small enough to work out by hand: ages 21, 22, 35, 38, 39
    /// rounded to tens make classes {20, 20} and {30, 30, 30}.
    @Test(arguments: [
        ("entropy", 2 + 3 * log2(3.0)), ("loss", 0.4), ("discernibility", 13), ("average_class_size", 1.25),
    ])
    func metricsByHand(metric: String, expected: Double) throws {
        let directory = try TemporaryDirectory()
        let policyPath = try directory.write(
            "policy.yaml",
            text: """
                version: 1
                dataset: { name: ages }
                privacy: { k: 2, suppression_limit: 0.2, metric: \(metric) }
                columns:
                  age: { role: quasi_identifier, generalize: { round: [10] } }
                """)
        let input = try directory.write("in.csv", text: "age\n21\n22\n35\n38\n39\n")
        let request = TransformRequest(policyPath: policyPath, inputs: [input], environment: [:])
        let outcome = try Publisher.publish(request, directory: directory.file("release"), dryRun: false)
        let privacy = try #require(outcome.manifest.privacy)
        #expect(privacy.transformation == ["age": 1])
        #expect(abs(privacy.informationLoss - expected) < 1e-9)
        #expect(privacy.metric == metric)
    }

    /// The search returns, for every metric, the best value over all transformations that
    /// satisfy the models, as found by evaluating every node (no pruning).
    @Test(arguments: InformationLossMetric.allCases)
    func searchFindsTheBestNodeForEveryMetric(metric: InformationLossMetric) throws {
        let data = Generated(seed: 81, people: 250, moving: 0.2)
        let outcome = try Self.outcome(
            data.csv, privacy: "{ k: 3, suppression_limit: 0.08, metric: \(metric.rawValue) }")
        var spec = PrivacySpec()
        spec.k = 3
        spec.suppressionLimit = 0.08
        spec.metric = metric
        let search = PrivacySearch(statistics: outcome.statistics, levels: outcome.levels, spec: spec)
        let radices = outcome.levels.map { $0.maxLevel + 1 }
        var best = Double.infinity
        for index in 0..<radices.reduce(1, *) {
            let table = search.table(for: search.lattice.transformation(index))
            let evaluation = search.evaluate(table)
            if evaluation.satisfied { best = min(best, search.informationLoss(table, evaluation)) }
        }
        #expect(abs(outcome.result.informationLoss - best) <= 1e-9 * max(1, abs(best)))
        #expect(outcome.result.metric == metric)
    }

    /// Rolling classes up on bit-packed keys (from whichever cached table the search picks) gives
    /// every node the same classes as rolling up through representative tuples: records,
    /// individuals, sensitive histograms, entities spanning several classes, and the verdict.
    @Test func packedKeyRollUpEqualsTupleRollUp() throws {
        let data = Generated(seed: 53, people: 300, moving: 0.3)
        let outcome = try Self.outcome(
            data.csv, privacy: "{ k: 3, suppression_limit: 0.1, l_diversity: { column: diagnosis, l: 2 } }")
        var spec = PrivacySpec()
        spec.k = 3
        spec.suppressionLimit = 0.1
        spec.lDiversity = LDiversitySpec(column: "diagnosis", l: 2, variant: .distinct)
        let packed = PrivacySearch(statistics: outcome.statistics, levels: outcome.levels, spec: spec)
        let tuples = PrivacySearch(statistics: outcome.statistics, levels: outcome.levels, spec: spec, packKeys: false)
        #expect(outcome.statistics.multiEntities.rowCount > 0)
        func summary(_ table: ClassTable, _ search: PrivacySearch) -> [String] {
            let evaluation = search.evaluate(table)
            let sizes = table.individualSizes()
            return (0..<table.count).map { found in
                let histogram = (table.histogram.offsets[found]..<table.histogram.offsets[found + 1])
                    .map { "\(table.histogram.keys[$0]):\(table.histogram.counts[$0])" }.sorted()
                return
                    "\(table.records[found]) \(table.individuals[found]) \(sizes[found]) \(evaluation.failing[found]) \(histogram)"
            }.sorted() + [
                "suppressed \(evaluation.suppressedIndividuals) \(evaluation.suppressedRecords) \(evaluation.satisfied)"
            ]
        }
        let radices = outcome.levels.map { $0.maxLevel + 1 }
        // Visit the lattice top-down, then bottom-up, so the packed search rolls up from the
        // finest table, from tables one level below, and from tables several levels below.
        let nodes = Array(0..<radices.reduce(1, *))
        for index in nodes.reversed() + nodes {
            let node = packed.lattice.transformation(index)
            let table = packed.table(for: node)
            #expect(table.keys.count == table.count)
            #expect(summary(table, packed) == summary(tuples.table(for: node), tuples), "\(node)")
        }
    }

    /// Coarser levels merge classes: never more classes at a node above another.
    @Test func coarserLevelsNeverAddClasses() throws {
        let data = Generated(seed: 31, people: 300, moving: 0.3)
        let outcome = try Self.outcome(data.csv, privacy: "{ k: 2 }")
        let search = PrivacySearch(statistics: outcome.statistics, levels: outcome.levels, spec: PrivacySpec())
        let radices = outcome.levels.map { $0.maxLevel + 1 }
        for index in 0..<radices.reduce(1, *) {
            let node = search.lattice.transformation(index)
            let classes = search.table(for: node).count
            for dimension in 0..<node.width where node[dimension] + 1 < radices[dimension] {
                let up = node.raised(dimension)
                #expect(search.table(for: up).count <= classes, "\(node) -> \(up)")
            }
        }
    }

    /// Shards split by entity: their statistics merged equal the whole's, and the search on the
    /// merge decides the same; the statistics survive a JSON round trip.
    @Test func shardStatisticsMerge() throws {
        let data = Generated(seed: 41, people: 240, moving: 0.3)
        let lines = data.csv.split(separator: "\n").map(String.init)
        let header = lines[0]
        let left =
            ([header] + lines.dropFirst().filter { Int($0.dropFirst().prefix(4))! % 2 == 0 }).joined(separator: "\n")
            + "\n"
        let right =
            ([header] + lines.dropFirst().filter { Int($0.dropFirst().prefix(4))! % 2 == 1 }).joined(separator: "\n")
            + "\n"
        let privacy = "{ k: 3, suppression_limit: 0.05, l_diversity: { column: diagnosis, l: 2 } }"
        let whole = try Self.outcome(data.csv, privacy: privacy)
        var merged = try Self.outcome(left, privacy: privacy).statistics
        merged.merge(try Self.outcome(right, privacy: privacy).statistics)
        #expect(merged.records == whole.statistics.records)
        #expect(merged.individuals == whole.statistics.individuals)
        #expect(merged.tupleCount == whole.statistics.tupleCount)
        #expect(merged.multiEntities.rowCount == whole.statistics.multiEntities.rowCount)
        var spec = PrivacySpec()
        spec.k = 3
        spec.suppressionLimit = 0.05
        spec.lDiversity = LDiversitySpec(column: "diagnosis", l: 2, variant: .distinct)
        let directory = try TemporaryDirectory()
        let sexes = try directory.write("sex.csv", text: "M;*\nF;*\n")
        let methods: [GeneralizationSpec.Method] = [
            .round([5, 10, 20]), .prefix([4, 3, 2]), .hierarchy(path: sexes, levels: 1),
        ]
        let levels = try (0..<merged.width).map { column in
            try QuasiIdentifierLevels(
                column: merged.columns[column], values: merged.values[column], records: merged.valueRecords[column],
                generalizer: Generalizer(spec: GeneralizationSpec(method: methods[column], level: 1, levelGiven: false))
            )
        }
        let result = try PrivacySearch(statistics: merged, levels: levels, spec: spec).run()
        #expect(result.levels == whole.result.levels)
        #expect(abs(result.informationLoss - whole.result.informationLoss) < 1e-6)
        #expect(result.suppressedIndividuals == whole.result.suppressedIndividuals)
        #expect(result.minClassSize == whole.result.minClassSize)
        let decoded = try JSONDecoder().decode(PrivacyStatistics.self, from: JSONEncoder().encode(merged))
        #expect(decoded == merged)

        // The plan decided on the merge, saved and loaded, applied to each shard on its own:
        // together the shards publish exactly the rows the whole publishes.
        let decided = PrivacyPlan(result: result, columns: merged.columns, keyIDs: [:], seed: nil)
        #expect(decided.levels == whole.plan.levels)
        #expect(Set(decided.suppressedClasses) == Set(whole.plan.suppressedClasses))
        #expect(Set(decided.suppressedEntities) == Set(whole.plan.suppressedEntities))
        let saved = try JSONDecoder().decode(PrivacyPlan.self, from: JSONEncoder().encode(decided))
        #expect(saved == decided)
        var shardRows: [Substring] = []
        var suppressed = 0
        for (index, shard) in [left, right].enumerated() {
            let policyPath = try directory.write("policy.yaml", text: Self.policy(privacy: privacy))
            let input = try directory.write("shard\(index).csv", text: shard)
            let request = TransformRequest(policyPath: policyPath, inputs: [input], environment: [:], workers: 2)
            let (_, plan, inputs) = try Publisher.prepare(request, releaseID: "test")
            let output = try OutputFile(path: directory.file("out\(index).csv"))
            suppressed += try TransformRun(plan: plan, workers: 2).runPrivate(
                inputs: inputs, output: output, delimiter: .comma,
                spoolDirectory: directory.path, applying: saved
            ).suppressedRecords
            try output.commit()
            shardRows += String(decoding: try directory.read("out\(index).csv"), as: UTF8.self).split(separator: "\n")
                .dropFirst()
        }
        let wholeRows = String(decoding: try Self.publishData(data.csv, privacy: privacy), as: UTF8.self).split(
            separator: "\n"
        ).dropFirst()
        #expect(shardRows.sorted() == wholeRows.sorted())
        #expect(suppressed == whole.suppressedRecords)
        #expect(whole.suppressedRecords > 0 && !whole.plan.suppressedClasses.isEmpty)
    }

    /// The data a publish of `csv` under the test policy writes.
    static func publishData(_ csv: String, privacy: String) throws -> [UInt8] {
        let (directory, policyPath, input) = try fixture(csv, policyText: policy(privacy: privacy))
        let request = TransformRequest(policyPath: policyPath, inputs: [input], environment: [:], workers: 2)
        _ = try Publisher.publish(request, directory: directory.file("release"), dryRun: false)
        return try directory.read("release/people.csv")
    }

    /// No transformation can give 300 people classes of 400 when none may be suppressed: the
    /// run is refused with the reason, and nothing is published.
    @Test func impossibleModelsAreRefused() throws {
        let data = Generated(seed: 51, people: 300, moving: 0)
        let (directory, policyPath, input) = try Self.fixture(data.csv, policyText: Self.policy(privacy: "{ k: 400 }"))
        let request = TransformRequest(policyPath: policyPath, inputs: [input], environment: [:])
        #expect {
            _ = try Publisher.publish(request, directory: directory.file("release"), dryRun: false)
        } throws: { error in
            guard let gate = error as? PrivacyGateError else { return false }
            return gate.refusal.reasons[0]
                == "no transformation satisfies k=400 within the suppression limit of 0% of individuals"
                && gate.refusal.reasons[1].hasPrefix(
                    "the most general one (age=3, zip=3, sex=1) would suppress 300 of 300 individuals")
        }
        #expect(try directory.listing() == ["in.csv", "policy.yaml", "sex.csv"])
    }

    /// Levels that do not nest on the data (weeks across months) cannot be searched.
    @Test func levelsThatDoNotNestAreAPolicyError() throws {
        let directory = try TemporaryDirectory()
        let policyPath = try directory.write(
            "policy.yaml",
            text: """
                version: 1
                dataset: { name: visits }
                privacy: { k: 2 }
                columns:
                  day: { role: quasi_identifier, generalize: { time: [week, month] } }
                """)
        let input = try directory.write("in.csv", text: "day\n2026-01-30\n2026-02-01\n2026-02-02\n")
        let request = TransformRequest(policyPath: policyPath, inputs: [input], environment: [:])
        #expect {
            _ = try Publisher.apply(request, output: directory.file("out.csv"))
        } throws: { error in
            (error as? PolicyError)?.diagnostics.map(\.description) == [
                "\(policyPath): error: columns.day.generalize: level 2 does not nest in level 1 on this data (values grouped at level 1 are split at level 2), so the search cannot choose among these levels: give 'level', or levels that nest"
            ]
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("out.csv")))
    }

    /// A value a searched generalization cannot read is reported at its first position.
    @Test func badValuesNameTheirFirstPosition() throws {
        let directory = try TemporaryDirectory()
        try directory.write("sex.csv", text: "M;*\nF;*\n")
        let policyPath = try directory.write("policy.yaml", text: Self.policy(privacy: "{ k: 1 }"))
        let input = try directory.write(
            "in.csv", text: "person,age,zip,sex,diagnosis,income\nP1,30,10115,M,flu,10\nP2,thirty,10117,F,flu,10\n")
        let request = TransformRequest(policyPath: policyPath, inputs: [input], environment: [:])
        #expect {
            _ = try Publisher.apply(request, output: directory.file("out.csv"))
        } throws: { error in
            "\(error)" == "\(input):3: error: record 2, column 'age': not a number"
        }
    }
}
