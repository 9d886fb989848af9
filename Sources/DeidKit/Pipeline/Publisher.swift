import Crypto
import DeidCSV
import DeidEngine
import Foundation

/// What `deid publish` and `deid apply` are asked to do.
public struct TransformRequest: Sendable {
    /// The policy file; with `policyText`, the name the policy goes by in messages and in the
    /// manifest, and the directory its relative paths (hierarchies) start from.
    public var policyPath: String
    /// The policy's YAML, when it does not come from the file at `policyPath`.
    public var policyText: String?
    /// Input files (`-` for standard input); several inputs with one header are one dataset.
    public var inputs: [String]
    public var readOptions: CSVReadOptions
    /// Makes noise reproducible.
    public var seed: UInt64?
    public var compress: Bool
    public var environment: [String: String]
    /// Worker threads for the transform; nil uses every core.
    public var workers: Int?
    /// The release catalog: checked against when the policy's linkage section asks, and the
    /// release recorded in it when `recordInCatalog`. Nil: none (library use, tests).
    public var catalogPath: String?
    public var recordInCatalog = true
    /// Sketch the release for the catalog while it is written (when the run can: no linkage
    /// section, no privacy models), instead of reading the written data again. Off only to
    /// compare the two (tests).
    public var sketchReleaseInPass = true

    public init(
        policyPath: String, inputs: [String], readOptions: CSVReadOptions = CSVReadOptions(), seed: UInt64? = nil,
        compress: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment, workers: Int? = nil
    ) {
        self.policyPath = policyPath
        self.inputs = inputs
        self.readOptions = readOptions
        self.seed = seed
        self.compress = compress
        self.environment = environment
        self.workers = workers
    }
}

/// The result of a publish.
public struct PublishOutcome: Sendable {
    /// The release directory; nil for a dry run.
    public var directory: String?
    public var manifest: ReleaseManifest
    public var report: String
    /// The release's measured risk (report.json); nil for a dry run or without published
    /// quasi-identifiers.
    public var risk: RiskReport?
    /// The linkage check of the policy's `linkage` section (linkage.json); nil without one.
    public var linkage: LinkReport?
    /// Where the release was recorded; nil when not (a dry run, or no catalog).
    public var catalog: String?
    /// What people should know that is not an error (a release recorded as pending).
    public var notes: [String] = []
}

/// Policy in, release out: loads and checks the policy against the inputs' header before any
/// data is read, streams every input through the plan once, and writes the data, `manifest.json`
/// and `report.md` into a staging directory that is renamed into place only when all succeeded.
public enum Publisher {
    /// Opens the inputs (headers read), then loads and compiles the policy against the first header.
    package static func prepare(_ request: TransformRequest, releaseID: String) throws -> (
        Policy, TransformPlan, [BlockInput]
    ) {
        var inputs: [BlockInput] = []
        for path in request.inputs {
            inputs.append(try BlockInput(path: path, options: request.readOptions, fingerprint: true))
        }
        guard let first = inputs.first else {
            throw TransformError(position: InputPosition(source: "<inputs>"), problem: "no input given")
        }
        let policy =
            try request.policyText.map {
                try Policy.parse(
                    $0, name: request.policyPath, columns: first.header.names, environment: request.environment)
            } ?? Policy.load(path: request.policyPath, columns: first.header.names, environment: request.environment)
        for input in inputs.dropFirst() where input.header.names != first.header.names {
            throw TransformError(
                position: InputPosition(source: input.source.displayName, line: 1),
                problem:
                    "the header differs from \(first.source.displayName)'s; inputs of one dataset need the same columns in the same order"
            )
        }
        let plan = try TransformPlan(
            policy: policy, header: first.header.names, releaseID: releaseID, seed: request.seed,
            environment: request.environment)
        return (policy, plan, inputs)
    }

