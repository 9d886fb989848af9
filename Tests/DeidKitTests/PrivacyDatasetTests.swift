import DeidCSV
import DeidTestSupport
import Foundation
import Testing

@testable import DeidKit

/// The privacy search on the real datasets in ../shared/datasets: ARX's adult benchmark with
/// its hierarchies, and London smart meters counted per household.
@Suite struct PrivacyDatasetTests {
    static let adultColumns = [
        "sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation",
        "salary-class",
    ]

    /// (k, suppression limit, levels in the file's column order, non-uniform entropy). The first
    /// two are ARX's published optima; the others come from the brute-force oracle
    /// (Tests/Oracles/lattice_oracle.py), which also reproduces ARX's two.
    static let adultOptima: [(Int, Double, [Int], Double)] = [
        (5, 0, [1, 2, 1, 1, 3, 2, 2, 1, 1], 407289.5388925293),
        (5, 0.04, [1, 0, 1, 1, 3, 2, 2, 0, 1], 255559.85455731067),
        (2, 0, [1, 1, 1, 1, 3, 2, 2, 1, 1], 379417.3460570992),
        (10, 0, [1, 1, 1, 1, 3, 2, 2, 2, 1], 427068.64057754923),
        (10, 0.02, [1, 0, 1, 1, 3, 2, 2, 1, 1], 310356.67362254066),
    ]

    @Test(arguments: adultOptima) func adultOptimaMatchARX(k: Int, limit: Double, levels: [Int], loss: Double) throws {
        let data = try Paths.shared("arx_adult/adult.csv")
        var policy = [
            "version: 1", "dataset: { name: adult }", "privacy: { k: \(k), suppression_limit: \(limit) }", "columns:",
        ]
        for column in Self.adultColumns {
            policy.append(
                "  \(column): { role: quasi_identifier, generalize: { hierarchy: \(try Paths.shared("arx_adult/adult_hierarchy_\(column).csv")) } }"
            )
        }
        let directory = try TemporaryDirectory()
        let policyPath = try directory.write("adult.yaml", text: policy.joined(separator: "\n") + "\n")
        let request = TransformRequest(
            policyPath: policyPath, inputs: [data], readOptions: CSVReadOptions(delimiter: .semicolon), environment: [:]
        )
        let outcome = try Publisher.publish(request, directory: directory.file("release"), dryRun: false)
        let privacy = try #require(outcome.manifest.privacy)
        #expect(Self.adultColumns.map { privacy.transformation[$0]! } == levels)
        #expect(abs(privacy.informationLoss - loss) < 1e-6)
        #expect(privacy.minClassSize >= k)
        #expect(Double(privacy.suppressedRecords) <= limit * 30162)
        #expect(outcome.manifest.rows.out == 30162 - privacy.suppressedRecords)
    }

