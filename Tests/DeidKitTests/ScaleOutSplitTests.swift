import DeidCSV
import DeidTestSupport
import Foundation
import Testing

@testable import DeidKit

/// `deid split` and the merge of split parts: time-ordered inputs (every file holds a period of
/// every meter) dealt by entity into parts, the parts of one index counted and transformed as
/// one shard, against a publish of the same inputs on one machine.
@Suite struct ScaleOutSplitTests {
    static let key = ["DEID_KEY": String(repeating: "k", count: 32)]

    /// The bundled monthly-totals policy, its hierarchies found from `directory`.
    static func monthlyPolicy(in directory: TemporaryDirectory) throws -> String {
        let text = String(
            decoding: try TemporaryDirectory.readFile(Paths.root + "/Datasets/smart_meter_policy.yaml"), as: UTF8.self
        ).replacingOccurrences(of: "hierarchies/", with: Paths.root + "/Datasets/hierarchies/")
        return try directory.write("policy.yaml", text: text)
    }

    /// The bundled sample (30 meters, one after the other) sorted by reading time and cut into
    /// `count` files of consecutive periods: every meter has records in every file.
    static func timeOrdered(count: Int, in directory: TemporaryDirectory) throws -> [String] {
        let text = String(
            decoding: try TemporaryDirectory.readFile(Paths.root + "/Datasets/smart_meter_sample.csv"), as: UTF8.self)
        let lines = text.split(separator: "\n")
        let time = lines[0].split(separator: ",").firstIndex(of: "reading_time")!
        let records = lines.dropFirst().enumerated().sorted {
            ($0.element.split(separator: ",")[time], $0.offset) < ($1.element.split(separator: ",")[time], $1.offset)
        }.map(\.element)
        let size = (records.count + count - 1) / count
        return try (0..<count).map { index in
            let slice = records[(index * size)..<min(records.count, (index + 1) * size)]
            return try directory.write(
                "period\(index).csv", text: ([lines[0]] + slice).joined(separator: "\n") + "\n")
        }
    }

    /// Splits each input into `parts`, and counts each part index's files as one shard. Returns
    /// the receipts' paths, the statistics' paths and each shard's files.
    static func splitAndCount(
        _ inputs: [String], parts: Int, policy: String, in directory: TemporaryDirectory
    ) throws -> (receipts: [String], statistics: [String], shards: [[String]]) {
        var receipts: [String] = []
        for (index, input) in inputs.enumerated() {
            let out = directory.file("split/\(index)")
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try ScaleOut.split(
                TransformRequest(policyPath: policy, inputs: [input], environment: [:], workers: 2), parts: parts,
                directory: out)
            receipts.append(out + "/split.json")
        }
        var statistics: [String] = []
        var shards: [[String]] = []
        for part in 0..<parts {
            let files = inputs.indices.map { directory.file("split/\($0)/\(ScaleOut.splitPartName(part))") }
                .filter { FileManager.default.fileExists(atPath: $0) }
            guard !files.isEmpty else { continue }
            let counted = try ScaleOut.statistics(
                TransformRequest(policyPath: policy, inputs: files, environment: key, workers: 2))
            let path = directory.file("shard\(part).json")
            try Data(try ScaleOut.encode(counted)).write(to: URL(fileURLWithPath: path))
            statistics.append(path)
            shards.append(files)
        }
        return (receipts, statistics, shards)
    }

    static func sortedRows(_ path: String) throws -> [Substring] {
        let text = String(decoding: try TemporaryDirectory.readFile(path), as: UTF8.self)
        let lines = text.split(separator: "\n")
        return [lines[0]] + lines.dropFirst().sorted()
    }