    /// `deid apply`: the transform pipeline alone, into `output` (a file or `-`).
    @discardableResult
    public static func apply(_ request: TransformRequest, output: String, progress: ((InputProgress) -> Void)? = nil)
        throws -> RunSummary
    {
        let (_, plan, inputs) = try prepare(request, releaseID: Release.newID())
        let file = try OutputFile(
            path: output, compress: request.compress ? true : nil,
            protecting: inputs.compactMap(\.source.identity))
        let run = TransformRun(plan: plan, workers: request.workers ?? ProcessInfo.processInfo.activeProcessorCount)
        let summary: RunSummary
        if plan.privacy != nil {
            // The spool goes beside the output (a regular file's directory), else to TMPDIR.
            let besideOutput = output != "-" && (FileStatus.of(path: output).map { $0.kind == .regular } ?? true)
            let directory = besideOutput ? PathName.directory(of: output) : temporaryDirectory(request.environment)
            summary = try run.runPrivate(
                inputs: inputs, output: file, delimiter: inputs[0].delimiter, spoolDirectory: directory,
                progress: progress
            ).0
        } else {
            summary = try run.run(inputs: inputs, output: file, delimiter: inputs[0].delimiter, progress: progress)
        }
        try file.commit()
        return summary
    }

    /// `deid publish`: a release directory at `directory` (default: `NAME-RELEASEID` here), or,
    /// for a dry run, the same pass and report with nothing written.
    public static func publish(
        _ request: TransformRequest, directory: String?, dryRun: Bool,
        progress: ((InputProgress) -> Void)? = nil
    ) throws -> PublishOutcome {
        let releaseID = Release.newID()
        let created = Release.timestamp()
        var (policy, plan, inputs) = try prepare(request, releaseID: releaseID)
        // Safe by default: a policy that chose no protection gets the default gates.
        let defaultGates = !policy.choosesProtection
        if defaultGates { policy.risk = policy.defaultRisk }
        if policy.aggregateRelease != nil {
            return try publishAggregate(
                request, policy: policy, inputs: inputs, releaseID: releaseID, created: created, directory: directory,
                dryRun: dryRun, progress: progress)
        }
        // What the pass watches for this release, besides transforming.
        var observers = ReleaseObservers()
        // The report shows each generalized or noised column before and after: the input's
        // values are counted during the transform pass itself.
        let changed = changedColumns(policy: policy, output: plan.outputHeader)
        // Input and release are charted from the same share of records, fewer for large inputs.
        let inputBytes = inputs.compactMap(\.source.totalBytes).reduce(0, +)
        let chartSampleEvery = DistributionRequest.sampleEvery(forInputBytes: inputBytes)
        if !dryRun {
            // (A dry run writes no report pages, so it does not count the charts.)
            observers.inputDistributions = inputCharts(policy: policy, plan: plan, inputBytes: inputBytes)
        }
        // The release's risk is counted on the output fields as they are written (a privacy
        // run: as pass 2 copies them). A dry run measures the release too, and checks its gates.
        var releaseSpec = releaseRiskSpec(
            policy: policy, header: plan.outputHeader, distributions: dryRun ? [] : changed)
        releaseSpec?.chartSampleEvery = chartSampleEvery
        if let releaseSpec { try measure(release: releaseSpec, of: plan, by: &observers, policy: policy) }
        // The catalog's sketches of the release, keyed as it is written, when nothing else
        // needs the written data read again (a linkage check does; a privacy run writes its
        // release in pass 2 from spooled lines).
        let catalogPath = dryRun || !request.recordInCatalog ? nil : request.catalogPath
        // A catalog that cannot be read (or made) is an error now, before anything is written.
        if let catalogPath { _ = try Catalog.checkWritable(path: catalogPath) }
        if catalogPath != nil && policy.linkage == nil && plan.privacy == nil && request.sketchReleaseInPass {
            observers.releaseSketch = releaseSketchRequest(policy: policy, header: plan.outputHeader)
        }
        let name = safeName(policy.dataset.name)
        let dataFile = name + (request.compress ? ".csv.gz" : ".csv")
        let destination = directory ?? "\(name)-\(releaseID)"
        // A dry run with a linkage check writes its data to a scratch directory that is removed:
        // the check reads the data as it would be published.
        let workspace =
            dryRun
            ? (policy.linkage == nil
                ? nil
                : try StagingDirectory(
                    destination: temporaryDirectory(request.environment) + "/deid-dry-run-\(releaseID)"))
            : try StagingDirectory(destination: destination)
        let staging = dryRun ? nil : workspace

        let file = try OutputFile(
            path: workspace?.file(dataFile) ?? "/dev/null", compress: request.compress,
            protecting: inputs.compactMap(\.source.identity))
        // The data's fingerprint is taken as it is written, unless it is compressed (the file's
        // bytes are then gzip's) or aggregated (written by the aggregator): then from the file.
        let run = TransformRun(
            plan: plan, observers: observers, workers: request.workers ?? ProcessInfo.processInfo.activeProcessorCount)
        let hashing = request.compress ? nil : OutputDigest()
        var summary: RunSummary
        var privacy: PrivacyOutcome?
        if plan.privacy != nil {
            (summary, privacy) = try run.runPrivate(
                inputs: inputs, output: file, delimiter: .comma,
                spoolDirectory: workspace?.path ?? temporaryDirectory(request.environment),
                progress: progress, digest: hashing)
        } else {
            summary = try run.run(inputs: inputs, output: file, delimiter: .comma, progress: progress, digest: hashing)
        }
        try file.commit()
        if let privacy, policy.privacy?.tCloseness != nil {
            // t-closeness is reported against the distribution the model was enforced on.
            releaseSpec?.tReference = SensitiveReference(statistics: privacy.statistics, name: "input")
        }
        // The inputs were fingerprinted as they were read (`BlockInput(fingerprint:)`).
        for index in summary.inputs.indices { summary.inputs[index].sha256 = inputs[index].fingerprint() }

        let dataPath = workspace?.file(dataFile)
        let dataHash =
            hashing?.isUsed == true
            ? hashing!.finish()
            : try dataPath.map { try Release.sha256(ofFile: $0) } ?? ""
        let manifest = draftManifest(
            releaseID: releaseID, created: created, policy: policy, request: request, summary: summary,
            dataFile: dataFile, dataPath: dataPath, dataHash: dataHash, plan: plan, privacy: privacy)
        return try finish(
            WrittenRelease(
                policy: policy, request: request, manifest: manifest, spec: releaseSpec,
                counted: run.observation.releaseCounts(summary: summary), dataFile: dataFile, dataPath: dataPath,
                staging: staging, dryRun: dryRun, defaultGates: defaultGates, catalogPath: catalogPath,
                inputDistributions: run.collected.distributions, sketchRequest: observers.releaseSketch,
                sketches: { run.observation.releaseSketches(records: summary.recordsOut) }))
    }