    /// The release's reports agree with each other and with an independent audit of the
    /// published file (the Python oracle, as pycanon would measure it): the records the
    /// suppression removed, and t-closeness, stated against the input's distribution (the
    /// model's reference) in the manifest and report.json alike, with the release's own beside it.
    @Test func adultReleaseReportsAgreeWithTheAudit() throws {
        let data = try Paths.shared("arx_adult/adult.csv")
        var policy = [
            "version: 1", "dataset: { name: adult }",
            "privacy: { k: 5, suppression_limit: 0.04, t_closeness: { column: salary-class, t: 0.2 } }",
            "columns:",
        ]
        for column in Self.adultColumns where column != "salary-class" {
            policy.append(
                "  \(column): { role: quasi_identifier, generalize: { hierarchy: \(try Paths.shared("arx_adult/adult_hierarchy_\(column).csv")) } }"
            )
        }
        policy.append("  salary-class: { role: sensitive }")
        let directory = try TemporaryDirectory()
        let policyPath = try directory.write("adult.yaml", text: policy.joined(separator: "\n") + "\n")
        let request = TransformRequest(
            policyPath: policyPath, inputs: [data], readOptions: CSVReadOptions(delimiter: .semicolon), environment: [:]
        )
        let outcome = try Publisher.publish(request, directory: directory.file("release"), dryRun: false)
        let privacy = try #require(outcome.manifest.privacy)
        #expect(privacy.suppressedRecords > 0, "the case needs suppression: the two references differ")
        // Records: the report's line and the manifest's step give the suppression's own count.
        let text = String(decoding: try directory.read("release/report.md"), as: UTF8.self)
        #expect(
            text.contains(
                "- record suppression (privacy models) (suppression): \(privacy.suppressedRecords) records removed"))
        #expect(outcome.manifest.rows.in - outcome.manifest.rows.out == privacy.suppressedRecords)
        // t-closeness: one reference in the manifest and report.json, the other labelled.
        let disclosure = try #require(outcome.risk?.attributeDisclosure)
        #expect(privacy.tReference == "input" && disclosure.tReference == "input")
        #expect(disclosure.highestT == privacy.highestTDistance)
        #expect(disclosure.highestT <= 0.2 + 1e-12)
        let own = try #require(disclosure.highestTFile)
        #expect(privacy.highestTDistanceRelease == own)
        #expect(
            text.contains(
                "from the input's distribution (the model's reference); \(String(format: "%.4f", own)) from the release's own distribution"
            ))
        // The audit of the published file measures the release's own.
        let quasiIdentifiers = Self.adultColumns.filter { $0 != "salary-class" }
        let audit = try RiskTests.oracle([
            "file": directory.file("release/adult.csv"), "quasi_identifiers": quasiIdentifiers,
            "sensitive": "salary-class",
        ])
        #expect(abs(own - (audit["highest_t_equal"] as! Double)) < 1e-9)
        #expect(abs(outcome.risk!.marketer - (audit["marketer"] as! Double)) < 1e-9)
    }

    /// ARX's other benchmark tables (k=5): optima from the brute-force oracle
    /// (`QUASI_IDENTIFIERS=... Tests/Oracles/lattice_oracle.py`), levels in the listed order.
    static let benchmarkOptima: [(String, String, [String], [String], Double, [Int], Double)] = [
        (
            "arx_benchmark/cup.csv", "arx_benchmark/hierarchies/cup_hierarchy_",
            ["ZIP", "AGE", "GENDER", "INCOME", "STATE", "RAMNTALL", "NGIFTALL"],
            ["MINRAMNT"], 0, [4, 4, 1, 1, 1, 4, 4], 2264994.981263361
        ),
        (
            "arx_benchmark/cup.csv", "arx_benchmark/hierarchies/cup_hierarchy_",
            ["ZIP", "AGE", "GENDER", "INCOME", "STATE", "RAMNTALL", "NGIFTALL"],
            ["MINRAMNT"], 0.04, [2, 4, 0, 1, 0, 1, 3], 1547611.9474815626
        ),
        (
            "arx_benchmark/fars_int.csv", "arx_benchmark/hierarchies/fars_int_hierarchy_",
            ["iage", "irace", "ideathmon", "ideathday", "isex", "ihispanic", "istatenum"], ["iinjury"], 0,
            [1, 2, 3, 3, 1, 2, 1], 1467885.6087877373
        ),
        (
            "arx_benchmark/fars_int.csv", "arx_benchmark/hierarchies/fars_int_hierarchy_",
            ["iage", "irace", "ideathmon", "ideathday", "isex", "ihispanic", "istatenum"], ["iinjury"], 0.04,
            [1, 0, 3, 3, 1, 1, 0], 925382.3026395583
        ),
    ]

    @Test(arguments: benchmarkOptima)
    func benchmarkOptimaMatchTheOracle(
        data: String, hierarchies: String, columns: [String], others: [String], limit: Double,
        levels: [Int], loss: Double
    ) throws {
        var policy = [
            "version: 1", "dataset: { name: bench }", "privacy: { k: 5, suppression_limit: \(limit) }", "columns:",
        ]
        for column in columns {
            policy.append(
                "  \(column): { role: quasi_identifier, generalize: { hierarchy: \(try Paths.shared(hierarchies + column + ".csv")) } }"
            )
        }
        for column in others { policy.append("  \(column): { role: insensitive }") }
        let directory = try TemporaryDirectory()
        let policyPath = try directory.write("bench.yaml", text: policy.joined(separator: "\n") + "\n")
        let request = TransformRequest(policyPath: policyPath, inputs: [try Paths.shared(data)], environment: [:])
        let outcome = try Publisher.publish(request, directory: directory.file("release"), dryRun: false)
        let privacy = try #require(outcome.manifest.privacy)
        #expect(columns.map { privacy.transformation[$0]! } == levels)
        #expect(abs(privacy.informationLoss - loss) < 1e-6 * loss)
        #expect(privacy.minClassSize >= 5)
        #expect(Double(privacy.suppressedRecords) <= limit * Double(outcome.manifest.rows.in))
    }

    /// London smart meters (10 households, January 2013) joined in this test to their
    /// households' ACORN group and tariff: classes count households, not readings, and the
    /// engine agrees with the reference on levels, suppressed households and rows.
    @Test func smartMetersCountHouseholds() throws {
        let directory = try TemporaryDirectory()
        let households = try String(
            contentsOfFile: try Paths.shared("lcl_smartmeter/informations_households.csv"), encoding: .utf8)
        var info: [String: (tariff: String, acorn: String, group: String)] = [:]
        var acornGroups: [String: String] = [:]
        for line in households.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",").map(String.init)
            info[fields[0]] = (fields[1], fields[2], fields[3])
            acornGroups[fields[2]] = fields[3]
        }
        try directory.write(
            "acorn.csv",
            text: acornGroups.sorted { $0.key < $1.key }.map { "\($0.key);\($0.value);*" }.joined(separator: "\n")
                + "\n")
        try directory.write("tariff.csv", text: "Std;*\nToU;*\n")
        let readings = try String(
            contentsOfFile: try Paths.shared("lcl_smartmeter/lcl_2013_10households_jan.csv"), encoding: .utf8)
        var joined = ["household,time,kwh,tariff,acorn"]
        var rows: [PrivacyReference.Row] = []
        for line in readings.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",").map(String.init)
            let household = try #require(info[fields[0]])
            joined.append("\(line),\(household.tariff),\(household.acorn)")
            rows.append(.init(entity: fields[0], quasiIdentifiers: [household.tariff, household.acorn], sensitive: ""))
        }
        let input = try directory.write("meters.csv", text: joined.joined(separator: "\n") + "\n")
        let policyPath = try directory.write(
            "policy.yaml",
            text: """
                version: 1
                dataset: { name: meters }
                entity: household
                privacy: { k: 3, suppression_limit: 0.1 }
                columns:
                  household: { role: identifier, pseudonymize: { key: "env:DEID_KEY" } }
                  time: { role: insensitive, generalize: { time: hour } }
                  kwh: { role: sensitive }
                  tariff: { role: quasi_identifier, generalize: { hierarchy: tariff.csv } }
                  acorn: { role: quasi_identifier, generalize: { hierarchy: acorn.csv } }
                """)
        let request = TransformRequest(
            policyPath: policyPath, inputs: [input], environment: ["DEID_KEY": String(repeating: "k", count: 32)])
        let outcome = try Publisher.publish(request, directory: directory.file("release"), dryRun: false)
        let privacy = try #require(outcome.manifest.privacy)

        let reference = PrivacyReference(
            rows: rows, generalizations: [[{ _ in "*" }], [{ acornGroups[$0]! }, { _ in "*" }]])
        let expected = try #require(reference.solve(.init(k: 3, limit: 0.1)))
        #expect([privacy.transformation["tariff"], privacy.transformation["acorn"]] == expected.levels.map { $0 })
        #expect(privacy.individuals == 10)
        #expect(privacy.suppressedEntities == expected.suppressedEntities.count)
        #expect(outcome.manifest.rows.out == expected.rows.count)
        // In the release: every class holds at least 3 households, whatever its readings.
        let data = String(decoding: try directory.read("release/meters.csv"), as: UTF8.self)
        var classes: [String: Set<String>] = [:]
        var readingsPerClass: [String: Int] = [:]
        for line in data.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",").map(String.init)
            classes[fields[3] + "|" + fields[4], default: []].insert(fields[0])
            readingsPerClass[fields[3] + "|" + fields[4], default: 0] += 1
        }
        #expect(classes.values.allSatisfy { $0.count >= 3 })
        #expect(readingsPerClass.values.allSatisfy { $0 >= 3 * 1488 })
        #expect(privacy.suppressedRecords == privacy.suppressedEntities * 1488)
    }
}
