import DeidTestSupport
import Foundation
import Testing

/// `deid publish` and `deid apply` as a pipeline or a data team runs them.
@Suite("deid publish and apply")
struct PublishCommandTests {
    static let key = "cli-test-key-0123456789abcdef-0123456789"
    static let environment = ["DEID_KEY": key]
    static let sample = Paths.root + "/Datasets/smart_meter_sample.csv"
    static let policy = Paths.root + "/Tests/Fixtures/hourly-series-policy.yaml"

    @Test func publishWritesARelease() throws {
        let directory = try TemporaryDirectory()
        let result = try CLI.run(
            ["publish", "--policy", Self.policy, "--out", "release", "--seed", "3", Self.sample],
            in: directory.path, environment: Self.environment)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("published 20160 rows of smart-meter-readings to release/\n"))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.file("release")).sorted()
        #expect(
            files == [
                "confidential", "manifest.json", "report.html", "report.json", "report.md", "smart-meter-readings.csv",
            ])
        let data = String(decoding: try directory.read("release/smart-meter-readings.csv"), as: UTF8.self)
        #expect(data.hasPrefix("meter_id,postcode,dwelling_type,occupants,tariff,reading_time,kwh\n"))
        // Nothing identifying survives: no names, e-mails, full postcodes or raw meter ids; the key appears nowhere.
        let raw = String(decoding: try TemporaryDirectory.readFile(Self.sample), as: UTF8.self)
        let secondRow = raw.split(separator: "\n")[1].split(separator: ",")
        for value in [secondRow[0], secondRow[1], secondRow[2], secondRow[3]] { #expect(!data.contains(String(value))) }
        for file in files.map({ $0 == "confidential" ? "confidential/report.html" : $0 }) {
            #expect(!String(decoding: try directory.read("release/\(file)"), as: UTF8.self).contains(Self.key))
        }
        #expect(!result.stdout.contains(Self.key) && !result.stderr.contains(Self.key))
    }

    /// A field the run accepts (a limit raised past the default 16 MiB) is accepted again when
    /// the publish reads its own output back (the catalog's sample, the linkage check), and the
    /// release holds it whole.
    @Test func aLongFieldWithinARaisedLimitIsPublished() throws {
        let directory = try TemporaryDirectory()
        let note = String(repeating: "a \"quoted\" word, and a\nline break; ", count: 600_000)
        #expect(note.utf8.count > 20 << 20)
        var text = "id,note,kwh\nm1,\"" + note.replacingOccurrences(of: "\"", with: "\"\"") + "\",0.5\n"
        for row in 2..<200 { text += "m\(row),short,\(row % 10).5\n" }
        try directory.write("notes.csv", text: text)
        try directory.write(
            "policy.yaml",
            text: """
                version: 1
                dataset: { name: notes }
                columns:
                  id: { role: identifier, pseudonymize: { key: "env:DEID_KEY" } }
                  note: { role: insensitive }
                  kwh: { role: quasi_identifier }
                """)
        let refused = try CLI.run(
            ["publish", "-p", "policy.yaml", "-o", "default", "--catalog-path", "catalog.sqlite", "notes.csv"],
            in: directory.path, environment: Self.environment)
        #expect(refused.status == 2)
        #expect(
            refused.stderr.contains(
                "notes.csv:2: error: record 1, column 'note': a field is larger than the limit of 16 MiB"),
            "\(refused.stderr)")
        let result = try CLI.run(
            [
                "publish", "-p", "policy.yaml", "-o", "release", "--catalog-path", "catalog.sqlite",
                "--max-field-size", "32", "notes.csv",
            ], in: directory.path, environment: Self.environment)
        #expect(result.status == 0, "\(result.stderr)")
        let data = String(decoding: try directory.read("release/notes.csv"), as: UTF8.self)
        #expect(data.contains(note.replacingOccurrences(of: "\"", with: "\"\"")))
        let catalog = try CLI.run(["catalog", "list", "--catalog-path", "catalog.sqlite"], in: directory.path)
        #expect(catalog.status == 0 && catalog.stdout.contains("notes"), "\(catalog.stderr)")
    }

    @Test func seededPublishIsReproducible() throws {
        let directory = try TemporaryDirectory()
        for name in ["a", "b"] {
            let result = try CLI.run(
                ["publish", "-p", Self.policy, "-o", name, "--seed", "11", Self.sample], in: directory.path,
                environment: Self.environment)
            #expect(result.status == 0, "\(result.stderr)")
        }
        #expect(try directory.read("a/smart-meter-readings.csv") == directory.read("b/smart-meter-readings.csv"))
    }

    @Test func applyStreamsStdinToStdout() throws {
        let directory = try TemporaryDirectory()
        let piped = try CLI.shell(
            "gzip -c '\(Self.sample)' | deid apply -p '\(Self.policy)' --seed 4 - - | head -3", in: directory.path,
            environment: Self.environment)
        #expect(piped.status == 0, "\(piped.stderr)")
        let file = try CLI.run(
            ["apply", "-p", Self.policy, "--seed", "4", Self.sample, "out.csv.gz"], in: directory.path,
            environment: Self.environment)
        #expect(file.status == 0, "\(file.stderr)")
        let unzipped = try CLI.shell("gzip -dc out.csv.gz | head -3", in: directory.path)
        #expect(piped.stdout == unzipped.stdout)
        #expect(piped.stdout.split(separator: "\n").count == 3)
    }

    @Test func policyErrorsExitTwoWithPositionsAndWriteNothing() throws {
        let directory = try TemporaryDirectory()
        try directory.write(
            "policy.yaml",
            text: """
                version: 1
                dataset: { name: x }
                columns:
                  meter_id: { role: identifier, pseudonymise: { key: "env:DEID_KEY" } }
                """)
        for arguments in [
            ["publish", "-p", "policy.yaml", "-o", "release", Self.sample],
            ["apply", "-p", "policy.yaml", Self.sample, "out.csv"],
        ] {
            let result = try CLI.run(arguments, in: directory.path, environment: Self.environment)
            #expect(result.status == 2)
            let lines = result.stderr.split(separator: "\n").map(String.init)
            #expect(
                lines.first
                    == "deid: policy.yaml:3:1: error: columns: input column 'customer_name' has no policy: every column needs a role (role: insensitive passes it through)"
            )
            #expect(
                lines.contains(
                    "deid: policy.yaml:4:13: error: columns.meter_id: an identifier must be dropped, pseudonymized or masked"
                ))
            #expect(
                lines.contains(
                    "deid: policy.yaml:4:33: error: columns.meter_id: unknown key 'pseudonymise'; did you mean 'pseudonymize'?"
                ))
            #expect(lines.count == 10)  // 8 unnamed columns, the identifier, the misspelt key
            #expect(try directory.listing() == ["policy.yaml"])
        }
    }

    @Test func missingKeyIsAPolicyError() throws {
        let directory = try TemporaryDirectory()
        let result = try CLI.run(
            ["publish", "-p", Self.policy, "-o", "release", Self.sample], in: directory.path,
            environment: ["DEID_KEY": ""])
        #expect(result.status == 2)
        #expect(
            result.stderr.contains(
                "hourly-series-policy.yaml:13:59: error: columns.meter_id.pseudonymize.key: the environment variable DEID_KEY holding the key is not set"
            ))
        #expect(try directory.listing().isEmpty)
    }

    @Test func dryRunPrintsTheReportAndWritesNothing() throws {
        let directory = try TemporaryDirectory()
        let result = try CLI.run(
            ["publish", "-p", Self.policy, "--dry-run", Self.sample], in: directory.path, environment: Self.environment)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("- Rows: 40320 read, 0 removed by filters, 20160 written"))
        #expect(try directory.listing().isEmpty)
    }

    /// The starter policy is safe by default: it carries a privacy section (k=5, levels to
    /// search for the postcode and the household size), so publishing the sample with it as
    /// it is refuses with the search's reasons instead of publishing unique households.
    @Test func starterPolicyFromProfileIsProtected() throws {
        let directory = try TemporaryDirectory()
        let profile = try CLI.run(["profile", Self.sample, "--policy-out", "starter.yaml"], in: directory.path)
        #expect(profile.status == 0, "\(profile.stderr)")
        let starter = String(decoding: try directory.read("starter.yaml"), as: UTF8.self)
        #expect(starter.contains("privacy:\n  k: 5\n  suppression_limit: 0.05\n"))
        #expect(starter.contains("\"postcode\": { role: quasi_identifier, generalize: { prefix: [4, 3, 2, 1, 0] } }"))
        let result = try CLI.run(
            ["publish", "-p", "starter.yaml", "-o", "release", Self.sample], in: directory.path,
            environment: Self.environment)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("deid: refused: no transformation satisfies k=5"))
        #expect(try directory.listing() == ["starter.yaml"])
        // With the dwelling type and tariff left out, the search finds levels that pass.
        let edited = starter.replacingOccurrences(
            of: "\"dwelling_type\": { role: quasi_identifier }",
            with: "\"dwelling_type\": { role: quasi_identifier, drop: true }"
        ).replacingOccurrences(of: "\"tariff\": { role: quasi_identifier }", with: "\"tariff\": { role: insensitive }")
        try directory.write("edited.yaml", text: edited)
        let passed = try CLI.run(
            ["publish", "-p", "edited.yaml", "--dry-run", Self.sample], in: directory.path,
            environment: Self.environment)
        #expect(passed.status == 0, "\(passed.stderr)")
        #expect(passed.stdout.contains("| `customer_name` | identifier | no | attribute removal (suppression) |"))
    }

    @Test func interruptedPublishLeavesNoRelease() throws {
        let directory = try TemporaryDirectory()
        try directory.write(
            "policy.yaml",
            text: """
                version: 1
                dataset: { name: big }
                columns:
                  id: { role: identifier, pseudonymize: { key: "env:DEID_KEY" } }
                  kwh: { role: sensitive, noise: { laplace: 0.1 } }
                """)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.deid)
        process.arguments = ["publish", "-p", "policy.yaml", "-o", "release", "-"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        process.environment = ProcessInfo.processInfo.environment.merging(Self.environment) { $1 }
        let input = Pipe()
        process.standardInput = input
        process.standardError = Pipe()
        process.standardOutput = Pipe()
        try process.run()
        // More than one block (2 MiB), so that the header is read and the release is under way.
        input.fileHandleForWriting.write(Data(("id,kwh\n" + String(repeating: "m1,0.5\n", count: 1_000_000)).utf8))
        // Wait for the staging directory (the release is being written), then interrupt.
        var waited = 0
        while try directory.listing().count < 2 && waited < 600 {
            usleep(50_000)
            waited += 1
        }
        #expect(try directory.listing().contains { $0.hasPrefix(".release.deid-tmp-") })
        process.terminate()
        process.waitUntilExit()
        try? input.fileHandleForWriting.close()
        #expect(process.terminationStatus == 128 + SIGTERM)
        #expect(try directory.listing() == ["policy.yaml"])
    }

    /// Every per-record technique through `deid apply`, against values worked out by hand (the
    /// pseudonyms and date shifts with Python's hmac module).
    @Test func everyTechniqueThroughTheCLI() throws {
        let directory = try TemporaryDirectory()
        try directory.write(
            "policy.yaml",
            text: """
                version: 1
                dataset: { name: every technique }
                entity: id
                filter:
                  - { column: when, from: "2013-01-01" }
                columns:
                  id: { role: identifier, pseudonymize: { key: "env:DEID_KEY", length: 16 } }
                  name: { role: identifier, drop: true }
                  email: { role: identifier, mask: { keep_first: 2, keep_last: 4 } }
                  phone: { role: identifier, mask: { pattern: "[0-9]", char: "#" } }
                  postcode: { role: quasi_identifier, suppress: { values: ["ZE2 9XP"], token: "*" } }
                  born: { role: quasi_identifier, generalize: { age: { at: "2026-06-15", bands: [1, 10] }, level: 2 } }
                  visits: { role: quasi_identifier, generalize: { intervals: [0, 1, 3, 10] } }
                  income: { role: sensitive, generalize: { top: 100000, bottom: 10000 } }
                  lat: { role: quasi_identifier, generalize: { grid: { metres: 1000, axis: latitude } } }
                  size: { role: quasi_identifier, generalize: { round: 5 } }
                  dwelling: { role: quasi_identifier, generalize: { hierarchy: "\(Paths.root)/Datasets/hierarchies/dwelling.csv", level: 1 } }
                  code: { role: quasi_identifier, generalize: { prefix: 3 } }
                  when: { role: insensitive, date_shift: { max_days: 3, key: "env:DEID_KEY" }, generalize: { time: day } }
                  kwh: { role: sensitive, noise: { gaussian: 0.1, min: 0, round: 2 } }
                """)
        try directory.write(
            "in.csv",
            text: """
                id,name,email,phone,postcode,born,visits,income,lat,size,dwelling,code,when,kwh
                P-1,Ada Lovelace,ada@example.org,020 7946 0958,ZE2 9XP,1990-06-16,4,250000,51.5074,12.4,detached,SW1A 2AA,2013-03-10 14:47:00,1.25
                P-2,Charles Babbage,cb@example.net,0161 496 0000,N1 3WY,1960-01-01,0,5000,53.4808,7,"flat, converted",M1 1AE,2013-03-11 09:05:30,0.5
                P-1,Ada Lovelace,ada@example.org,020 7946 0958,ZE2 9XP,1990-06-16,1,50000,51.5074,15,detached,SW1A 2AA,2012-12-31 23:59:59,2

                """)
        let result = try CLI.run(
            ["apply", "-p", "policy.yaml", "--seed", "5", "in.csv", "-"], in: directory.path,
            environment: Self.environment)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)  // the header and two rows: the 2012 row is filtered out
        func withoutNoise(_ line: String) -> String { String(line[..<line.lastIndex(of: ",")!]) }
        #expect(lines[0] == "id,email,phone,postcode,born,visits,income,lat,size,dwelling,code,when,kwh")
        // P-1: HMAC prefix eaeeabd8ef26ba53, date shift -2 days; P-2: ecb6901f4751d68f, -3 days.
        #expect(
            withoutNoise(lines[1])
                == "eaeeabd8ef26ba53,ad*********.org,### #### ####,*,30-39,\"[3,10)\",>=100000,51.504671,10,house,SW1,2013-03-08 00:00:00"
        )
        #expect(
            withoutNoise(lines[2])
                == "ecb6901f4751d68f,cb********.net,#### ### ####,N1 3WY,60-69,\"[0,1)\",<=10000,53.480956,5,flat,M1,2013-03-08 00:00:00"
        )
        for line in lines.dropFirst() {
            let kwh = String(line[line.index(after: line.lastIndex(of: ",")!)...])
            #expect(kwh.split(separator: ".").last?.count == 2 && (Double(kwh) ?? -1) >= 0, "\(kwh)")
        }
        let again = try CLI.run(
            ["apply", "-p", "policy.yaml", "--seed", "5", "in.csv", "-"], in: directory.path,
            environment: Self.environment)
        #expect(again.stdout == result.stdout)
    }

    static let kPolicy = Paths.root + "/Datasets/smart_meter_k_anonymity.yaml"

    /// Splits a release's data into rows of fields (the sample's values hold no quoted commas
    /// except in labels, which are quoted).
    static func rows(_ text: String) -> [[String]] {
        text.split(separator: "\n").dropFirst().map { line in
            var fields: [String] = []
            var field = ""
            var quoted = false
            for character in line {
                if character == "\"" {
                    quoted.toggle()
                } else if character == "," && !quoted {
                    fields.append(field)
                    field = ""
                } else {
                    field.append(character)
                }
            }
            return fields + [field]
        }
    }

    @Test func publishWithPrivacyRecordsTheSearch() throws {
        let directory = try TemporaryDirectory()
        let result = try CLI.run(
            ["publish", "-p", Self.kPolicy, "-o", "release", "--seed", "2", Self.sample], in: directory.path,
            environment: Self.environment)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\nk=5: levels dwelling_type="))
        let manifest = try #require(
            try JSONSerialization.jsonObject(with: Data(directory.read("release/manifest.json"))) as? [String: Any])
        let privacy = try #require(manifest["privacy"] as? [String: Any])
        let transformation = try #require(privacy["transformation"] as? [String: Int])
        #expect(Set(transformation.keys) == ["postcode", "dwelling_type", "occupants"])
        #expect(privacy["information_loss"] is Double)
        let minimum = try #require(privacy["min_class_size"] as? Int)
        let suppressedRecords = try #require(privacy["suppressed_records"] as? Int)
        let suppressedEntities = try #require(privacy["suppressed_entities"] as? Int)
        #expect(minimum >= 5 && suppressedEntities <= 3)
        // In the data: every combination of the three is shared by at least 5 meters.
        let rows = Self.rows(String(decoding: try directory.read("release/smart-meter-readings-k5.csv"), as: UTF8.self))
        var meters: [String: Set<String>] = [:]
        for row in rows { meters[row[1...3].joined(separator: "|"), default: []].insert(row[0]) }
        #expect(meters.values.allSatisfy { $0.count >= 5 })
        #expect(meters.values.map(\.count).min() == minimum)
        #expect(rows.count == 40320 - suppressedRecords)
        #expect(Set(rows.map { $0[0] }).count == 30 - suppressedEntities)
        let report = String(decoding: try directory.read("release/report.md"), as: UTF8.self)
        #expect(report.contains("## Privacy models") && report.contains("- Published classes: "))
    }

    @Test func privacyRunsFromStandardInput() throws {
        let directory = try TemporaryDirectory()
        let piped = try CLI.shell(
            "gzip -c '\(Self.sample)' | deid apply -p '\(Self.kPolicy)' --seed 6 - piped.csv", in: directory.path,
            environment: Self.environment)
        #expect(piped.status == 0, "\(piped.stderr)")
        let file = try CLI.run(
            ["apply", "-p", Self.kPolicy, "--seed", "6", Self.sample, "file.csv"], in: directory.path,
            environment: Self.environment)
        #expect(file.status == 0, "\(file.stderr)")
        // Pseudonyms are per release; everything else is the same.
        func withoutPseudonyms(_ name: String) throws -> [String] {
            Self.rows(String(decoding: try directory.read(name), as: UTF8.self)).map {
                $0.dropFirst().joined(separator: ",")
            }
        }
        #expect(try withoutPseudonyms("piped.csv") == withoutPseudonyms("file.csv"))
        #expect(try directory.listing() == ["file.csv", "piped.csv"])
    }

    @Test func refusedReleaseExitsOneAndWritesNothing() throws {
        let directory = try TemporaryDirectory()
        let policy = try String(contentsOfFile: Self.kPolicy, encoding: .utf8)
            .replacingOccurrences(of: "k: 5", with: "k: 40")
            .replacingOccurrences(of: "hierarchies/", with: Paths.root + "/Datasets/hierarchies/")
        try directory.write("policy.yaml", text: policy)
        let result = try CLI.run(
            ["publish", "-p", "policy.yaml", "-o", "release", Self.sample], in: directory.path,
            environment: Self.environment)
        #expect(result.status == 1)
        #expect(
            result.stderr.hasPrefix(
                "deid: refused: no transformation satisfies k=40 within the suppression limit of 10% of individuals\n"))
        #expect(result.stderr.contains("would suppress 30 of 30 individuals (100%)"))
        #expect(result.stdout.isEmpty)
        #expect(try directory.listing() == ["policy.yaml"])
    }

    /// Every release carries its measured risk; a policy's risk gates refuse a release that
    /// exceeds them, writing nothing.
    @Test func releaseRiskIsReportedAndGated() throws {
        let directory = try TemporaryDirectory()
        let base = try String(contentsOfFile: Self.kPolicy, encoding: .utf8)
            .replacingOccurrences(of: "hierarchies/", with: Paths.root + "/Datasets/hierarchies/")
        let gates =
            "risk:\n  min_class_size: 5\n  max_prosecutor_risk: 0.2\n"
            + "  trace: { time: reading_time, value: kwh, points: 4, time_resolution: day, value_resolution: 1 }\n"
        try directory.write("policy.yaml", text: base + gates)
        let result = try CLI.run(
            ["publish", "-p", "policy.yaml", "-o", "release", "--seed", "3", Self.sample], in: directory.path,
            environment: Self.environment)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("risk: smallest class"))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.file("release")).sorted()
        #expect(files.contains("report.json") && files.contains("report.html") && files.contains("confidential"))
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(try directory.read("release/report.json"))) as? [String: Any])
        // k=5 in households: the release's classes are at least 5 meters.
        #expect((report["min_class_size"] as? Int ?? 0) >= 5)
        #expect((report["trace_uniqueness"] as? [String: Any])?["share"] is NSNumber)
        let confidential = String(decoding: try directory.read("release/confidential/report.html"), as: UTF8.self)
        let publicPage = String(decoding: try directory.read("release/report.html"), as: UTF8.self)
        #expect(confidential.contains("Smallest classes"))
        // Every generalized or noised column is charted: the public page shows the release's
        // values only, the confidential page the input's beside them.
        #expect(confidential.contains("Before and after the policy") && confidential.contains("before (input)"))
        #expect(publicPage.contains("Generalized and noised columns") && !publicPage.contains("before (input)"))
        for page in [publicPage, confidential] {
            for column in ["postcode", "dwelling_type", "occupants", "kwh"] {
                #expect(page.contains("<h3>\(column)</h3>"), "\(column)")
            }
        }
        // A full postcode belongs to one household: only the confidential page shows them.
        let postcodes = Set(referenceParse(try TemporaryDirectory.readFile(Self.sample)).dropFirst().map { $0[3] })
        #expect(!postcodes.contains { publicPage.contains(">\($0)<") })
        #expect(postcodes.contains { confidential.contains(">\($0)<") })
        // The release coarsens dwelling types (terraced is a house): the input's value, held by
        // 5 households or more, is on the confidential page only.
        #expect(!publicPage.contains(">terraced<") && confidential.contains(">terraced<"))

        // A trace gate the hourly, per-meter release cannot meet: refused, nothing written.
        try directory.write("strict.yaml", text: base + gates + "  max_trace_uniqueness: 0.05\n")
        let refused = try CLI.run(
            ["publish", "-p", "strict.yaml", "-o", "strict", "--seed", "3", Self.sample], in: directory.path,
            environment: Self.environment)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("deid: refused: the release exceeds risk.max_trace_uniqueness 0.05"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("strict")))
    }

    /// A dry run measures the release as well and checks its gates: exit 1 with the reasons when
    /// one fails, and nothing written either way.
    @Test func dryRunChecksTheRiskGates() throws {
        let directory = try TemporaryDirectory()
        let base = PolicyText.withoutRisk(
            try String(contentsOfFile: Self.policy, encoding: .utf8)
                .replacingOccurrences(of: "hierarchies/", with: Paths.root + "/Datasets/hierarchies/"))
        try directory.write("within.yaml", text: base + "risk:\n  min_class_size: 1\n")
        let within = try CLI.run(
            ["publish", "-p", "within.yaml", "--dry-run", "--seed", "1", Self.sample], in: directory.path,
            environment: Self.environment)
        #expect(within.status == 0, "\(within.stderr)")
        #expect(within.stdout.contains("\nrisk: smallest class "))
        try directory.write("strict.yaml", text: base + "risk:\n  min_class_size: 1000\n")
        let strict = try CLI.run(
            ["publish", "-p", "strict.yaml", "--dry-run", "--seed", "1", Self.sample], in: directory.path,
            environment: Self.environment)
        #expect(strict.status == 1)
        #expect(strict.stderr.contains("deid: refused: the release exceeds risk.min_class_size 1000"))
        #expect(strict.stderr.contains("a release would not be written"))
        #expect(try directory.listing() == ["strict.yaml", "within.yaml"])
    }
}
