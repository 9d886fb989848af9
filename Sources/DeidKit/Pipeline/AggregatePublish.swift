import DeidCSV
import DeidEngine
import Foundation

/// `deid publish` of a policy with an `aggregate` section: cells instead of records.
extension Publisher {
    static func publishAggregate(
        _ request: TransformRequest, policy: Policy, inputs: [BlockInput], releaseID: String, created: String,
        directory: String?, dryRun: Bool, progress: ((InputProgress) -> Void)?
    ) throws -> PublishOutcome {
        let spec = policy.aggregateRelease!
        let noise = spec.privacy.map { AggregateNoise(spec: spec, privacy: $0) }
        if let noise, noise.delta > noise.privacy.maxDelta {
            // Known from the policy alone: refused before any data is read.
            throw PolicyError([
                PolicyDiagnostic(
                    file: policy.source, line: nil, column: nil, path: "aggregate.min_entities",
                    message:
                        "with epsilon \(DecimalText.label(noise.privacy.epsilon)) and max_cells \(noise.privacy.maxCells), min_entities \(spec.minEntities) lets a cell of one entity through with delta \(String(format: "%.3g", noise.delta)), above aggregate.dp.delta \(String(format: "%.3g", noise.privacy.maxDelta)): give min_entities at least \(noise.thresholdNeeded), a larger epsilon or fewer max_cells"
                )
            ])
        }
        let catalogPath = dryRun || !request.recordInCatalog ? nil : request.catalogPath
        if let catalogPath, let catalog = try Catalog.checkWritable(path: catalogPath), let noise {
            // A first look, before the data is read; checked again under the catalog's lock.
            try checkBudget(catalog.budget(of: policy.dataset.name), spec: spec, epsilon: noise.privacy.epsilon)
        }
        if spec.lifetimeEpsilon != nil, catalogPath == nil, !dryRun {
            throw PrivacyGateError(
                refusal: PrivacyRefusal(reasons: [
                    "aggregate.budget is kept in the catalog, and this run records nothing in one: publish with a catalog, or remove the budget",
                    "nothing was written",
                ]))
        }
        let run = try AggregateRun(
            policy: policy, spec: spec, header: inputs[0].header.names, releaseID: releaseID, seed: request.seed,
            environment: request.environment, workers: request.workers ?? ProcessInfo.processInfo.activeProcessorCount)
        var (pairs, summary) = try run.collect(inputs: inputs, progress: progress)
        for index in summary.inputs.indices { summary.inputs[index].sha256 = inputs[index].fingerprint() }

        var generalizer: Generalizer?
        var level = 0
        if let first = spec.by.first, case .generalize(let generalization)? = policy.column(first)?.technique {
            generalizer = try Generalizer(spec: generalization)
            level = generalization.level
        }
        var cells = AggregateCells(spec: spec, pairs: pairs, generalizer: generalizer, level: level)
        var rows: [[String]]
        var counts: AggregateCounts
        if let noise {
            var random = NoiseSource(seed: request.seed)
            let (made, dropped, scaled) = cells.cells(capping: noise.privacy, random: &random)
            counts = AggregateCounts()
            counts.cells = made.count
            counts.pairsDropped = dropped
            counts.pairsScaled = scaled
            rows = noise.rows(made, random: &random, counts: &counts)
        } else {
            var random = NoiseSource(seed: 0)
            let made = cells.cells(random: &random).0
            cells.applyRules(made)
            counts = cells.counts
            rows = cells.rows.map(cells.fields)
        }
        pairs = CellPairs(layout: run.layout)

        let name = safeName(policy.dataset.name)
        let dataFile = name + (request.compress ? ".csv.gz" : ".csv")
        let staging = dryRun ? nil : try StagingDirectory(destination: directory ?? "\(name)-\(releaseID)")
        let dataPath = staging?.file(dataFile)
        let file = try OutputFile(
            path: dataPath ?? "/dev/null", compress: request.compress, protecting: inputs.compactMap(\.source.identity))
        let writer = CSVWriter(output: file, delimiter: .comma)
        try writer.write(fields: spec.outputHeader)
        for row in rows { try writer.write(fields: row) }
        try writer.flush()
        try file.commit()

        var manifest = ReleaseManifest(
            releaseID: releaseID, created: created, policy: policy, policyPath: request.policyPath,
            inputs: summary.inputs,
            data: .init(
                file: dataFile,
                bytes: dataPath.flatMap { (try? FileManager.default.attributesOfItem(atPath: $0))?[.size] as? Int }
                    ?? 0,
                sha256: try dataPath.map { try Release.sha256(ofFile: $0) } ?? "", compressed: request.compress,
                columns: spec.outputHeader),
            rows: .init(in: summary.recordsIn, filtered: summary.recordsFiltered, out: rows.count),
            columns: Release.manifestColumns(plan: run.plan),
            records: run.plan.filterTechnique.map { [Release.filterStep($0, removed: summary.recordsFiltered)] } ?? [],
            seed: request.seed, privacy: nil)
        // The entity is counted and the measures totalled: published as cells, not as columns.
        for index in manifest.columns.indices {
            let column = manifest.columns[index].name
            if column == policy.entity {
                manifest.columns[index].techniques = [
                    AppliedTechnique(
                        technique: "aggregation (distinct count per cell)", family: "statistical tools",
                        parameters: ["output": .text("entities")], traits: ["coarsening"])
                ]
            } else if spec.measures.contains(column) {
                let outputs: [String] = ["sum", "mean"] + spec.percentiles.map { "p" + DecimalText.label($0) }
                var parameters: [String: ManifestValue] = [
                    "output": .list(outputs.map { ManifestValue.text("\(column)_\($0)") })
                ]
                var traits = ["coarsening"]
                if let privacy = spec.privacy {
                    parameters["noise"] = .text("discrete Laplace, epsilon \(DecimalText.label(privacy.epsilon))")
                    traits.append("randomized")
                }
                manifest.columns[index].published = true
                manifest.columns[index].techniques = [
                    AppliedTechnique(
                        technique: "aggregation (total per cell)", family: "statistical tools", parameters: parameters,
                        traits: traits)
                ]
            }
        }
        manifest.aggregate = AggregateManifest(
            spec: spec, counts: counts, dp: noise?.manifest(seeded: request.seed != nil))

        let commitLock = try catalogPath.map { try Catalog.lock(path: $0) }
        defer { commitLock?.unlock() }
        try lockCatalog(commitLock, path: catalogPath)
        if let noise, let catalogPath {
            // Under the lock: two publishes cannot both spend the last of a budget.
            let spent =
                FileManager.default.fileExists(atPath: catalogPath)
                ? try Catalog(path: catalogPath, create: false).budget(of: policy.dataset.name)
                : DatasetBudget(
                    dataset: policy.dataset.name, releases: 0, epsilonSpent: 0, deltaSpent: 0, lifetimeEpsilon: nil)
            try checkBudget(spent, spec: spec, epsilon: noise.privacy.epsilon)
            if let lifetime = spec.lifetimeEpsilon ?? spent.lifetimeEpsilon {
                manifest.aggregate?.budget = AggregateManifest.Budget(
                    dataset: policy.dataset.name, lifetimeEpsilon: lifetime, spentBefore: spent.epsilonSpent,
                    spentAfter: spent.epsilonSpent + noise.privacy.epsilon)
            }
        }
        let report = Release.report(manifest)
        guard let staging, let dataPath else {
            return PublishOutcome(
                directory: nil, manifest: manifest, report: report, risk: nil, linkage: nil, catalog: nil)
        }
        try staging.write(text: try manifest.json(), to: "manifest.json")
        try staging.write(text: report, to: "report.md")
        // The entity is counted, not published: the catalog's record keys the cells as rows.
        var recordedPolicy = policy
        recordedPolicy.entity = nil
        var linkage: LinkOutcome?
        if policy.linkage != nil || catalogPath != nil {
            linkage = try checkLinkage(
                policy: recordedPolicy, manifest: manifest, dataPath: dataPath, displayName: dataFile, request: request,
                dryRun: false)
        }
        var entry =
            catalogPath == nil
            ? nil
            : linkage.map {
                catalogEntry(
                    manifest: manifest, policy: recordedPolicy, location: staging.destination, spec: nil, counted: nil,
                    linkage: $0)
            }
        entry?.privacySpend = noise.map {
            PrivacySpend(epsilon: $0.privacy.epsilon, delta: $0.delta, lifetimeEpsilon: spec.lifetimeEpsilon)
        }
        let (recorded, notes) = try commit(staging, recording: entry, in: catalogPath)
        return PublishOutcome(
            directory: staging.destination, manifest: manifest, report: report, risk: nil,
            linkage: policy.linkage == nil ? nil : linkage?.report, catalog: recorded, notes: notes)
    }

