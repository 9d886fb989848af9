import DeidKit
import DeidTestSupport
import Foundation
import Testing

/// Every policy error message, pinned: position (policy file, line, column), key path, wording.
@Suite struct PolicyErrorTests {
    static let header = ["meter_id", "postcode", "reading_time", "kwh"]
    static let key = "0123456789abcdef0123456789abcdef"
    /// A valid policy for `header`; cases replace one line.
    static let valid = """
        version: 1
        dataset: { name: readings }
        entity: meter_id
        columns:
          meter_id: { role: identifier, pseudonymize: { key: "env:DEID_KEY" } }
          postcode: { role: quasi_identifier, generalize: { prefix: 3 } }
          reading_time: { role: insensitive, generalize: { time: hour } }
          kwh: { role: sensitive, noise: { laplace: 0.1 } }
        """

    static func diagnostics(_ text: String, environment: [String: String] = ["DEID_KEY": key]) -> [String] {
        do {
            _ = try PolicyLoader.parse(
                text: text, file: "policy.yaml", directory: "/nonexistent", header: header, environment: environment)
            return []
        } catch let error as PolicyError {
            return error.diagnostics.map(\.description)
        } catch {
            return ["unexpected \(error)"]
        }
    }

    static func replacing(_ line: Int, with text: String) -> String {
        var lines = valid.components(separatedBy: "\n")
        lines[line - 1] = text
        return lines.joined(separator: "\n")
    }

    @Test func validPolicyLoads() throws {
        let policy = try PolicyLoader.parse(
            text: Self.valid, file: "policy.yaml", directory: ".", header: Self.header,
            environment: ["DEID_KEY": Self.key])
        #expect(policy.columns.map(\.name) == Self.header)
        #expect(policy.entity == "meter_id")
        #expect(policy.columns.map(\.role) == [.identifier, .quasiIdentifier, .insensitive, .sensitive])
    }

