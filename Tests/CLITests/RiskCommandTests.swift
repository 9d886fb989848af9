import DeidCSV
import DeidTestSupport
import Foundation
import Testing

/// `deid risk` as pipelines and analysts run it: exit codes, the JSON's fixed keys, the public
/// and confidential HTML reports, and the page in a real headless browser.
@Suite("deid risk")
struct RiskCommandTests {
    static let sample = Paths.root + "/Datasets/smart_meter_sample.csv"

    @Test func jsonHasTheFixedKeysAndGatesSetTheExitCode() throws {
        let directory = try TemporaryDirectory()
        let arguments = [
            "risk", Self.sample, "-q", "dwelling_type,occupants", "--entity", "meter_id", "--json",
            "--trace-time", "reading_time", "--trace-value", "kwh", "--time-resolution", "day", "--value-resolution",
            "1",
        ]
        let result = try CLI.run(arguments, in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        for key in ["records", "individuals", "equivalence_classes", "min_class_size", "sample_uniques", "marketer"] {
            #expect(object[key] is NSNumber, "\(key)")
        }
        let prosecutor = try #require(object["prosecutor"] as? [String: Any])
        for key in ["max", "average", "at_risk_share"] { #expect(prosecutor[key] is NSNumber, "prosecutor.\(key)") }
        let trace = try #require(object["trace_uniqueness"] as? [String: Any])
        #expect(trace["share"] is NSNumber)
        #expect(object["records"] as? Int == 40_320)
        let smallest = try #require(object["min_class_size"] as? Int)
        // The JSON never holds values of the data.
        #expect(!result.stdout.contains("MTR-") && !result.stdout.contains("terraced"))

        let within = try CLI.run(arguments + ["--min-class-size", "\(smallest)"], in: directory.path)
        #expect(within.status == 0)
        let exceeded = try CLI.run(arguments + ["--min-class-size", "\(smallest + 1)"], in: directory.path)
        #expect(exceeded.status == 1)
        #expect(exceeded.stderr.contains("min_class_size"))
        let bad = try CLI.run(["risk", Self.sample, "-q", "dwelling_typ"], in: directory.path)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("smart_meter_sample.csv:1") && bad.stderr.contains("did you mean 'dwelling_type'"))
    }

    /// With a policy, the roles come from it; measuring needs no key.
    @Test func policyRolesWithoutAKey() throws {
        let directory = try TemporaryDirectory()
        let policy = Paths.root + "/Datasets/smart_meter_k_anonymity.yaml"
        let result = try CLI.run(
            ["risk", Self.sample, "--policy", policy, "--no-discovery", "--json"], in: directory.path,
            environment: ["DEID_KEY": ""])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["quasi_identifiers"] as? [String] == ["postcode", "dwelling_type", "occupants"])
        #expect(object["entity"] as? String == "meter_id" && object["individuals"] as? Int == 30)
    }

    @Test func publicReportHidesSmallClassesAndTheConfidentialOneShowsThem() throws {
        let directory = try TemporaryDirectory()
        let result = try CLI.run(
            [
                "risk", Self.sample, "-q", "postcode,occupants", "--entity", "meter_id",
                "--html", "public.html", "--html-confidential", "confidential.html",
            ], in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let publicPage = String(decoding: try directory.read("public.html"), as: UTF8.self)
        let confidentialPage = String(decoding: try directory.read("confidential.html"), as: UTF8.self)
        // Postcodes of the sample's households: unique classes, shown only in the confidential part.
        let postcodes = Set(referenceParse(try TemporaryDirectory.readFile(Self.sample)).dropFirst().map { $0[3] })
        #expect(postcodes.contains { confidentialPage.contains($0) })
        #expect(!postcodes.contains { publicPage.contains($0) })
        for page in [publicPage, confidentialPage] {
            #expect(page.contains("<svg") && !page.contains("<script") && !page.contains("src="))
            #expect(!page.contains("<link") && !page.contains("@import") && !page.contains("url("))
        }
    }

    /// The report in Debian's chromium, headless: it renders, logs no console error, and the
    /// screenshot is attached to the test output.
    @Test func reportRendersInAHeadlessBrowser() throws {
        let chromium = try #require(
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
                FileManager.default.isExecutableFile(atPath: $0)
            },
            "Debian's chromium is needed (make test installs it)")
        let directory = try TemporaryDirectory()
        let data = try Paths.shared("lcl_smartmeter/lcl_2013_10households_jan.csv")
        let result = try CLI.run(
            [
                "risk", data, "-q", "LCLid", "--entity", "LCLid", "--trace-time", "tstp", "--trace-value",
                "energy_kwh_hh",
                "--time-resolution", "day", "--value-resolution", "0.5", "--html", "report.html",
            ], in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let screenshot = directory.file("report.png")
        let browser = try CLI.run(
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                "--user-data-dir=\(directory.file("profile"))", "--window-size=1000,2400",
                "--screenshot=\(screenshot)", "file://\(directory.file("report.html"))",
            ],
            in: directory.path, executable: chromium)
        #expect(browser.status == 0, "\(browser.stderr)")
        #expect(!browser.stderr.contains("CONSOLE") && !browser.stderr.contains("Uncaught"), "\(browser.stderr)")
        let png = try TemporaryDirectory.readFile(screenshot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000)
        Attachment.record(png, named: "risk-report.png")
    }
}
