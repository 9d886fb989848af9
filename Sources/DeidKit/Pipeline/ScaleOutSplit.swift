import DeidCSV
import DeidEngine
import Foundation

/// What `deid split` made of one input (Docs/SCALE-OUT.md): the input as one machine's manifest
/// lists it, and the parts its records were dealt to by entity. A merge given the receipts
/// (`ScaleOut.merge(_:names:splits:)`) checks that the shards counted every part once, and
/// lists the original inputs in the release's manifest instead of the parts.
package typealias SplitFile = ScaleOutDocument<SplitReceipt>

package struct SplitReceipt: ScaleOutBody, Equatable {
    package static let formatName = "deid-split"
    package static let currentVersion = 1

    /// The column the records were dealt by, and into how many parts.
    package var entity: String
    package var partCount: Int
    /// The input split, with its fingerprint and records.
    package var input: InputSummary
    /// The parts that received records (an empty part is not written), by index.
    package var parts: [SplitPart]

    enum CodingKeys: String, CodingKey {
        case entity
        case partCount = "part_count"
        case input, parts
    }
}

/// One part of a split: part `index` of `partCount`, its file in the split's directory, its
/// records and the SHA-256 of its bytes.
package struct SplitPart: Codable, Sendable, Equatable {
    package var index: Int
    package var file: String
    package var records: Int
    package var sha256: String
}

extension ScaleOut {
    /// The name of part `index` of a split.
    package static func splitPartName(_ index: Int) -> String { "part-" + String(format: "%05d", index) + ".csv" }

    /// The receipt's name in a split's directory.
    package static let splitReceiptName = "split.json"

    /// `deid split`: deals the records of one input (`request.inputs[0]`) into `parts` plain CSV
    /// files in `directory` (new, or empty) by the policy's entity column, so that every
    /// entity's records, from any number of inputs, are in the part of the same index, in
    /// input order. Writes the parts that received records and the receipt (`split.json`); on
    /// an error, nothing (a directory this call made is removed).
    @discardableResult
    package static func split(
        _ request: TransformRequest, parts: Int, directory: String, progress: ((InputProgress) -> Void)? = nil
    ) throws -> SplitFile {
        guard request.inputs.count == 1 else { throw usage("deid split reads one input at a time") }
        guard (1...100_000).contains(parts) else { throw usage("the number of parts must be 1 to 100000") }
        let input = try BlockInput(path: request.inputs[0], options: request.readOptions, fingerprint: true)
        // Records are dealt by their entity as read: no technique runs, so no key is needed.
        let policy =
            try request.policyText.map {
                try PolicyLoader.parse(
                    text: $0, file: request.policyPath, directory: PathName.directory(of: request.policyPath),
                    header: input.header.names, environment: request.environment, checkingKeys: false)
            }
            ?? PolicyLoader.load(
                path: request.policyPath, header: input.header.names, environment: request.environment,
                checkingKeys: false)
        try checkScalable(policy)
        guard let entity = policy.entity, let field = input.header.names.firstIndex(of: entity) else {
            throw PolicyError([
                PolicyDiagnostic(
                    file: policy.source, line: nil, column: nil, path: "entity",
                    message: "the policy names no entity column: there is nothing to split the records by")
            ])
        }
        OpenFileLimit.allow(parts)
        let made = try makeEmptyDirectory(directory)
        var outputs: [OutputFile] = []
        do {
            for index in 0..<parts {
                outputs.append(
                    try OutputFile(
                        path: partPath(directory, splitPartName(index)), compress: false,
                        protecting: [input.source.identity].compactMap { $0 }))
            }
            let routed = try RecordRouter.run(
                inputs: [input], field: field, header: input.header.names, outputs: outputs,
                delimiter: input.delimiter,
                workers: request.workers ?? ProcessInfo.processInfo.activeProcessorCount, progress: progress)
            var written: [SplitPart] = []
            for (index, part) in routed.parts.enumerated() {
                if part.records == 0 {
                    outputs[index].abandon()
                } else {
                    try outputs[index].commit()
                    written.append(
                        SplitPart(index: index, file: splitPartName(index), records: part.records, sha256: part.sha256))
                }
            }
            let count = routed.counts[0]
            let receipt = SplitFile(
                policySHA256: policy.sha256, header: input.header.names,
                SplitReceipt(
                    entity: entity, partCount: parts,
                    input: InputSummary(
                        name: count.name, bytes: count.bytes, sha256: input.fingerprint(), records: count.records,
                        compressed: count.compressed),
                    parts: written))
            let file = try OutputFile(path: partPath(directory, splitReceiptName), compress: false)
            try file.write(bytes: try encode(receipt))
            try file.commit()
            return receipt
        } catch {
            for output in outputs { output.abandon() }
            for index in 0..<parts {
                try? FileManager.default.removeItem(atPath: partPath(directory, splitPartName(index)))
            }
            if made { try? FileManager.default.removeItem(atPath: directory) }
            throw error
        }
    }