    /// The report's "before" charts: the input's values of the columns the policy generalizes
    /// or noises, one record in `DistributionRequest.sampleEvery(forInputBytes:)`; nil when
    /// the policy changes none.
    static func inputCharts(policy: Policy, plan: TransformPlan, inputBytes: Int) -> DistributionRequest? {
        let changed = changedColumns(policy: policy, output: plan.outputHeader)
        guard !changed.isEmpty else { return nil }
        var request = DistributionRequest(
            columns: changed.compactMap { name in plan.inputHeader.firstIndex(of: name).map { (name, $0) } },
            entity: policy.entity.flatMap { plan.inputHeader.firstIndex(of: $0) },
            individualsCap: RiskSpec(policy: policy).publicMinimumClassSize)
        request.sampleEvery = DistributionRequest.sampleEvery(forInputBytes: inputBytes)
        return request
    }

    /// How the release's own data is read back (its sample, its linkage check): comma, and the
    /// run's limits with room to spare (an output field may be a little longer than its input,
    /// quoted), so that data the run accepted is never refused when read again.
    static func writtenDataOptions(_ request: TransformRequest) -> CSVReadOptions {
        CSVReadOptions(
            delimiter: .comma, maxFieldBytes: 2 * max(request.readOptions.maxFieldBytes, 16 << 20),
            maxRecordBytes: 2 * max(request.readOptions.maxRecordBytes, 16 << 20))
    }

