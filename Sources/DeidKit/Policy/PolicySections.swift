import DeidCSV
import Foundation
import Yams

/// Reading a policy's sections beyond its columns: the record filters, the privacy models, the
/// risk limits and the linkage check.
extension PolicyLoader.Builder {
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
                if let metric = reader.choice(entry.value, path, "metric", among: InformationLossMetric.allCases) {
                    spec.metric = metric
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
                if let unit = reader.choice(entry.value, keyPath, "unit", among: TimeUnit.allCases) {
                    spec.timeUnit = unit
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
                if let parsed = reader.choice(entry.value, keyPath, "variant", among: LDiversitySpec.Variant.allCases) {
                    variant = parsed
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
                distance = reader.choice(entry.value, keyPath, "distance", among: TClosenessSpec.Distance.allCases)
            }
        }
        if !entries.contains(where: { $0.key == "column" }) {
            reader.report(node, path, "missing key 'column' (the sensitive column)")
        }
        if !entries.contains(where: { $0.key == "t" }) { reader.report(node, path, "missing key 't'") }
        guard let column, let t else { return nil }
        return TClosenessSpec(column: column, t: t, distance: distance)
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
