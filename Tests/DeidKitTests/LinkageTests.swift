import DeidCSV
import DeidEngine
import DeidTestSupport
import Foundation
import Testing

@testable import DeidKit

/// `deid link`'s counting against an independent pandas computation (Tests/Oracles/link_oracle.py)
/// on real datasets, the sketches against exact counts, and the column matching.
@Suite struct LinkageTests {
    /// Runs the pandas oracle and returns its answers.
    static func oracle(
        _ left: String, _ right: String, on: [String], leftEntity: String? = nil, rightEntity: String? = nil
    ) throws -> [String: Any] {
        var arguments = ["python3", "\(Paths.root)/Tests/Oracles/link_oracle.py", left, right]
        for column in on { arguments += ["--on", column] }
        if let leftEntity { arguments += ["--left-entity", leftEntity] }
        if let rightEntity { arguments += ["--right-entity", rightEntity] }
        let (status, data) = try output(of: arguments)
        #expect(status == 0, "the oracle failed (is pandas installed? make test installs it)")
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func link(_ paths: [String], options: LinkOptions = LinkOptions(), blockSize: Int = 256 << 10) throws
        -> LinkReport
    {
        let inputs = try paths.map { try BlockInput(path: $0, options: CSVReadOptions(), blockSize: blockSize) }
        var options = options
        options.workers = 2
        return try LinkSession.run(inputs: inputs, options: options).report
    }

    static func expectMatches(_ pair: LinkPair, _ oracle: [String: Any]) {
        #expect(pair.measures.leftRecords == oracle["left_records"] as? Int)
        #expect(pair.measures.uniqueLinks == oracle["unique_links"] as? Int, "\(pair.left) -> \(pair.right)")
        #expect(pair.measures.alsoUniqueInLeft == oracle["also_unique_in_left"] as? Int)
        #expect(abs(pair.measures.joinability - (oracle["joinability"] as! Double)) < 1e-12)
        #expect(pair.measures.joinedMinClassSize == oracle["joined_min_class_size"] as? Int)
        #expect(pair.measures.uniqueLinkShare == Double(pair.measures.uniqueLinks) / Double(pair.measures.leftRecords))
    }

    /// Two overlapping samples of adult (rows 0-20,000 and 10,000-30,162) with different columns:
    /// sex, age, race and education are shared.
    static func adultSamples(in directory: TemporaryDirectory, bandedAges: Bool = false) throws -> (String, String) {
        let text = String(
            decoding: try TemporaryDirectory.readFile(try Paths.shared("arx_adult/adult.csv")), as: UTF8.self)
        let rows = text.split(whereSeparator: \.isNewline).map {
            $0.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        }
        let header = rows[0]
        let data = Array(rows.dropFirst())
        func write(_ name: String, _ columns: [String], _ slice: ArraySlice<[String]>, band: Bool) throws -> String {
            let indices = columns.map { header.firstIndex(of: $0)! }
            var lines = [columns.joined(separator: ",")]
            for row in slice {
                lines.append(
                    indices.map { index in
                        guard band, header[index] == "age", let age = Int(row[index]) else { return row[index] }
                        return age >= 80 ? ">=80" : "\"[\(age / 10 * 10),\(age / 10 * 10 + 10))\""
                    }.joined(separator: ","))
            }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: directory.file(name)))
            return directory.file(name)
        }
        return (
            try write(
                "a.csv", ["sex", "age", "race", "marital-status", "education", "salary-class"], data[0..<20_000],
                band: false),
            try write(
                "b.csv", ["sex", "age", "race", "education", "native-country"], data[10_000...], band: bandedAges)
        )
    }

    @Test func adultSamplesMatchPandasInBothDirections() throws {
        let directory = try TemporaryDirectory()
        let (a, b) = try Self.adultSamples(in: directory)
        let report = try Self.link([a, b])
        #expect(report.pairs.count == 2)
        let forward = report.pairs[0]
        let backward = report.pairs[1]
        #expect(forward.joinColumns == ["sex", "age", "race", "education"])
        #expect(forward.measures.method == "exact")
        Self.expectMatches(forward, try Self.oracle(a, b, on: ["sex", "age:number", "race", "education"]))
        Self.expectMatches(backward, try Self.oracle(b, a, on: ["sex", "age:number", "race", "education"]))
        // Below the sketch size, the ranked combinations are exact too: the full join's matches.
        let full = forward.combinations.first { $0.columns.count == 4 }!
        #expect(full.uniqueLinks == forward.measures.uniqueLinks)
        #expect(forward.combinations.count == 15)
        #expect(forward.suggestion?.contains("`age`") == true)
    }

    @Test func agesJoinAgeBandsAtTheBandLevel() throws {
        let directory = try TemporaryDirectory()
        let (a, b) = try Self.adultSamples(in: directory, bandedAges: true)
        let report = try Self.link([a, b])
        let forward = report.pairs[0]
        let age = forward.columns.first { $0.left == "age" }!
        #expect(age.comparison.hasPrefix("numbers placed in the"))
        Self.expectMatches(forward, try Self.oracle(a, b, on: ["sex", "age:bands", "race", "education"]))
        // Bands single out fewer people than exact ages did.
        let exactDirectory = try TemporaryDirectory()
        let (exactA, exactB) = try Self.adultSamples(in: exactDirectory)
        let exact = try Self.link([exactA, exactB])
        #expect(forward.measures.uniqueLinks < exact.pairs[0].measures.uniqueLinks)
        #expect(forward.measures.uniqueLinks > 0)
    }

    @Test func taxiMonthsLinkThroughTheirMedallions() throws {
        let directory = try TemporaryDirectory()
        let lines = String(
            decoding: try gunzip(try Paths.shared("nyc_taxi_2013/trip_data_2013_sample_all_months.csv.gz")),
            as: UTF8.self
        )
        .split(separator: "\n", omittingEmptySubsequences: true)
        var paths: [String] = []
        for month in ["01", "02"] {
            let rows = lines.dropFirst().filter { $0.contains(",2013-\(month)-") }
            let path = directory.file("trips-\(month).csv")
            try Data(([String(lines[0])] + rows.map(String.init)).joined(separator: "\n").utf8 + [0x0A]).write(
                to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        var options = LinkOptions()
        options.entities = ["hack_license"]
        options.joinColumns = ["medallion"]
        let report = try Self.link(paths, options: options)
        #expect(report.files.map(\.individuals) == [11_326, 10_970])
        Self.expectMatches(
            report.pairs[0],
            try Self.oracle(
                paths[0], paths[1], on: ["medallion:number"], leftEntity: "hack_license", rightEntity: "hack_license"))
        Self.expectMatches(
            report.pairs[1],
            try Self.oracle(
                paths[1], paths[0], on: ["medallion:number"], leftEntity: "hack_license", rightEntity: "hack_license"))
        // The recoded medallions and licences recur across months: join keys.
        let reuse = report.pseudonymReuse.first { $0.column == "medallion" }
        #expect(reuse?.kind == "identifier")
        #expect((reuse?.sharedShare ?? 0) > 0.5)
    }

    func gunzip(_ path: String) throws -> [UInt8] { Array(try output(of: ["gzip", "-dc", path]).stdout) }

    @Test func sketchesEstimateTheExactShareWithinFivePercent() throws {
        // Two generated files of 150,000 people each from one population (Benchmarks/link_data.py):
        // about 120,000 distinct join values each, more than the 65,536 a sketch keeps, so the
        // estimate comes from a sample. (Docs/LINKAGE.md: the error shrinks with K; on these
        // files 6.8% and 9.1% at K = 4,096, 0.5% and 0.7% at the default K.)
        let directory = try TemporaryDirectory()
        for (name, seed) in [("a.csv", 1), ("b.csv", 2)] {
            #expect(
                try output(of: [
                    "python3", "\(Paths.root)/Benchmarks/link_data.py", "150000", "\(seed)", directory.file(name),
                ]).status == 0)
        }
        var options = LinkOptions()
        options.joinColumns = ["sex", "birth_year", "zip", "occupation"]
        let exact = try Self.link([directory.file("a.csv"), directory.file("b.csv")], options: options)
        options.exact = false
        let sketched = try Self.link([directory.file("a.csv"), directory.file("b.csv")], options: options)
        for (exactPair, sketchPair) in zip(exact.pairs, sketched.pairs) {
            #expect(sketchPair.measures.method == "sketch")
            let relative =
                abs(sketchPair.measures.uniqueLinkShare - exactPair.measures.uniqueLinkShare)
                / exactPair.measures.uniqueLinkShare
            #expect(
                relative < 0.05,
                "sketched \(sketchPair.measures.uniqueLinkShare) vs exact \(exactPair.measures.uniqueLinkShare)")
            #expect(abs(sketchPair.measures.joinability - exactPair.measures.joinability) < 0.05)
            #expect(exactPair.measures.uniqueLinks > 1000)
        }
    }

    @Test func sketchesAreExactBelowTheirSizeAndMergeLikeTheWhole() throws {
        var whole = KHyperLogLog(capacity: 1000)
        var first = KHyperLogLog(capacity: 1000)
        var second = KHyperLogLog(capacity: 1000)
        var generator = TestRandom(seed: 9)
        for index in 0..<50_000 {
            let value = FieldHash.finalize(generator.next() % 20_000)
            let individual = UInt64(index % 7_000)
            whole.insert(value: value, individual: individual)
            if index < 20_000 {
                first.insert(value: value, individual: individual)
            } else {
                second.insert(value: value, individual: individual)
            }
        }
        first.merge(second)
        first.trim()
        whole.trim()
        #expect(first == whole)
        #expect(whole.isSampled)
        // K-minimum values: the relative error of the distinct count is about 1/sqrt(K).
        let truth = 20_000.0 * (1 - exp(-50_000.0 / 20_000.0))
        #expect(abs(whole.distinctValues - truth) / truth < 3 / sqrt(1000.0))
        let decoded = try KHyperLogLog(encoded: whole.encoded())
        #expect(decoded == whole)
        #expect(decoded.bound == whole.bound)

        var small = KHyperLogLog(capacity: 64)
        for value in 1...50 as ClosedRange<UInt64> {
            for individual in 0..<value % 4 + 1 {
                small.insert(value: FieldHash.finalize(value), individual: individual)
            }
        }
        #expect(!small.isSampled)
        #expect(small.distinctValues == 50)
        // Values 4, 8, ..., 48 have one individual each.
        #expect(small.sampledValues().values.filter(\.isUnique).count == 12)
        #expect(throws: SketchDecodingError.self) {
            try KHyperLogLog(encoded: Array("KHL2".utf8) + [UInt8](repeating: 0, count: 30))
        }
    }

    /// Small subsets are counted through a root table and expanded at the end; the sketches
    /// must be the ones counting record by record gives, with and without an entity, with
    /// empty values, and with sketches small enough to be sampled (and their cut-offs shared).
    @Test(arguments: [false, true]) func subsetsCountedThroughRootsEqualRecordByRecord(entity: Bool) throws {
        let directory = try TemporaryDirectory()
        var generator = TestRandom(seed: entity ? 5 : 4)
        var lines = ["person,sex,band,zip,year"]
        for _ in 0..<30_000 {
            let sex = generator.next() % 20 == 0 ? "" : (generator.next() % 2 == 0 ? "F" : "M")
            lines.append(
                "p\(generator.next() % 4_000),\(sex),b\(generator.next() % 7),z\(generator.next() % 3_000),\(1950 + generator.next() % 40)"
            )
        }
        let path = try directory.write("people.csv", text: lines.joined(separator: "\n") + "\n")
        func scan(estimates: [Int?], capacity: Int) throws -> LinkSide {
            var request = LinkRequest()
            request.entity = entity ? 0 : nil
            request.sketchCapacity = capacity
            request.joins = [
                LinkJoin(
                    columns: [1, 2, 3, 4], normalizers: [.exact, .exact, .exact, .number],
                    subsets: LinkSession.rankingSubsets(4), exact: false, distinctEstimates: estimates)
            ]
            return try LinkScan.run(
                input: BlockInput(path: path, options: CSVReadOptions(), blockSize: 64 << 10), request: request,
                workers: 2)
        }
        #expect(LinkPlan(LinkRequest()).rootMasks.isEmpty)
        for capacity in [64, 65_536] {
            let direct = try scan(estimates: [nil, nil, nil, nil], capacity: capacity)
            let rooted = try scan(estimates: [2, 7, nil, 40], capacity: capacity)
            var request = LinkRequest()
            request.joins = [
                LinkJoin(
                    columns: [1, 2, 3, 4], normalizers: [.exact, .exact, .exact, .number],
                    subsets: LinkSession.rankingSubsets(4), exact: false, distinctEstimates: [2, 7, nil, 40])
            ]
            // sex, band, year and their pairs and the triple go through the root {sex, band, year}.
            #expect(LinkPlan(request).rootMasks == [0b1011])
            #expect(LinkPlan(request).subsetRoot.filter { $0 >= 0 }.count == 7)
            #expect(direct.subsetMissing == rooted.subsetMissing)
            #expect(direct.subsetMissing[0][0] > 0)
            for subset in direct.sketches[0].indices {
                #expect(direct.sketches[0][subset] == rooted.sketches[0][subset], "subset \(subset) at K \(capacity)")
            }
            #expect(direct.sketches[0].last!.isSampled == (capacity == 64))
        }
    }

    /// Values repeated from the record before (a meter's readings in a row) are counted at the
    /// slot they took instead of hashed and looked up again: the value and pseudonym sketches
    /// equal record-by-record inserts, records and individuals alike, across blocks, trims and
    /// empty values, with and without an entity.
    @Test(arguments: [false, true]) func repeatedValuesCountAsRecordByRecord(entity: Bool) throws {
        let directory = try TemporaryDirectory()
        var generator = TestRandom(seed: entity ? 9 : 8)
        var lines = ["meter,postcode,tariff,kwh"]
        for _ in 0..<600 {
            let meter = String(generator.next() % 5_000, radix: 16)
            let postcode = "P\(generator.next() % 400)"
            let tariff = generator.next() % 3 == 0 ? "" : "T\(generator.next() % 2)"
            // Runs of one meter's readings; a few interrupted by another meter's.
            for _ in 0..<(1 + generator.next() % 60) {
                let other = generator.next() % 25 == 0
                lines.append(
                    "\(other ? "ff" : meter),\(generator.next() % 30 == 0 ? "" : postcode),\(tariff),\(generator.next() % 40)"
                )
            }
        }
        let path = try directory.write("readings.csv", text: lines.joined(separator: "\n") + "\n")
        for capacity in [16, 4_096] {
            var request = LinkRequest()
            request.entity = entity ? 0 : nil
            request.pseudonymColumns = [0, 1]
            request.columnSketches = [0, 1, 2, 3]
            request.columnSketchCapacity = capacity
            let side = try LinkScan.run(
                input: BlockInput(path: path, options: CSVReadOptions(), blockSize: 16 << 10), request: request,
                workers: 2)
            // The reference: every record inserted.
            var columns = (0..<4).map { _ in KHyperLogLog(capacity: capacity) }
            var pseudonyms = (0..<2).map { _ in KHyperLogLog(capacity: LinkRequest.pseudonymSketchCapacity) }
            let reader = try CSVReader(source: InputSource(path: path))
            var record = CSVRecord()
            while try reader.readRecord(into: &record) {
                for column in 0..<4 where record.length(of: column) > 0 {
                    if entity {
                        columns[column].insert(value: record.fieldHash(at: column), individual: record.fieldHash(at: 0))
                    } else {
                        columns[column].insertRecord(value: record.fieldHash(at: column))
                    }
                }
                for column in 0..<2 where record.length(of: column) > 0 {
                    pseudonyms[column].insertRecord(value: record.fieldHash(at: column))
                }
            }
            for index in columns.indices { columns[index].trim() }
            for index in pseudonyms.indices { pseudonyms[index].trim() }
            #expect(side.records == lines.count - 1)
            for column in 0..<4 {
                #expect(side.columns[column] == columns[column], "column \(column) at K \(capacity)")
            }
            for column in 0..<2 { #expect(side.pseudonyms[column] == pseudonyms[column], "pseudonym column \(column)") }
            #expect(side.columns[1].isSampled == (capacity == 16))
            if entity { #expect(side.individuals == Set(lines.dropFirst().map { $0.prefix { $0 != "," } }).count) }
        }
    }

    /// `deid publish` sketches its release for the catalog while writing it (record by record,
    /// and aggregating): the sketches equal a scan of the written file, and the catalog records
    /// the same entry as when it reads the release again. A published column that looks like an
    /// identifier to `deid link` without being one in the policy (e-mails passed through) was not
    /// sketched as a value set: the release is then read again, with the same entry.
    @Test(arguments: ["aggregating", "record by record", "identifier passed through", "free text passed through"])
    func releaseSketchedWhileWrittenEqualsReadingItAgain(variant: String) throws {
        let directory = try TemporaryDirectory()
        var text = String(
            decoding: try TemporaryDirectory.readFile(Paths.root + "/Tests/Fixtures/hourly-series-policy.yaml"),
            as: UTF8.self)
        if variant != "aggregating" {
            text = text.replacingOccurrences(
                of: "aggregate: { every: hour, sum: [kwh] }", with: "generalize: { time: hour }")
        }
        // An identifier published as it is; in free text, some of its values are over 1 KiB
        // (no key: the sketches made while writing keep them out as a reading of the file does).
        let passedThrough = variant.hasSuffix("passed through")
        if passedThrough {
            text = text.replacingOccurrences(
                of: "email:         { role: identifier, drop: true }", with: "email:         { role: insensitive }")
        }
        let policyPath = try directory.write("policy.yaml", text: text)
        try FileManager.default.createSymbolicLink(
            atPath: directory.file("hierarchies"), withDestinationPath: Paths.root + "/Datasets/hierarchies")
        var sample = Paths.root + "/Datasets/smart_meter_sample.csv"
        if variant == "free text passed through" {
            let lines = String(decoding: try TemporaryDirectory.readFile(sample), as: UTF8.self).split(separator: "\n")
            let long = lines.enumerated().map { index, line -> String in
                var fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                if index > 0 && fields[0].last.map({ "02468".contains($0) }) == true {
                    fields[2] = String(repeating: "x", count: 1500) + "@" + fields[0]
                }
                return fields.joined(separator: ",")
            }
            sample = try directory.write("free-text.csv", text: long.joined(separator: "\n") + "\n")
            #expect(long.contains { $0.utf8.count > 1500 })
        }
        let environment = ["DEID_KEY": "0123456789abcdef0123456789abcdef"]
        var entries: [CatalogRelease] = []
        for inPass in [true, false] {
            var request = TransformRequest(
                policyPath: policyPath, inputs: [sample], seed: 5, environment: environment, workers: 2)
            request.catalogPath = directory.file("catalog-\(inPass).sqlite")
            request.sketchReleaseInPass = inPass
            _ = try Publisher.publish(request, directory: directory.file("release-\(inPass)"), dryRun: false)
            entries += try Catalog(path: request.catalogPath!, create: false).all()
        }
        #expect(entries.count == 2)
        #expect(entries[0].dataSHA256 == entries[1].dataSHA256)
        #expect(entries[0].columnSketches == entries[1].columnSketches)
        #expect(entries[0].pseudonymSketches == entries[1].pseudonymSketches)
        #expect(entries[0].columnSketches.count == 7 + (passedThrough ? 1 : 0))
        // Free text is no identifier: half the emails over 1 KiB, the column is not called one.
        #expect(
            entries[0].pseudonymSketches.keys.sorted()
                == (variant == "identifier passed through" ? ["email", "meter_id"] : ["meter_id"]))
        #expect(entries[0].individuals == 30 && entries[0].individuals == entries[1].individuals)
        #expect(entries[0].records == entries[1].records)

        // The pass itself: its sketches equal a scan of what it wrote.
        var request = TransformRequest(
            policyPath: policyPath, inputs: [sample], seed: 5, environment: environment, workers: 2)
        request.catalogPath = directory.file("unused.sqlite")
        let (policy, plan, inputs) = try Publisher.prepare(request, releaseID: "test")
        let sketch = Publisher.releaseSketchRequest(policy: policy, header: plan.outputHeader)
        let output = directory.file("out.csv")
        let file = try OutputFile(path: output)
        let run = TransformRun(plan: plan, observers: ReleaseObservers(releaseSketch: sketch), workers: 2)
        let summary = try run.run(inputs: inputs, output: file, delimiter: .comma)
        try file.commit()
        let side = try #require(run.observation.releaseSketches(records: summary.recordsOut))
        let scanned = try LinkScan.run(
            input: BlockInput(path: output, options: CSVReadOptions(), blockSize: 64 << 10),
            request: sketch, workers: 2)
        #expect(side.records == scanned.records && side.individuals == scanned.individuals)
        #expect(side.columns == scanned.columns)
        #expect(side.pseudonyms == scanned.pseudonyms)
        let outcome = try Publisher.sketchedOutcome(
            side, request: sketch, dataPath: output, entity: policy.entity,
            readOptions: CSVReadOptions())
        #expect((outcome == nil) == (variant == "identifier passed through"))
        #expect(outcome?.firstPseudonymColumns == (outcome == nil ? nil : ["meter_id"]))
    }

    /// A wide file of pseudonym-like columns sketches at most `maxValueColumns` of them as value
    /// sets, the entity among them, in the file's order.
    @Test func valueSetsAreBoundedInWidth() throws {
        let directory = try TemporaryDirectory()
        let width = 100
        var lines = [(0..<width).map { "c\($0)" }.joined(separator: ",")]
        for row in 0..<300 {
            lines.append(
                (0..<width).map { column in
                    String(FieldHash.finalize(UInt64(row * width + column)), radix: 16).padding(
                        toLength: 16, withPad: "0", startingAt: 0)
                }.joined(separator: ","))
        }
        let path = try directory.write("wide.csv", text: lines.joined(separator: "\n") + "\n")
        var options = LinkOptions()
        options.firstFileOnly = true
        options.sketchFirstFileColumns = true
        options.workers = 2
        options.entities = ["c90"]
        let outcome = try LinkSession.run(inputs: [BlockInput(path: path, options: CSVReadOptions())], options: options)
        #expect(outcome.firstPseudonymColumns.count == LinkRequest.maxValueColumns)
        #expect(outcome.firstPseudonymColumns.contains("c90"))
        let positions = outcome.firstPseudonymColumns.map { Int($0.dropFirst())! }
        #expect(positions == positions.sorted())
    }

    /// The catalog keeps each value-sketched column's sketch under its own name, identifiers
    /// that are not pseudonyms included (they used to be named after the pseudonym columns only).
    @Test func pseudonymSketchesKeepTheirColumnNames() throws {
        let directory = try TemporaryDirectory()
        var lines = ["reading_id,meter,kwh"]
        for index in 0..<4_000 {
            let meter = String(FieldHash.finalize(UInt64(index % 25)), radix: 16).padding(
                toLength: 16, withPad: "0", startingAt: 0)
            lines.append("\(index + 1),\(meter),\(index % 13).5")
        }
        let path = try directory.write("release.csv", text: lines.joined(separator: "\n") + "\n")
        var options = LinkOptions()
        options.firstFileOnly = true
        options.sketchFirstFileColumns = true
        options.workers = 2
        let outcome = try LinkSession.run(inputs: [BlockInput(path: path, options: CSVReadOptions())], options: options)
        #expect(outcome.firstPseudonymColumns == ["reading_id", "meter"])
        let sketches = Dictionary(
            uniqueKeysWithValues: zip(outcome.firstPseudonymColumns, outcome.firstSide!.pseudonyms))
        #expect(sketches["reading_id"]!.distinctValues == 4_000)
        #expect(sketches["meter"]!.distinctValues == 25)
    }

    @Test func individualCountsAreExactWhileFewAndEstimatedBeyond() {
        var count = IndividualCount()
        for individual in [5, 5, 6, 7] as [UInt64] { count.insert(individual) }
        #expect(count.count == 3)
        #expect(count.occurrences == 4)
        var large = IndividualCount()
        for individual in 0..<2_000 as Range<UInt64> { large.insert(FieldHash.finalize(individual)) }
        #expect(abs(Double(large.count) - 2_000) / 2_000 < 0.25)
        var merged = count
        merged.merge(large)
        #expect(merged.count > IndividualCount.exactLimit)
    }

    /// A sketched count's registers are those of HyperLogLog's update applied to every
    /// individual (computed here apart, and read back through the catalog's encoding), from a
    /// few individuals to 100,000, each met several times in a shuffled order, and after a
    /// merge and further updates.
    @Test(arguments: [20, 1_000, 100_000])
    func sketchedCountsKeepEveryRegister(individuals: Int) throws {
        var random = TestRandom(seed: UInt64(individuals))
        var order = (0..<individuals * 3).map { FieldHash.finalize(UInt64($0 % individuals)) }
        order.shuffle(using: &random)
        var count = IndividualCount()
        var registers = [UInt8](repeating: 0, count: 256)
        for individual in order {
            count.insert(individual)
            let index = Int(individual >> 56)
            let rank = UInt8(((individual << 8) | (1 << 7)).leadingZeroBitCount + 1)
            registers[index] = max(registers[index], rank)
        }
        func reference(_ registers: [UInt8], records: Int) throws -> IndividualCount {
            var bytes: [UInt8] = []
            bytes.appendLittleEndian(UInt64(records))
            bytes.append(0xFF)
            bytes.append(contentsOf: registers)
            var offset = 0
            return try IndividualCount.decode(bytes, at: &offset)
        }
        #expect(count == (try reference(registers, records: order.count)))
        // Merged with another count, then updated further: still every register.
        var other = IndividualCount()
        for value in 0..<500 as Range<UInt64> {
            let individual = FieldHash.finalize(value &+ 1 << 40)
            other.insert(individual)
            registers[Int(individual >> 56)] = max(
                registers[Int(individual >> 56)], UInt8(((individual << 8) | (1 << 7)).leadingZeroBitCount + 1))
        }
        count.merge(other)
        let again = order.prefix(1_000)
        for individual in again { count.insert(individual) }
        #expect(count == (try reference(registers, records: order.count + 500 + again.count)))
    }

    /// Ranked combinations stay at most 63 and the full join, whatever the number of join
    /// columns; past `maxRankedJoinColumns` only the full join is measured, and the text says so.
    @Test func rankingIsBoundedByTheJoinsWidth() throws {
        #expect(LinkSession.rankingSubsets(4).count == 15)
        #expect(LinkSession.rankingSubsets(8).count == 8 + 28 + 8 + 1)
        #expect(LinkSession.rankingSubsets(31).count == 31 + 31 + 1)
        #expect(LinkSession.rankingSubsets(1000) == [Array(0..<1000)])
        #expect(LinkSample.valueLimit(columns: 9) == LinkSample.valueLimit)
        #expect(LinkSample.valueLimit(columns: 100_000) == 4)
        let directory = try TemporaryDirectory()
        let width = 40
        var text = (0..<width).map { "c\($0)" }.joined(separator: ",") + "\n"
        // Column j holds bit j % 5 of the row number: every row is unique on the join, no column alone.
        for row in 0..<30 { text += (0..<width).map { "\((row >> ($0 % 5)) & 1)" }.joined(separator: ",") + "\n" }
        let left = try directory.write("left.csv", text: text)
        let right = try directory.write("right.csv", text: text)
        let report = try Self.link([left, right])
        let pair = try #require(report.pairs.first)
        #expect(pair.joinColumns.count == width && pair.combinations.isEmpty && pair.suggestion == nil)
        #expect(pair.measures.uniqueLinks == 30)
        #expect(
            LinkText.render(report).contains(
                "combinations not ranked: 40 join columns (at most 31 are); name fewer with --columns"))
    }

    /// A pair's JSON holds its measures flat, every key present (`joined_min_class_size` null
    /// when the files share no join value), and reads back as the same pair.
    @Test func pairsWriteTheirMeasuresFlatAndReadBack() throws {
        let directory = try TemporaryDirectory()
        let left = try directory.write("left.csv", text: "zone,b\nA,x\nB,y\nB,z\nA,w\n")
        let shared = try directory.write("shared.csv", text: "zone,c\nA,u\nB,v\nB,w\n")
        let apart = try directory.write("apart.csv", text: "zone,c\nC,u\nD,v\nD,w\n")
        for (right, joined) in [(shared, 1), (apart, nil)] {
            let pair = try #require(try Self.link([left, right]).pairs.first)
            #expect(pair.measures.joinedMinClassSize == joined)
            let data = try JSONEncoder().encode(pair)
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            for key in [
                "left_records", "unique_links", "unique_link_share", "also_unique_in_left", "joined_min_class_size",
                "joinability", "method", "left", "right", "columns",
            ] {
                #expect(object.keys.contains(key), "\(key)")
            }
            #expect(object["measures"] == nil)
            let back = try JSONDecoder().decode(LinkPair.self, from: data)
            #expect(back.measures == pair.measures && back.left == pair.left && back.joinColumns == pair.joinColumns)
        }
    }

    /// Coordinates gridded by a release (cell centres of 500 m) join raw coordinates at the
    /// grid: the raw side is placed in the release's cells, and the links match pandas doing
    /// the same; they were compared as equal numbers and matched almost nothing.
    @Test func griddedCoordinatesJoinRawOnesAtTheGrid() throws {
        let directory = try TemporaryDirectory()
        let trips = referenceParse(
            try TemporaryDirectory.readFile(try Paths.shared("nyc_taxi_2013/trip_data_2013-01_sample.csv")))
        let header = trips[0]
        let latitude = header.firstIndex(of: "pickup_latitude")!
        let passengers = header.firstIndex(of: "passenger_count")!
        let rows = trips.dropFirst().filter {
            !$0[latitude].isEmpty && Double($0[latitude]).map { $0 > 40 && $0 < 41 } == true
        }
        let raw = try directory.write(
            "raw.csv",
            text: "pickup_latitude,passenger_count\n"
                + rows.map { "\($0[latitude]),\($0[passengers])" }.joined(separator: "\n") + "\n")
        let policy = try directory.write(
            "grid.yaml",
            text: """
                version: 1
                dataset: { name: gridded }
                columns:
                  pickup_latitude: { role: quasi_identifier, generalize: { grid: { metres: 500, axis: latitude } } }
                  passenger_count: { role: quasi_identifier }
                # Measured, not gated: the test is the join, not the release's safety.
                risk: { threshold: 0.2 }

                """)
        _ = try Publisher.publish(
            TransformRequest(policyPath: policy, inputs: [raw], environment: [:]), directory: directory.file("release"),
            dryRun: false)
        let gridded = directory.file("release/gridded.csv")
        let report = try Self.link([raw, gridded])
        let pair = try #require(report.pairs.first { $0.left == raw })
        let column = try #require(pair.columns.first { $0.left == "pickup_latitude" })
        let cell = 500.0 / 111_320
        #expect(
            column.comparison.hasPrefix("numbers placed in the coarser file's cells of 0.00449"), "\(column.comparison)"
        )
        let expected = try Self.oracle(raw, gridded, on: ["pickup_latitude:grid\(cell)", "passenger_count:number"])
        Self.expectMatches(pair, expected)
        // As equal numbers, a raw latitude never meets a cell's centre: no link at all.
        let asNumbers = try Self.oracle(raw, gridded, on: ["pickup_latitude:number", "passenger_count:number"])
        #expect(pair.measures.uniqueLinks > 0 && asNumbers["unique_links"] as? Int == 0)
        // The grid's detection itself: centres (of 500 m cells, written with 6 decimals), multiples, neither.
        let centres = try #require(NumberGrid.detect([51.502425, 51.506917, 51.5159, 51.529375]))
        #expect(centres.centred && abs(centres.step - cell) < 1e-6)
        #expect(NumberGrid.detect([10, 20, 50, 30]) == NumberGrid(step: 10, centred: false))
        #expect(NumberGrid.detect([0.31, 0.72, 0.1033, 0.5]) == nil)
    }

    /// A join column no file has is an error (a typo would pass a gate).
    @Test func anUnknownJoinColumnIsAnError() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("a.csv", text: "postcode,age\nAB1,3\n")
        var options = LinkOptions()
        options.joinColumns = ["postcodee"]
        #expect(
            throws: TransformError(
                position: InputPosition(source: path, line: 1),
                problem: "--columns names 'postcodee', a column of none of the files; did you mean 'postcode'?")
        ) {
            try Self.link([path, path], options: options)
        }
    }

    @Test func columnsPairByNameByOverlapAndAtTheCoarserLevel() throws {
        func sample(_ name: String, _ columns: [String: [String]]) -> LinkSample {
            LinkSample(
                name: name, columns: columns.keys.sorted().map { LinkColumn(name: $0, inferringFrom: columns[$0]!) })
        }
        let full = sample(
            "full",
            [
                "Post Code": ["SW1A 1AA", "SW1A 2BB", "E1 6AN", "N1 9GU", "SE1 7PB"],
                "reading_time": ["2013-01-01 00:30:00", "2013-01-01 01:00:00", "2013-01-02 13:30:00"],
                "age": ["23", "37", "41", "68"], "area": ["north", "south", "east", "west"],
            ])
        let coarse = sample(
            "coarse",
            [
                "postcode": ["SW1A", "E1 6", "N1 9", "SE1 "], "reading_time": ["2013-01-01", "2013-01-02"],
                "age_band": ["[20,30)", "[30,40)", ">=60"], "region": ["north", "south", "east", "west", "centre"],
            ])
        let shared = LinkMatcher.shared(full, coarse)
        let byName = Dictionary(uniqueKeysWithValues: shared.map { ($0.leftName, $0) })
        #expect(byName["Post Code"]?.rightName == "postcode")
        #expect(byName["Post Code"]?.normalizer == .prefix(4))
        #expect(byName["reading_time"]?.normalizer == .time(.day))
        #expect(byName["area"]?.rightName == "region")
        #expect(byName["area"]?.reason.hasPrefix("value overlap") == true)
        // Ages and bands pair by overlap only when named alike; here the names differ and the
        // values never overlap as text: not paired.
        #expect(byName["age"] == nil)
        let ages = LinkMatcher.shared(
            sample("a", ["age": ["23", "37", "41"]]), sample("b", ["age": ["[20,30)", "[30,40)", ">=60"]]))
        guard case .bands(let bands)? = ages.first?.normalizer else {
            Issue.record("ages and bands do not pair")
            return
        }
        #expect(bands.count == 3)
        #expect(
            JoinNormalizer.bands(bands).key(Array("37".utf8)) == JoinNormalizer.bands(bands).key(Array("[30,40)".utf8)))
        #expect(
            JoinNormalizer.bands(bands).key(Array("65".utf8)) == JoinNormalizer.bands(bands).key(Array(">=60".utf8)))
        #expect(
            JoinNormalizer.time(.day).key(Array("2013-01-01 13:30:00".utf8))
                == JoinNormalizer.time(.day).key(Array("2013-01-01".utf8)))
        // Text against numbers, times against numbers: never compared.
        #expect(
            LinkMatcher.shared(
                sample("x", ["k": ["1", "2", "3"]]), sample("y", ["k": ["2013-01-01", "2013-02-01", "2013-03-01"]])
            ).isEmpty)
    }
}