    /// Checks the written data against the policy's linkage section (refusing with the reasons
    /// when a combination exceeds the limit) and sketches it for the catalog.
    static func checkLinkage(
        policy: Policy, manifest: ReleaseManifest, dataPath: String, displayName: String,
        request: TransformRequest, dryRun: Bool
    ) throws -> LinkOutcome {
        var options = LinkOptions()
        options.entities = policy.entity.map { [$0] } ?? []
        options.firstFileOnly = true
        options.firstFileName = displayName
        options.sketchFirstFileColumns = true
        options.workers = request.workers ?? ProcessInfo.processInfo.activeProcessorCount
        for column in manifest.columns where column.published {
            for technique in column.techniques where technique.technique == "pseudonymize" {
                if case .text(let key)? = technique.parameters["key_id"],
                    technique.parameters["per_release"] != .flag(true)
                {
                    options.firstFileKeys[column.name] = key
                }
            }
        }
        var inputs = [try BlockInput(path: dataPath, options: writtenDataOptions(request))]
        if let linkage = policy.linkage {
            options.maxUniqueLinkShare = linkage.maxUniqueLinkShare
            for file in linkage.against { inputs.append(try BlockInput(path: file, options: request.readOptions)) }
            if linkage.catalog, let catalogPath = request.catalogPath,
                FileManager.default.fileExists(atPath: catalogPath)
            {
                options.catalog = try Catalog(path: catalogPath, create: false).all()
            }
        }
        let outcome = try LinkSession.run(inputs: inputs, options: options)
        if let linkage = policy.linkage, let limit = linkage.maxUniqueLinkShare {
            var reasons = outcome.report.failedPairs.map { pair in
                "the release links to \(pair.left == displayName ? pair.right : pair.left) on \(pair.joinColumns.joined(separator: ", ")): "
                    + "\(pair.measures.uniqueLinks) of \(pair.measures.leftRecords) individuals of \(pair.left) single out one individual "
                    + "(share \(String(format: "%.4f", pair.measures.uniqueLinkShare))), above linkage.max_unique_link_share \(DecimalText.label(limit))"
                    + (pair.suggestion.map { "; \($0)" } ?? "")
            }
            for reuse in outcome.report.pseudonymReuse where reuse.left == displayName && reuse.sharedShare > limit {
                reasons.append(
                    "the release's pseudonyms in \(reuse.column) share \(reuse.sharedValues) values with \(reuse.right).\(reuse.rightColumn) "
                        + "(share \(String(format: "%.4f", reuse.sharedShare))): a join key; pseudonymize with per_release: true or another key"
                )
            }
            if !reasons.isEmpty {
                throw PrivacyGateError(
                    refusal: PrivacyRefusal(
                        reasons: reasons + [dryRun ? "a release would not be written" : "nothing was written"]))
            }
        }
        return outcome
    }

    /// What the release's catalog record sketches while it is written: every published column
    /// (with the entity's published form, if any, naming the individuals), and as value sets
    /// the columns that may look like pseudonyms or identifiers to `deid link`: pseudonymized,
    /// identifiers (masked) and the entity. `deid link` decides which of them are, from the
    /// written data's first block (`sketchedOutcome`).
    static func releaseSketchRequest(policy: Policy, header: [String]) -> LinkRequest {
        var request = LinkRequest()
        request.entity = policy.entity.flatMap { header.firstIndex(of: $0) }
        request.sketchColumns(header.count)
        let candidates = Set(
            policy.columns.filter { column in
                if case .pseudonymize? = column.technique { return true }
                return column.role == .identifier || column.name == policy.entity
            }.map(\.name))
        request.pseudonymColumns = header.indices.filter { candidates.contains(header[$0]) }
        return request
    }

