import DeidCSV
import DeidTestSupport
import Foundation
import Testing
import Yams

@testable import DeidKit

@Suite("deid profile")
struct ProfileTests {
    @Test func typesEmptiesAndDistincts() throws {
        // Expected per column: id unique per row; n integers; x decimals with one empty;
        // t timestamps; d dates; c categorical (2 values); free: 6 distinct free-text values.
        let text = """
            id,n,x,t,d,c,free
            a1,1,0.5,2013-01-01 00:00:00,2013-01-01,on,the cat sat
            a2,2,,2013-01-01 00:30:00,2013-01-02,off,on the mat
            a3,3,1.5,2013-01-01 01:00:00,2013-01-03,on,and then
            a4,4,2,2013-01-01 01:30:00,2013-01-04,on,it left
            a5,5,2.5,2013-01-01 02:00:00,2013-01-05,off,for good
            a6,6,-3,2013-01-01 02:30:00,2013-01-06,on,we think

            """
        let result = try profileText(text)
        #expect(result.rows == 6)
        #expect(result.columns.map(\.type) == [.text, .integer, .decimal, .timestamp, .date, .categorical, .text])
        #expect(result.columns.map(\.empty) == [0, 0, 1, 0, 0, 0, 0])
        #expect(result.columns.map(\.distinct) == [6, 6, 5, 6, 6, 2, 6])
        #expect(result.columns.allSatisfy { $0.distinctExact })
        #expect(result["t"]?.format == "%Y-%m-%d %H:%M:%S")
        #expect(result["x"]?.minimum == -3 && result["x"]?.maximum == 2.5)
        #expect(result["id"]?.role == .identifier)
    }

    @Test func identifierUniquePerEntityIsFoundWithoutAHelpfulName() throws {
        // `ref` has no telling name, but each meter has one ref and each ref one meter.
        var rows = ["meter_id,ref,band,reading_time,value"]
        for meter in 0..<20 {
            for slot in 0..<10 {
                rows.append(
                    "M\(meter),R-\(meter * 7919 % 1000),\(meter % 3),2013-01-01 0\(slot):00:00,\(Double(meter * slot) / 10)"
                )
            }
        }
        let result = try profileText(rows.joined(separator: "\n") + "\n")
        #expect(result.entity == "meter_id")
        #expect(result["meter_id"]?.role == .entity)
        #expect(result["ref"]?.role == .identifier)
        #expect(result["ref"]?.reason.contains("one value per meter_id") == true)
        #expect(result["band"]?.role == .quasiIdentifier)
        #expect(result["reading_time"]?.role == .timestamp)
        #expect(result["value"]?.role == .sensitive)
    }

    @Test func rowOrderDoesNotChangeTheProfile() throws {
        // Runs of repeated values (and empties) take the profiler's previous-row shortcut;
        // shuffled, the same rows take the lookup path. Both must give the same profile.
        var random = SeededRandom(seed: 11)
        var rows: [String] = []
        for household in 0..<40 {
            let size = random.integer(in: 1...5)
            let band = ["", "A", "B"][random.integer(in: 0...2)]
            for slot in 0..<30 {
                let kwh = random.unit() < 0.1 ? "" : "\(random.integer(in: 0...40)).\(random.integer(in: 0...9))"
                rows.append("H\(household),\(size),\(band),2013-01-0\(slot % 9 + 1) 00:00:00,\(kwh)")
            }
        }
        let header = "household_id,occupants,band,reading_time,kwh\n"
        let ordered = try profileText(header + rows.joined(separator: "\n") + "\n")
        var shuffled = rows
        shuffled.shuffle(using: &random)
        let reordered = try profileText(header + shuffled.joined(separator: "\n") + "\n")
        #expect(ordered == reordered)
        #expect(ordered["band"]?.empty == rows.filter { $0.contains(",,2013") }.count)
        #expect(ordered["kwh"]?.empty == rows.filter { $0.hasSuffix(":00,") }.count)
        #expect(ordered.entity == "household_id")
        #expect(ordered["occupants"]?.role == .quasiIdentifier)
    }

    @Test func patternsFindIdentifiersUnderOpaqueNames() throws {
        var rows = ["c1,c2,c3,c4"]
        let names = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Mary Somerville", "Charles Babbage"]
        for index in 0..<50 {
            rows.append(
                "\(names[index % 5]),person\(index)@example.org,+44 20 7946 \(1000 + index),SW\(index % 9 + 1) \(index % 9)AB"
            )
        }
        let result = try profileText(rows.joined(separator: "\n") + "\n")
        #expect(result.columns.map(\.role) == [.identifier, .identifier, .identifier, .quasiIdentifier])
        #expect(result["c2"]?.reason == "values are e-mail addresses")
        #expect(result["c3"]?.reason == "values are phone numbers")
        #expect(result["c4"]?.reason == "values are UK postcodes")
    }

