import DeidTestSupport
import Foundation
import Testing

/// `deid publish` of aggregate releases and its budget ledger, and the default gates, as a
/// user runs them.
@Suite struct AggregateCommandTests {
    static let sample = PublishCommandTests.sample
    static let environment = PublishCommandTests.environment

    static let privatePolicy = PolicyText.sampleAggregate(
        """
          time: { column: reading_time, every: day }
          measures: [kwh]
          min_entities: 23
          dp: { epsilon: 10, bounds: { kwh: [0, 2] }, max_cells: 7 }
          budget: { lifetime_epsilon: 30 }
        """, dataset: "daily-totals")

    /// Five publishes at once with budget for three: exactly three are written and recorded,
    /// the other two are refused (exit 1) with nothing written; `deid catalog budget` shows
    /// the spending.
    @Test func concurrentPublishesCannotOverspendTheBudget() throws {
        let directory = try TemporaryDirectory()
        try directory.write("policy.yaml", text: Self.privatePolicy)
        var processes: [(String, Process, Pipe)] = []
        for name in ["a", "b", "c", "d", "e"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLI.deid)
            process.arguments = [
                "publish", "-p", "policy.yaml", "-o", name, "--catalog-path", "catalog.sqlite", Self.sample,
            ]
            process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
            let errors = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
            processes.append((name, process, errors))
        }
        var published: [String] = []
        for (name, process, errors) in processes {
            let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            if process.terminationStatus == 0 {
                published.append(name)
            } else {
                #expect(process.terminationStatus == 1, "\(stderr)")
                #expect(stderr.contains("of dataset 'daily-totals', which has 0 left of its lifetime 30"), "\(stderr)")
                #expect(!FileManager.default.fileExists(atPath: directory.file(name)))
            }
        }
        #expect(published.count == 3)
        let budget = try CLI.run(["catalog", "budget", "--catalog-path", "catalog.sqlite"], in: directory.path)
        #expect(budget.status == 0)
        let lines = budget.stdout.split(separator: "\n")
        #expect(lines.first == "dataset\treleases\tepsilon_spent\tdelta_spent\tlifetime_epsilon\tepsilon_left")
        #expect(lines.count == 2 && lines[1].hasPrefix("daily-totals\t3\t30\t") && lines[1].hasSuffix("\t30\t0"))
        let listed = try CLI.run(["catalog", "list", "--catalog-path", "catalog.sqlite"], in: directory.path)
        #expect(listed.stdout.split(separator: "\n").count == 4)
    }

    /// A budget needs the catalog it is kept in.
    @Test func aBudgetWithoutACatalogIsRefused() throws {
        let directory = try TemporaryDirectory()
        try directory.write("policy.yaml", text: Self.privatePolicy)
        let result = try CLI.run(
            ["publish", "-p", "policy.yaml", "-o", "out", "--no-catalog", Self.sample], in: directory.path)
        #expect(result.status == 1)
        #expect(result.stderr.contains("aggregate.budget is kept in the catalog"))
        #expect(try directory.listing() == ["policy.yaml"])
    }

    /// Safe by default: the hourly series without its `risk` section (no privacy, risk or
    /// aggregate section) is refused, with the default named; the record-level and aggregate
    /// policies `make demo` publishes pass their gates.
    @Test func aPolicyThatChoosesNothingGetsTheDefaultGates() throws {
        let directory = try TemporaryDirectory()
        let unprotected = PolicyText.withoutRisk(
            try String(contentsOfFile: PublishCommandTests.policy, encoding: .utf8)
                .replacingOccurrences(of: "hierarchies/", with: Paths.root + "/Datasets/hierarchies/"))
        try directory.write("policy.yaml", text: unprotected)
        let refused = try CLI.run(
            ["publish", "-p", "policy.yaml", "-o", "out", "--no-catalog", Self.sample], in: directory.path,
            environment: Self.environment)
        #expect(refused.status == 1)
        #expect(
            refused.stderr.contains(
                "deid: refused: the release exceeds risk.min_class_size 5 (the default: the policy has no privacy, risk or aggregate section)"
            ), "\(refused.stderr)")
        #expect(refused.stderr.contains("risk.max_trace_uniqueness 0.5 (the default"))
        #expect(try directory.listing() == ["policy.yaml"])
        for policy in ["smart_meter_policy.yaml", "smart_meter_aggregate.yaml"] {
            let result = try CLI.run(
                [
                    "publish", "-p", Paths.root + "/Datasets/" + policy, "-o", policy, "--no-catalog", "--seed", "1",
                    Self.sample,
                ],
                in: directory.path, environment: Self.environment)
            #expect(result.status == 0, "\(policy): \(result.stderr)")
        }
        // Joined with the register they came from, neither release singles out a household.
        for (release, columns) in [
            ("smart_meter_policy.yaml/smart-meter-readings.csv", "dwelling_type,occupants"),
            ("smart_meter_aggregate.yaml/smart-meter-areas.csv", "postcode"),
        ] {
            let linked = try CLI.run(
                ["link", release, Self.sample, "--columns", columns, "--max-unique-link-share", "0.05"],
                in: directory.path)
            #expect(linked.status == 0, "\(release): \(linked.stdout)")
            #expect(linked.stdout.contains("unique links: 0 of"), "\(release)")
        }
    }
}