    /// The outcome `checkLinkage` would give for the catalog record, from the sketches made
    /// while the release was written: the value sets `deid link` would keep are those of the
    /// columns its sample of the written data calls pseudonyms, identifiers or the entity. Nil
    /// when it calls one that was not sketched as a value set (the data is then read again).
    static func sketchedOutcome(
        _ side: LinkSide, request: LinkRequest, dataPath: String, entity: String?,
        readOptions: CSVReadOptions
    ) throws -> LinkOutcome? {
        let input = try BlockInput(path: dataPath, options: readOptions)
        let sample = try LinkSample(input: input)
        let valueColumns = LinkSession.valueColumns(sample, entity: entity.flatMap { input.header.index(of: $0) })
        var positions: [Int] = []
        for column in valueColumns {
            guard let position = request.pseudonymColumns.firstIndex(of: column) else { return nil }
            positions.append(position)
        }
        var kept = side
        kept.pseudonyms = positions.map { side.pseudonyms[$0] }
        return LinkOutcome(
            report: LinkReport(files: [], pairs: [], pseudonymReuse: [], sharedKeys: [], gate: nil),
            firstSide: kept, firstSample: sample, firstPseudonymColumns: valueColumns.map { input.header.names[$0] })
    }

    /// What the catalog keeps of a written release.
    static func catalogEntry(
        manifest: ReleaseManifest, policy: Policy, location: String, spec: RiskSpec?, counted: RiskData?,
        linkage: LinkOutcome
    ) -> CatalogRelease {
        var classes: [(tuple: [String], individuals: Int)] = []
        var quasiIdentifiers: [String] = []
        if let statistics = counted?.statistics, spec != nil {
            quasiIdentifiers = statistics.columns
            for tuple in 0..<statistics.tupleCount {
                let values = (0..<statistics.width).map { column in
                    String(
                        decoding: statistics.values[column][statistics.code(tuple: tuple, column: column)],
                        as: UTF8.self)
                }
                classes.append((values, statistics.tupleIndividuals[tuple]))
            }
        }
        let columns = manifest.columns.filter(\.published).map { column -> CatalogRelease.Column in
            let technique = column.techniques.first
            var keyID: String?
            var perRelease = false
            if let technique, case .text(let key)? = technique.parameters["key_id"] {
                keyID = key
                perRelease = technique.parameters["per_release"] == .flag(true)
            }
            return CatalogRelease.Column(
                name: column.name, role: column.role, technique: technique?.technique, family: technique?.family,
                keyID: keyID, perRelease: perRelease)
        }
        var columnSketches: [String: KHyperLogLog] = [:]
        var pseudonymSketches: [String: KHyperLogLog] = [:]
        if let side = linkage.firstSide, let sample = linkage.firstSample {
            for (index, sketch) in side.columns.enumerated() { columnSketches[sample.columns[index].name] = sketch }
            for (name, sketch) in zip(linkage.firstPseudonymColumns, side.pseudonyms) {
                pseudonymSketches[name] = sketch
            }
        }
        let absolute = location.hasPrefix("/") ? location : FileManager.default.currentDirectoryPath + "/" + location
        return CatalogRelease(
            id: manifest.releaseID, name: manifest.dataset.name, created: manifest.created,
            policyFingerprint: manifest.policy.sha256, purpose: manifest.dataset.purpose,
            controller: manifest.dataset.controller, retention: manifest.dataset.retention, location: absolute,
            dataFile: manifest.data.file, dataSHA256: manifest.data.sha256, records: manifest.rows.out,
            individuals: linkage.firstSide?.individuals ?? manifest.rows.out,
            entity: manifest.entity.flatMap { manifest.data.columns.contains($0) ? $0 : nil },
            inputs: manifest.inputs, columns: columns, quasiIdentifiers: quasiIdentifiers, classes: classes,
            columnSketches: columnSketches, pseudonymSketches: pseudonymSketches)
    }