    @Test func splitPartsPublishWhatOneMachinePublishesFromTimeOrderedInputs() throws {
        let directory = try TemporaryDirectory()
        let policy = try Self.monthlyPolicy(in: directory)
        let inputs = try Self.timeOrdered(count: 3, in: directory)
        // Counted file by file, the periods share every meter: refused.
        let byFile = try inputs.map {
            try ScaleOut.statistics(TransformRequest(policyPath: policy, inputs: [$0], environment: Self.key))
        }
        #expect(throws: ScaleOutError.self) { try ScaleOut.merge(byFile, names: ["0", "1", "2"]) }

        let (receipts, statistics, shards) = try Self.splitAndCount(inputs, parts: 4, policy: policy, in: directory)
        let receipt = try ScaleOut.load(SplitFile.self, path: receipts[0], what: "split receipt")
        #expect(receipt.entity == "meter_id" && receipt.partCount == 4)
        #expect(receipt.parts.map(\.records).reduce(0, +) == receipt.input.records)
        let merged = try ScaleOut.merge(paths: receipts + statistics)
        // Every shard holds whole meters, and the merge lists the periods, not the parts.
        #expect(merged.entities?.count == 30)
        #expect(merged.summary.inputs.map(\.name) == inputs)
        let plan = try ScaleOut.plan(merged, policyPath: policy, seed: 1, environment: Self.key)
        var outputs: [String] = []
        for (index, files) in shards.enumerated() {
            outputs.append(directory.file("out\(index).csv"))
            try ScaleOut.apply(
                TransformRequest(policyPath: policy, inputs: files, environment: Self.key), plan: plan,
                output: outputs.last!)
        }
        let assembled = try ScaleOut.assemble(
            TransformRequest(policyPath: policy, inputs: outputs, environment: Self.key), plan: plan,
            statistics: merged, statisticsName: "merged", directory: directory.file("assembled"))
        let one = try Publisher.publish(
            TransformRequest(policyPath: policy, inputs: inputs, seed: 1, environment: Self.key),
            directory: directory.file("release"), dryRun: false)
        #expect(assembled.manifest.rows.out == 30 * 1 && one.manifest.rows.out == 30)
        #expect(try ScaleOutTests.json(assembled.manifest.inputs) == ScaleOutTests.json(one.manifest.inputs))
        #expect(try ScaleOutTests.json(assembled.manifest.columns) == ScaleOutTests.json(one.manifest.columns))
        #expect(try assembled.risk?.json() == one.risk?.json())
        #expect(
            try Self.sortedRows(directory.file("assembled/smart-meter-readings.csv"))
                == Self.sortedRows(directory.file("release/smart-meter-readings.csv")))
    }

    /// A part missing or counted twice, a statistics file of other inputs, or a receipt of
    /// another policy: the merge is refused, naming the file.
    @Test func theMergeChecksThatEveryPartWasCountedOnce() throws {
        let directory = try TemporaryDirectory()
        let policy = try Self.monthlyPolicy(in: directory)
        let inputs = try Self.timeOrdered(count: 2, in: directory)
        let (receipts, statistics, _) = try Self.splitAndCount(inputs, parts: 3, policy: policy, in: directory)
        func refusal(_ paths: [String]) -> ScaleOutError? {
            #expect(throws: ScaleOutError.self) { try ScaleOut.merge(paths: paths) }
        }
        let missing = refusal(receipts + statistics.dropLast())
        #expect(missing?.file == receipts[0] && missing?.message.contains("was counted by no shard") == true)
        let twice = refusal(receipts + statistics + [statistics[0]])
        #expect(twice?.file == statistics[0] && twice?.message.contains("counted twice") == true)
        let foreign = refusal(Array(receipts.dropLast()) + statistics)
        #expect(foreign?.message.contains("not a part of the splits given") == true)
        var other = try ScaleOut.load(SplitFile.self, path: receipts[1], what: "split receipt")
        other.policySHA256 = String(repeating: "0", count: 64)
        let otherPath = directory.file("other.json")
        try Data(try ScaleOut.encode(other)).write(to: URL(fileURLWithPath: otherPath))
        let otherPolicy = refusal([receipts[0], otherPath] + statistics)
        #expect(otherPolicy?.file == otherPath)
        // Without the receipts the parts merge, and the merge lists the parts.
        let plain = try ScaleOut.merge(paths: statistics)
        #expect(plain.summary.inputs.allSatisfy { $0.name.contains("/split/") })
        #expect(throws: ScaleOutError.self) { try ScaleOut.merge(paths: receipts) }
    }

    /// A malformed record, a policy without an entity, a directory in use: exit 2 and nothing
    /// left; the parts hold every record once, each entity in one part.
    @Test func splitWritesAllOrNothing() throws {
        let directory = try TemporaryDirectory()
        let policy = try Self.monthlyPolicy(in: directory)
        let inputs = try Self.timeOrdered(count: 1, in: directory)
        var lines = String(decoding: try TemporaryDirectory.readFile(inputs[0]), as: UTF8.self).split(
            separator: "\n", omittingEmptySubsequences: false)
        lines[30_000] += ",extra"
        let bad = try directory.write("bad.csv", text: lines.joined(separator: "\n"))
        let out = directory.file("bad-split")
        let error = #expect(throws: (any Error).self) {
            try ScaleOut.split(
                TransformRequest(policyPath: policy, inputs: [bad], environment: [:], workers: 2), parts: 4,
                directory: out)
        }
        #expect("\(error!)".contains("bad.csv:30001"))
        #expect(!FileManager.default.fileExists(atPath: out))

        let used = directory.file("used")
        try FileManager.default.createDirectory(atPath: used, withIntermediateDirectories: false)
        _ = try directory.write("used/keep.txt", text: "x")
        #expect(throws: ScaleOutError.self) {
            try ScaleOut.split(
                TransformRequest(policyPath: policy, inputs: inputs, environment: [:]), parts: 2, directory: used)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: used) == ["keep.txt"])

        let noEntity = try directory.write(
            "no-entity.yaml",
            text: String(decoding: try TemporaryDirectory.readFile(policy), as: UTF8.self)
                .replacingOccurrences(of: "entity: meter_id\n", with: ""))
        #expect(throws: PolicyError.self) {
            try ScaleOut.split(
                TransformRequest(policyPath: noEntity, inputs: inputs, environment: [:]), parts: 2,
                directory: directory.file("none"))
        }

        let good = directory.file("good")
        let receipt = try ScaleOut.split(
            TransformRequest(policyPath: policy, inputs: inputs, environment: [:], workers: 2), parts: 7,
            directory: good)
        var meters: [Substring: Int] = [:]
        var records = 0
        for part in receipt.parts {
            let rows = String(decoding: try TemporaryDirectory.readFile(good + "/" + part.file), as: UTF8.self)
                .split(separator: "\n").dropFirst()
            #expect(rows.count == part.records)
            records += rows.count
            for row in rows {
                let meter = row.prefix { $0 != "," }
                #expect(meters.updateValue(part.index, forKey: meter) ?? part.index == part.index)
            }
        }
        #expect(records == 30 * 1_344 && receipt.input.records == records && meters.count == 30)
    }
}
