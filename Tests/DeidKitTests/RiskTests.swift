import DeidCSV
import DeidEngine
import DeidTestSupport
import Foundation
import Testing

@testable import DeidKit

/// `deid risk`'s measures against an independent computation: Tests/Oracles/risk_oracle.py
/// (Python's csv module and plain sets and sums), on the real datasets and the bundled sample.
@Suite struct RiskTests {
    /// Runs the oracle on `spec` and returns its answers.
    static func oracle(_ spec: [String: Any]) throws -> [String: Any] {
        let directory = try TemporaryDirectory()
        let specPath = directory.file("spec.json")
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: specPath))
        let (status, data) = try output(of: ["python3", "\(Paths.root)/Tests/Oracles/risk_oracle.py", specPath])
        #expect(status == 0, "the oracle failed")
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func measure(_ path: String, _ spec: RiskSpec, delimiter: CSVDelimiter? = nil) throws -> RiskReport {
        let input = try BlockInput(path: path, options: CSVReadOptions(delimiter: delimiter), blockSize: 64 << 10)
        let data = try RiskScan.run(inputs: [input], spec: spec, workers: 2)
        return try RiskAnalysis.report(data, spec: spec, inputs: [path])
    }

    /// Trace uniqueness of London households (LCLid) from their daily totals rounded to `step`
    /// kWh; the other analyses off.
    static func dailyTraceSpec(step: Double, points: Int = 4, maxPoints: Int = 8, repetitions: Int = 10) -> RiskSpec {
        var spec = RiskSpec(quasiIdentifiers: ["LCLid"], entity: "LCLid")
        spec.discovery = nil
        var trace = TraceSpec(time: "tstp", value: "energy_kwh_hh")
        trace.timeUnit = .day
        trace.valueStep = step
        trace.points = points
        trace.maxPoints = maxPoints
        trace.repetitions = repetitions
        spec.trace = trace
        return spec
    }

    static func close(_ a: Double, _ b: Any?, tolerance: Double = 1e-9) -> Bool {
        guard let b = (b as? NSNumber)?.doubleValue else { return false }
        return abs(a - b) <= tolerance * max(1, abs(b))
    }

    @Test func adultMeasuresMatchTheOracle() throws {
        let path = try Paths.shared("arx_adult/adult.csv")
        let quasiIdentifiers = ["sex", "age", "race", "marital-status"]
        var spec = RiskSpec(quasiIdentifiers: quasiIdentifiers, sensitive: "salary-class")
        spec.distance = .equal
        spec.samplingFraction = 0.1
        spec.discovery = DiscoverySpec(candidates: ["age", "education", "occupation", "sex"])
        spec.discovery!.top = 100
        let report = try Self.measure(path, spec)
        let expected = try Self.oracle([
            "file": path, "delimiter": ";", "quasi_identifiers": quasiIdentifiers, "sensitive": "salary-class",
            "combinations": [["age", "education", "occupation"], ["education", "sex"], ["occupation"]],
            "sampling_fraction": 0.1,
        ])
        #expect(report.records == expected["records"] as? Int)
        #expect(report.individuals == expected["individuals"] as? Int)
        #expect(report.equivalenceClasses == expected["equivalence_classes"] as? Int)
        #expect(report.minClassSize == expected["min_class_size"] as? Int)
        #expect(report.sampleUniques == expected["sample_uniques"] as? Int)
        #expect(Self.close(report.prosecutor.max, expected["prosecutor_max"]))
        #expect(Self.close(report.prosecutor.average, expected["prosecutor_average"]))
        #expect(Self.close(report.prosecutor.atRiskShare, expected["prosecutor_at_risk_share"]))
        #expect(Self.close(report.marketer, expected["marketer"]))
        let sizes = expected["class_sizes"] as! [String: Int]
        #expect(Dictionary(uniqueKeysWithValues: report.classSizes.map { (String($0.size), $0.classes) }) == sizes)
        let disclosure = try #require(report.attributeDisclosure)
        #expect(disclosure.lowestDistinctL == expected["lowest_distinct_l"] as? Int)
        #expect(Self.close(disclosure.lowestEntropyL, expected["lowest_entropy_l"]))
        #expect(Self.close(disclosure.highestT, expected["highest_t_equal"]))
        let combinations = try #require(report.quasiIdentifierDiscovery?.combinations)
        let uniques = expected["combinations"] as! [String: Int]
        let measures = expected["combination_measures"] as! [String: [String: Double]]
        for (name, count) in uniques {
            let found = combinations.first {
                $0.columns.sorted() == name.split(separator: "+").map(String.init).sorted()
            }
            #expect(found?.uniqueIndividuals == count, "\(name)")
            #expect(Self.close(found?.distinction ?? -1, measures[name]?["distinction"]), "\(name)")
            #expect(Self.close(found?.separation ?? -1, measures[name]?["separation"]), "\(name)")
        }
        // The most identifying combination of the four candidates is reported first.
        #expect(combinations.first!.uniqueIndividuals >= combinations.dropFirst().map(\.uniqueIndividuals).max()!)
        let population = try #require(report.populationUniqueness)
        #expect(Self.close(population.zayatz!.uniques, expected["zayatz"], tolerance: 1e-6))
        #expect(Self.close(population.pitman!.uniques, expected["pitman"], tolerance: 1e-6))
        #expect(Self.close(population.snb!.uniques, expected["snb"], tolerance: 1e-6))
        #expect(population.populationSize == 301_620)
        // Dankar's rule at a 10% sampling fraction takes Pitman's estimate.
        #expect(population.dankarModel == "pitman" && population.dankar == population.pitman)
    }

    /// An entity with rows in several classes counts once in each, and its risk is that of its
    /// smallest class: readings of the bundled sample, classes by tariff and hourly reading.
    @Test func entitiesInSeveralClassesMatchTheOracle() throws {
        let path = "\(Paths.root)/Datasets/smart_meter_sample.csv"
        let quasiIdentifiers = ["tariff", "kwh"]
        var spec = RiskSpec(quasiIdentifiers: quasiIdentifiers, entity: "meter_id")
        spec.discovery = DiscoverySpec(candidates: ["postcode", "occupants", "dwelling_type"])
        spec.discovery!.top = 100
        let report = try Self.measure(path, spec)
        let expected = try Self.oracle([
            "file": path, "quasi_identifiers": quasiIdentifiers, "entity": "meter_id",
            "combinations": [["postcode"], ["occupants", "dwelling_type"]],
        ])
        #expect(report.individuals == expected["individuals"] as? Int)
        #expect(report.equivalenceClasses == expected["equivalence_classes"] as? Int)
        #expect(report.sampleUniques == expected["sample_uniques"] as? Int)
        #expect(report.minClassSize == expected["min_class_size"] as? Int)
        #expect(Self.close(report.prosecutor.average, expected["prosecutor_average"]))
        #expect(Self.close(report.prosecutor.atRiskShare, expected["prosecutor_at_risk_share"]))
        #expect(Self.close(report.marketer, expected["marketer"]))
        // Households span classes here (more classes than households): classes / individuals
        // would exceed 1; the marketer risk is the mean of the individuals' risks.
        #expect(report.equivalenceClasses > report.individuals)
        #expect(report.marketer <= 1 && report.marketer == report.prosecutor.average)
        let uniques = expected["combinations"] as! [String: Int]
        let measures = expected["combination_measures"] as! [String: [String: Double]]
        let combinations = report.quasiIdentifierDiscovery!.combinations
        for (name, count) in uniques {
            let found = combinations.first { $0.columns.joined(separator: "+") == name }
            #expect(found?.uniqueIndividuals == count, "\(name)")
            #expect(Self.close(found?.distinction ?? -1, measures[name]?["distinction"]), "\(name)")
            #expect(Self.close(found?.separation ?? -1, measures[name]?["separation"]), "\(name)")
        }
    }

    /// The reader takes a household's repeated leading fields (meter to tariff) from the record
    /// before, and the counter then reuses that record's codes: a quasi-identifier right after
    /// them (the reading time, which changes on every line) and the entity among them are still
    /// counted as the oracle counts them.
    @Test func quasiIdentifiersAfterRepeatedFieldsMatchTheOracle() throws {
        let path = "\(Paths.root)/Datasets/smart_meter_sample.csv"
        let quasiIdentifiers = ["dwelling_type", "reading_time"]
        var spec = RiskSpec(quasiIdentifiers: quasiIdentifiers, entity: "meter_id")
        spec.discovery = nil
        let report = try Self.measure(path, spec)
        let expected = try Self.oracle([
            "file": path, "quasi_identifiers": quasiIdentifiers, "entity": "meter_id", "combinations": [[String]](),
        ])
        #expect(report.records == 40_320)
        #expect(report.individuals == expected["individuals"] as? Int)
        #expect(report.equivalenceClasses == expected["equivalence_classes"] as? Int)
        #expect(report.sampleUniques == expected["sample_uniques"] as? Int)
        #expect(report.minClassSize == expected["min_class_size"] as? Int)
        #expect(Self.close(report.prosecutor.average, expected["prosecutor_average"]))
    }

    /// Trace uniqueness on ten London households in January: with all of a trace's points the
    /// count is exact; with one point, the mean over many draws approaches the oracle's
    /// expectation.
    @Test func traceUniquenessMatchesTheOracle() throws {
        let path = try Paths.shared("lcl_smartmeter/lcl_2013_10households_jan.csv")
        func spec(points: Int, repetitions: Int) -> RiskSpec {
            Self.dailyTraceSpec(step: 0.5, points: points, maxPoints: points, repetitions: repetitions)
        }
        let expected = try Self.oracle([
            "file": path, "quasi_identifiers": ["LCLid"], "entity": "LCLid",
            "trace": ["entity": "LCLid", "time": "tstp", "value": "energy_kwh_hh", "day": true, "step": 0.5],
        ])
        let all = try #require(try Self.measure(path, spec(points: 31, repetitions: 1)).traceUniqueness)
        #expect(Self.close(all.share, expected["trace_all_points"]))
        let one = try #require(try Self.measure(path, spec(points: 1, repetitions: 400)).traceUniqueness)
        let mean = (expected["trace_one_point_expected"] as! NSNumber).doubleValue
        #expect(abs(one.byPoints[0].share - mean) < 0.04, "one point: \(one.byPoints[0].share) against \(mean)")
        #expect(one.entities == 10)
        // The same seed draws the same points.
        let again = try #require(try Self.measure(path, spec(points: 1, repetitions: 400)).traceUniqueness)
        #expect(again == one)
    }

    /// de Montjoye's test on 100 London households: 4 daily totals rounded to 1 kWh single out
    /// about 98% of them.
    /// The trace test's early-stopping check on posting lists (sorted arrays, and bit sets when
    /// dense) against its slow twin, the whole intersection, on random lists of small and large
    /// universes, sparse and dense, with and without the entity.
    @Test func aloneInAgreesWithTheWholeIntersection() {
        var random = SeededRandom(seed: 11)
        var alone = 0
        for universe in [3, 70, 4_000] {
            for _ in 0..<400 {
                let entity = UInt32(random.next(upperBound: UInt64(universe)))
                let count = 1 + Int(random.next(upperBound: UInt64(4)))
                var lists: [[UInt32]] = []
                for _ in 0..<count {
                    // One in 2 to one in 256 of the universe, the entity in it nearly always.
                    let share = UInt64(1) << (1 + random.next(upperBound: UInt64(8)))
                    var members = (0..<UInt32(universe)).filter { _ in random.next(upperBound: share) == 0 }
                    if random.next(upperBound: UInt64(20)) != 0, !members.contains(entity) {
                        members.append(entity)
                        members.sort()
                    }
                    lists.append(members)
                }
                lists.sort { $0.count < $1.count }
                let postings = lists.map { PostingList(sorted: $0, universe: universe) }
                let expected = TracePoints.aloneInByIntersection(lists, entity: entity)
                #expect(TracePoints.aloneIn(postings, entity: entity) == expected, "\(lists) \(entity)")
                if expected { alone += 1 }
            }
        }
        // Both answers were exercised.
        #expect(alone > 20 && alone < 1_100)
    }

    @Test func fourDailyTotalsSingleOutNearlyEveryHousehold() throws {
        let path = try Paths.shared("lcl_smartmeter/lcl_2013_100households_halfhourly.csv.gz")
        let spec = Self.dailyTraceSpec(step: 1)
        let report = try Self.measure(path, spec)
        let result = try #require(report.traceUniqueness)
        #expect(report.records == 1_674_718 && report.individuals == 100)
        #expect(result.entities == 100)
        #expect(result.share >= 0.95 && result.share <= 1, "\(result.share)")
        #expect(result.min <= result.share && result.share <= result.max)
        // More points never single out fewer households on average (up to the draws' noise).
        #expect(result.byPoints[0].share < result.byPoints[3].share)
    }

    /// Journalist risk against a population table ten times the sample: every class is ten
    /// times larger in the population.
    @Test func journalistRiskUsesThePopulationTable() throws {
        let path = "\(Paths.root)/Datasets/smart_meter_sample.csv"
        let directory = try TemporaryDirectory()
        let sample = try Self.measure(
            path,
            {
                var spec = RiskSpec(quasiIdentifiers: ["dwelling_type", "occupants"], entity: "meter_id")
                spec.discovery = nil
                return spec
            }())
        // The sample's classes with their sizes, times ten, as a population table.
        var counts: [String: Set<String>] = [:]
        let records = referenceParse(try TemporaryDirectory.readFile(path))
        for record in records.dropFirst() { counts["\"\(record[4])\",\"\(record[5])\"", default: []].insert(record[0]) }
        let table =
            "dwelling_type,occupants,count\n"
            + counts.map { "\($0.key),\($0.value.count * 10)" }.joined(separator: "\n") + "\n"
        var spec = RiskSpec(quasiIdentifiers: ["dwelling_type", "occupants"], entity: "meter_id")
        spec.discovery = nil
        spec.population = try PopulationTable(
            path: try directory.write("population.csv", text: table),
            quasiIdentifiers: spec.quasiIdentifiers, countColumn: "count")
        let report = try Self.measure(path, spec)
        let journalist = try #require(report.journalist)
        #expect(abs(journalist.max - sample.prosecutor.max / 10) < 1e-12)
        #expect(abs(journalist.average - sample.prosecutor.average / 10) < 1e-12)
        #expect(abs(report.marketer - sample.marketer / 10) < 1e-12)
        // A population table missing a class of the sample is an error, without values.
        let partial =
            "dwelling_type,occupants,count\n"
            + counts.dropFirst().map { "\($0.key),\($0.value.count * 10)" }.joined(separator: "\n") + "\n"
        spec.population = try PopulationTable(
            path: try directory.write("partial.csv", text: partial),
            quasiIdentifiers: spec.quasiIdentifiers, countColumn: "count")
        #expect(throws: TransformError.self) { try Self.measure(path, spec) }
    }

    /// The estimators on samples of a population whose uniques are known, drawn from the model
    /// Pitman's estimator assumes (a Chinese restaurant process, theta 500, alpha 0.6): the
    /// estimate Dankar's rule picks is within a quarter of the truth at small and large
    /// sampling fractions.
    @Test(arguments: [0.05, 0.3]) func populationEstimatesApproachTheTruth(fraction: Double) throws {
        var random = SeededRandom(seed: 7)
        func uniform() -> Double { Double(random.next() >> 11) / Double(1 << 53) }
        let theta = 500.0
        let alpha = 0.6
        var sizes: [Int] = []
        var owner: [Int] = []
        for person in 0..<200_000 {
            if uniform() < (theta + Double(sizes.count) * alpha) / (theta + Double(person)) {
                sizes.append(1)
                owner.append(sizes.count - 1)
                continue
            }
            // An existing class with probability proportional to its size minus alpha: a random
            // earlier person's class, kept with probability (size - alpha) / size.
            while true {
                let found = owner[Int(random.next(upperBound: UInt64(person)))]
                if uniform() < (Double(sizes[found]) - alpha) / Double(sizes[found]) {
                    sizes[found] += 1
                    owner.append(found)
                    break
                }
            }
        }
        let truth = Double(sizes.filter { $0 == 1 }.count)
        var sampleSizes: [Int: Int] = [:]
        for size in sizes {
            var drawn = 0
            for _ in 0..<size where uniform() < fraction { drawn += 1 }
            if drawn > 0 { sampleSizes[drawn, default: 0] += 1 }
        }
        let sampled = Double(sampleSizes.reduce(0) { $0 + $1.key * $1.value })
        let estimate = PopulationUniqueness(classSizes: sampleSizes, samplingFraction: sampled / 200_000)
        #expect(abs(estimate.dankar.uniques - truth) / truth < 0.25, "\(estimate) against \(truth)")
        #expect(estimate.zayatz != nil && estimate.pitman != nil)
    }

    /// Discovery measures every combination of up to 3 candidates while that stays within its
    /// work limit, then fewer columns a combination, then fewer candidates; so a file's width
    /// and length bound its time and memory.
    @Test func discoveryPlansItsWorkByWidthAndLength() {
        let limit = DiscoverySpec().workLimit
        #expect(DiscoveryTable.plan(candidates: 8, rows: 30_000, maxColumns: 3, workLimit: limit) == (3, 8))
        #expect(DiscoveryTable.plan(candidates: 2, rows: 10, maxColumns: 3, workLimit: limit) == (2, 2))
        #expect(DiscoveryTable.plan(candidates: 200, rows: 1, maxColumns: 3, workLimit: limit) == (2, 200))
        #expect(DiscoveryTable.plan(candidates: 200, rows: 250_000, maxColumns: 3, workLimit: limit) == (1, 99))
        #expect(DiscoveryTable.plan(candidates: 0, rows: 5, maxColumns: 3, workLimit: limit) == (0, 0))
    }

    /// On a file wider than `maxCandidates`, discovery combines the first candidates and says
    /// how many it left out; an unknown quasi-identifier is an error before any of it.
    @Test func wideFileDiscoveryIsBoundedAndSaysSo() throws {
        let directory = try TemporaryDirectory()
        let width = 1500
        var text = (0..<width).map { "c\($0)" }.joined(separator: ",") + "\n"
        for row in 0..<40 { text += (0..<width).map { "\((row + $0) % 9)" }.joined(separator: ",") + "\n" }
        let path = try directory.write("wide.csv", text: text)
        let input = try BlockInput(path: path, options: CSVReadOptions())
        let spec = RiskSpec(quasiIdentifiers: ["c0", "c1"])
        let report = try RiskAnalysis.report(try RiskScan.run(inputs: [input], spec: spec), spec: spec, inputs: [path])
        let discovery = try #require(report.quasiIdentifierDiscovery)
        #expect(discovery.candidates.count == DiscoverySpec().maxCandidates)
        #expect(discovery.notCombined == width - DiscoverySpec().maxCandidates)
        #expect(discovery.maxColumns == 2)
        #expect(discovery.combinations.count == DiscoverySpec().top)
        #expect(report.table().contains("1300 more candidate columns not combined"))
        let unknown = RiskSpec(quasiIdentifiers: ["nosuch"])
        #expect(throws: TransformError.self) {
            try RiskScan.run(inputs: [try BlockInput(path: path, options: CSVReadOptions())], spec: unknown)
        }
    }

    @Test func gatesPassAndFail() throws {
        let path = "\(Paths.root)/Datasets/smart_meter_sample.csv"
        var spec = RiskSpec(quasiIdentifiers: ["dwelling_type"], entity: "meter_id")
        spec.discovery = nil
        let input = try BlockInput(path: path, options: CSVReadOptions())
        let data = try RiskScan.run(inputs: [input], spec: spec)
        let within = try RiskAnalysis.report(
            data, spec: spec, inputs: [path], thresholds: RiskThresholds(maxProsecutorRisk: 1, minClassSize: 1))
        #expect(within.failedGates.isEmpty && within.gates.count == 2)
        let strict = try RiskAnalysis.report(
            data, spec: spec, inputs: [path],
            thresholds: RiskThresholds(minClassSize: within.minClassSize + 1, maxTraceUniqueness: 0.5))
        #expect(strict.failedGates.map(\.name) == ["min_class_size", "max_trace_uniqueness"])
    }

    @Test func unknownColumnsNameThePositionAndSuggest() throws {
        let path = "\(Paths.root)/Datasets/smart_meter_sample.csv"
        let input = try BlockInput(path: path, options: CSVReadOptions())
        let error = #expect(throws: TransformError.self) {
            try RiskScan.run(inputs: [input], spec: RiskSpec(quasiIdentifiers: ["postcod"]))
        }
        #expect(error?.description.contains("smart_meter_sample.csv:1") == true)
        #expect(error?.description.contains("did you mean 'postcode'") == true)
    }

    /// Value distributions: whole numbers get a bar each, values held by fewer individuals than
    /// the public minimum are hidden, too many bins are coarsened tenfold, merging blocks gives
    /// the same counts as one pass.
    @Test func valueDistributionsCountHideAndCoarsen() throws {
        var small = ValueDistribution(column: "occupants")
        for (value, people) in [("1", 6), ("2", 2), ("3", 9)] {
            for person in 0..<people {
                small.add(Array(value.utf8)[...], count: 10, individual: UInt64(person), cap: 5)
            }
        }
        let open = small.bars(minimumIndividuals: 1)
        #expect(
            open.numeric && open.bars.map(\.label) == ["1", "2", "3"] && open.bars.map(\.records) == [60, 20, 90]
                && open.hidden == 0)
        let shown = small.bars(minimumIndividuals: 5)
        #expect(shown.bars.map(\.label) == ["1", "3"] && shown.hidden == 20)

        var whole = ValueDistribution(column: "kwh")
        var first = ValueDistribution(column: "kwh")
        var second = ValueDistribution(column: "kwh")
        for index in 0..<10_000 {
            let field = Array(String(format: "%.3f", Double(index) * 0.001).utf8)[...]
            whole.add(field, individual: UInt64(index), cap: 5)
            if index < 5_000 {
                first.add(field, individual: UInt64(index), cap: 5)
            } else {
                second.add(field, individual: UInt64(index), cap: 5)
            }
        }
        #expect(whole.numbers.count <= ValueDistribution.maxBins && whole.scale > 0.001)
        first.merge(second, cap: 5)
        #expect(first.records == 10_000 && first.scale == whole.scale)
        #expect(
            first.bars(minimumIndividuals: 5).bars.map(\.records)
                == whole.bars(minimumIndividuals: 5).bars.map(\.records))
        #expect(whole.bars(minimumIndividuals: 5).bars.reduce(0) { $0 + $1.records } == 10_000)

        // Large inputs' charts take one record in more: about as many records as 256 MiB's.
        #expect(
            [1, 256 << 20, (256 << 20) + 1, 1_005_641_191, 4 << 30, 1 << 40].map {
                DistributionRequest.sampleEvery(forInputBytes: $0)
            }
                == [8, 8, 16, 32, 64, 64])

        // A number too large for a bin is counted as other (its bin key once trapped); texts
        // past the bound too, and a text seen before still counts as itself.
        var outliers = ValueDistribution(column: "kwh")
        for value in ["1e300", "-1e300", "0.5", "0.5", ""] {
            outliers.add(Array(value.utf8)[...], individual: 1, cap: 5)
        }
        #expect(
            outliers.records == 5 && outliers.otherRecords == 2 && outliers.emptyRecords == 1
                && outliers.numbers.count == 1)
        var labels = ValueDistribution(column: "tariff")
        for index in 0..<(ValueDistribution.maxTexts + 10) {
            labels.add(Array("t\(index)".utf8)[...], individual: UInt64(index), cap: 5)
        }
        labels.add(Array("t0".utf8)[...], individual: 99, cap: 5)
        #expect(labels.otherRecords == 10 && labels.records == ValueDistribution.maxTexts + 11)
        #expect(labels.bars(top: 1, minimumIndividuals: 1).bars.map(\.label) == ["t0"])
        #expect(labels.bars(top: 1, minimumIndividuals: 1).bars.map(\.records) == [2])
    }

    /// `deid publish` counts its release inside the transform pass (record by record, when
    /// aggregating, and in a privacy run's pass 2 from the spooled lines); the report equals the
    /// one from reading the written file again.
    @Test(arguments: [
        "Datasets/smart_meter_policy.yaml", "Benchmarks/publish-policy.yaml", "Benchmarks/publish-policy.yaml+moves",
        "Datasets/smart_meter_k_anonymity.yaml", "Datasets/smart_meter_k_anonymity.yaml+l",
    ])
    func releaseCountedInThePassEqualsReadingItBack(policyFile: String) throws {
        let directory = try TemporaryDirectory()
        var sample = Paths.root + "/Datasets/smart_meter_sample.csv"
        if policyFile.hasSuffix("+moves") {
            // Households that move now and then: a quasi-identifier changes within a run of
            // records whose leading fields (the meter) repeat.
            var lines = String(decoding: try TemporaryDirectory.readFile(sample), as: UTF8.self).split(separator: "\n")
                .map(String.init)
            for index in stride(from: 37, to: lines.count, by: 37) {
                var fields = lines[index].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                fields[3] = index % 74 == 0 ? "ZZ9 9ZZ" : "AB1 2CD"
                lines[index] = fields.joined(separator: ",")
            }
            sample = try directory.write("moves.csv", text: lines.joined(separator: "\n") + "\n")
        }
        // "+l": with distinct 2-diversity of the (noised) readings, so that the sensitive column
        // is measured too.
        let file = policyFile.replacingOccurrences(of: "+l", with: "").replacingOccurrences(of: "+moves", with: "")
        var text = PolicyText.withoutRisk(
            try String(contentsOfFile: Paths.root + "/" + file, encoding: .utf8)
                .replacingOccurrences(of: "hierarchies/", with: Paths.root + "/Datasets/hierarchies/"))
        if policyFile.hasSuffix("+l") {
            text = text.replacingOccurrences(
                of: "  suppression_limit: 0.1\n",
                with: "  suppression_limit: 0.1\n  l_diversity: { column: kwh, l: 2 }\n")
            #expect(text.contains("l_diversity"))
        }
        text +=
            "risk:\n  trace: { time: reading_time, value: kwh, points: 2, time_resolution: day, value_resolution: 1, repetitions: 3 }\n"
        let policyPath = try directory.write("policy.yaml", text: text)
        let request = TransformRequest(
            policyPath: policyPath, inputs: [sample], seed: 5,
            environment: ["DEID_KEY": "risk-test-key-0123456789abcdef0123456789"])
        let outcome = try Publisher.publish(request, directory: directory.file("release"), dryRun: false)
        let counted = try #require(outcome.risk)
        #expect(counted.traceUniqueness != nil)
        #expect((counted.attributeDisclosure != nil) == policyFile.hasSuffix("+l"))
        let policy = try PolicyLoader.load(
            path: policyPath, header: try BlockInput(path: sample, options: CSVReadOptions()).header.names,
            environment: ["DEID_KEY": "risk-test-key-0123456789abcdef0123456789"])
        let data = directory.file("release/\(outcome.manifest.data.file)")
        let spec = try #require(
            Publisher.releaseRiskSpec(
                policy: policy, header: outcome.manifest.data.columns,
                distributions: Publisher.changedColumns(policy: policy, output: outcome.manifest.data.columns)))
        let reread = try RiskAnalysis.report(
            try RiskScan.run(inputs: [try BlockInput(path: data, options: CSVReadOptions())], spec: spec),
            spec: spec, inputs: counted.inputs)
        #expect(counted == reread)
        #expect(counted.records == outcome.manifest.rows.out)

    }
}