    /// The measures of the release: the policy's roles as far as the release still has the
    /// columns (an aggregated or dropped column is not measured); nil when no quasi-identifier is
    /// published. Discovery is left to `deid risk`: the policy names the quasi-identifiers.
    static func releaseRiskSpec(policy: Policy, header: [String], distributions: [String]) -> RiskSpec? {
        var spec = RiskSpec(policy: policy)
        spec.distributionColumns = distributions
        spec.quasiIdentifiers = spec.quasiIdentifiers.filter(header.contains)
        guard !spec.quasiIdentifiers.isEmpty else { return nil }
        if let entity = spec.entity, !header.contains(entity) { spec.entity = nil }
        if let sensitive = spec.sensitive, !header.contains(sensitive) { spec.sensitive = nil }
        if let trace = spec.trace, spec.entity == nil || !header.contains(trace.time) || !header.contains(trace.value) {
            spec.trace = nil
        }
        spec.discovery = nil
        return spec
    }

    /// Has `observers` count the release for `spec` as the transform pass writes it.
    static func measure(
        release spec: RiskSpec, of plan: TransformPlan, by observers: inout ReleaseObservers, policy: Policy
    ) throws {
        if let layout = plan.privacy {
            // A privacy run counts its release in pass 2, from the spooled lines: pass 1 notes
            // where the measured fields other than the quasi-identifiers lie in each line.
            let names = Set(
                [spec.sensitive, spec.trace?.time, spec.trace?.value].compactMap { $0 }
                    + spec.distributionColumns
            ).subtracting(layout.columns)
            observers.measuredOutputs = names.compactMap { plan.outputHeader.firstIndex(of: $0) }.sorted()
            observers.privacyReleaseRisk = spec
        } else {
            // Record by record, the entity is read from the input; aggregated records carry
            // their published form, unless it is a rotating pseudonym (one entity, a value per
            // period): then the aggregator hands each record's entity over as it was read.
            let rotates =
                policy.entity.flatMap(policy.column).map { column in
                    if case .pseudonymize(let spec)? = column.technique { return spec.rotation != nil }
                    return false
                } ?? false
            observers.releaseRisk = try ReleaseRiskPlan(
                spec: spec, outputHeader: plan.outputHeader,
                entityInput: plan.aggregation == nil || rotates
                    ? policy.entity.flatMap { plan.inputHeader.firstIndex(of: $0) } : nil)
        }
    }

    /// The release's report from the counts the transform pass made (a privacy run's pass 2).
    static func measureRelease(
        policy: Policy, spec: RiskSpec?, counted: RiskData?,
        dataFile: String
    ) throws -> (report: RiskReport, spec: RiskSpec, after: [ValueDistribution], counted: RiskData)? {
        guard let spec, let counted else { return nil }
        let report = try RiskAnalysis.report(
            counted, spec: spec, inputs: [dataFile],
            thresholds: policy.risk?.thresholds ?? RiskThresholds())
        return (report, spec, counted.distributions, counted)
    }

    /// The published columns a generalization or noise changes (timestamps truncated in time
    /// are left out: their change is the resolution, which the manifest states).
    static func changedColumns(policy: Policy, output: [String]) -> [String] {
        let published = Set(output)
        return policy.columns.filter { column in
            guard published.contains(column.name) else { return false }
            switch column.technique {
            case .generalize(let spec)?:
                if case .time = spec.method { return false }
                return true
            case .noise?: return true
            default: return false
            }
        }.map(\.name)
    }

    /// Where temporary files go when there is no output directory to put them in.
    static func temporaryDirectory(_ environment: [String: String]) -> String {
        environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    }

    /// A file-name-safe form of a dataset name.
    static func safeName(_ name: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        let mapped = String(name.map { allowed.contains($0) ? $0 : "-" })
        let trimmed = mapped.trimmingCharacters(in: CharacterSet(charactersIn: ".-"))
        return trimmed.isEmpty ? "release" : trimmed
    }
}
