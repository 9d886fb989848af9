import Crypto
import DeidCSV
import Foundation
import Yams

/// Reads a policy file and validates it against the input's header before any data is read.
/// Every problem is collected and reported at once (`PolicyError`), each with the policy file's
/// line and column and the key path; unknown keys and column names get a "did you mean".
package enum PolicyLoader {
    static let topKeys = [
        "version", "dataset", "entity", "filter", "columns", "privacy", "risk", "linkage", "aggregate",
    ]
    static let linkageKeys = ["against", "catalog", "max_unique_link_share"]
    static let riskKeys = ["max_prosecutor_risk", "min_class_size", "max_trace_uniqueness", "threshold", "trace"]
    static let traceKeys = ["time", "value", "points", "time_resolution", "value_resolution", "repetitions"]
    static let privacyKeys = ["k", "suppression_limit", "l_diversity", "t_closeness", "metric"]
    static let datasetKeys = ["name", "purpose", "controller", "retention", "description", "license"]
    static let columnKeys = [
        "role", "drop", "pseudonymize", "mask", "suppress", "generalize", "noise",
        "date_shift", "aggregate", "note",
    ]
    static let techniqueKeys = ["drop", "pseudonymize", "mask", "suppress", "generalize", "noise"]
    static let generalizeKeys = [
        "round", "intervals", "top", "bottom", "time", "age", "prefix", "decimals",
        "grid", "hierarchy", "level",
    ]
    static let filterKeys = ["column", "from", "before", "min", "max", "in", "not_in", "not_empty"]

    /// Loads the policy at `path` and checks it against `header` (the input's column names).
    /// - Parameter name: the file name used in messages (defaults to `path`).
    /// - Parameter checkingKeys: false when only the roles are needed (`deid risk --policy`):
    ///   the keys are then not read.
    package static func load(
        path: String, header: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
        checkingKeys: Bool = true
    ) throws -> Policy {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PolicyError([
                PolicyDiagnostic(
                    file: path, line: nil, column: nil, path: "",
                    message: "cannot read the policy file")
            ])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PolicyError([
                PolicyDiagnostic(
                    file: path, line: nil, column: nil, path: "", message: "the policy file is not UTF-8 text")
            ])
        }
        var policy = try parse(
            text: text, file: path, directory: PathName.directory(of: path),
            header: header, environment: environment, checkingKeys: checkingKeys)
        policy.sha256 = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        return policy
    }

    /// Parses policy text; `directory` resolves relative file paths in it.
    package static func parse(
        text: String, file: String, directory: String, header: [String],
        environment: [String: String] = [:], checkingKeys: Bool = true
    ) throws -> Policy {
        let reader = PolicyReader(file: file)
        let document: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw PolicyError([
                    PolicyDiagnostic(file: file, line: 1, column: 1, path: "", message: "the policy is empty")
                ])
            }
            document = node
        } catch let error as YamlError {
            throw PolicyError([syntaxDiagnostic(error, file: file)])
        }
        var builder = Builder(
            reader: reader, directory: directory, header: header, environment: environment, checkingKeys: checkingKeys)
        let policy = builder.build(document)
        guard reader.diagnostics.isEmpty, let policy else { throw PolicyError(reader.diagnostics) }
        return Policy(
            source: file, directory: directory, dataset: policy.dataset, entity: policy.entity,
            filters: policy.filters, columns: policy.columns, privacy: policy.privacy, risk: policy.risk,
            linkage: policy.linkage, aggregateRelease: policy.aggregate,
            sha256: SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined())
    }

    static func syntaxDiagnostic(_ error: YamlError, file: String) -> PolicyDiagnostic {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return PolicyDiagnostic(
                file: file, line: mark.line, column: mark.column, path: "", message: "YAML syntax: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return PolicyDiagnostic(
                file: file, line: context.mark.line, column: context.mark.column, path: "",
                message: "key given twice: \(duplicates.sorted().joined(separator: ", "))")
        default:
            return PolicyDiagnostic(file: file, line: nil, column: nil, path: "", message: "YAML syntax: \(error)")
        }
    }

    /// The parts of a policy, built while diagnostics are collected.
    struct Parts {
        var dataset: DatasetDescription
        var entity: String?
        var filters: [RecordFilterRule]
        var columns: [ColumnPolicy]
        var privacy: PrivacySpec?
        var risk: RiskPolicy?
        var linkage: LinkagePolicy?
        var aggregate: AggregateReleaseSpec?
    }

    struct Builder {
        let reader: PolicyReader
        let directory: String
        let header: [String]
        let environment: [String: String]
        let checkingKeys: Bool

        mutating func build(_ document: Node) -> Parts? {
            guard let entries = reader.mapping(document, "", allowed: PolicyLoader.topKeys) else { return nil }
            var byKey: [String: (Node, Node)] = [:]
            for entry in entries { byKey[entry.key] = (entry.keyNode, entry.value) }

            if let (_, value) = byKey["version"] {
                if let version = reader.integer(value, "version", in: 0...Int.max), version != 1 {
                    reader.report(value, "version", "this deid reads policy version 1, not \(version)")
                }
            } else {
                reader.report(document, "", "missing key 'version' (write version: 1)")
            }
            var dataset = DatasetDescription(name: "")
            if let (_, value) = byKey["dataset"] {
                dataset = readDataset(value)
            } else {
                reader.report(document, "", "missing key 'dataset' (at least dataset: { name: ... })")
            }
            var entity: String?
            if let (_, value) = byKey["entity"], let name = reader.string(value, "entity") {
                if header.contains(name) {
                    entity = name
                } else {
                    reader.report(
                        value, "entity",
                        "no column '\(name)' in the input\(Suggestion.phrase(for: name, among: header))")
                }
            }
            var columns: [ColumnPolicy] = []
            if let (keyNode, value) = byKey["columns"] {
                columns = readColumns(value, keyNode: keyNode, entity: entity, entityGiven: byKey["entity"] != nil)
            } else {
                reader.report(document, "", "missing key 'columns': every input column needs a role")
            }
            var filters: [RecordFilterRule] = []
            if let (_, value) = byKey["filter"] { filters = readFilters(value) }
            var privacy: PrivacySpec?
            if let (_, value) = byKey["privacy"] { privacy = readPrivacy(value, columns: columns) }
            var risk: RiskPolicy?
            if let (_, value) = byKey["risk"] { risk = readRisk(value, columns: columns, entity: entity) }
            var linkage: LinkagePolicy?
            if let (_, value) = byKey["linkage"] { linkage = readLinkage(value) }
            var aggregate: AggregateReleaseSpec?
            if let (keyNode, value) = byKey["aggregate"] {
                aggregate = readAggregate(value, columns: columns, entity: entity, filters: filters)
                for section in ["privacy", "risk"] where byKey[section] != nil {
                    reader.report(
                        keyNode, "aggregate",
                        "an aggregate release publishes cells under its own rules; '\(section)' measures records: remove it"
                    )
                }
            }
            return Parts(
                dataset: dataset, entity: entity, filters: filters, columns: columns, privacy: privacy, risk: risk,
                linkage: linkage, aggregate: aggregate)
        }

        func readDataset(_ node: Node) -> DatasetDescription {
            var dataset = DatasetDescription(name: "")
            guard let entries = reader.mapping(node, "dataset", allowed: PolicyLoader.datasetKeys) else {
                return dataset
            }
            var hasName = false
            for entry in entries {
                let path = "dataset.\(entry.key)"
                guard let text = reader.string(entry.value, path) else { continue }
                switch entry.key {
                case "name":
                    hasName = true
                    if text.trimmingSpaces.isEmpty { reader.report(entry.value, path, "must not be empty") }
                    dataset.name = text
                case "purpose": dataset.purpose = text
                case "controller": dataset.controller = text
                case "retention":
                    // The day the release is to be withdrawn: `deid catalog expired` compares it.
                    if CivilDate(iso: text) == nil {
                        reader.report(
                            entry.value, path,
                            "expected a date as YYYY-MM-DD (the day after which the release is withdrawn)")
                    } else {
                        dataset.retention = text
                    }
                case "description": dataset.description = text
                default: dataset.license = text
                }
            }
            if !hasName { reader.report(node, "dataset", "missing key 'name'") }
            return dataset
        }

        func readColumns(_ node: Node, keyNode: Node, entity: String?, entityGiven: Bool) -> [ColumnPolicy] {
            guard let entries = reader.mapping(node, "columns", allowed: []) else { return [] }
            var policies: [String: ColumnPolicy] = [:]
            let known = Set(header)
            for entry in entries {
                let path = "columns.\(entry.key)"
                guard known.contains(entry.key) else {
                    reader.report(
                        entry.keyNode, path,
                        "no column '\(entry.key)' in the input\(Suggestion.phrase(for: entry.key, among: header))")
                    continue
                }
                if let policy = readColumn(entry.key, entry.value, path: path, entity: entity) {
                    policies[entry.key] = policy
                }
            }
            let named = Set(entries.map(\.key))
            let unnamed = header.filter { !named.contains($0) }
            if unnamed.count <= 10 {
                for name in unnamed {
                    reader.report(
                        keyNode, "columns",
                        "input column '\(name)' has no policy: every column needs a role (role: insensitive passes it through)"
                    )
                }
            } else {
                // One line for many: a wide file would otherwise get a line per column.
                let first = unnamed.prefix(10).map { "'\($0)'" }.joined(separator: ", ")
                reader.report(
                    keyNode, "columns",
                    "\(unnamed.count) input columns have no policy (\(first) and \(unnamed.count - 10) more): every column needs a role (role: insensitive passes it through; deid profile --policy-out writes a policy that names them all)"
                )
            }
            let aggregated = policies.values.filter { $0.aggregate != nil }
            if aggregated.count > 1 {
                for column in aggregated.dropFirst() {
                    reader.report(node, "columns.\(column.name).aggregate", "only one column can aggregate the series")
                }
            }
            if let spec = aggregated.first?.aggregate {
                let path = "columns.\(aggregated[0].name).aggregate"
                if entity == nil && !entityGiven {
                    reader.report(
                        node, path, "aggregation needs 'entity': the column whose readings are summed per bucket")
                }
                for name in spec.sum + spec.mean {
                    guard let policy = policies[name] else {
                        if !header.contains(name) {
                            reader.report(
                                node, path,
                                "no column '\(name)' in the input\(Suggestion.phrase(for: name, among: header))")
                        }
                        continue
                    }
                    switch policy.technique {
                    case nil, .noise: break
                    default:
                        reader.report(
                            node, path,
                            "column '\(name)' is aggregated, so it can only take noise (applied to the totals), not \(policy.technique!.keyword)"
                        )
                    }
                    if name == aggregated[0].name {
                        reader.report(node, path, "the timestamp column cannot aggregate itself")
                    }
                }
                if Set(spec.sum + spec.mean).count != spec.sum.count + spec.mean.count {
                    reader.report(node, path, "a column is listed twice among sum and mean")
                }
                if let count = spec.countColumn, header.contains(count) {
                    reader.report(node, path, "count column '\(count)' already exists in the input")
                }
            }
            return header.compactMap { policies[$0] }
        }

        func readColumn(_ name: String, _ node: Node, path: String, entity: String?) -> ColumnPolicy? {
            guard let entries = reader.mapping(node, path, allowed: PolicyLoader.columnKeys) else { return nil }
            var role: ColumnRole?
            var techniques: [(String, Node, ColumnTechnique?)] = []
            var dateShift: DateShiftSpec?
            var aggregate: AggregateSpec?
            var hasRole = false
            for entry in entries {
                let keyPath = "\(path).\(entry.key)"
                let reported = reader.diagnostics.count
                defer {
                    // Fail closed: a technique that could not be read is never left out in silence
                    // (the column would be published as it is).
                    if PolicyLoader.techniqueKeys.contains(entry.key), let last = techniques.last, last.0 == entry.key,
                        last.2 == nil,
                        reader.diagnostics.count == reported
                    {
                        reader.report(
                            entry.value, keyPath, "this technique could not be read; see Docs/POLICY.md for its form")
                    }
                }
                switch entry.key {
                case "role":
                    hasRole = true
                    role = reader.choice(entry.value, keyPath, "role", among: ColumnRole.allCases)
                case "drop":
                    if let drop = reader.bool(entry.value, keyPath) {
                        if drop { techniques.append((entry.key, entry.keyNode, .drop)) }
                    }
                case "pseudonymize":
                    techniques.append(
                        (
                            entry.key, entry.keyNode,
                            readPseudonymize(entry.value, keyPath).map(ColumnTechnique.pseudonymize)
                        ))
                case "mask":
                    techniques.append(
                        (entry.key, entry.keyNode, readMask(entry.value, keyPath).map(ColumnTechnique.mask)))
                case "suppress":
                    techniques.append(
                        (entry.key, entry.keyNode, readSuppress(entry.value, keyPath).map(ColumnTechnique.suppress)))
                case "generalize":
                    techniques.append(
                        (entry.key, entry.keyNode, readGeneralize(entry.value, keyPath).map(ColumnTechnique.generalize))
                    )
                case "noise":
                    techniques.append(
                        (entry.key, entry.keyNode, readNoise(entry.value, keyPath).map(ColumnTechnique.noise)))
                case "date_shift":
                    dateShift = readDateShift(entry.value, keyPath)
                    if entity == nil {
                        reader.report(
                            entry.keyNode, keyPath, "a date shift is per entity: set 'entity' at the top of the policy")
                    }
                case "aggregate":
                    aggregate = readAggregate(entry.value, keyPath)
                default:
                    _ = reader.string(entry.value, keyPath)  // note: free text
                }
            }
            if !hasRole {
                reader.report(node, path, "missing key 'role' (identifier, quasi_identifier, sensitive or insensitive)")
            }
            if techniques.count > 1 {
                for extra in techniques.dropFirst() {
                    reader.report(
                        extra.1, "\(path).\(extra.0)",
                        "a column takes one technique; '\(techniques[0].0)' is already given")
                }
            }
            let technique = techniques.first?.2
            if case .drop = technique, dateShift != nil || aggregate != nil {
                reader.report(node, path, "a dropped column cannot also be shifted or aggregated")
            }
            if dateShift != nil {
                switch technique {
                case nil: break
                case .generalize(let spec)?:
                    switch spec.method {
                    case .time, .age: break
                    default:
                        reader.report(
                            node, "\(path).generalize", "after a date shift only a time or age generalization applies")
                    }
                case let other?:
                    reader.report(
                        node, "\(path).\(other.keyword)",
                        "after a date shift only a time or age generalization applies, not \(other.keyword)")
                }
            }
            if aggregate != nil, case .generalize = technique {
                reader.report(
                    node, "\(path).generalize",
                    "the aggregated timestamp is already truncated to 'every'; remove generalize")
            }
            if role == .identifier && techniques.isEmpty {
                reader.report(node, path, "an identifier must be dropped, pseudonymized or masked")
            } else if role == .identifier, let first = techniques.first,
                !["drop", "pseudonymize", "mask"].contains(first.0)
            {
                reader.report(
                    first.1, "\(path).\(first.0)",
                    "an identifier must be dropped, pseudonymized or masked, not \(first.0)")
            }
            guard let role else { return nil }
            return ColumnPolicy(
                name: name, role: role, technique: technique, dateShift: dateShift, aggregate: aggregate)
        }

    }
}

extension Policy {
    /// Reads the policy file at `path` and checks it against an input's column names: every
    /// problem is reported at once, with its line and key path (`PolicyError`).
    /// - Parameter environment: where `env:` keys are found.
    public static func load(
        path: String, columns: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Policy {
        try PolicyLoader.load(path: path, header: columns, environment: environment)
    }

    /// Parses a policy's YAML and checks it against an input's column names.
    /// - Parameters:
    ///   - name: the name the policy goes by in messages; relative paths in it (hierarchy files)
    ///     start from its directory.
    public static func parse(
        _ text: String, name: String = "policy.yaml", columns: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Policy {
        try PolicyLoader.parse(
            text: text, file: name, directory: PathName.directory(of: name), header: columns, environment: environment)
    }
}