    static let cases: [(String, String, [String])] = [
        (
            "misspelt top-level key", replacing(3, with: "entty: meter_id"),
            ["policy.yaml:3:1: error: unknown key 'entty'; did you mean 'entity'?"]
        ),
        (
            "misspelt column key",
            replacing(6, with: "  postcode: { role: quasi_identifier, generalise: { prefix: 3 } }"),
            ["policy.yaml:6:39: error: columns.postcode: unknown key 'generalise'; did you mean 'generalize'?"]
        ),
        (
            "misspelt generalization",
            replacing(6, with: "  postcode: { role: quasi_identifier, generalize: { prefx: 3 } }"),
            [
                "policy.yaml:6:51: error: columns.postcode.generalize: give one method: round, intervals, top, bottom, time, age, prefix, decimals, grid, hierarchy",
                "policy.yaml:6:53: error: columns.postcode.generalize: unknown key 'prefx'; did you mean 'prefix'?",
            ]
        ),
        (
            "column not in the input", replacing(6, with: "  postcod: { role: quasi_identifier }"),
            [
                "policy.yaml:4:1: error: columns: input column 'postcode' has no policy: every column needs a role (role: insensitive passes it through)",
                "policy.yaml:6:3: error: columns.postcod: no column 'postcod' in the input; did you mean 'postcode'?",
            ]
        ),
        (
            "unknown role", replacing(6, with: "  postcode: { role: quasi }"),
            [
                "policy.yaml:6:21: error: columns.postcode.role: unknown role 'quasi' (roles: identifier, quasi_identifier, sensitive, insensitive)"
            ]
        ),
        (
            "identifier passed through", replacing(5, with: "  meter_id: { role: identifier }"),
            ["policy.yaml:5:13: error: columns.meter_id: an identifier must be dropped, pseudonymized or masked"]
        ),
        (
            "identifier generalized", replacing(5, with: "  meter_id: { role: identifier, generalize: { prefix: 3 } }"),
            [
                "policy.yaml:5:33: error: columns.meter_id.generalize: an identifier must be dropped, pseudonymized or masked, not generalize"
            ]
        ),
        (
            "two techniques",
            replacing(6, with: "  postcode: { role: quasi_identifier, drop: true, generalize: { prefix: 3 } }"),
            [
                "policy.yaml:6:51: error: columns.postcode.generalize: a column takes one technique; 'drop' is already given"
            ]
        ),
        (
            "missing role", replacing(6, with: "  postcode: { drop: true }"),
            [
                "policy.yaml:6:13: error: columns.postcode: missing key 'role' (identifier, quasi_identifier, sensitive or insensitive)"
            ]
        ),
        (
            "key in the policy text",
            replacing(5, with: "  meter_id: { role: identifier, pseudonymize: { key: \"s3cret\" } }"),
            [
                "policy.yaml:5:54: error: columns.meter_id.pseudonymize.key: a key comes from env:NAME or file:PATH, never from the policy text"
            ]
        ),
        (
            "version 2", replacing(1, with: "version: 2"),
            ["policy.yaml:1:10: error: version: this deid reads policy version 1, not 2"]
        ),
        (
            "YAML syntax", replacing(6, with: "  postcode: { role: quasi_identifier"),
            ["policy.yaml:7:15: error: YAML syntax: did not find expected ',' or '}'"]
        ),
        (
            "intervals out of order",
            replacing(6, with: "  postcode: { role: quasi_identifier, generalize: { intervals: [5, 3] } }"),
            [
                "policy.yaml:6:64: error: columns.postcode.generalize.intervals: give at least two break points in increasing order"
            ]
        ),
        (
            "level beyond the levels",
            replacing(6, with: "  postcode: { role: quasi_identifier, generalize: { prefix: [3, 2], level: 3 } }"),
            ["policy.yaml:6:76: error: columns.postcode.generalize.level: this generalization has 2 levels"]
        ),
        (
            "unknown time unit",
            replacing(7, with: "  reading_time: { role: insensitive, generalize: { time: hours } }"),
            [
                "policy.yaml:7:58: error: columns.reading_time.generalize.time: unknown unit 'hours'; did you mean 'hour'? (units: minute, 15min, 30min, hour, day, week, month, year)"
            ]
        ),
        (
            "two noise distributions",
            replacing(8, with: "  kwh: { role: sensitive, noise: { laplace: 0.1, gaussian: 1 } }"),
            ["policy.yaml:8:34: error: columns.kwh.noise: give only one of laplace, gaussian or percent"]
        ),
        (
            "missing hierarchy file",
            replacing(6, with: "  postcode: { role: quasi_identifier, generalize: { hierarchy: postcodes.csv } }"),
            [
                "policy.yaml:6:64: error: columns.postcode.generalize.hierarchy: cannot read the hierarchy file postcodes.csv"
            ]
        ),
        (
            "filter on a missing column", valid + "\nfilter:\n  - { column: time, from: 2013-01-01 }",
            ["policy.yaml:10:15: error: filter[0].column: no column 'time' in the input"]
        ),
        (
            "date shift with noise",
            replacing(
                8,
                with:
                    "  kwh: { role: sensitive, date_shift: { max_days: 5, key: \"env:DEID_KEY\" }, noise: { laplace: 1 } }"
            ),
            [
                "policy.yaml:8:8: error: columns.kwh.noise: after a date shift only a time or age generalization applies, not noise"
            ]
        ),
        (
            "aggregate a pseudonymized column",
            replacing(7, with: "  reading_time: { role: insensitive, aggregate: { every: day, sum: [meter_id] } }"),
            [
                "policy.yaml:5:3: error: columns.reading_time.aggregate: column 'meter_id' is aggregated, so it can only take noise (applied to the totals), not pseudonymize"
            ]
        ),
        (
            "misspelt privacy key", valid + "\nprivacy: { k: 5, suppresion_limit: 0.02 }",
            ["policy.yaml:9:18: error: privacy: unknown key 'suppresion_limit'; did you mean 'suppression_limit'?"]
        ),
        (
            "unknown metric", valid + "\nprivacy: { k: 5, metric: entropie }",
            [
                "policy.yaml:9:26: error: privacy.metric: unknown metric 'entropie'; did you mean 'entropy'? (metrics: entropy, loss, discernibility, average_class_size)"
            ]
        ),
        (
            "suppression limit as a percentage", valid + "\nprivacy: { k: 5, suppression_limit: 4 }",
            [
                "policy.yaml:9:37: error: privacy.suppression_limit: must be a share between 0 and 1 (0.02 = 2% of individuals)"
            ]
        ),
        (
            "l-diversity on a quasi-identifier", valid + "\nprivacy: { k: 2, l_diversity: { column: postcode, l: 2 } }",
            [
                "policy.yaml:9:41: error: privacy.l_diversity.column: column 'postcode' has role quasi_identifier; the model applies to a sensitive column"
            ]
        ),
        (
            "recursive l-diversity without c",
            valid + "\nprivacy: { k: 2, l_diversity: { column: kwh, l: 2, variant: recursive } }",
            ["policy.yaml:9:31: error: privacy.l_diversity: recursive (c,l)-diversity needs 'c'"]
        ),
        (
            "t-closeness beyond 1",
            valid + "\nprivacy: { k: 2, t_closeness: { column: kwh, t: 1.5, distance: earth } }",
            [
                "policy.yaml:9:49: error: privacy.t_closeness.t: t is a distance between 0 and 1",
                "policy.yaml:9:64: error: privacy.t_closeness.distance: unknown distance 'earth' (distances: equal, ordered)",
            ]
        ),
        // Values that would publish a column as it is, overflow, or keep no record (issue 19).
        (
            "empty prefix list",
            replacing(6, with: "  postcode: { role: quasi_identifier, generalize: { prefix: [] } }"),
            ["policy.yaml:6:61: error: columns.postcode.generalize.prefix: an empty list: give at least one length"]
        ),
        (
            "empty round list", replacing(8, with: "  kwh: { role: sensitive, generalize: { round: [] } }"),
            ["policy.yaml:8:48: error: columns.kwh.generalize.round: an empty list: give at least one base"]
        ),
        (
            "empty list of suppressed values",
            replacing(6, with: "  postcode: { role: quasi_identifier, suppress: { values: [] } }"),
            [
                "policy.yaml:6:59: error: columns.postcode.suppress.values: an empty list: give at least one value to suppress (leave 'values' out to suppress every value)"
            ]
        ),
        (
            "noise too large", replacing(8, with: "  kwh: { role: sensitive, noise: { laplace: 1e308 } }"),
            ["policy.yaml:8:45: error: columns.kwh.noise.laplace: must be at most 1000000000000"]
        ),
        (
            "percent noise too large", replacing(8, with: "  kwh: { role: sensitive, noise: { percent: 5000 } }"),
            ["policy.yaml:8:45: error: columns.kwh.noise.percent: must be at most 1000 (percent of the value)"]
        ),
        (
            "retention not a date", replacing(2, with: "dataset: { name: readings, retention: not-a-date }"),
            [
                "policy.yaml:2:39: error: dataset.retention: expected a date as YYYY-MM-DD (the day after which the release is withdrawn)"
            ]
        ),
        (
            "retention on a day that does not exist",
            replacing(2, with: "dataset: { name: readings, retention: 2027-02-30 }"),
            [
                "policy.yaml:2:39: error: dataset.retention: expected a date as YYYY-MM-DD (the day after which the release is withdrawn)"
            ]
        ),
        (
            "filter min above max", valid + "\nfilter:\n  - { column: kwh, min: 5, max: 1 }",
            ["policy.yaml:10:5: error: filter[0]: min is greater than max: no record would be kept"]
        ),
        (
            "filter from after before",
            valid + "\nfilter:\n  - { column: reading_time, from: 2013-02-01, before: 2013-01-01 }",
            ["policy.yaml:10:5: error: filter[0]: 'from' is not before 'before': no record would be kept"]
        ),
        (
            "filter in an empty list", valid + "\nfilter:\n  - { column: postcode, in: [] }",
            [
                "policy.yaml:10:29: error: filter[0].in: an empty list: give at least one value (an empty list would keep no record)"
            ]
        ),
        (
            "hex pseudonym longer than 64",
            replacing(5, with: "  meter_id: { role: identifier, pseudonymize: { key: \"env:DEID_KEY\", length: 65 } }"),
            ["policy.yaml:5:78: error: columns.meter_id.pseudonymize.length: must be between 8 and 64"]
        ),
        (
            "base32 pseudonym longer than 52",
            replacing(
                5,
                with:
                    "  meter_id: { role: identifier, pseudonymize: { key: \"env:DEID_KEY\", length: 53, encoding: base32 } }"
            ),
            ["policy.yaml:5:47: error: columns.meter_id.pseudonymize.length: at most 52 characters in base32"]
        ),
        (
            "privacy with aggregation",
            replacing(7, with: "  reading_time: { role: insensitive, aggregate: { every: day, sum: [kwh] } }")
                + "\nprivacy: { k: 2 }",
            [
                "policy.yaml:9:10: error: privacy: privacy models and time-series aggregation in one policy are not supported yet: publish the aggregates, then check them with a second policy"
            ]
        ),
    ]