@Suite struct CatalogTests {
    static func release(_ id: String, classes: Int) -> CatalogRelease {
        var sketch = KHyperLogLog(capacity: 16)
        for value in 0..<40 as Range<UInt64> { sketch.insert(value: FieldHash.finalize(value), individual: value % 5) }
        return CatalogRelease(
            id: id, name: "d", created: "2026-11-29T00:00:00Z", policyFingerprint: "p", purpose: nil, controller: nil,
            retention: "2027-01-01", location: nil, dataFile: "d.csv", dataSHA256: "s", records: 10, individuals: 5,
            entity: nil, inputs: [],
            columns: [
                .init(name: "a", role: "quasi_identifier", technique: nil, family: nil, keyID: nil, perRelease: false)
            ],
            quasiIdentifiers: ["a"], classes: (0..<classes).map { (["v\($0)"], 1) },
            columnSketches: ["a": sketch], pseudonymSketches: [:])
    }

    @Test func migrationsAreRecordedAndAReleaseIsWrittenWhollyOrNotAtAll() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("nested/catalog.sqlite")
        let catalog = try Catalog(path: path, create: true)
        #expect(
            try catalog.migrations() == [
                "1: releases, columns, class tables, sketches",
                "2: a release is pending until its directory is in place",
                "3: the privacy budget ledger",
            ])
        try catalog.record(Self.release("r1", classes: 3))
        // The same id again fails in the middle of its transaction: nothing of it is kept.
        #expect(throws: CatalogError.self) { try catalog.record(Self.release("r1", classes: 50)) }
        let reopened = try Catalog(path: path, create: false)
        let stored = try #require(try reopened.release(id: "r1"))
        #expect(stored.classes.count == 3)
        var original = Self.release("r1", classes: 0).columnSketches["a"]!
        original.trim()
        #expect(stored.columnSketches["a"] == original)
        #expect(stored.isExpired(on: "2027-01-02") && !stored.isExpired(on: "2027-01-01"))
        #expect(try reopened.remove(id: "r1"))
        #expect(try reopened.list().isEmpty)
        #expect(throws: CatalogError.self) { try Catalog(path: directory.file("absent.sqlite"), create: false) }
    }
}
