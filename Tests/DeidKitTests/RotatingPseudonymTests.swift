import DeidCSV
import DeidTestSupport
import Foundation
import Testing

@testable import DeidKit

/// `pseudonymize: { rotate: ... }`: one pseudonym per entity and period, unrelated across
/// periods, the same for the same key; errors name the policy path or the record.
@Suite struct RotatingPseudonymTests {
    static let environment = ["DEID_KEY": "rotating-test-key-0123456789abcdef"]
    static let sample = Paths.root + "/Datasets/smart_meter_sample.csv"

    /// The sample's policy with `meter_id` pseudonymized (rotated by `rotate`), its readings
    /// summed per hour when `aggregate`.
    static func policy(rotate: String?, aggregate: Bool = false) -> String {
        let rotation = rotate.map { ", rotate: \($0)" } ?? ""
        let aggregation = aggregate ? ", aggregate: { every: hour, sum: [kwh] }" : ""
        return """
            version: 1
            dataset: { name: rotation }
            entity: meter_id
            columns:
              meter_id:      { role: identifier, pseudonymize: { key: "env:DEID_KEY"\(rotation) } }
              customer_name: { role: identifier, drop: true }
              email:         { role: identifier, drop: true }
              postcode:      { role: quasi_identifier, generalize: { prefix: 2 } }
              dwelling_type: { role: quasi_identifier }
              occupants:     { role: insensitive }
              tariff:        { role: insensitive }
              reading_time:  { role: insensitive\(aggregation) }
              kwh:           { role: sensitive }
            risk: { threshold: 0.2 }
            """
    }

    /// Publishes the bundled sample under `policy`; returns the rows (meter_id, reading_time
    /// from the input beside the published pseudonym) and the manifest.
    static func publish(_ policy: String, in directory: TemporaryDirectory, name: String) throws -> (
        pairs: [(meter: String, time: String, pseudonym: String)], manifest: ReleaseManifest
    ) {
        let policyPath = try directory.write(name + ".yaml", text: policy)
        let outcome = try Publisher.publish(
            TransformRequest(policyPath: policyPath, inputs: [sample], seed: 3, environment: environment),
            directory: directory.file(name), dryRun: false)
        let input = referenceParse(try TemporaryDirectory.readFile(sample)).dropFirst()
        let output = referenceParse(try directory.read(name + "/rotation.csv")).dropFirst()
        #expect(input.count == output.count)
        let pairs = zip(input, output).map { row, published in (meter: row[0], time: row[7], pseudonym: published[0]) }
        return (pairs, outcome.manifest)
    }