    @Test(arguments: 0..<cases.count) func messageIsPinned(_ index: Int) {
        let (name, text, expected) = Self.cases[index]
        #expect(Self.diagnostics(text) == expected, "\(name)")
    }

    /// The limits themselves are accepted: a 64-character hex pseudonym (Docs/POLICY.md), the
    /// largest noise scale, a real retention date.
    @Test func limitsAreAccepted() throws {
        var text = Self.replacing(
            5, with: "  meter_id: { role: identifier, pseudonymize: { key: \"env:DEID_KEY\", length: 64 } }")
        text = text.replacingOccurrences(of: "laplace: 0.1", with: "laplace: 1e12")
        text = text.replacingOccurrences(
            of: "dataset: { name: readings }", with: "dataset: { name: readings, retention: 2028-02-29 }")
        #expect(Self.diagnostics(text) == [])
    }

    /// A wide file whose columns a policy leaves out gets one line for them all, not one each.
    @Test func manyUnnamedColumnsAreOneProblem() {
        let wide = (0..<5000).map { "c\($0)" }
        do {
            _ = try PolicyLoader.parse(
                text: "version: 1\ndataset: { name: w }\ncolumns:\n  c0: { role: insensitive }\n",
                file: "policy.yaml", directory: ".", header: wide)
            Issue.record("accepted")
        } catch let error as PolicyError {
            #expect(
                error.diagnostics.map(\.description) == [
                    "policy.yaml:3:1: error: columns: 4999 input columns have no policy ('c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', 'c10' and 4989 more): every column needs a role (role: insensitive passes it through; deid profile --policy-out writes a policy that names them all)"
                ])
        } catch { Issue.record("\(error)") }
    }

    @Test func missingEnvironmentKeyIsNamedNotPrinted() {
        #expect(
            Self.diagnostics(Self.valid, environment: [:]) == [
                "policy.yaml:5:54: error: columns.meter_id.pseudonymize.key: the environment variable DEID_KEY holding the key is not set"
            ])
        #expect(
            Self.diagnostics(Self.valid, environment: ["DEID_KEY": "short-key"]) == [
                "policy.yaml:5:54: error: columns.meter_id.pseudonymize.key: the key from env:DEID_KEY has 9 bytes; at least 32 are needed"
            ])
    }

    @Test func keyFileMustBePrivateAndLongEnough() throws {
        let directory = try TemporaryDirectory()
        let keyFile = try directory.write("key", Array((Self.key + "\n").utf8))
        let text = Self.replacing(5, with: "  meter_id: { role: identifier, pseudonymize: { key: \"file:key\" } }")
        func load() -> [String] {
            do {
                _ = try PolicyLoader.parse(
                    text: text, file: "policy.yaml", directory: directory.path, header: Self.header, environment: [:])
                return []
            } catch let error as PolicyError { return error.diagnostics.map(\.description) } catch {
                return ["\(error)"]
            }
        }
        chmod(keyFile, 0o644)
        #expect(
            load() == [
                "policy.yaml:5:54: error: columns.meter_id.pseudonymize.key: the key file \(keyFile) is readable by others (mode 644); chmod 600 it"
            ])
        chmod(keyFile, 0o600)
        #expect(load() == [])
    }

    @Test func everyProblemIsReportedAtOnce() {
        let text = """
            version: 1
            dataset: { nam: readings }
            columns:
              meter_id: { role: identifier }
              postcode: { role: quasi_identifer }
              kwh: { role: sensitive, noise: { laplace: -1 } }
            """
        #expect(
            Self.diagnostics(text) == [
                "policy.yaml:2:10: error: dataset: missing key 'name'",
                "policy.yaml:2:12: error: dataset: unknown key 'nam'; did you mean 'name'?",
                "policy.yaml:3:1: error: columns: input column 'reading_time' has no policy: every column needs a role (role: insensitive passes it through)",
                "policy.yaml:4:13: error: columns.meter_id: an identifier must be dropped, pseudonymized or masked",
                "policy.yaml:5:21: error: columns.postcode.role: unknown role 'quasi_identifer'; did you mean 'quasi_identifier'? (roles: identifier, quasi_identifier, sensitive, insensitive)",
                "policy.yaml:6:45: error: columns.kwh.noise.laplace: must be greater than 0",
            ])
    }
}