    static func partPath(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Creates `directory`, or accepts it when it exists and is empty; true when it was made.
    static func makeEmptyDirectory(_ directory: String) throws -> Bool {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            guard isDirectory.boolValue, entries.isEmpty else {
                throw usage("exists and is not an empty directory: give a new directory for the parts", file: directory)
            }
            return false
        }
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false) } catch {
            throw usage("cannot create the directory for the parts", file: directory)
        }
        return true
    }

    /// `deid stats --merge`: the statistics files and split receipts at `paths` (told apart by
    /// their format), merged.
    package static func merge(paths: [String]) throws -> StatisticsFile {
        struct Kind: Decodable { var format: String? }
        var files: [StatisticsFile] = []
        var names: [String] = []
        var splits: [SplitFile] = []
        var splitNames: [String] = []
        for path in paths {
            let bytes = try? Data(contentsOf: URL(fileURLWithPath: path))
            if let bytes, (try? JSONDecoder().decode(Kind.self, from: bytes))?.format == SplitFile.formatName {
                splits.append(try load(SplitFile.self, path: path, what: "split receipt"))
                splitNames.append(path)
            } else {
                files.append(try load(StatisticsFile.self, path: path, what: "statistics"))
                names.append(path)
            }
        }
        guard !files.isEmpty else { throw usage("no statistics file given, only split receipts") }
        return try merge(files, names: names, splits: splits, splitNames: splitNames)
    }

    /// The inputs the merged statistics stand for when the shards counted split parts: each
    /// part of `splits` counted by exactly one shard's input (matched by fingerprint and
    /// records), and nothing else counted. Returns the split inputs, as one machine lists them.
    static func splitInputs(
        counted files: [StatisticsFile], names: [String], splits: [SplitFile], splitNames: [String],
        policySHA256: String, header: [String]
    ) throws -> [InputSummary] {
        var unmatched: [String: [(split: Int, part: Int)]] = [:]
        for (index, split) in splits.enumerated() {
            try checkFormat(split, name: splitNames[index])
            guard split.policySHA256 == policySHA256, split.header == header else {
                throw usage(
                    "split with another policy or header than the statistics were counted with", file: splitNames[index]
                )
            }
            for part in split.parts {
                unmatched["\(part.sha256) \(part.records)", default: []].append((index, part.index))
            }
        }
        for (file, name) in zip(files, names) {
            for input in file.summary.inputs {
                let key = "\(input.sha256 ?? "") \(input.records)"
                guard unmatched[key]?.isEmpty == false else {
                    throw usage(
                        "counted \(input.name), which is not a part of the splits given (or was counted twice)",
                        file: name)
                }
                unmatched[key]!.removeLast()
            }
        }
        if let missing = unmatched.values.flatMap({ $0 }).min(by: { ($0.split, $0.part) < ($1.split, $1.part) }) {
            throw usage(
                "part \(missing.part) (\(splitPartName(missing.part))) was counted by no shard: every part of every split must be counted once",
                file: splitNames[missing.split])
        }
        return splits.map(\.input).sorted(by: inputOrder)
    }
}
