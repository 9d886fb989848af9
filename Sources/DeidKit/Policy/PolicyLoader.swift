import Crypto
import DeidCSV
import Foundation
import Yams

/// Reads a policy file and validates it against the input's header before any data is read.
/// Every problem is collected and reported at once (`PolicyError`), each with the policy file's
/// line and column and the key path; unknown keys and column names get a "did you mean".
package enum PolicyLoader {
    static let topKeys = ["version", "dataset", "entity", "filter", "columns", "privacy", "risk", "linkage"]
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
            linkage: policy.linkage,
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
            return Parts(
                dataset: dataset, entity: entity, filters: filters, columns: columns, privacy: privacy, risk: risk,
                linkage: linkage)
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
                    guard let text = reader.string(entry.value, keyPath) else { continue }
                    role = ColumnRole(rawValue: text)
                    if role == nil {
                        reader.report(
                            entry.value, keyPath,
                            "unknown role '\(text)'\(Suggestion.phrase(for: text, among: ColumnRole.allCases.map(\.rawValue))) (roles: identifier, quasi_identifier, sensitive, insensitive)"
                        )
                    }
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

        func readKey(_ node: Node, _ path: String) -> KeyReference? {
            guard let text = reader.string(node, path) else { return nil }
            let reference: KeyReference
            if text.hasPrefix("env:"), text.count > 4 {
                reference = .environment(String(text.dropFirst(4)))
            } else if text.hasPrefix("file:"), text.count > 5 {
                var file = String(text.dropFirst(5))
                if !file.hasPrefix("/") { file = directory + "/" + file }
                reference = .file(file)
            } else {
                reader.report(node, path, "a key comes from env:NAME or file:PATH, never from the policy text")
                return nil
            }
            guard checkingKeys else { return reference }
            do { _ = try KeyResolver.resolve(reference, environment: environment) } catch let error as KeyError {
                reader.report(node, path, error.message)
            } catch {
                reader.report(node, path, "\(error)")
            }
            return reference
        }

        func readPseudonymize(_ node: Node, _ path: String) -> PseudonymizeSpec? {
            guard let entries = reader.mapping(node, path, allowed: ["key", "length", "encoding", "per_release"]) else {
                return nil
            }
            var key: KeyReference?
            var spec = PseudonymizeSpec(key: .environment(""), length: 16, encoding: .hex, perRelease: false)
            var valid = true
            for entry in entries {
                let keyPath = "\(path).\(entry.key)"
                switch entry.key {
                case "key": key = readKey(entry.value, keyPath)
                case "length":
                    if let length = reader.integer(entry.value, keyPath, in: 8...64) {
                        spec.length = length
                    } else {
                        valid = false
                    }
                case "encoding":
                    if let text = reader.string(entry.value, keyPath) {
                        if let encoding = PseudonymizeSpec.Encoding(rawValue: text) {
                            spec.encoding = encoding
                        } else {
                            reader.report(entry.value, keyPath, "unknown encoding '\(text)' (hex or base32)")
                            valid = false
                        }
                    }
                default:
                    if let flag = reader.bool(entry.value, keyPath) { spec.perRelease = flag }
                }
            }
            let limit = spec.encoding == .hex ? 64 : 52
            if spec.length > limit {
                reader.report(node, "\(path).length", "at most \(limit) characters in \(spec.encoding.rawValue)")
                valid = false
            }
            guard let key else {
                if !entries.contains(where: { $0.key == "key" }) {
                    reader.report(node, path, "missing key 'key' (env:NAME or file:PATH)")
                }
                return nil
            }
            spec.key = key
            return valid ? spec : nil
        }

        func readMask(_ node: Node, _ path: String) -> MaskSpec? {
            guard let entries = reader.mapping(node, path, allowed: ["keep_first", "keep_last", "pattern", "char"])
            else { return nil }
            var spec = MaskSpec(keepFirst: 0, keepLast: 0, pattern: nil, character: "*")
            for entry in entries {
                let keyPath = "\(path).\(entry.key)"
                switch entry.key {
                case "keep_first": spec.keepFirst = reader.integer(entry.value, keyPath, in: 0...1000) ?? 0
                case "keep_last": spec.keepLast = reader.integer(entry.value, keyPath, in: 0...1000) ?? 0
                case "pattern":
                    if let pattern = reader.string(entry.value, keyPath) {
                        if (try? Regex(pattern)) == nil {
                            reader.report(entry.value, keyPath, "not a valid regular expression")
                        } else {
                            spec.pattern = pattern
                        }
                    }
                default:
                    if let text = reader.string(entry.value, keyPath) {
                        if text.count == 1 {
                            spec.character = text
                        } else {
                            reader.report(entry.value, keyPath, "must be one character")
                        }
                    }
                }
            }
            if spec.pattern != nil && (spec.keepFirst > 0 || spec.keepLast > 0) {
                reader.report(node, path, "give either a pattern or keep_first/keep_last, not both")
            }
            return spec
        }

        func readSuppress(_ node: Node, _ path: String) -> SuppressSpec? {
            guard let entries = reader.mapping(node, path, allowed: ["token", "values"]) else { return nil }
            var spec = SuppressSpec(token: "*", values: nil)
            for entry in entries {
                let keyPath = "\(path).\(entry.key)"
                if entry.key == "token" {
                    spec.token = reader.string(entry.value, keyPath) ?? "*"
                } else if let items = reader.nonEmptyList(
                    entry.value, keyPath, "value to suppress (leave 'values' out to suppress every value)")
                {
                    spec.values = items.compactMap { reader.string($0, keyPath) }
                }
            }
            return spec
        }

        func readNoise(_ node: Node, _ path: String) -> NoiseSpec? {
            guard
                let entries = reader.mapping(
                    node, path, allowed: ["laplace", "gaussian", "percent", "min", "max", "round"])
            else { return nil }
            var distributions: [NoiseSpec.Distribution] = []
            var spec = NoiseSpec(distribution: .laplace(1), minimum: nil, maximum: nil, decimals: nil)
            for entry in entries {
                let keyPath = "\(path).\(entry.key)"
                switch entry.key {
                case "laplace", "gaussian":
                    // Noise beyond 10^12 would only overflow numbers (to infinity) or drown them.
                    guard let scale = reader.number(entry.value, keyPath, positive: true) else { continue }
                    guard scale <= NoiseSpec.maximumScale else {
                        reader.report(
                            entry.value, keyPath, "must be at most \(DecimalText.label(NoiseSpec.maximumScale))")
                        continue
                    }
                    distributions.append(entry.key == "laplace" ? .laplace(scale) : .gaussian(scale))
                case "percent":
                    guard let percent = reader.number(entry.value, keyPath, positive: true) else { continue }
                    guard percent <= NoiseSpec.maximumPercent else {
                        reader.report(
                            entry.value, keyPath,
                            "must be at most \(DecimalText.label(NoiseSpec.maximumPercent)) (percent of the value)")
                        continue
                    }
                    distributions.append(.percent(percent))
                case "min": spec.minimum = reader.number(entry.value, keyPath)
                case "max": spec.maximum = reader.number(entry.value, keyPath)
                default: spec.decimals = reader.integer(entry.value, keyPath, in: 0...12)
                }
            }
            if let minimum = spec.minimum, let maximum = spec.maximum, minimum > maximum {
                reader.report(node, path, "min is greater than max")
            }
            guard distributions.count == 1 else {
                let given = entries.contains { ["laplace", "gaussian", "percent"].contains($0.key) }
                // A distribution given with a bad value was reported as such.
                if !(distributions.isEmpty && given) {
                    reader.report(
                        node, path,
                        distributions.isEmpty
                            ? "give one of laplace, gaussian or percent"
                            : "give only one of laplace, gaussian or percent")
                }
                return nil
            }
            spec.distribution = distributions[0]
            return spec
        }

        func readDateShift(_ node: Node, _ path: String) -> DateShiftSpec? {
            guard let entries = reader.mapping(node, path, allowed: ["max_days", "key", "per_release"]) else {
                return nil
            }
            var maxDays: Int?
            var key: KeyReference?
            var perRelease = false
            for entry in entries {
                let keyPath = "\(path).\(entry.key)"
                switch entry.key {
                case "max_days": maxDays = reader.integer(entry.value, keyPath, in: 1...3650)
                case "key": key = readKey(entry.value, keyPath)
                default: perRelease = reader.bool(entry.value, keyPath) ?? false
                }
            }
            if !entries.contains(where: { $0.key == "max_days" }) {
                reader.report(node, path, "missing key 'max_days'")
            }
            if !entries.contains(where: { $0.key == "key" }) {
                reader.report(node, path, "missing key 'key' (env:NAME or file:PATH)")
            }
            guard let maxDays, let key else { return nil }
            return DateShiftSpec(maxDays: maxDays, key: key, perRelease: perRelease)
        }

        func readAggregate(_ node: Node, _ path: String) -> AggregateSpec? {
            guard let entries = reader.mapping(node, path, allowed: ["every", "sum", "mean", "count"]) else {
                return nil
            }
            var spec = AggregateSpec(every: .day, sum: [], mean: [], countColumn: nil)
            var hasEvery = false
            for entry in entries {
                let keyPath = "\(path).\(entry.key)"
                switch entry.key {
                case "every":
                    hasEvery = true
                    if let unit = readTimeUnit(entry.value, keyPath) { spec.every = unit }
                case "sum":
                    spec.sum = reader.list(entry.value, keyPath)?.compactMap { reader.string($0, keyPath) } ?? []
                case "mean":
                    spec.mean = reader.list(entry.value, keyPath)?.compactMap { reader.string($0, keyPath) } ?? []
                default: spec.countColumn = reader.string(entry.value, keyPath)
                }
            }
            if !hasEvery {
                reader.report(
                    node, path, "missing key 'every' (\(TimeUnit.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if spec.sum.isEmpty && spec.mean.isEmpty {
                reader.report(node, path, "name the columns to aggregate with sum: [...] or mean: [...]")
            }
            return spec
        }

        func readTimeUnit(_ node: Node, _ path: String) -> TimeUnit? {
            guard let text = reader.string(node, path) else { return nil }
            guard let unit = TimeUnit(rawValue: text) else {
                let names = TimeUnit.allCases.map(\.rawValue)
                reader.report(
                    node, path,
                    "unknown unit '\(text)'\(Suggestion.phrase(for: text, among: names)) (units: \(names.joined(separator: ", ")))"
                )
                return nil
            }
            return unit
        }

        func readGeneralize(_ node: Node, _ path: String) -> GeneralizationSpec? {
            guard let entries = reader.mapping(node, path, allowed: PolicyLoader.generalizeKeys) else { return nil }
            var methods: [(String, GeneralizationSpec.Method?)] = []
            var level = 1
            var levelNode: Node?
            var bottom: Double?
            var top: Double?
            var topBottomSeen = false
            for entry in entries {
                let keyPath = "\(path).\(entry.key)"
                switch entry.key {
                case "level":
                    levelNode = entry.value
                    level = reader.integer(entry.value, keyPath, in: 0...64) ?? 1
                case "round":
                    let bases = reader.nonEmptyList(entry.value, keyPath, "base")?.compactMap {
                        reader.number($0, keyPath, positive: true)
                    }
                    if let bases,
                        zip(bases, bases.dropFirst()).contains(where: { pair in
                            let ratio = pair.1 / pair.0
                            return ratio < 1.5 || abs(ratio - ratio.rounded()) > 1e-9
                        })
                    {
                        reader.report(
                            entry.value, keyPath,
                            "each base must be a multiple of the one before (5, 10, 100), so that levels nest")
                    }
                    methods.append((entry.key, bases.flatMap { $0.isEmpty ? nil : .round($0) }))
                case "intervals":
                    let breaks = reader.list(entry.value, keyPath)?.compactMap { reader.number($0, keyPath) } ?? []
                    if breaks.count < 2 || zip(breaks, breaks.dropFirst()).contains(where: { $0 >= $1 }) {
                        reader.report(entry.value, keyPath, "give at least two break points in increasing order")
                        methods.append((entry.key, nil))
                    } else {
                        methods.append((entry.key, .intervals(breaks)))
                    }
                case "top", "bottom":
                    let value = reader.number(entry.value, keyPath)
                    if entry.key == "top" { top = value } else { bottom = value }
                    if !topBottomSeen { methods.append(("top/bottom", nil)) }
                    topBottomSeen = true
                case "time":
                    let units =
                        reader.nonEmptyList(entry.value, keyPath, "time unit")?.compactMap { readTimeUnit($0, keyPath) }
                        ?? []
                    if units != units.sorted() {
                        reader.report(entry.value, keyPath, "list units from finest to coarsest")
                    }
                    methods.append((entry.key, units.isEmpty ? nil : .time(units)))
                case "age":
                    methods.append((entry.key, readAge(entry.value, keyPath)))
                case "prefix":
                    let lengths =
                        reader.nonEmptyList(entry.value, keyPath, "length")?.compactMap {
                            reader.integer($0, keyPath, in: 0...1000)
                        } ?? []
                    if lengths != lengths.sorted(by: >) {
                        reader.report(entry.value, keyPath, "list lengths from longest to shortest")
                    }
                    methods.append((entry.key, lengths.isEmpty ? nil : .prefix(lengths)))
                case "decimals":
                    let places =
                        reader.nonEmptyList(entry.value, keyPath, "number of decimal places")?.compactMap {
                            reader.integer($0, keyPath, in: 0...12)
                        } ?? []
                    if places != places.sorted(by: >) {
                        reader.report(entry.value, keyPath, "list decimal places from most to fewest")
                    }
                    methods.append((entry.key, places.isEmpty ? nil : .decimals(places)))
                case "grid":
                    methods.append((entry.key, readGrid(entry.value, keyPath)))
                default:
                    guard let file = reader.string(entry.value, keyPath) else {
                        methods.append((entry.key, nil))
                        continue
                    }
                    let resolved = file.hasPrefix("/") ? file : directory + "/" + file
                    do {
                        let table = try HierarchyTable.load(path: resolved, displayName: file)
                        methods.append((entry.key, .hierarchy(path: resolved, levels: table.levelCount)))
                    } catch {
                        reader.report(entry.value, keyPath, "\(error)")
                        methods.append((entry.key, nil))
                    }
                }
            }
            if topBottomSeen, let index = methods.firstIndex(where: { $0.0 == "top/bottom" }) {
                if top == nil && bottom == nil {
                    methods[index].1 = nil
                } else {
                    methods[index].1 = .topBottom(bottom: bottom, top: top)
                }
                if let top, let bottom, bottom >= top { reader.report(node, path, "bottom must be below top") }
            }
            guard methods.count == 1 else {
                reader.report(
                    node, path,
                    methods.isEmpty
                        ? "give one method: \(PolicyLoader.generalizeKeys.filter { $0 != "level" }.joined(separator: ", "))"
                        : "give one method, not \(methods.map(\.0).joined(separator: " and "))")
                return nil
            }
            guard let method = methods[0].1 else { return nil }
            let spec = GeneralizationSpec(method: method, level: level, levelGiven: levelNode != nil)
            if let levelNode, level > spec.levelCount {
                reader.report(
                    levelNode, "\(path).level",
                    "this generalization has \(spec.levelCount) level\(spec.levelCount == 1 ? "" : "s")")
                return nil
            }
            return spec
        }

        func readPrivacy(_ node: Node, columns: [ColumnPolicy]) -> PrivacySpec? {
            guard let entries = reader.mapping(node, "privacy", allowed: PolicyLoader.privacyKeys) else { return nil }
            var spec = PrivacySpec()
            for entry in entries {
                let path = "privacy.\(entry.key)"
                switch entry.key {
                case "k": spec.k = reader.integer(entry.value, path, in: 1...1_000_000) ?? 1
                case "suppression_limit":
                    if let limit = reader.number(entry.value, path) {
                        if (0...1).contains(limit) {
                            spec.suppressionLimit = limit
                        } else {
                            reader.report(
                                entry.value, path, "must be a share between 0 and 1 (0.02 = 2% of individuals)")
                        }
                    }
                case "metric":
                    guard let text = reader.string(entry.value, path) else { continue }
                    if let metric = InformationLossMetric(rawValue: text) {
                        spec.metric = metric
                    } else {
                        let names = InformationLossMetric.allCases.map(\.rawValue)
                        reader.report(
                            entry.value, path,
                            "unknown metric '\(text)'\(Suggestion.phrase(for: text, among: names)) (metrics: \(names.joined(separator: ", ")))"
                        )
                    }
                case "l_diversity": spec.lDiversity = readLDiversity(entry.value, path, columns: columns)
                default: spec.tCloseness = readTCloseness(entry.value, path, columns: columns)
                }
            }
            let quasiIdentifiers = columns.filter { column in
                guard column.role == .quasiIdentifier else { return false }
                if case .drop? = column.technique { return false }
                return true
            }
            if quasiIdentifiers.isEmpty {
                reader.report(
                    node, "privacy",
                    "the privacy models need at least one column with role quasi_identifier that is kept")
            }
            if columns.contains(where: { $0.aggregate != nil }) {
                reader.report(
                    node, "privacy",
                    "privacy models and time-series aggregation in one policy are not supported yet: publish the aggregates, then check them with a second policy"
                )
            }
            for column in quasiIdentifiers {
                guard case .generalize(let generalization)? = column.technique, !generalization.levelGiven,
                    case .grid(_, .longitude, _) = generalization.method
                else { continue }
                reader.report(
                    node, "columns.\(column.name).generalize",
                    "a longitude grid depends on the latitude, so the search cannot choose its level: give 'level'")
            }
            return spec
        }

        func readRisk(_ node: Node, columns: [ColumnPolicy], entity: String?) -> RiskPolicy? {
            guard let entries = reader.mapping(node, "risk", allowed: PolicyLoader.riskKeys) else { return nil }
            var risk = RiskPolicy()
            for entry in entries {
                let path = "risk.\(entry.key)"
                switch entry.key {
                case "max_prosecutor_risk", "max_trace_uniqueness", "threshold":
                    guard let value = reader.number(entry.value, path) else { continue }
                    guard (0...1).contains(value) else {
                        reader.report(entry.value, path, "must be between 0 and 1 (a risk or a share)")
                        continue
                    }
                    if entry.key == "threshold" {
                        risk.threshold = value
                    } else if entry.key == "max_prosecutor_risk" {
                        risk.thresholds.maxProsecutorRisk = value
                    } else {
                        risk.thresholds.maxTraceUniqueness = value
                    }
                case "min_class_size":
                    risk.thresholds.minClassSize = reader.integer(entry.value, path, in: 1...1_000_000)
                default: risk.trace = readTrace(entry.value, path, columns: columns, entity: entity)
                }
            }
            if risk.thresholds.maxTraceUniqueness != nil && risk.trace == nil
                && !entries.contains(where: { $0.key == "trace" })
            {
                reader.report(
                    node, "risk.max_trace_uniqueness", "needs risk.trace (which columns are the time and the value)")
            }
            return risk
        }

        func readLinkage(_ node: Node) -> LinkagePolicy? {
            guard let entries = reader.mapping(node, "linkage", allowed: PolicyLoader.linkageKeys) else { return nil }
            var linkage = LinkagePolicy()
            for entry in entries {
                let path = "linkage.\(entry.key)"
                switch entry.key {
                case "against":
                    guard let items = reader.list(entry.value, path) else { continue }
                    for (index, item) in items.enumerated() {
                        guard let file = reader.string(item, "\(path)[\(index)]") else { continue }
                        let resolved = file.hasPrefix("/") || directory == "." ? file : directory + "/" + file
                        if FileManager.default.fileExists(atPath: resolved) {
                            linkage.against.append(resolved)
                        } else {
                            reader.report(
                                item, "\(path)[\(index)]",
                                "no file '\(file)' (relative paths are read from the policy's directory)")
                        }
                    }
                case "catalog": linkage.catalog = reader.bool(entry.value, path) ?? false
                default:
                    guard let value = reader.number(entry.value, path) else { continue }
                    if (0...1).contains(value) {
                        linkage.maxUniqueLinkShare = value
                    } else {
                        reader.report(
                            entry.value, path, "must be between 0 and 1 (a share of the release's individuals)")
                    }
                }
            }
            if linkage.maxUniqueLinkShare == nil {
                reader.report(
                    node, "linkage",
                    "missing key 'max_unique_link_share': the largest share of individuals a combination may single out"
                )
            } else if linkage.against.isEmpty && !linkage.catalog && !entries.contains(where: { $0.key == "against" }) {
                reader.report(node, "linkage", "nothing to check against: give 'against: [files]' or 'catalog: true'")
            }
            return linkage
        }

        func readTrace(_ node: Node, _ path: String, columns: [ColumnPolicy], entity: String?) -> TraceSpec? {
            guard let entries = reader.mapping(node, path, allowed: PolicyLoader.traceKeys) else { return nil }
            var time: String?
            var value: String?
            var spec = TraceSpec(time: "", value: "")
            for entry in entries {
                let keyPath = "\(path).\(entry.key)"
                switch entry.key {
                case "time", "value":
                    guard let name = reader.string(entry.value, keyPath) else { continue }
                    guard let column = columns.first(where: { $0.name == name }) else {
                        reader.report(
                            entry.value, keyPath,
                            "no column '\(name)' in the input\(Suggestion.phrase(for: name, among: header))")
                        continue
                    }
                    if case .drop? = column.technique {
                        reader.report(entry.value, keyPath, "column '\(name)' is dropped, so it is not published")
                    }
                    if entry.key == "time" { time = name } else { value = name }
                case "points": spec.points = reader.integer(entry.value, keyPath, in: 1...64) ?? 4
                case "repetitions": spec.repetitions = reader.integer(entry.value, keyPath, in: 1...1000) ?? 10
                case "time_resolution":
                    guard let text = reader.string(entry.value, keyPath) else { continue }
                    if let unit = TimeUnit(rawValue: text) {
                        spec.timeUnit = unit
                    } else {
                        let names = TimeUnit.allCases.map(\.rawValue)
                        reader.report(
                            entry.value, keyPath,
                            "unknown unit '\(text)'\(Suggestion.phrase(for: text, among: names)) (units: \(names.joined(separator: ", ")))"
                        )
                    }
                default: spec.valueStep = reader.number(entry.value, keyPath, positive: true)
                }
            }
            if entity == nil {
                reader.report(node, path, "trace uniqueness needs the policy's entity (whose trace the points are)")
            }
            if !entries.contains(where: { $0.key == "time" }) {
                reader.report(node, path, "missing key 'time' (the timestamp column)")
            }
            if !entries.contains(where: { $0.key == "value" }) {
                reader.report(node, path, "missing key 'value' (the measured column)")
            }
            guard let time, let value, entity != nil else { return nil }
            spec.time = time
            spec.value = value
            spec.maxPoints = max(spec.maxPoints, spec.points)
            return spec
        }

        func sensitiveColumn(_ node: Node, _ path: String, columns: [ColumnPolicy]) -> String? {
            guard let name = reader.string(node, path) else { return nil }
            guard let column = columns.first(where: { $0.name == name }) else {
                reader.report(
                    node, path, "no column '\(name)' in the input\(Suggestion.phrase(for: name, among: header))")
                return nil
            }
            if column.role != .sensitive {
                reader.report(
                    node, path,
                    "column '\(name)' has role \(column.role.rawValue); the model applies to a sensitive column")
            }
            if case .drop? = column.technique {
                reader.report(node, path, "column '\(name)' is dropped, so it is not published")
            }
            return name
        }

        func readLDiversity(_ node: Node, _ path: String, columns: [ColumnPolicy]) -> LDiversitySpec? {
            guard let entries = reader.mapping(node, path, allowed: ["column", "l", "variant", "c"]) else { return nil }
            var column: String?
            var l: Double?
            var variant = LDiversitySpec.Variant.distinct
            var c: Double?
            for entry in entries {
                let keyPath = "\(path).\(entry.key)"
                switch entry.key {
                case "column": column = sensitiveColumn(entry.value, keyPath, columns: columns)
                case "l":
                    l = reader.number(entry.value, keyPath, positive: true)
                    if let value = l, value < 1 {
                        reader.report(entry.value, keyPath, "l is at least 1")
                        l = nil
                    }
                case "c": c = reader.number(entry.value, keyPath, positive: true)
                default:
                    guard let text = reader.string(entry.value, keyPath) else { continue }
                    if let parsed = LDiversitySpec.Variant(rawValue: text) {
                        variant = parsed
                    } else {
                        let names = LDiversitySpec.Variant.allCases.map(\.rawValue)
                        reader.report(
                            entry.value, keyPath,
                            "unknown variant '\(text)'\(Suggestion.phrase(for: text, among: names)) (variants: \(names.joined(separator: ", ")))"
                        )
                    }
                }
            }
            if !entries.contains(where: { $0.key == "column" }) {
                reader.report(node, path, "missing key 'column' (the sensitive column)")
            }
            if !entries.contains(where: { $0.key == "l" }) { reader.report(node, path, "missing key 'l'") }
            if variant == .recursive && c == nil && entries.contains(where: { $0.key == "variant" }) {
                reader.report(node, path, "recursive (c,l)-diversity needs 'c'")
            }
            if variant != .recursive, let cNode = entries.first(where: { $0.key == "c" }) {
                reader.report(cNode.keyNode, "\(path).c", "'c' belongs to variant: recursive")
            }
            if variant == .distinct, let l, l != l.rounded() {
                reader.report(node, "\(path).l", "distinct l-diversity needs a whole number")
            }
            guard let column, let l else { return nil }
            return LDiversitySpec(column: column, l: l, variant: variant, c: c)
        }

        func readTCloseness(_ node: Node, _ path: String, columns: [ColumnPolicy]) -> TClosenessSpec? {
            guard let entries = reader.mapping(node, path, allowed: ["column", "t", "distance"]) else { return nil }
            var column: String?
            var t: Double?
            var distance: TClosenessSpec.Distance?
            for entry in entries {
                let keyPath = "\(path).\(entry.key)"
                switch entry.key {
                case "column": column = sensitiveColumn(entry.value, keyPath, columns: columns)
                case "t":
                    t = reader.number(entry.value, keyPath)
                    if let value = t, !(0...1).contains(value) {
                        reader.report(entry.value, keyPath, "t is a distance between 0 and 1")
                        t = nil
                    }
                default:
                    guard let text = reader.string(entry.value, keyPath) else { continue }
                    distance = TClosenessSpec.Distance(rawValue: text)
                    if distance == nil {
                        reader.report(
                            entry.value, keyPath,
                            "unknown distance '\(text)'\(Suggestion.phrase(for: text, among: ["equal", "ordered"])) (distances: equal, ordered)"
                        )
                    }
                }
            }
            if !entries.contains(where: { $0.key == "column" }) {
                reader.report(node, path, "missing key 'column' (the sensitive column)")
            }
            if !entries.contains(where: { $0.key == "t" }) { reader.report(node, path, "missing key 't'") }
            guard let column, let t else { return nil }
            return TClosenessSpec(column: column, t: t, distance: distance)
        }

        func readAge(_ node: Node, _ path: String) -> GeneralizationSpec.Method? {
            guard let entries = reader.mapping(node, path, allowed: ["at", "bands"]) else { return nil }
            var reference: CivilDate?
            var bands = [1]
            for entry in entries {
                let keyPath = "\(path).\(entry.key)"
                if entry.key == "at" {
                    if let text = reader.string(entry.value, keyPath) {
                        reference = CivilDate(iso: text)
                        if reference == nil { reader.report(entry.value, keyPath, "expected a date as YYYY-MM-DD") }
                    }
                } else {
                    bands =
                        reader.nonEmptyList(entry.value, keyPath, "band width")?.compactMap {
                            reader.integer($0, keyPath, in: 1...200)
                        } ?? [1]
                    if bands != bands.sorted() {
                        reader.report(entry.value, keyPath, "list band widths from narrowest to widest")
                    }
                }
            }
            if !entries.contains(where: { $0.key == "at" }) {
                reader.report(node, path, "missing key 'at' (the date ages are computed at)")
            }
            guard let reference, !bands.isEmpty else { return nil }
            return .age(reference: reference, bands: bands)
        }

        func readGrid(_ node: Node, _ path: String) -> GeneralizationSpec.Method? {
            guard let entries = reader.mapping(node, path, allowed: ["metres", "axis", "latitude"]) else { return nil }
            var metres: [Double] = []
            var axis: CoordinateAxis?
            var latitude: String?
            for entry in entries {
                let keyPath = "\(path).\(entry.key)"
                switch entry.key {
                case "metres":
                    metres =
                        reader.nonEmptyList(entry.value, keyPath, "cell size")?.compactMap {
                            reader.number($0, keyPath, positive: true)
                        } ?? []
                case "axis":
                    if let text = reader.string(entry.value, keyPath) {
                        axis = CoordinateAxis(rawValue: text)
                        if axis == nil { reader.report(entry.value, keyPath, "axis is latitude or longitude") }
                    }
                default:
                    latitude = reader.string(entry.value, keyPath)
                    if let name = latitude, !header.contains(name) {
                        reader.report(
                            entry.value, keyPath,
                            "no column '\(name)' in the input\(Suggestion.phrase(for: name, among: header))")
                    }
                }
            }
            if metres.isEmpty { reader.report(node, path, "missing key 'metres' (the cell size)") }
            if axis == nil && !entries.contains(where: { $0.key == "axis" }) {
                reader.report(node, path, "missing key 'axis' (latitude or longitude)")
            }
            if axis == .longitude && latitude == nil {
                reader.report(node, path, "a longitude grid needs 'latitude': the column holding the row's latitude")
            }
            guard let axis, !metres.isEmpty else { return nil }
            return .grid(metres: metres, axis: axis, latitudeColumn: latitude)
        }

        func readFilters(_ node: Node) -> [RecordFilterRule] {
            guard let items = reader.list(node, "filter"), case .sequence = node else {
                if case .scalar = node { reader.report(node, "filter", "expected a list of conditions") }
                return []
            }
            var rules: [RecordFilterRule] = []
            for (index, item) in items.enumerated() {
                let path = "filter[\(index)]"
                guard let entries = reader.mapping(item, path, allowed: PolicyLoader.filterKeys) else { continue }
                var rule = RecordFilterRule(
                    column: "", from: nil, before: nil, minimum: nil, maximum: nil,
                    oneOf: nil, noneOf: nil, notEmpty: false, path: path)
                var conditions = 0
                for entry in entries {
                    let keyPath = "\(path).\(entry.key)"
                    switch entry.key {
                    case "column":
                        if let name = reader.string(entry.value, keyPath) {
                            rule.column = name
                            if !header.contains(name) {
                                reader.report(
                                    entry.value, keyPath,
                                    "no column '\(name)' in the input\(Suggestion.phrase(for: name, among: header))")
                            }
                        }
                    case "from", "before":
                        conditions += 1
                        guard let text = reader.string(entry.value, keyPath) else { continue }
                        if TimestampValue.parse(Array(text.utf8)) == nil {
                            reader.report(
                                entry.value, keyPath, "expected a date or timestamp (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)"
                            )
                        }
                        if entry.key == "from" { rule.from = text } else { rule.before = text }
                    case "min":
                        conditions += 1
                        rule.minimum = reader.number(entry.value, keyPath)
                    case "max":
                        conditions += 1
                        rule.maximum = reader.number(entry.value, keyPath)
                    case "in":
                        conditions += 1
                        rule.oneOf = reader.nonEmptyList(
                            entry.value, keyPath, "value (an empty list would keep no record)")?.compactMap {
                                reader.string($0, keyPath)
                            }
                    case "not_in":
                        conditions += 1
                        rule.noneOf = reader.nonEmptyList(entry.value, keyPath, "value")?.compactMap {
                            reader.string($0, keyPath)
                        }
                    default:
                        conditions += 1
                        rule.notEmpty = reader.bool(entry.value, keyPath) ?? false
                    }
                }
                if !entries.contains(where: { $0.key == "column" }) {
                    reader.report(item, path, "missing key 'column'")
                }
                if conditions == 0 {
                    reader.report(item, path, "give a condition: from, before, min, max, in, not_in or not_empty")
                }
                // Conditions no record can meet would publish nothing, silently.
                if let minimum = rule.minimum, let maximum = rule.maximum, minimum > maximum {
                    reader.report(item, path, "min is greater than max: no record would be kept")
                }
                if let from = rule.from.flatMap({ TimestampValue.parse(Array($0.utf8)) }),
                    let before = rule.before.flatMap({ TimestampValue.parse(Array($0.utf8)) }),
                    from.secondsSinceEpoch >= before.secondsSinceEpoch
                {
                    reader.report(item, path, "'from' is not before 'before': no record would be kept")
                }
                rules.append(rule)
            }
            return rules
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
