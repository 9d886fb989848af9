import DeidTestSupport
import Foundation
import Testing

/// `deid link`, `deid catalog` and the linkage gate of `deid publish`, as a data team runs them.
@Suite("deid link and the catalog")
struct LinkCommandTests {
    static let key = PublishCommandTests.key
    static let sample = PublishCommandTests.sample
    static let policy = PublishCommandTests.policy

    /// A names list: each household of the bundled sample with its name, full postcode and
    /// occupants: public-register-like data a release must not link to.
    static func writeNames(in directory: TemporaryDirectory) throws {
        let lines = String(decoding: try TemporaryDirectory.readFile(sample), as: UTF8.self).split(separator: "\n")
        var seen = Set<Substring>()
        var out = ["name,postcode,occupants"]
        for line in lines.dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            // Occupants is the fourth field from the end (a dwelling type may hold a quoted comma).
            if seen.insert(fields[0]).inserted { out.append("\(fields[1]),\(fields[3]),\(fields[fields.count - 4])") }
        }
        _ = try directory.write("names.csv", text: out.joined(separator: "\n") + "\n")
    }

    /// The bundled policy, copied beside the test's files (with its hierarchy), edited by `change`.
    static func writePolicy(in directory: TemporaryDirectory, _ change: (String) -> String = { $0 }) throws {
        let text = String(decoding: try TemporaryDirectory.readFile(policy), as: UTF8.self)
        _ = try directory.write("policy.yaml", text: change(text))
        try FileManager.default.createSymbolicLink(
            atPath: directory.file("hierarchies"),
            withDestinationPath: Paths.root + "/Datasets/hierarchies")
    }

    static func publish(
        _ out: String, in directory: TemporaryDirectory, extra: [String] = [], policy: String = "policy.yaml",
        seed: Int = 1
    ) throws -> CommandResult {
        try CLI.run(
            ["publish", "-p", policy, "--seed", "\(seed)", "-o", out] + extra + [sample], in: directory.path,
            environment: ["DEID_KEY": key, "DEID_CATALOG": directory.file("catalog.sqlite")])
    }

    static func json(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    @Test func aReleaseLinkedToANamesListIsAReidentification() throws {
        let directory = try TemporaryDirectory()
        try Self.writeNames(in: directory)
        try Self.writePolicy(in: directory)
        #expect(try Self.publish("release", in: directory).status == 0)
        let result = try CLI.run(
            ["link", "release/smart-meter-readings.csv", "names.csv", "--entity", "meter_id", "--json"],
            in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try Self.json(result.stdout)
        #expect(report["schema"] as? String == "deid.link/1")
        let pairs = report["pairs"] as! [[String: Any]]
        #expect(pairs.count == 2)
        for key in [
            "left", "right", "shared_columns", "join_columns", "left_records", "unique_links", "unique_link_share",
            "joinability",
        ] {
            #expect(pairs[0][key] != nil, "pairs[] lacks \(key)")
        }
        #expect(report["pseudonym_reuse"] is [Any])
        let forward = pairs[0]
        #expect(forward["join_columns"] as? [String] == ["postcode", "occupants"])
        #expect(forward["left_records"] as? Int == 30)
        // Postcode districts and occupant bands single out most households in the names list.
        #expect((forward["unique_link_share"] as! Double) > 0.5)
        #expect(forward["reidentification"] as? Bool == true)
        #expect(forward["right_identifiers"] as? [String] == ["name"])
        let columns = forward["columns"] as! [[String: Any]]
        #expect(columns.first { $0["left"] as? String == "postcode" }?["comparison"] as? String == "first 4 characters")
        #expect((forward["suggestion"] as? String)?.contains("`postcode`") == true)

        // A gate: exit 1 above it, 0 within it.
        let refused = try CLI.run(
            [
                "link", "release/smart-meter-readings.csv", "names.csv", "--entity", "meter_id",
                "--max-unique-link-share", "0.05",
            ], in: directory.path)
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("RE-IDENTIFICATION: names.csv holds direct identifiers (name)"))
        #expect(refused.stdout.contains("-> EXCEEDED"))
        let allowed = try CLI.run(
            [
                "link", "release/smart-meter-readings.csv", "names.csv", "--entity", "meter_id",
                "--max-unique-link-share", "1",
            ], in: directory.path)
        #expect(allowed.status == 0)
        // Sketched, without the ranking: the same links (the files are far below the sketch size).
        let quick = try Self.json(
            try CLI.run(
                [
                    "link", "release/smart-meter-readings.csv", "names.csv", "--entity", "meter_id",
                    "--sketch", "--no-combinations", "--json",
                ], in: directory.path
            ).stdout)
        let quickPair = (quick["pairs"] as! [[String: Any]])[0]
        #expect(quickPair["method"] as? String == "sketch")
        #expect((quickPair["combinations"] as! [Any]).isEmpty)
        #expect(quickPair["unique_links"] as? Int == forward["unique_links"] as? Int)
        // Reports never print a data value: no name from the list appears.
        #expect(!result.stdout.contains("Thomas Hughes") && !refused.stdout.contains("Thomas Hughes"))
    }

    @Test func badUseExitsTwo() throws {
        let directory = try TemporaryDirectory()
        _ = try directory.write("a.csv", text: "x,y\n1,2\n")
        #expect(try CLI.run(["link", "a.csv"], in: directory.path).status == 2)
        #expect(try CLI.run(["link", "a.csv", "-"], in: directory.path).status == 2)
        #expect(try CLI.run(["link", "a.csv", "missing.csv"], in: directory.path).status == 2)
        let empty = try CLI.run(["catalog", "show", "nope", "--catalog-path", "none.sqlite"], in: directory.path)
        #expect(empty.status == 2)
        #expect(empty.stderr.contains("no catalog at none.sqlite"))
    }

    @Test func theCatalogRecordsListsShowsExpiresAndRemoves() throws {
        let directory = try TemporaryDirectory()
        try Self.writePolicy(in: directory)
        let first = try Self.publish("first", in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("recorded in \(directory.file("catalog.sqlite"))"))
        // Another seed: other noise, other bytes, the same pseudonyms.
        #expect(try Self.publish("second", in: directory, seed: 2).status == 0)
        let environment = ["DEID_CATALOG": directory.file("catalog.sqlite")]
        let listed = try CLI.run(["catalog", "list", "--json"], in: directory.path, environment: environment)
        let releases = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as! [[String: Any]]
        #expect(releases.count == 2)
        let ids = releases.map { $0["id"] as! String }
        #expect(releases[0]["retention"] as? String == "2027-12-31")
        #expect(releases[0]["controller"] as? String == "City Energy Agency")
        #expect(releases[0]["quasi_identifiers"] as? [String] == ["postcode", "dwelling_type", "occupants"])
        let columns = releases[0]["columns"] as! [[String: Any]]
        let meter = columns.first { $0["name"] as? String == "meter_id" }!
        #expect(meter["technique"] as? String == "keyed hash (HMAC-SHA256)")
        #expect((meter["key_id"] as? String)?.count == 16)
        #expect(!listed.stdout.contains(Self.key))

        let shown = try CLI.run(
            ["catalog", "show", String(ids[0].prefix(22))], in: directory.path, environment: environment)
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("classes     30 over postcode, dwelling_type, occupants"))
        #expect(shown.stdout.contains("sketches    7 columns, 1 pseudonym columns"))
        #expect(
            try CLI.run(["catalog", "expired", "--on", "2027-12-30"], in: directory.path, environment: environment)
                .stdout == "no releases\n")
        #expect(
            try CLI.run(["catalog", "expired", "--on", "2028-01-01"], in: directory.path, environment: environment)
                .stdout.contains(ids[1]))

        // Same key, deterministic pseudonyms: the two releases join on meter_id.
        let linked = try CLI.run(
            ["link", "first/smart-meter-readings.csv", "--catalog", "--entity", "meter_id", "--json"],
            in: directory.path, environment: environment)
        #expect(linked.status == 0, "\(linked.stderr)")
        let report = try Self.json(linked.stdout)
        let reuse = report["pseudonym_reuse"] as! [[String: Any]]
        #expect(
            reuse.contains {
                ($0["right"] as! String).contains(ids[1]) && $0["column"] as? String == "meter_id"
                    && $0["shared_share"] as? Double == 1
            })
        let keys = report["shared_keys"] as! [[String: Any]]
        #expect(keys.count == 1 && keys[0]["columns"] as? [String] == ["meter_id"])
        // Against the catalogued class tables: every household of the release is alone in its class.
        let pairs = report["pairs"] as! [[String: Any]]
        #expect(pairs.first { ($0["right"] as! String).contains(ids[1]) }?["unique_links"] as? Int == 30)
        // The file is the first release's data: it is not linked to its own catalog entry.
        let same = report["same_data"] as! [[String: Any]]
        #expect(
            same.count == 1 && same[0]["release_id"] as? String == ids[0]
                && same[0]["file"] as? String == "first/smart-meter-readings.csv")
        #expect(
            !pairs.contains { ($0["right"] as! String).contains(ids[0]) || ($0["left"] as! String).contains(ids[0]) })
        #expect(!reuse.contains { ($0["right"] as! String).contains(ids[0]) })
        #expect(!keys.contains { ($0["right"] as! String).contains(ids[0]) })

        let removed = try CLI.run(["catalog", "remove", ids[0]], in: directory.path, environment: environment)
        #expect(removed.status == 0)
        #expect(
            try CLI.run(["catalog", "list"], in: directory.path, environment: environment).stdout.split(separator: "\n")
                .count == 2)
        #expect(try CLI.run(["catalog", "remove", ids[0]], in: directory.path, environment: environment).status == 2)
    }

    @Test func perReleaseKeysDoNotLink() throws {
        let directory = try TemporaryDirectory()
        try Self.writePolicy(in: directory) {
            $0.replacingOccurrences(of: "length: 16 }", with: "length: 16, per_release: true }")
        }
        #expect(try Self.publish("first", in: directory).status == 0)
        #expect(try Self.publish("second", in: directory).status == 0)
        let linked = try CLI.run(
            ["link", "first/smart-meter-readings.csv", "--catalog", "--json"], in: directory.path,
            environment: ["DEID_CATALOG": directory.file("catalog.sqlite")])
        let report = try Self.json(linked.stdout)
        let reuse = report["pseudonym_reuse"] as! [[String: Any]]
        // Nothing shares its pseudonyms: not the other release, and the release itself (its own
        // catalog entry) is recognised by its data and left out.
        #expect(reuse.isEmpty, "\(reuse)")
        #expect(
            (report["same_data"] as! [[String: Any]]).map { $0["release_id"] as? String } == [
                Self.releaseID(directory, "first")
            ])
        #expect((report["shared_keys"] as! [Any]).isEmpty)
    }

    @Test func aReleaseCheckedAgainstTheCatalogIsNotLinkedToItself() throws {
        let directory = try TemporaryDirectory()
        try Self.writePolicy(in: directory)
        #expect(try Self.publish("release", in: directory).status == 0)
        let environment = ["DEID_CATALOG": directory.file("catalog.sqlite")]
        // Its own entry would single out every household (each is alone in its class): a gate
        // could never pass. It is recognised by its data, said so, and left out.
        let gated = try CLI.run(
            [
                "link", "release/smart-meter-readings.csv", "--catalog", "--entity", "meter_id",
                "--max-unique-link-share", "0.5",
            ], in: directory.path, environment: environment)
        #expect(gated.status == 0, "\(gated.stdout)")
        #expect(
            gated.stdout.contains(
                "same data  release/smart-meter-readings.csv is the data of release \(Self.releaseID(directory, "release"))"
            ))
        // A copy with one record less is another file: linked, and over the gate.
        let lines = String(decoding: try directory.read("release/smart-meter-readings.csv"), as: UTF8.self).split(
            separator: "\n")
        _ = try directory.write("copy.csv", text: lines.dropLast().joined(separator: "\n") + "\n")
        let copy = try CLI.run(
            ["link", "copy.csv", "--catalog", "--entity", "meter_id", "--max-unique-link-share", "0.5"],
            in: directory.path, environment: environment)
        #expect(copy.status == 1, "\(copy.stdout)")
        #expect(!copy.stdout.contains("same data"))
    }

    static func releaseID(_ directory: TemporaryDirectory, _ release: String) -> String {
        let manifest =
            try! JSONSerialization.jsonObject(with: Data(directory.read("\(release)/manifest.json"))) as! [String: Any]
        return manifest["release_id"] as! String
    }

    @Test func aLinkingReleaseIsRefusedAndNothingIsWrittenOrRecorded() throws {
        let directory = try TemporaryDirectory()
        try Self.writeNames(in: directory)
        try Self.writePolicy(in: directory) { $0 + "linkage: { against: [names.csv], max_unique_link_share: 0.01 }\n" }
        let refused = try Self.publish("release", in: directory)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("deid: refused: the release links to names.csv on postcode, occupants"))
        #expect(refused.stderr.contains("above linkage.max_unique_link_share 0.01"))
        #expect(refused.stderr.contains("deid: refused: nothing was written"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("release")))
        #expect(!FileManager.default.fileExists(atPath: directory.file("catalog.sqlite")))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.contains("deid-tmp")
        }
        #expect(leftovers.isEmpty)
        // A dry run refuses too.
        let dry = try CLI.run(
            ["publish", "-p", "policy.yaml", "--seed", "1", "--dry-run", Self.sample], in: directory.path,
            environment: ["DEID_KEY": Self.key, "DEID_CATALOG": directory.file("catalog.sqlite")])
        #expect(dry.status == 1)
        #expect(dry.stderr.contains("a release would not be written"))

        // Coarser postcodes pass the gate, and the check is kept with the release.
        try FileManager.default.removeItem(atPath: directory.file("policy.yaml"))
        try FileManager.default.removeItem(atPath: directory.file("hierarchies"))
        try Self.writePolicy(in: directory) {
            $0.replacingOccurrences(of: "prefix: [4, 2], level: 1", with: "prefix: [4, 2], level: 2")
                .replacingOccurrences(of: "intervals: [1, 2, 3, 5]", with: "intervals: [1, 10]")
                + "linkage: { against: [names.csv], max_unique_link_share: 0.5 }\n"
        }
        let passed = try Self.publish("release", in: directory)
        #expect(passed.status == 0, "\(passed.stderr)")
        #expect(passed.stdout.contains("linkage: worst unique-link share"))
        let kept = try Self.json(String(decoding: try directory.read("release/linkage.json"), as: UTF8.self))
        #expect((kept["gate"] as! [String: Any])["passed"] as? Bool == true)
    }

    @Test func twoPublishesAtOnceAreBothRecorded() throws {
        let directory = try TemporaryDirectory()
        try Self.writePolicy(in: directory)
        var processes: [Process] = []
        for name in ["a", "b", "c"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLI.deid)
            process.arguments = ["publish", "-p", "policy.yaml", "-o", name, Self.sample]
            process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
            process.environment = ProcessInfo.processInfo.environment.merging([
                "DEID_KEY": Self.key, "DEID_CATALOG": directory.file("catalog.sqlite"),
            ]) { $1 }
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            processes.append(process)
        }
        for process in processes {
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
        let listed = try CLI.run(
            ["catalog", "list"], in: directory.path, environment: ["DEID_CATALOG": directory.file("catalog.sqlite")])
        #expect(listed.stdout.split(separator: "\n").count == 4)
    }

    @Test func noCatalogRecordsNothing() throws {
        let directory = try TemporaryDirectory()
        try Self.writePolicy(in: directory)
        let result = try CLI.run(
            ["publish", "-p", "policy.yaml", "-o", "release", "--no-catalog", Self.sample], in: directory.path,
            environment: ["DEID_KEY": Self.key])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains("recorded in"))
        #expect(!FileManager.default.fileExists(atPath: directory.file(".deid")))
        // Without --no-catalog and DEID_CATALOG, the catalog is .deid/catalog.sqlite here.
        let recorded = try CLI.run(
            ["publish", "-p", "policy.yaml", "-o", "second", Self.sample], in: directory.path,
            environment: ["DEID_KEY": Self.key, "DEID_CATALOG": ""])
        #expect(recorded.stdout.contains("recorded in .deid/catalog.sqlite"))
        #expect(FileManager.default.fileExists(atPath: directory.file(".deid/catalog.sqlite")))
    }
}
