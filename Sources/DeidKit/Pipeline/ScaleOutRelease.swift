import DeidCSV
import DeidEngine
import Foundation

extension ScaleOut {
    /// `deid publish --plan`: the shards' outputs (`deid apply --plan`, plain CSV) assembled into
    /// the release directory one machine writes: the data (the parts in the order given, one
    /// header), the manifest, the reports with the release's risk counted on the assembled data,
    /// and the catalog entry, committed as `deid publish` commits. `statistics` is the merge
    /// the plan was made on; the search is run on it again and must give the plan.
    package static func assemble(
        _ request: TransformRequest, plan decided: PlanFile, statistics: StatisticsFile, statisticsName: String,
        charts: [InputChartsFile] = [], chartNames: [String] = [], directory: String?,
        progress: ((InputProgress) -> Void)? = nil
    ) throws -> PublishOutcome {
        guard Fingerprint.sha256(of: try encode(statistics)) == decided.statisticsSHA256 else {
            throw usage("not the merged statistics the plan was made on (deid stats --merge)", file: statisticsName)
        }
        var request = request
        request.seed = decided.seed
        var policy = try Policy.load(
            path: request.policyPath, columns: statistics.header, environment: request.environment)
        try checkScalable(policy)
        // Safe by default, as on one machine: a policy that chose no protection gets the default gates.
        let defaultGates = !policy.choosesProtection
        if defaultGates { policy.risk = policy.defaultRisk }
        let transform = try TransformPlan(
            policy: policy, header: statistics.header, releaseID: decided.releaseID, seed: decided.seed,
            environment: request.environment)
        try check(decided, policy: policy, keyIDs: transform.keyIDs, policyPath: request.policyPath)
        let outcome = try decide(statistics, transform: transform, policy: policy, seed: decided.seed)
        guard outcome?.plan == decided.plan else {
            throw usage("the statistics do not give this plan's decision: give the statistics it was made on")
        }

        let before = try inputDistributions(charts, names: chartNames, plan: decided, policy: policy)
        let catalogPath = request.recordInCatalog ? request.catalogPath : nil
        if let catalogPath { _ = try Catalog.checkWritable(path: catalogPath) }
        let name = Publisher.safeName(policy.dataset.name)
        let dataFile = name + (request.compress ? ".csv.gz" : ".csv")
        let staging = try StagingDirectory(destination: directory ?? "\(name)-\(decided.releaseID)")
        let dataPath = staging.file(dataFile)
        let digest = request.compress ? nil : OutputDigest()
        try concatenate(
            request.inputs, header: transform.outputHeader, into: dataPath, compress: request.compress, digest: digest)

        // The release counted on the assembled data with the measures one machine counts as it
        // writes (the same definitions, Docs/RISK.md).
        var spec = Publisher.releaseRiskSpec(
            policy: policy, header: transform.outputHeader,
            distributions: Publisher.changedColumns(policy: policy, output: transform.outputHeader))
        spec?.chartSampleEvery = DistributionRequest.sampleEvery(
            forInputBytes: statistics.summary.inputs.compactMap(\.bytes).reduce(0, +))
        if policy.privacy?.tCloseness != nil {
            spec?.tReference = outcome.map { SensitiveReference(statistics: $0.statistics, name: "input") }
        }
        let written = try BlockInput(path: dataPath, options: Publisher.writtenDataOptions(request))
        let counted = try spec.map {
            try RiskScan.run(
                inputs: [written], spec: $0,
                workers: request.workers ?? ProcessInfo.processInfo.activeProcessorCount, progress: progress)
        }
        let records = try counted?.summary.recordsIn ?? countRecords(dataPath, request: request)
        var summary = statistics.summary
        summary.recordsOut = summary.recordsOut - (outcome?.suppressedRecords ?? 0)
        guard records == summary.recordsOut else {
            throw usage(
                "the parts hold \(records) records where the plan's release has \(summary.recordsOut): a part is missing or repeated, or was made with another plan"
            )
        }
        let manifest = Publisher.draftManifest(
            releaseID: decided.releaseID, created: Release.timestamp(), policy: policy, request: request,
            summary: summary, dataFile: dataFile, dataPath: dataPath,
            dataHash: try digest?.finish() ?? Release.sha256(ofFile: dataPath), plan: transform, privacy: outcome)
        return try Publisher.finish(
            WrittenRelease(
                policy: policy, request: request, manifest: manifest, spec: spec, counted: counted,
                dataFile: dataFile, dataPath: dataPath, staging: staging, dryRun: false, defaultGates: defaultGates,
                catalogPath: catalogPath, inputDistributions: before, sketchRequest: nil, sketches: { nil }))
    }

    /// The parts, each a plain CSV file starting with the release's header, copied into one
    /// file with one header.
    static func concatenate(
        _ parts: [String], header: [String], into path: String, compress: Bool, digest: OutputDigest?
    ) throws {
        let writer = CSVWriter(delimiter: .comma)
        try writer.write(fields: header)
        let headerLine = writer.takeBytes()
        let output = try OutputFile(path: path, compress: compress)
        try output.write(bytes: headerLine)
        digest?.update(headerLine)
        for part in parts {
            guard let handle = FileHandle(forReadingAtPath: part) else {
                throw usage("cannot read this part", file: part)
            }
            defer { try? handle.close() }
            let start = try handle.read(upToCount: headerLine.count).map { Array($0) } ?? []
            guard start == headerLine else {
                throw TransformError(
                    position: InputPosition(source: part, line: 1),
                    problem:
                        "not a part of this release: a plain CSV file deid apply --plan wrote starts with the release's header"
                )
            }
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                let bytes = Array(chunk)
                try output.write(bytes: bytes)
                digest?.update(bytes)
            }
        }
        try output.commit()
    }

    /// The records of a written release (when no measure counts them).
    static func countRecords(_ path: String, request: TransformRequest) throws -> Int {
        let reader = try CSVReader(
            source: InputSource(path: path), options: Publisher.writtenDataOptions(request))
        var record = CSVRecord()
        var records = 0
        while try reader.readRecord(into: &record) { records += 1 }
        return records
    }
}