    /// Refuses a release that would take its dataset past its lifetime epsilon.
    static func checkBudget(_ spent: DatasetBudget, spec: AggregateReleaseSpec, epsilon: Double) throws {
        guard let lifetime = spec.lifetimeEpsilon ?? spent.lifetimeEpsilon else { return }
        guard spent.epsilonSpent + epsilon > lifetime * (1 + 1e-12) else { return }
        throw PrivacyGateError(
            refusal: PrivacyRefusal(reasons: [
                "the release would spend epsilon \(DecimalText.label(epsilon)) of dataset '\(spent.dataset)', which has \(DecimalText.label(max(0, lifetime - spent.epsilonSpent))) left of its lifetime \(DecimalText.label(lifetime)) (\(DecimalText.label(spent.epsilonSpent)) spent by \(spent.releases) release\(spent.releases == 1 ? "" : "s"); deid catalog budget)",
                "nothing was written",
            ]))
    }
}

/// The random source of an aggregate release's noise: the system's cryptographic generator,
/// or, for tests, a seeded one (which is not private, and the manifest says so).
struct NoiseSource: RandomNumberGenerator {
    private var seeded: SeededRandom?
    private var system = SystemRandomNumberGenerator()

    init(seed: UInt64?) { seeded = seed.map { SeededRandom(seed: $0 ^ 0x6167_6772_6567_6174) } }