    @Test func aDailyRotationGivesEachMeterOnePseudonymADay() throws {
        let directory = try TemporaryDirectory()
        let (rotated, manifest) = try Self.publish(
            Self.policy(rotate: "{ every: day, column: reading_time }"), in: directory, name: "daily")
        let (plain, _) = try Self.publish(Self.policy(rotate: nil), in: directory, name: "plain")
        var byMeterDay: [String: Set<String>] = [:]
        var meters = Set<String>()
        for pair in rotated {
            byMeterDay[pair.meter + " " + pair.time.prefix(10), default: []].insert(pair.pseudonym)
            meters.insert(pair.meter)
        }
        // One pseudonym per meter and day, and no two meter-days share one.
        #expect(byMeterDay.values.allSatisfy { $0.count == 1 })
        #expect(Set(rotated.map(\.pseudonym)).count == byMeterDay.count)
        #expect(byMeterDay.count > 10 * meters.count)
        // Unrotated, a meter has one pseudonym throughout, which no rotated day reuses.
        #expect(Set(plain.map(\.pseudonym)).count == meters.count)
        #expect(Set(plain.map(\.pseudonym)).isDisjoint(with: rotated.map(\.pseudonym)))
        let technique = try #require(manifest.columns.first { $0.name == "meter_id" }?.techniques.first)
        #expect(
            technique.parameters["rotate"] == .text("day")
                && technique.parameters["rotate_column"] == .text("reading_time"))
        // The same key gives the same pseudonyms again.
        let (again, _) = try Self.publish(
            Self.policy(rotate: "{ every: day, column: reading_time }"), in: directory, name: "again")
        #expect(again.map(\.pseudonym) == rotated.map(\.pseudonym))
        // Measured on the release, each pseudonym is an individual: a meter and a day.
        let assessment = try RiskAssessment(input: directory.file("daily/rotation.csv"))
        var spec = RiskSpec(quasiIdentifiers: ["postcode"])
        spec.entity = "meter_id"
        spec.discovery = nil
        let report = try assessment.measure(spec)
        #expect(report.individuals == byMeterDay.count)
    }

    @Test func aWeeklyRotationStartsOnMonday() throws {
        let rotation = RotatingPseudonyms(
            key: SecretKey(bytes: Array(repeating: 7, count: 32)), length: 16, encoding: .hex, every: .week,
            purpose: "pseudonymize/meter_id")
        let state = RotationState(rotation)
        func pseudonym(_ day: String) -> [UInt8] {
            state.pseudonym(for: Array("MTR-1".utf8)[...], at: TimestampValue.parse(Array("\(day) 12:00:00".utf8))!)
        }
        // 2013-01-07 is a Monday.
        let week = (7...13).map { pseudonym(String(format: "2013-01-%02d", $0)) }
        #expect(Set(week).count == 1)
        #expect(pseudonym("2013-01-06") != week[0] && pseudonym("2013-01-14") != week[0])
        // Another value in the same week has another pseudonym; the month rotation differs from the week's.
        #expect(
            state.pseudonym(for: Array("MTR-2".utf8)[...], at: TimestampValue.parse(Array("2013-01-08".utf8))!)
                != week[0])
        let monthly = RotationState(
            RotatingPseudonyms(
                key: SecretKey(bytes: Array(repeating: 7, count: 32)), length: 16, encoding: .hex, every: .month,
                purpose: "pseudonymize/meter_id"))
        let january = monthly.pseudonym(
            for: Array("MTR-1".utf8)[...], at: TimestampValue.parse(Array("2013-01-31".utf8))!)
        #expect(
            january
                == monthly.pseudonym(for: Array("MTR-1".utf8)[...], at: TimestampValue.parse(Array("2013-01-01".utf8))!)
        )
        #expect(
            january
                != monthly.pseudonym(for: Array("MTR-1".utf8)[...], at: TimestampValue.parse(Array("2013-02-01".utf8))!)
        )
    }

    @Test func badRotationsAreNamedInThePolicy() throws {
        let header = [
            "meter_id", "customer_name", "email", "postcode", "dwelling_type", "occupants", "tariff", "reading_time",
            "kwh",
        ]
        for (rotate, path, phrase) in [
            (
                "{ every: hourly, column: reading_time }", "columns.meter_id.pseudonymize.rotate.every",
                "unknown period 'hourly'"
            ),
            (
                "{ every: day, column: reading_tme }", "columns.meter_id.pseudonymize.rotate.column",
                "did you mean 'reading_time'"
            ),
            ("{ every: day }", "columns.meter_id.pseudonymize.rotate", "missing key 'column'"),
        ] {
            #expect {
                _ = try PolicyLoader.parse(
                    text: Self.policy(rotate: rotate), file: "p.yaml", directory: ".", header: header,
                    environment: Self.environment)
            } throws: { error in
                guard let diagnostic = (error as? PolicyError)?.diagnostics.first else { return false }
                return diagnostic.path == path && diagnostic.message.contains(phrase) && diagnostic.line == 5
            }
        }
    }

    @Test func aRecordWithoutATimeIsNamed() throws {
        let directory = try TemporaryDirectory()
        let policyPath = try directory.write(
            "p.yaml",
            text: """
                version: 1
                dataset: { name: t }
                columns:
                  id:   { role: identifier, pseudonymize: { key: "env:DEID_KEY", rotate: { every: day, column: time } } }
                  time: { role: insensitive }
                """)
        let input = try directory.write("in.csv", text: "id,time\na,2013-01-01 00:00\nb,SECRET\n")
        #expect {
            _ = try Publisher.apply(
                TransformRequest(policyPath: policyPath, inputs: [input], environment: Self.environment),
                output: directory.file("out.csv"))
        } throws: { error in
            guard let error = error as? TransformError else { return false }
            return error.position.line == 3 && error.position.column == "id" && !error.description.contains("SECRET")
        }
    }

    /// An aggregated release whose entity rotates is measured by its households, not its
    /// pseudonyms: the release's classes and individuals are those of the unrotated release, so a
    /// risk gate cannot be passed by rotating (the published file itself shows a pseudonym a day).
    @Test func anAggregatedReleaseIsMeasuredByItsEntitiesNotItsPseudonyms() throws {
        let directory = try TemporaryDirectory()
        var reports: [RiskReport] = []
        for (name, rotation) in [("plain", nil), ("daily", "{ every: day, column: reading_time }")] {
            let policyPath = try directory.write(name + ".yaml", text: Self.policy(rotate: rotation, aggregate: true))
            let outcome = try Publisher.publish(
                TransformRequest(policyPath: policyPath, inputs: [Self.sample], seed: 3, environment: Self.environment),
                directory: directory.file(name), dryRun: false)
            reports.append(try #require(outcome.risk))
        }
        #expect(reports[0].individuals == 30 && reports[1].individuals == 30)
        #expect(reports[1].minClassSize == reports[0].minClassSize)
        #expect(reports[1].classSizes == reports[0].classSizes)
        // The published data names each meter by a pseudonym a day.
        let published = referenceParse(try directory.read("daily/rotation.csv")).dropFirst()
        #expect(Set(published.map { $0[0] }).count > 10 * 30)
    }
}
