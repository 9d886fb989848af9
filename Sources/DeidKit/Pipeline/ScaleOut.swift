import DeidCSV
import DeidEngine
import Foundation

/// The steps of a publish cut into shards (Docs/SCALE-OUT.md): each shard's statistics, one
/// plan on their merge, the plan applied to each shard, and the parts assembled into the
/// release (`assemble`, ScaleOutRelease.swift). The shards may be cut anywhere between
/// records: an entity with records in several shards is merged by its value.
package enum ScaleOut {
    /// `deid stats`: privacy pass 1 over `request`'s inputs (one shard), counted; nothing is
    /// written or spooled. Without a privacy section: the transform pass, to count records.
    package static func statistics(
        _ request: TransformRequest, progress: ((InputProgress) -> Void)? = nil
    ) throws -> StatisticsFile {
        let (policy, plan, inputs) = try Publisher.prepare(request, releaseID: "statistics")
        try checkScalable(policy)
        var observers = ReleaseObservers()
        observers.collectsEntities = plan.aggregation != nil
        let run = TransformRun(
            plan: plan, observers: observers,
            workers: request.workers ?? ProcessInfo.processInfo.activeProcessorCount)
        var summary: RunSummary
        var counts: ShardCounts?
        if plan.privacy != nil {
            let first = try run.passOne(
                inputs: inputs, delimiter: inputs[0].delimiter,
                spoolDirectory: Publisher.temporaryDirectory(request.environment), progress: progress,
                spooling: false)
            summary = first.summary
            counts = first.accumulator.shardCounts(sources: inputs.map(\.source.displayName))
        } else {
            // No search: the shard's records read, filtered and written are all it needs.
            summary = try run.run(
                inputs: inputs, output: try OutputFile(path: "/dev/null"), delimiter: inputs[0].delimiter,
                progress: progress)
        }
        for index in summary.inputs.indices { summary.inputs[index].sha256 = inputs[index].fingerprint() }
        summary.inputs.sort(by: inputOrder)
        return StatisticsFile(
            policySHA256: policy.sha256, header: plan.inputHeader,
            ShardStatistics(
                summary: summary, counts: counts,
                entities: plan.aggregation == nil
                    ? nil : run.observation.entities.map { Data($0) }.sorted { $0.lexicographicallyPrecedes($1) }))
    }

    /// Merges statistics files (named by `names` in errors): the same value for any grouping
    /// and order of the same shards. When the shards counted the parts of `splits` (`deid
    /// split`), every part must have been counted once, and the merge lists the split inputs.
    package static func merge(
        _ files: [StatisticsFile], names: [String], splits: [SplitFile] = [], splitNames: [String] = []
    ) throws -> StatisticsFile {
        guard var merged = files.first else { throw usage("no statistics file given") }
        for (file, name) in zip(files, names) {
            try checkFormat(file, name: name)
            let sameShape =
                (file.counts.map { counts in merged.counts.map { counts.sameShape(as: $0) } ?? false }
                    ?? (merged.counts == nil)) && (file.entities == nil) == (merged.entities == nil)
            guard file.policySHA256 == merged.policySHA256, file.header == merged.header, sameShape else {
                throw usage(
                    "made with another policy or header than \(names[0]); every shard needs the same", file: name)
            }
        }
        if merged.counts != nil { merged.counts = ShardCounts.merged(files.compactMap(\.counts)) }
        if merged.entities != nil {
            // Rows aggregated per entity are whole only when each entity is in one shard.
            var shardOf: [Data: String] = [:]
            for (file, name) in zip(files, names) {
                for entity in file.entities ?? [] {
                    if let other = shardOf.updateValue(name, forKey: entity), other != name {
                        throw usage(
                            "an entity has records in this shard and in \(other): a policy that aggregates per entity needs each entity's records in one shard (split the input by entity)",
                            file: name)
                    }
                }
            }
            merged.entities = shardOf.keys.sorted { $0.lexicographicallyPrecedes($1) }
        }
        merged.summary = RunSummary()
        for file in files {
            merged.summary.inputs += file.summary.inputs
            merged.summary.recordsIn += file.summary.recordsIn
            merged.summary.recordsFiltered += file.summary.recordsFiltered
            merged.summary.recordsOut += file.summary.recordsOut
        }
        merged.summary.inputs.sort(by: inputOrder)
        if !splits.isEmpty {
            merged.summary.inputs = try splitInputs(
                counted: files, names: names, splits: splits, splitNames: splitNames,
                policySHA256: merged.policySHA256, header: merged.header)
        }
        return merged
    }

    /// `deid plan`: the search on merged statistics. Throws `PrivacyGateError` (exit 1) when no
    /// transformation satisfies the models.
    package static func plan(
        _ statistics: StatisticsFile, policyPath: String, seed: UInt64?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> PlanFile {
        let policy = try Policy.load(path: policyPath, columns: statistics.header, environment: environment)
        try checkScalable(policy)
        guard policy.sha256 == statistics.policySHA256 else {
            throw usage("the statistics were made with another policy than \(policyPath) (its fingerprint differs)")
        }
        let releaseID = Release.newID()
        let transform = try TransformPlan(
            policy: policy, header: statistics.header, releaseID: releaseID, seed: seed, environment: environment)
        let outcome = try decide(statistics, transform: transform, policy: policy, seed: seed)
        return PlanFile(
            policySHA256: policy.sha256, header: statistics.header,
            ShardPlan(
                releaseID: releaseID, keyIDs: transform.keyIDs, seed: seed, plan: outcome?.plan,
                privacy: outcome.map { PrivacyManifest(outcome: $0, spec: policy.privacy!) },
                summary: statistics.summary, statisticsSHA256: Fingerprint.sha256(of: try encode(statistics))))
    }

    /// The search on merged statistics, as one machine runs it on its own; nil without a
    /// privacy section.
    static func decide(_ statistics: StatisticsFile, transform: TransformPlan, policy: Policy, seed: UInt64?) throws
        -> PrivacyOutcome?
    {
        let run = TransformRun(plan: transform, workers: 1)
        guard let layout = run.privacy, let spec = policy.privacy, let counts = statistics.counts else {
            return nil
        }
        let merged = counts.statistics()
        let levels = try run.quasiIdentifierLevels(merged, layout: layout) { counts.sources[$0] }
        let search = PrivacySearch(statistics: merged, levels: levels, spec: spec)
        let result: PrivacyResult
        do { result = try search.run() } catch let refusal as PrivacyRefusal {
            throw PrivacyGateError(refusal: refusal)
        }
        return PrivacyOutcome(
            statistics: merged, levels: levels, result: result,
            tClosenessDistance: spec.tCloseness != nil ? search.tClosenessDistance : nil,
            suppressedRecords: result.suppressedRecords,
            plan: PrivacyPlan(result: result, columns: merged.columns, keyIDs: transform.keyIDs, seed: seed))
    }

    /// `deid apply --plan`: one shard transformed under `plan`, into `output` (a file or `-`).
    /// Its records are those a one-machine run with the same plan writes for the shard's inputs.
    /// With `charts`, the shard's input charts are written there too (`InputChartsFile`).
    @discardableResult
    package static func apply(
        _ request: TransformRequest, plan decided: PlanFile, output: String, charts: String? = nil,
        progress: ((InputProgress) -> Void)? = nil
    ) throws -> (summary: RunSummary, suppressedRecords: Int) {
        var shard = request
        shard.seed = decided.seed
        let (policy, plan, inputs) = try Publisher.prepare(shard, releaseID: decided.releaseID)
        try checkScalable(policy)
        try check(decided, policy: policy, keyIDs: plan.keyIDs, policyPath: request.policyPath)
        guard plan.inputHeader == decided.header else {
            throw TransformError(
                position: InputPosition(source: inputs[0].source.displayName, line: 1),
                problem: "the header differs from the one the plan was made for")
        }
        let file = try OutputFile(
            path: output, compress: request.compress ? true : nil, protecting: inputs.compactMap(\.source.identity))
        var observers = ReleaseObservers()
        if charts != nil {
            // Sampled as one machine samples the whole input: by the size of every input.
            observers.inputDistributions = Publisher.inputCharts(
                policy: policy, plan: plan, inputBytes: decided.summary.inputs.compactMap(\.bytes).reduce(0, +))
        }
        let run = TransformRun(
            plan: plan, observers: observers,
            workers: request.workers ?? ProcessInfo.processInfo.activeProcessorCount)
        let result: (summary: RunSummary, suppressedRecords: Int)
        if let privacyPlan = decided.plan {
            let besideOutput = output != "-" && (FileStatus.of(path: output).map { $0.kind == .regular } ?? true)
            result = try run.runPrivate(
                inputs: inputs, output: file, delimiter: inputs[0].delimiter,
                spoolDirectory: besideOutput
                    ? PathName.directory(of: output) : Publisher.temporaryDirectory(request.environment),
                applying: privacyPlan, progress: progress)
        } else {
            result = (
                try run.run(inputs: inputs, output: file, delimiter: inputs[0].delimiter, progress: progress), 0
            )
        }
        if let charts {
            let chartsFile = try OutputFile(path: charts, compress: false)
            try chartsFile.write(
                bytes: try encode(
                    InputChartsFile(
                        policySHA256: policy.sha256, header: plan.inputHeader,
                        InputCharts(releaseID: decided.releaseID, distributions: run.collected.distributions))))
            try chartsFile.commit()
            do { try file.commit() } catch {
                try? FileManager.default.removeItem(atPath: charts)
                throw error
            }
        } else {
            try file.commit()
        }
        return result
    }

    /// Whether `decided` was made with this policy and these keys (compared by id).
    static func check(_ decided: PlanFile, policy: Policy, keyIDs: [String: String], policyPath: String) throws {
        guard policy.sha256 == decided.policySHA256 else {
            throw usage("the plan was made with another policy than \(policyPath) (its fingerprint differs)")
        }
        for (path, id) in decided.keyIDs where keyIDs[path] != id {
            throw PolicyError([
                PolicyDiagnostic(
                    file: policy.source, line: nil, column: nil, path: path,
                    message:
                        "this key (id \(keyIDs[path] ?? "none")) is not the one the plan was made with (id \(id)): give every shard the same key"
                )
            ])
        }
    }

    /// A statistics or plan file's bytes: JSON with sorted keys, so that equal values are
    /// equal bytes.
    package static func encode<Value: Encodable>(_ value: Value) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value)) + [0x0A]
    }

    /// A statistics or plan file read from `path`, of this version; its problems name the file.
    package static func load<File: ScaleOutFile>(_ type: File.Type, path: String, what: String) throws -> File {
        let bytes: Data
        do { bytes = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw usage("cannot read the \(what) file", file: path)
        }
        let file: File
        do { file = try JSONDecoder().decode(type, from: bytes) } catch {
            throw usage("not a \(what) file written by deid (\(what) files are JSON)", file: path)
        }
        try checkFormat(file, name: path)
        return file
    }

    /// A file of another format, or of a version this deid does not read, is refused.
    static func checkFormat<File: ScaleOutFile>(_ file: File, name: String) throws {
        guard file.format == File.formatName, file.version == File.currentVersion else {
            throw usage(
                "not a version-\(File.currentVersion) \(File.formatName) file (format \(file.format), version \(file.version))",
                file: name)
        }
    }

    /// What a sharded run can do today: record-by-record policies (a privacy section's search on
    /// merged statistics), and policies that aggregate per entity and period when each entity
    /// is in one shard (checked by `merge`). The release's risk gates (`risk`, or the defaults)
    /// and linkage check (`linkage`) are measured when the parts are assembled (`assemble`), on
    /// the release as written. An `aggregate` section's release, and a rotating pseudonym in
    /// an aggregating policy, are published on one machine.
    static func checkScalable(_ policy: Policy) throws {
        var problems: [PolicyDiagnostic] = []
        func refuse(_ path: String, _ message: String) {
            problems.append(PolicyDiagnostic(file: policy.source, line: nil, column: nil, path: path, message: message))
        }
        if policy.aggregateRelease != nil {
            refuse("aggregate", "an aggregate release's cells are not split into shards yet: publish on one machine")
        }
        if policy.columns.contains(where: { $0.aggregate != nil }) {
            for column in policy.columns {
                if case .pseudonymize(let spec)? = column.technique, spec.rotation != nil {
                    refuse(
                        "columns.\(column.name).pseudonymize.rotate",
                        "a rotating pseudonym's release is counted by the input's entity, which assembled parts do not hold: publish on one machine"
                    )
                }
            }
        }
        if !problems.isEmpty { throw PolicyError(problems) }
    }

    static func inputOrder(_ a: InputSummary, _ b: InputSummary) -> Bool {
        (a.name, a.sha256 ?? "") < (b.name, b.sha256 ?? "")
    }

    static func usage(_ message: String, file: String? = nil) -> ScaleOutError {
        ScaleOutError(message: message, file: file)
    }
}

/// A statistics or plan file that cannot be used (exit 2), named when it is one file's fault.
package struct ScaleOutError: ReportedError, Sendable, CustomStringConvertible {
    package var message: String
    package var file: String?
    package var problems: [ReportedProblem] { [ReportedProblem(message, at: file.map { .file($0) })] }
    package var description: String { problems[0].description }
}