    mutating func next() -> UInt64 { seeded != nil ? seeded!.next() : system.next() }
}

extension Release {
    /// The report's section on an aggregate release.
    static func aggregateReport(_ aggregate: AggregateManifest, entity: String?) -> [String] {
        var lines = ["", "## Aggregate release", ""]
        let by = aggregate.by.map { "`\($0)`" }.joined(separator: ", ")
        lines.append(
            "- Cells: \(by.isEmpty ? "" : by + " and ")`\(aggregate.time)` per \(aggregate.every); `entities` counts distinct `\(entity ?? "-")`"
        )
        let cells = aggregate.cells
        if let dp = aggregate.dp {
            lines.append(
                "- Differential privacy: epsilon \(DecimalText.label(dp.epsilon)), delta \(String(format: "%.3g", dp.delta)); \(dp.mechanism); \(dp.composition)"
            )
            lines.append(
                "- Contributions: at most \(dp.maxCells) cells per entity, \(dp.maxReadings) readings per cell; readings clamped to "
                    + dp.bounds.keys.sorted().map {
                        "`\($0)` [\(DecimalText.label(dp.bounds[$0]![0])), \(DecimalText.label(dp.bounds[$0]![1]))]"
                    }.joined(separator: ", ")
            )
            lines.append("- \(dp.note)")
            lines.append(
                "- Cells: \(cells.cells) in the data, \(cells.published) published (noisy count at least \(aggregate.minEntities)), \(cells.belowNoisyThreshold) not; \(cells.pairsDropped) entity-cells left out by max_cells, \(cells.pairsScaled) scaled by max_readings"
            )
            lines.append("")
            lines.append("| value | noise scale | 95% error bound (every cell) |")
            lines.append("|---|---:|---:|")
            for key in dp.scales.keys.sorted() {
                lines.append(
                    "| `\(key)` | \(String(format: "%.4g", dp.scales[key]!)) | ±\(DecimalText.label(dp.error95[key]!)) |"
                )
            }
            lines.append("")
            if let budget = aggregate.budget {
                lines.append(
                    "- Budget of `\(budget.dataset)`: \(DecimalText.label(budget.spentAfter)) of \(DecimalText.label(budget.lifetimeEpsilon)) spent with this release (\(DecimalText.label(budget.spentBefore)) before)"
                )
            }
        } else {
            var rules = ["at least \(aggregate.minEntities) entities"]
            if let dominance = aggregate.dominance {
                rules.append(
                    "the \(dominance.n) largest at most \(DecimalText.label(dominance.percent))% of each total")
            }
            lines.append(
                "- Rules per cell: \(rules.joined(separator: "; ")); a failing cell is \(aggregate.failing == "merge" ? "merged into its parent, else suppressed" : "suppressed")"
            )
            lines.append(
                "- Cells: \(cells.cells) in the data; \(cells.published) published as they were, \(cells.merged) merged into \(cells.mergedRows) rows"
            )
            lines.append(
                "- Suppressed: \(cells.suppressedMinEntities) below min_entities, \(cells.suppressedDominance) by dominance, \(cells.suppressedComplementary) complementary"
            )
            if aggregate.margins {
                lines.append("- Margins: \(cells.marginsPublished) published, \(cells.marginsSuppressed) suppressed")
            }
        }
        lines.append("- Rows written: \(cells.rows)")
        return lines
    }
}
