import DeidCSV
import Foundation

/// A release whose data is written (into its staging directory; nowhere for a dry run): what is
/// left is the same for a publish and for shards assembled (`Publisher.finish`): the report,
/// the gates, the linkage check and the catalog's sketches, the files, and the commit.
struct WrittenRelease {
    var policy: Policy
    var request: TransformRequest
    var manifest: ReleaseManifest
    /// The release's measures, and its counts (nil when no quasi-identifier is published).
    var spec: RiskSpec?
    var counted: RiskData?
    var dataFile: String
    var dataPath: String?
    var staging: StagingDirectory?
    var dryRun: Bool
    /// Whether the gates are the defaults of a policy that chose no protection.
    var defaultGates: Bool
    var catalogPath: String?
    /// The input's distributions of the changed columns: the report's "before" charts.
    var inputDistributions: [ValueDistribution]
    /// The catalog sketches asked of the pass that wrote the data, and the pass's result (read
    /// once, after the gates); without them the written data is read again.
    var sketchRequest: LinkRequest?
    var sketches: () -> LinkSide?
}

extension Publisher {
    /// The manifest of a release whose data is written.
    static func draftManifest(
        releaseID: String, created: String, policy: Policy, request: TransformRequest, summary: RunSummary,
        dataFile: String, dataPath: String?, dataHash: String, plan: TransformPlan, privacy: PrivacyOutcome?
    ) -> ReleaseManifest {
        let dataBytes =
            dataPath.flatMap { (try? FileManager.default.attributesOfItem(atPath: $0))?[.size] as? Int } ?? 0
        return ReleaseManifest(
            releaseID: releaseID, created: created, policy: policy, policyPath: request.policyPath,
            inputs: summary.inputs,
            data: .init(
                file: dataFile, bytes: dataBytes, sha256: dataHash, compressed: request.compress,
                columns: plan.outputHeader),
            rows: .init(in: summary.recordsIn, filtered: summary.recordsFiltered, out: summary.recordsOut),
            columns: Release.manifestColumns(plan: plan, privacy: privacy),
            records: (plan.filterTechnique.map { [Release.filterStep($0, removed: summary.recordsFiltered)] } ?? [])
                + (privacy.map { [Release.suppressionTechnique($0)] } ?? []),
            seed: request.seed, privacy: privacy.map { PrivacyManifest(outcome: $0, spec: policy.privacy!) })
    }

    /// Measures, gates, checks, writes and commits a release whose data is written.
    static func finish(_ release: WrittenRelease) throws -> PublishOutcome {
        let policy = release.policy
        let request = release.request
        let dryRun = release.dryRun
        let defaultGates = release.defaultGates
        let catalogPath = release.catalogPath
        let dataFile = release.dataFile
        let dataPath = release.dataPath
        let staging = release.staging
        var manifest = release.manifest
        // The release's own risk, before anything is committed, as the transform pass counted it.
        let measured = try measureRelease(
            policy: policy, spec: release.spec, counted: release.counted, dataFile: dataFile)
        if manifest.privacy?.tReference != nil {
            manifest.privacy?.highestTDistanceRelease = measured?.report.attributeDisclosure?.highestTFile
        }
        let report = Release.report(manifest)
        if let failed = measured?.report.failedGates, !failed.isEmpty {
            throw PrivacyGateError(
                refusal: PrivacyRefusal(
                    reasons: failed.map { gate in
                        "the release exceeds risk.\(gate.name) \(DecimalText.label(gate.limit))"
                            + (defaultGates
                                ? " (the default: the policy has no privacy, risk or aggregate section)" : "")
                            + ": it measures \(gate.value == gate.value.rounded() ? DecimalText.label(gate.value) : String(format: "%.4f", gate.value))"
                    } + [
                        dryRun
                            ? "a release would not be written; coarsen the quasi-identifiers or the trace's resolution, or add privacy models"
                            : "nothing was written; coarsen the quasi-identifiers or the trace's resolution, or add privacy models"
                    ]))
        }
        // Publishes into one catalog take turns from here to the rename, when the release is
        // checked against the catalog (a gate two of them must not both pass) or recorded in it.
        let commitLock = try catalogPath.map { try Catalog.lock(path: $0) }
        defer { commitLock?.unlock() }
        let gatedByCatalog = policy.linkage?.catalog == true && !dryRun
        if gatedByCatalog { try lockCatalog(commitLock, path: catalogPath) }
        // Linkage: the release against the policy's files and the catalog; and its sketches for
        // the catalog record: made while it was written, else by one read of the written data.
        var linkage: LinkOutcome?
        if let dataPath, let sketch = release.sketchRequest, let side = release.sketches() {
            linkage = try sketchedOutcome(
                side, request: sketch, dataPath: dataPath, entity: policy.entity,
                readOptions: writtenDataOptions(request))
        }
        if let dataPath, linkage == nil, policy.linkage != nil || catalogPath != nil {
            linkage = try checkLinkage(
                policy: policy, manifest: manifest, dataPath: dataPath, displayName: dataFile,
                request: request, dryRun: dryRun)
        }
        if !gatedByCatalog { try lockCatalog(commitLock, path: catalogPath) }
        if let staging {
            if policy.linkage != nil, let report = linkage?.report {
                try staging.write(text: try report.json() + "\n", to: "linkage.json")
            }
            if let measured {
                try staging.write(text: try measured.report.json() + "\n", to: "report.json")
                let changes = zip(release.inputDistributions, measured.after).map {
                    ColumnChange(column: $0.column, before: $0, after: $1)
                }
                try staging.write(
                    text: RiskHTML(report: measured.report, spec: measured.spec, confidential: false, changes: changes)
                        .render(),
                    to: "report.html")
                try FileManager.default.createDirectory(
                    atPath: staging.file("confidential"), withIntermediateDirectories: false)
                try staging.write(
                    text: RiskHTML(report: measured.report, spec: measured.spec, confidential: true, changes: changes)
                        .render(),
                    to: "confidential/report.html")
            }
            try staging.write(text: try manifest.json(), to: "manifest.json")
            try staging.write(text: report, to: "report.md")
        }
        var recorded: String?
        var notes: [String] = []
        if let staging {
            let entry =
                catalogPath == nil
                ? nil
                : linkage.map {
                    catalogEntry(
                        manifest: manifest, policy: policy, location: staging.destination, spec: release.spec,
                        counted: measured?.counted, linkage: $0)
                }
            (recorded, notes) = try commit(staging, recording: entry, in: catalogPath)
        }
        return PublishOutcome(
            directory: staging?.destination, manifest: manifest, report: report, risk: measured?.report,
            linkage: policy.linkage == nil ? nil : linkage?.report, catalog: recorded, notes: notes)
    }
}
