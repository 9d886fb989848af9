import DeidCSV
import DeidTestSupport
import Foundation
import Testing

@testable import DeidKit

/// Aggregate releases (`aggregate` section): the cells, their rules, merging and
/// complementary suppression against an independent pandas computation
/// (Tests/Oracles/aggregate_oracle.py); differential privacy against its formulas; the budget
/// ledger in the catalog.
@Suite struct AggregateReleaseTests {
    static let sample = Paths.root + "/Datasets/smart_meter_sample.csv"
    static let oracle = Paths.root + "/Tests/Oracles/aggregate_oracle.py"

    static func samplePolicy(_ aggregate: String, filter: String = "") -> String {
        PolicyText.sampleAggregate(aggregate, filter: filter)
    }

    static func publish(
        _ policy: String, inputs: [String], in directory: TemporaryDirectory, name: String = "release",
        seed: UInt64? = nil, catalog: String? = nil
    ) throws -> PublishOutcome {
        let path = try directory.write("\(name).yaml", text: policy)
        var request = TransformRequest(policyPath: path, inputs: inputs, seed: seed, environment: [:], workers: 2)
        request.catalogPath = catalog
        request.recordInCatalog = catalog != nil
        return try Publisher.publish(request, directory: directory.file(name), dryRun: false)
    }

    /// The published table against the oracle's: labels and entity counts exactly, the sums,
    /// means and percentiles to 1e-6 (the oracle prints its own decimals).
    static func expectSameCells(
        _ published: String, _ spec: [String: Any], data: String, in directory: TemporaryDirectory
    )
        throws
    {
        let specPath = try directory.write(
            "spec-\(UUID().uuidString).json",
            text: String(decoding: try JSONSerialization.data(withJSONObject: spec), as: UTF8.self))
        let (status, expected) = try output(of: ["python3", oracle, data, specPath])
        #expect(status == 0, "the oracle failed (is pandas installed? make test installs it)")
        let want = referenceParse(Array(expected))
        let got = referenceParse(try TemporaryDirectory.readFile(published))
        #expect(got.first == want.first)
        #expect(got.count == want.count, "rows: deid \(got.count), pandas \(want.count)")
        let exactColumns = (spec["by"] as! [String]).count + 2 + (spec["merge"] == nil ? 0 : 1)
        for (row, (mine, theirs)) in zip(got, want).enumerated().dropFirst() {
            #expect(Array(mine.prefix(exactColumns)) == Array(theirs.prefix(exactColumns)), "row \(row)")
            for column in exactColumns..<min(mine.count, theirs.count) {
                #expect(abs(Double(mine[column])! - Double(theirs[column])!) < 1e-6, "row \(row), column \(column)")
            }
            if mine.prefix(exactColumns) != theirs.prefix(exactColumns) { break }
        }
    }