    @Test func estimatesPastTheExactLimitAreMarked() throws {
        var rows = ["k,v"]
        for index in 0..<30_000 { rows.append("key\(index),\(index % 3)") }
        var options = ProfileOptions()
        options.exactDistinctLimit = 500
        let result = try profileText(rows.joined(separator: "\n") + "\n", options: options)
        #expect(result["k"]?.distinctExact == false)
        #expect(abs((result["k"]?.distinct ?? 0) - 30_000) < 600)
        #expect(result["v"]?.distinctExact == true && result["v"]?.distinct == 3)
    }

    @Test func headerOnly() throws {
        let result = try profileText("a,b\n")
        #expect(result.rows == 0)
        #expect(result.columns.map(\.type) == [.empty, .empty])
        #expect(result.columns.allSatisfy { $0.reason == "the file has no records" && $0.distinct == 0 })
    }

    @Test func wideFilesShareTheExactCountingBudget() throws {
        // A 1 MiB budget over 4 columns leaves each about 4,700 exact values: past that, an estimate.
        var rows = ["a,b,c,d"]
        for index in 0..<10_000 { rows.append("v\(index),\(index % 7),x,y") }
        var options = ProfileOptions()
        options.exactDistinctBudgetBytes = 1 << 20
        let result = try profileText(rows.joined(separator: "\n") + "\n", options: options)
        #expect(result["a"]?.distinctExact == false)
        #expect(abs((result["a"]?.distinct ?? 0) - 10_000) < 300)
        #expect(result["b"]?.distinctExact == true && result["b"]?.distinct == 7)
    }

    /// A wide file's columns share the memory: the estimates get fewer registers, and the
    /// dependency tracking (which grows with the square of the width) is left out; the profile
    /// is still complete.
    @Test func wideFilesBoundTheirMemory() throws {
        #expect(Profiler.sketchPrecision(columns: 9, budgetBytes: 32 << 20) == 14)
        #expect(Profiler.sketchPrecision(columns: 10_000, budgetBytes: 32 << 20) == 11)
        #expect(Profiler.sketchPrecision(columns: 1_000_000, budgetBytes: 32 << 20) == 6)
        let width = 3000
        var text = (0..<width).map { "c\($0)" }.joined(separator: ",") + "\n"
        for row in 0..<50 { text += (0..<width).map { "\(row * $0 % 17)" }.joined(separator: ",") + "\n" }
        let result = try profileText(text)
        #expect(result.rows == 50 && result.columns.count == width)
        #expect(result.columns.allSatisfy { $0.distinctExact && $0.distinct <= 17 })
        // No column is said to be a fixed attribute of another: dependencies were not tracked.
        #expect(!result.columns.contains { $0.reason.contains("a fixed attribute") })
    }

