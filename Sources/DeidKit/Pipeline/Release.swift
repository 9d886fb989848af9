import DeidCSV
import DeidEngine
import Foundation

/// The machine-readable description of a release (`manifest.json`): what was published, from
/// what, by whom and why, and what was done to every column.
public struct ReleaseManifest: Codable, Sendable {
    public struct Tool: Codable, Sendable {
        public var name: String
        public var version: String
    }
    public struct PolicyReference: Codable, Sendable {
        public var file: String
        public var sha256: String
    }
    public struct DataFile: Codable, Sendable {
        public var file: String
        public var bytes: Int
        public var sha256: String
        public var compressed: Bool
        public var columns: [String]
    }
    public struct Rows: Codable, Sendable {
        public var `in`: Int
        public var filtered: Int
        public var out: Int
    }
    public struct Column: Codable, Sendable {
        public var name: String
        public var role: String
        /// False when the column was removed.
        public var published: Bool
        public var techniques: [AppliedTechnique]
    }

    public var manifestVersion = 1
    public var releaseID: String
    public var created: String
    public var tool: Tool
    public var dataset: DatasetDescription
    public var entity: String?
    public var policy: PolicyReference
    public var inputs: [InputSummary]
    public var data: DataFile
    public var rows: Rows
    public var columns: [Column]
    /// Whole-record steps (filters).
    public var records: [AppliedTechnique]
    /// The seed of the noise when the run was reproducible; nil for system randomness.
    public var seed: UInt64?
    /// The privacy models and the transformation chosen to satisfy them.
    public var privacy: PrivacyManifest?
    /// An aggregate release's rules, cell counts and noise.
    package var aggregate: AggregateManifest?

    enum CodingKeys: String, CodingKey {
        case manifestVersion = "manifest_version"
        case releaseID = "release_id"
        case created, tool, dataset, entity, policy,
            inputs, data, rows, columns, records, seed, privacy, aggregate
    }

    /// Pretty, key-sorted JSON.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }
}

extension ReleaseManifest {
    /// A release's manifest: the tool, the dataset, entity and policy reference from `policy`
    /// (read from `policyPath`), the rest as given.
    init(
        releaseID: String, created: String, policy: Policy, policyPath: String, inputs: [InputSummary],
        data: DataFile, rows: Rows, columns: [Column], records: [AppliedTechnique], seed: UInt64?,
        privacy: PrivacyManifest?
    ) {
        self.init(
            releaseID: releaseID, created: created, tool: Tool(name: "deid", version: Release.toolVersion),
            dataset: policy.dataset, entity: policy.entity,
            policy: PolicyReference(file: PathName.base(of: policyPath), sha256: policy.sha256), inputs: inputs,
            data: data, rows: rows, columns: columns, records: records, seed: seed, privacy: privacy)
    }
}