    /// The London households per ACORN group and half-hour (January 2013): at least 10
    /// households, the two largest at most half of a cell, a margin per half-hour. ACORN-U has
    /// one household, so complementary suppression has work to do.
    @Test func londonCellsPerAcornGroupAndHalfHourMatchPandas() throws {
        let directory = try TemporaryDirectory()
        let data = directory.file("lcl.csv")
        let joined = try output(of: [
            "python3", Self.oracle, "join-acorn",
            try Paths.shared("lcl_smartmeter/lcl_2013_100households_halfhourly.csv.gz"),
            try Paths.shared("lcl_smartmeter/informations_households.csv"), data,
        ])
        #expect(joined.status == 0)
        let policy = """
            version: 1
            dataset: { name: lcl-acorn }
            entity: LCLid
            filter:
              - { column: tstp, from: "2013-01-01", before: "2013-02-01" }
            columns:
              LCLid:         { role: identifier, drop: true }
              tstp:          { role: insensitive }
              energy_kwh_hh: { role: sensitive }
              Acorn:         { role: quasi_identifier, drop: true }
              Acorn_grouped: { role: quasi_identifier }
            aggregate:
              by: [Acorn_grouped]
              time: { column: tstp, every: 30min }
              measures: [energy_kwh_hh]
              percentiles: [50]
              min_entities: 10
              dominance: { n: 2, percent: 50 }
              margins: true
            """
        let outcome = try Self.publish(policy, inputs: [data], in: directory)
        try Self.expectSameCells(
            directory.file("release/lcl-acorn.csv"),
            [
                "entity": "LCLid", "by": ["Acorn_grouped"], "time": "tstp", "every": "30min",
                "measure": "energy_kwh_hh", "from": "2013-01-01", "before": "2013-02-01", "min_entities": 10,
                "dominance": [2, 50], "percentiles": [50], "margins": true, "decimals": 3,
            ], data: data, in: directory)
        let cells = try #require(outcome.manifest.aggregate?.cells)
        // 31 days of 48 half-hours, four groups each (ACORN-U: one household, always suppressed).
        #expect(cells.cells == 31 * 48 * 4)
        #expect(cells.suppressedMinEntities == 31 * 48)
        #expect(cells.suppressedComplementary > 0)
        #expect(cells.marginsPublished == 31 * 48)
        #expect(
            cells.published + cells.suppressedMinEntities + cells.suppressedDominance + cells.suppressedComplementary
                == cells.cells)
        #expect(outcome.manifest.rows.in == 1_674_718)
    }

    /// Per postcode district and day on the generated sample, suppressing, then merging into
    /// postcode areas (the parent level of the district's generalization).
    @Test(arguments: ["suppress", "merge"])
    func districtCellsPerDayMatchPandas(failing: String) throws {
        let directory = try TemporaryDirectory()
        let policy = Self.samplePolicy(
            """
              by: [postcode]
              time: { column: reading_time, every: day }
              measures: [kwh]
              percentiles: [50, 90]
              min_entities: 5
              dominance: { n: 1, percent: 30 }
              failing: \(failing)
              margins: true
            """)
        let outcome = try Self.publish(policy, inputs: [Self.sample], in: directory)
        var spec: [String: Any] = [
            "entity": "meter_id", "by": ["postcode"], "derive": ["postcode": "first2"], "time": "reading_time",
            "every": "day", "measure": "kwh", "min_entities": 5, "dominance": [1, 30], "percentiles": [50, 90],
            "margins": true, "decimals": 3,
        ]
        if failing == "merge" { spec["merge"] = "first1" }
        try Self.expectSameCells(directory.file("release/meter-areas.csv"), spec, data: Self.sample, in: directory)
        let cells = try #require(outcome.manifest.aggregate?.cells)
        #expect(cells.cells == 448)
        if failing == "merge" {
            #expect(cells.merged > 0 && cells.mergedRows > 0 && cells.merged > cells.mergedRows)
        } else {
            #expect(cells.merged == 0)
        }
        #expect(
            cells.published + cells.merged + cells.suppressedMinEntities + cells.suppressedDominance
                + cells.suppressedComplementary == cells.cells)
        let report = outcome.report
        #expect(report.contains("## Aggregate release"))
        #expect(report.contains("- Rules per cell: at least 5 entities; the 1 largest at most 30% of each total"))
    }

    /// The discrete Laplace sampler against its distribution: mean 0, variance 2p/(1-p)^2, and
    /// the 95% bound the report gives holds 95% of the draws.
    @Test(arguments: [(UInt64(3), UInt64(2)), (UInt64(1), UInt64(1)), (UInt64(70), UInt64(1))])
    func discreteLaplaceDrawsFollowTheFormula(t: UInt64, s: UInt64) {
        let mechanism = DiscreteLaplace(t: t, s: s)
        var random = SeededRandom(seed: 11)
        let draws = 200_000
        var sum = 0.0
        var squares = 0.0
        let bound = mechanism.errorBound()
        var outside = 0
        var outsideTighter = 0
        for _ in 0..<draws {
            let value = mechanism.sample(using: &random)
            sum += Double(value)
            squares += Double(value) * Double(value)
            if abs(value) > bound { outside += 1 }
            if abs(value) > bound - 1 { outsideTighter += 1 }
        }
        let variance = squares / Double(draws) - (sum / Double(draws)) * (sum / Double(draws))
        #expect(abs(variance / mechanism.variance - 1) < 0.03, "variance \(variance), formula \(mechanism.variance)")
        #expect(abs(sum / Double(draws)) < 4 * (mechanism.variance / Double(draws)).squareRoot())
        #expect(Double(outside) / Double(draws) <= 0.05 + 0.003)
        #expect(Double(outsideTighter) / Double(draws) > 0.05 - 0.003)
        // The formula of the tail the bound comes from: P(|Y| > k) = 2 p^(k+1) / (1 + p).
        let p = exp(-Double(s) / Double(t))
        #expect(abs(mechanism.scale - Double(t) / Double(s)) < 1e-12)
        #expect(2 * pow(p, Double(bound + 1)) / (1 + p) <= 0.05)
    }

    /// A differentially private release: its noise scales are the formulas' (sensitivity over
    /// the epsilon share), the manifest states delta and that a seeded run is not private, the
    /// same seed gives the same bytes, and the noisy totals are near the true ones.
    @Test func privateCellsHaveTheStatedNoise() throws {
        let directory = try TemporaryDirectory()
        let policy = Self.samplePolicy(
            """
              by: []
              time: { column: reading_time, every: day }
              measures: [kwh]
              min_entities: 23
              dp: { epsilon: 10, bounds: { kwh: [0, 2] } }
            """, filter: "filter:\n  - { column: reading_time, from: \"2013-01-01\", before: \"2013-01-08\" }\n")
        let first = try Self.publish(policy, inputs: [Self.sample], in: directory, name: "first", seed: 4)
        let second = try Self.publish(policy, inputs: [Self.sample], in: directory, name: "second", seed: 4)
        #expect(try directory.read("first/meter-areas.csv") == directory.read("second/meter-areas.csv"))
        let dp = try #require(first.manifest.aggregate?.dp)
        // One week: 7 cells per household (from the filter), 48 readings a day, epsilon split
        // in two (the count and the sum of kwh).
        #expect(dp.maxCells == 7 && dp.maxReadings == 48)
        #expect(abs(dp.scales["entities"]! - 7.0 * 2 / 10) < 1e-9)
        #expect(abs(dp.scales["kwh_sum"]! - 7.0 * 48 * 2 * 2 / 10) < 1e-6)
        #expect(dp.split == ["entities": 5, "kwh_sum": 5])
        #expect(dp.seeded && dp.note.contains("NOT private"))
        #expect(dp.delta > 0 && dp.delta <= 1e-6)
        #expect(first.report.contains("| `kwh_sum` | 134.4 | ±\(DecimalText.label(dp.error95["kwh_sum"]!)) |"))
        // The true daily totals, next to the noisy ones: within a few noise scales.
        var truth: [String: (Set<String>, Double)] = [:]
        for row in referenceParse(try TemporaryDirectory.readFile(Self.sample)).dropFirst()
        where row[7] < "2013-01-08" {
            let day = String(row[7].prefix(10)) + " 00:00:00"
            truth[day, default: ([], 0)].0.insert(row[0])
            truth[day, default: ([], 0)].1 += min(2, Double(row[8]) ?? 0)
        }
        let rows = referenceParse(try directory.read("first/meter-areas.csv"))
        #expect(rows[0] == ["reading_time", "entities", "kwh_sum", "kwh_mean"])
        #expect(rows.count == 8)
        for row in rows.dropFirst() {
            let (households, total) = try #require(truth[row[0]])
            #expect(abs(Double(Int(row[1])! - households.count)) <= 10 * dp.scales["entities"]!)
            #expect(abs(Double(row[2])! - total) <= 10 * dp.scales["kwh_sum"]!)
        }
        // Without a seed, the system's generator: another run, other noise.
        let unseeded = try Self.publish(policy, inputs: [Self.sample], in: directory, name: "third")
        #expect(unseeded.manifest.aggregate?.dp?.seeded == false)
        #expect(try directory.read("third/meter-areas.csv") != directory.read("first/meter-areas.csv"))
    }

    /// Delta depends on the policy alone: a threshold too low for it is a policy error, before
    /// any data is read, with the threshold that would do.
    @Test func aThresholdTooLowForDeltaIsAPolicyError() throws {
        let directory = try TemporaryDirectory()
        let policy = Self.samplePolicy(
            """
              by: []
              time: { column: reading_time, every: day }
              measures: [kwh]
              min_entities: 10
              dp: { epsilon: 1, bounds: { kwh: [0, 2] }, max_cells: 7 }
            """)
        #expect {
            try Self.publish(policy, inputs: [Self.sample], in: directory)
        } throws: { error in
            "\(error)".contains("aggregate.min_entities")
                && "\(error)".contains("give min_entities at least 229")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("release")))
    }

    /// What cannot be combined, or is missing, is named by its policy path.
    @Test func aggregatePolicyProblemsNameTheirPath() throws {
        let header = [
            "meter_id", "customer_name", "email", "postcode", "dwelling_type", "occupants", "tariff", "reading_time",
            "kwh",
        ]
        let cases: [(String, String)] = [
            (
                "  by: [postcode]\n  time: { column: reading_time, every: day }\n  measures: [kwh]\n  dominance: { n: 1, percent: 15 }\n  dp: { epsilon: 1, bounds: { kwh: [0, 2] }, max_cells: 1 }",
                "aggregate.dominance: cannot be combined with aggregate.dp"
            ),
            (
                "  time: { column: reading_time, every: day }\n  measures: [kwh]\n  dp: { epsilon: 1, max_cells: 1 }",
                "aggregate.dp.bounds: measure 'kwh' needs bounds"
            ),
            (
                "  time: { column: reading_time, every: day }\n  measures: [kwh]\n  dp: { epsilon: 1, bounds: { kwh: [0, 2] } }",
                "aggregate.dp: missing key 'max_cells'"
            ),
            (
                "  by: [dwelling_type]\n  time: { column: reading_time, every: day }\n  measures: [kwh]\n  failing: merge",
                "aggregate.failing: merge needs a coarser level of the first 'by' column ('dwelling_type')"
            ),
            (
                "  by: [postcod]\n  time: { column: reading_time }\n  measures: [kwh]",
                "no column 'postcod' in the input; did you mean 'postcode'?"
            ),
            ("  by: [postcode]\n  measures: [kwh]", "missing key 'time'"),
            (
                "  by: [postcode, kwh]\n  time: { column: reading_time }\n  measures: [kwh]",
                "aggregate.by: column 'kwh' cannot be both grouped by and totalled"
            ),
            (
                "  time: { column: reading_time }\n  measures: [kwh, meter_id]",
                "aggregate: the entity column 'meter_id' is counted, not grouped by or totalled"
            ),
            (
                "  time: { column: reading_time, every: day }\n  measures: [kwh]\n  budget: { lifetime_epsilon: 5 }",
                "aggregate.budget: a budget is spent by differential privacy"
            ),
        ]
        for (aggregate, message) in cases {
            #expect(throws: (any Error).self) {
                try PolicyLoader.parse(
                    text: Self.samplePolicy(aggregate), file: "p.yaml", directory: ".", header: header)
            }
            do {
                _ = try PolicyLoader.parse(
                    text: Self.samplePolicy(aggregate), file: "p.yaml", directory: ".", header: header)
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
    }

    /// The ledger: each private release spends its epsilon against its dataset's name; one
    /// that would go past the lifetime budget is refused with nothing written; removing a
    /// published release does not give its budget back.
    @Test func theBudgetLedgerRefusesOverspending() throws {
        let directory = try TemporaryDirectory()
        let catalog = directory.file("catalog.sqlite")
        let policy = Self.samplePolicy(
            """
              by: []
              time: { column: reading_time, every: day }
              measures: [kwh]
              min_entities: 23
              dp: { epsilon: 10, bounds: { kwh: [0, 2] }, max_cells: 7 }
              budget: { lifetime_epsilon: 25 }
            """)
        let first = try Self.publish(policy, inputs: [Self.sample], in: directory, name: "a", seed: 1, catalog: catalog)
        #expect(first.manifest.aggregate?.budget?.spentAfter == 10)
        _ = try Self.publish(policy, inputs: [Self.sample], in: directory, name: "b", seed: 2, catalog: catalog)
        #expect {
            try Self.publish(policy, inputs: [Self.sample], in: directory, name: "c", seed: 3, catalog: catalog)
        } throws: { error in
            "\(error)".contains("which has 5 left of its lifetime 25 (20 spent by 2 releases")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("c")))
        let opened = try Catalog(path: catalog, create: false)
        #expect(
            try opened.budgets() == [
                DatasetBudget(
                    dataset: "meter-areas", releases: 2, epsilonSpent: 20,
                    deltaSpent: 2 * first.manifest.aggregate!.dp!.delta, lifetimeEpsilon: 25)
            ])
        #expect(try opened.remove(id: first.manifest.releaseID))
        #expect(try opened.budget(of: "meter-areas").epsilonSpent == 20)
        // A release recorded as pending whose directory never appeared is refunded.
        var pending = try #require(try opened.release(id: try opened.list()[0].id))
        pending.id = "pending-release"
        pending.location = directory.file("never-written")
        pending.isPending = true
        pending.privacySpend = PrivacySpend(epsilon: 4, delta: 0, lifetimeEpsilon: nil)
        try opened.record(pending)
        #expect(try opened.budget(of: "meter-areas").epsilonSpent == 24)
        let settled = try opened.settlePendingReleases()
        #expect(settled.removed == ["pending-release"])
        #expect(try opened.budget(of: "meter-areas").epsilonSpent == 20)
    }
}