    @Test func invalidUTF8IsAnErrorWithItsPosition() throws {
        let bytes = Array("id,name\n1,ok\n2,SECRET".utf8) + [0xFF] + Array("\n".utf8)
        let reader = try CSVReader(source: InputSource(bytes: bytes, displayName: "people.csv"))
        #expect(
            throws: CSVError(.invalidUTF8, at: InputPosition(source: "people.csv", line: 3, record: 2, column: "name"))
        ) {
            _ = try profile(reader: reader)
        }
    }

    @Test func progressIsReported() throws {
        var rows = ["a"]
        for index in 0..<1000 { rows.append("\(index)") }
        let bytes = Array(rows.joined(separator: "\n").utf8)
        let reader = try CSVReader(source: InputSource(bytes: bytes, chunkSizes: [512]))
        var reports: [Int] = []
        _ = try profile(reader: reader, progressInterval: 100) { progress in
            reports.append(progress.consumed)
            #expect(progress.total == bytes.count)
            #expect(progress.decoded == progress.consumed)  // not compressed
            #expect(progress.fraction.map { $0 > 0 && $0 <= 1 } == true)
        }
        #expect(reports.count == 10)
        #expect(reports == reports.sorted() && reports.last! <= bytes.count && reports.first! > 0)
    }

    @Test func bundledSampleProfilesAsTheDataOwnerExpects() throws {
        let path = Paths.root + "/Datasets/smart_meter_sample.csv"
        let result = try profileFile(path)
        let reference = try referenceDistinct(path: path, delimiter: ",")
        #expect(result.rows == reference.rows)
        #expect(result.rows == 30 * 28 * 48)
        for column in result.columns where column.name != "dwelling_type" {
            #expect(column.distinct == reference.distinct[column.name], "\(column.name)")
        }
        #expect(result["dwelling_type"]?.distinct ?? 0 <= 6)
        #expect(result.entity == "meter_id")
        let roles = Dictionary(uniqueKeysWithValues: result.columns.map { ($0.name, $0.role) })
        #expect(
            roles == [
                "meter_id": .entity, "customer_name": .identifier, "email": .identifier,
                "postcode": .quasiIdentifier, "dwelling_type": .quasiIdentifier,
                "occupants": .quasiIdentifier, "tariff": .quasiIdentifier,
                "reading_time": .timestamp, "kwh": .sensitive,
            ])
    }

    @Test func adultCensusExtract() throws {
        let path = try Paths.shared("arx_adult/adult.csv")
        let result = try profileFile(path)
        let reference = try referenceDistinct(path: path, delimiter: ";")
        #expect(result.rows == 30_162)
        #expect(result.delimiter == "semicolon")
        #expect(result.columns.count == 9)
        for column in result.columns {
            #expect(column.distinct == reference.distinct[column.name], "\(column.name)")
            #expect(column.empty == 0)
        }
        #expect(result.entity == nil)
        #expect(
            result.columns.filter { $0.role == .quasiIdentifier }.map(\.name)
                == ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"])
        #expect(result["salary-class"]?.role == .sensitive)
    }

    @Test func londonSmartMetersGzip() throws {
        let result = try profileFile(try Paths.shared("lcl_smartmeter/lcl_2013_100households_halfhourly.csv.gz"))
        #expect(result.compressed)
        #expect(result.rows == 1_674_718)
        #expect(result.entity == "LCLid")
        #expect(result["LCLid"]?.distinct == 100)
        #expect(result["tstp"]?.type == .timestamp)
        #expect(result["tstp"]?.distinct == 17_520)  // every half hour of 2013
        #expect(result["energy_kwh_hh"]?.type == .decimal)
    }

    @Test func starterPolicyNamesEveryColumnAndLoads() throws {
        let result = try profileFile(Paths.root + "/Datasets/smart_meter_sample.csv")
        let text = StarterPolicy(profile: result, datasetName: "smart_meter_sample").yaml()
        let policy = try #require(try Yams.load(yaml: text) as? [String: Any])
        #expect(policy["version"] as? Int == 1)
        #expect(policy["entity"] as? String == "meter_id")
        let columns = try #require(policy["columns"] as? [String: [String: Any]])
        #expect(Set(columns.keys) == Set(result.columns.map(\.name)))
        #expect(columns["customer_name"]?["role"] as? String == "identifier")
        #expect(columns["customer_name"]?["drop"] as? Bool == true)
        #expect(columns["meter_id"]?["role"] as? String == "identifier")
        let pseudonym = try #require(columns["meter_id"]?["pseudonymize"] as? [String: Any])
        #expect(pseudonym["key"] as? String == "env:DEID_KEY")
        #expect(columns["reading_time"]?["role"] as? String == "insensitive")
        #expect(columns["postcode"]?["role"] as? String == "quasi_identifier")
        #expect(columns["kwh"]?["role"] as? String == "sensitive")
        // Every role is one the policy format accepts.
        let roles = Set(columns.values.compactMap { $0["role"] as? String })
        #expect(roles.isSubset(of: ["identifier", "quasi_identifier", "sensitive", "insensitive"]))
    }

    @Test func starterPolicyQuotesAwkwardNames() throws {
        let result = try profileText("\"a: b\",\"#c\",\"d\"\"e\"\n1,2,3\n")
        let text = StarterPolicy(profile: result, datasetName: "x").yaml()
        let policy = try #require(try Yams.load(yaml: text) as? [String: Any])
        let columns = try #require(policy["columns"] as? [String: Any])
        #expect(Set(columns.keys) == ["a: b", "#c", "d\"e"])
    }

    @Test func jsonHasTheFixedKeys() throws {
        let result = try profileText("id,kwh\n1,0.5\n2,0.25\n")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.json().utf8)) as? [String: Any])
        #expect(object["rows"] as? Int == 2)
        let columns = try #require(object["columns"] as? [[String: Any]])
        #expect(columns.map { $0["name"] as? String } == ["id", "kwh"])
        for column in columns {
            for key in ["name", "type", "empty", "distinct", "distinct_exact", "role", "reason"] {
                #expect(column[key] != nil, "missing \(key)")
            }
        }
    }
}