/// Release ids, fingerprints and the human report.
package enum Release {
    /// The tool's version, written into manifests.
    package static let toolVersion = "0.3.0"

    /// A new release id: UTC time and 32 random bits, e.g. `20261129T164502Z-3fa9c2d1`.
    package static func newID(at date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        var words = [UInt64](repeating: 0, count: 1)
        SystemEntropy.fill(&words)
        return "\(formatter.string(from: date))-\(String(format: "%08x", UInt32(truncatingIfNeeded: words[0])))"
    }

    /// ISO 8601 UTC time.
    package static func timestamp(_ date: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// SHA-256 of a file's bytes, in hex (`Fingerprint`).
    /// - Complexity: reads the whole file.
    package static func sha256(ofFile path: String) throws -> String { try Fingerprint.sha256(ofFile: path) }

    /// SHA-256 of bytes, in hex.
    package static func sha256(of bytes: [UInt8]) -> String { Fingerprint.sha256(of: bytes) }

    /// The columns' part of a manifest.
    package static func manifestColumns(plan: TransformPlan, privacy: PrivacyOutcome? = nil) -> [ReleaseManifest.Column]
    {
        let published = Set(plan.outputHeader)
        return plan.policy.columns.map { column in
            var techniques = plan.techniques[column.name] ?? []
            // A level chosen by the search: the generalization as applied.
            if let privacy, let position = privacy.statistics.columns.firstIndex(of: column.name),
                case .generalize(var spec)? = column.technique, plan.privacy?.generalizers[position] != nil,
                let index = techniques.firstIndex(where: { $0.family == "generalization" })
            {
                spec.level = privacy.result.levels[position]
                techniques[index] = TransformPlan.describe(spec)
                techniques[index].parameters["chosen_by"] = .text("search")
            }
            return ReleaseManifest.Column(
                name: column.name, role: column.role.rawValue, published: published.contains(column.name),
                techniques: techniques)
        }
    }

    /// The policy's filter as applied, with the records it removed.
    static func filterStep(_ technique: AppliedTechnique, removed: Int) -> AppliedTechnique {
        var step = technique
        step.parameters["records"] = .number(Double(removed))
        return step
    }

    /// The record suppression of the privacy models, for the manifest's record steps.
    static func suppressionTechnique(_ outcome: PrivacyOutcome) -> AppliedTechnique {
        AppliedTechnique(
            technique: "record suppression (privacy models)", family: "suppression",
            parameters: [
                "records": .number(Double(outcome.suppressedRecords)),
                "individuals": .number(Double(outcome.result.suppressedIndividuals)),
            ], traits: ["suppressing"])
    }

    /// `report.md`: the release for people.
    package static func report(_ manifest: ReleaseManifest) -> String {
        var lines: [String] = []
        lines.append("# Release \(manifest.releaseID): \(manifest.dataset.name)")
        lines.append("")
        lines.append("Written by deid \(manifest.tool.version) on \(manifest.created).")
        lines.append("")
        let facts: [(String, String?)] = [
            ("Purpose", manifest.dataset.purpose), ("Controller", manifest.dataset.controller),
            ("Retention", manifest.dataset.retention), ("License", manifest.dataset.license),
            ("Description", manifest.dataset.description), ("Entity column", manifest.entity),
        ]
        for (label, value) in facts { if let value { lines.append("- \(label): \(value)") } }
        lines.append("- Policy: `\(manifest.policy.file)` (sha256 \(manifest.policy.sha256.prefix(16))…)")
        lines.append(
            "- Data: `\(manifest.data.file)`, \(manifest.rows.out) rows, \(manifest.data.columns.count) columns")
        lines.append(
            "- Rows: \(manifest.rows.in) read, \(manifest.rows.filtered) removed by filters, \(manifest.rows.out) written"
        )
        lines.append(
            "- Noise: "
                + (manifest.seed.map { "reproducible from seed \($0)" } ?? "system randomness (not reproducible)"))
        lines.append("")
        lines.append("## Inputs")
        lines.append("")
        lines.append("| file | bytes | records | sha256 |")
        lines.append("|---|---:|---:|---|")
        for input in manifest.inputs {
            lines.append(
                "| `\(input.name)` | \(input.bytes.map(String.init) ?? "-") | \(input.records) | \(input.sha256.map { String($0.prefix(16)) + "…" } ?? "-") |"
            )
        }
        lines.append("")
        lines.append("## Columns")
        lines.append("")
        lines.append("| column | role | published | technique (ISO/IEC 20889 family) |")
        lines.append("|---|---|---|---|")
        for column in manifest.columns {
            let techniques =
                column.techniques.isEmpty
                ? "passed through"
                : column.techniques.map { technique in
                    let parameters = technique.parameters.keys.sorted().map {
                        "\($0)=\(render(technique.parameters[$0]!))"
                    }
                    return "\(technique.technique) (\(technique.family))"
                        + (parameters.isEmpty ? "" : ": " + parameters.joined(separator: ", "))
                }.joined(separator: "; ")
            lines.append("| `\(column.name)` | \(column.role) | \(column.published ? "yes" : "no") | \(techniques) |")
        }
        if !manifest.records.isEmpty {
            lines.append("")
            lines.append("## Records")
            lines.append("")
            for step in manifest.records {
                // Each step's own count (a filter's, the privacy models' suppression).
                let removed = step.parameters["records"].map(render) ?? "\(manifest.rows.filtered)"
                lines.append("- \(step.technique) (\(step.family)): \(removed) records removed")
            }
        }
        if let privacy = manifest.privacy { lines += privacyReport(privacy, entity: manifest.entity) }
        if let aggregate = manifest.aggregate { lines += aggregateReport(aggregate, entity: manifest.entity) }
        lines.append("")
        lines.append("Keys are named by their id only; the keys themselves are not in this release.")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The report's privacy section.
    static func privacyReport(_ privacy: PrivacyManifest, entity: String?) -> [String] {
        var lines = ["", "## Privacy models", ""]
        let unit = entity.map { "individuals (distinct `\($0)`)" } ?? "individuals (one per row)"
        var models = ["k-anonymity, k=\(privacy.models.k)"]
        if let l = privacy.models.lDiversity {
            models.append(
                "l-diversity (\(l["variant"].map(render) ?? "")) l=\(l["l"].map(render) ?? "") on `\(l["column"].map(render) ?? "")`"
            )
        }
        if let t = privacy.models.tCloseness {
            models.append(
                "t-closeness (\(t["distance"].map(render) ?? "") distance) t=\(t["t"].map(render) ?? "") on `\(t["column"].map(render) ?? "")`"
            )
        }
        lines.append("- Models: \(models.joined(separator: "; ")), counted in \(unit)")
        lines.append(
            "- Suppression limit: \(PrivacySearch.percent(privacy.models.suppressionLimit)) of \(privacy.individuals) individuals"
        )
        lines.append("- Suppressed: \(privacy.suppressedEntities) individuals, \(privacy.suppressedRecords) records")
        lines.append(
            "- Published classes: \(privacy.classes), the smallest holding \(privacy.minClassSize) individuals")
        if let l = privacy.lowestDistinctL { lines.append("- Fewest distinct sensitive values in a class: \(l)") }
        if let t = privacy.highestTDistance {
            var line =
                "- Largest t-closeness distance of a class: \(String(format: "%.4f", t)) from the input's distribution (the model's reference)"
            if let own = privacy.highestTDistanceRelease {
                line += "; \(String(format: "%.4f", own)) from the release's own distribution"
            }
            lines.append(line)
        }
        if privacy.entitiesInSeveralClasses > 0 {
            lines.append(
                "- Individuals whose rows fall in more than one class: \(privacy.entitiesInSeveralClasses) (each counts in every class it is in)"
            )
        }
        lines.append("- Information loss (\(privacy.metric)): \(privacy.informationLoss)")
        lines.append(
            "- Search: \(privacy.search.nodesChecked) of \(privacy.search.nodes) transformations checked in \(DecimalText.label(privacy.search.milliseconds)) ms"
        )
        lines.append("")
        lines.append("| quasi-identifier | level |")
        lines.append("|---|---:|")
        for (column, level) in privacy.transformation.sorted(by: { $0.key < $1.key }) {
            lines.append("| `\(column)` | \(level) |")
        }
        lines.append("")
        lines.append("| class size (individuals) | classes |")
        lines.append("|---|---:|")
        let order = ["1", "2", "3", "4", "5-9", "10-19", "20-49", "50-99", "100-999", "1000+"]
        for bucket in order { if let count = privacy.classSizes[bucket] { lines.append("| \(bucket) | \(count) |") } }
        return lines
    }

    static func render(_ value: ManifestValue) -> String {
        switch value {
        case .text(let text): text
        case .number(let number): DecimalText.label(number)
        case .flag(let flag): flag ? "true" : "false"
        case .list(let items): "[" + items.map(render).joined(separator: ", ") + "]"
        }
    }
}
