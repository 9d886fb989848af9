import Foundation
import Yams

/// A policy's `aggregate` section (Docs/AGGREGATES.md): the release is a table of cells, one
/// per combination of the `by` columns (after their own generalization) and time bucket, each
/// counting the distinct entities in it and totalling the measures. Cells are published under
/// minimum-count and dominance rules, or with differential privacy.
package struct AggregateReleaseSpec: Sendable, Equatable {
    /// The `n` largest entities of a cell may hold at most `percent` of its total.
    package struct Dominance: Sendable, Equatable {
        package var n: Int
        package var percent: Double
    }
    /// What happens to a cell that fails a rule.
    package enum Failing: String, Sendable, CaseIterable {
        case suppress
        /// Into the parent level of the first `by` column's generalization, then suppressed
        /// when no level passes.
        case merge
    }
    /// Differential privacy for the cells (discrete Laplace noise, Docs/AGGREGATES.md).
    package struct Privacy: Sendable, Equatable {
        package var epsilon: Double
        /// Per measure, every reading is clamped to these bounds.
        package var bounds: [String: ClosedRange<Double>]
        /// Cells one entity contributes to, at most (the others are left out at random).
        package var maxCells: Int
        /// Readings of one entity in one cell, at most (more are scaled down to this many).
        package var maxReadings: Int
        /// Decimal places of the noisy sums (their granularity).
        package var decimals: Int
        /// The largest delta the release may have: the chance that a cell only one entity
        /// made is published anyway (Docs/AGGREGATES.md).
        package var maxDelta: Double
    }

    package var by: [String]
    package var timeColumn: String
    package var every: TimeUnit
    package var measures: [String]
    /// Percentiles of the entities' totals in a cell (0 < p < 100).
    package var percentiles: [Double] = []
    /// A cell is published as it is only with at least this many distinct entities (with
    /// differential privacy: this many by its noisy count).
    package var minEntities = 10
    package var dominance: Dominance?
    package var failing = Failing.suppress
    /// A total row per time bucket over every `by` column (`*`), with complementary suppression.
    package var margins = false
    package var privacy: Privacy?
    /// The lifetime epsilon of the dataset (its name), kept in the catalog's ledger.
    package var lifetimeEpsilon: Double?

    /// The output columns, in order.
    package var outputHeader: [String] {
        var header = by + [timeColumn, "entities"]
        if failing == .merge { header.append("merged_cells") }
        for measure in measures {
            header.append("\(measure)_sum")
            header.append("\(measure)_mean")
            for percentile in percentiles { header.append("\(measure)_p\(DecimalText.label(percentile))") }
        }
        return header
    }
}

extension PolicyLoader {
    static let aggregateKeys = [
        "by", "time", "measures", "percentiles", "min_entities", "dominance", "failing", "margins", "dp", "budget",
    ]
    static let aggregateTimeKeys = ["column", "every"]
    static let dominanceKeys = ["n", "percent"]
    static let dpKeys = ["epsilon", "delta", "bounds", "max_cells", "max_readings", "decimals"]
    static let budgetKeys = ["lifetime_epsilon"]
}

extension PolicyLoader.Builder {
    func readAggregate(_ node: Node, columns: [ColumnPolicy], entity: String?, filters: [RecordFilterRule])
        -> AggregateReleaseSpec?
    {
        guard let entries = reader.mapping(node, "aggregate", allowed: PolicyLoader.aggregateKeys) else { return nil }
        var spec = AggregateReleaseSpec(by: [], timeColumn: "", every: .day, measures: [])
        var byKey: [String: Node] = [:]
        for entry in entries { byKey[entry.key] = entry.value }
        let known = Set(header)
        func columnNames(_ key: String) -> [String] {
            guard let value = byKey[key], let items = reader.list(value, "aggregate.\(key)") else { return [] }
            var names: [String] = []
            for (index, item) in items.enumerated() {
                let path = "aggregate.\(key)[\(index)]"
                guard let name = reader.string(item, path) else { continue }
                if !known.contains(name) {
                    reader.report(
                        item, path, "no column '\(name)' in the input\(Suggestion.phrase(for: name, among: header))")
                } else if names.contains(name) {
                    reader.report(item, path, "column '\(name)' is named twice")
                } else {
                    names.append(name)
                }
            }
            return names
        }
        if entity == nil {
            reader.report(node, "aggregate", "an aggregate release needs 'entity': the column whose values are counted")
        }
        spec.by = columnNames("by")
        spec.measures = columnNames("measures")
        if byKey["measures"] == nil {
            reader.report(node, "aggregate", "missing key 'measures': the numeric columns totalled per cell")
        }
        if let time = byKey["time"],
            let timeEntries = reader.mapping(time, "aggregate.time", allowed: PolicyLoader.aggregateTimeKeys)
        {
            for entry in timeEntries {
                let path = "aggregate.time.\(entry.key)"
                if entry.key == "column" {
                    guard let name = reader.string(entry.value, path) else { continue }
                    if known.contains(name) {
                        spec.timeColumn = name
                    } else {
                        reader.report(
                            entry.value, path,
                            "no column '\(name)' in the input\(Suggestion.phrase(for: name, among: header))")
                    }
                } else if let unit = reader.choice(entry.value, path, "time unit", among: TimeUnit.allCases) {
                    spec.every = unit
                }
            }
            if !timeEntries.contains(where: { $0.key == "column" }) {
                reader.report(
                    time, "aggregate.time", "missing key 'column': the timestamp column the buckets are cut from")
            }
        } else if byKey["time"] == nil {
            reader.report(node, "aggregate", "missing key 'time': { column: TIMESTAMP, every: day } (the time buckets)")
        }
        for name in spec.by where spec.measures.contains(name) {
            reader.report(
                byKey["by"] ?? node, "aggregate.by", "column '\(name)' cannot be both grouped by and totalled")
        }
        if spec.by.contains(spec.timeColumn) {
            reader.report(
                byKey["by"] ?? node, "aggregate.by", "the time column is bucketed by 'time'; leave it out of 'by'")
        }
        for name in spec.measures + [spec.timeColumn] + spec.by where name != entity {
            guard let column = columns.first(where: { $0.name == name }) else { continue }
            if case .drop? = column.technique {
                reader.report(
                    node, "columns.\(name)",
                    "column '\(name)' is used by the aggregate section, so it cannot be dropped")
            }
            if column.aggregate != nil {
                reader.report(
                    node, "columns.\(name).aggregate",
                    "an aggregate release and time-series aggregation cannot be combined; remove this one")
            }
            if spec.measures.contains(name), let technique = column.technique {
                reader.report(
                    node, "columns.\(name)",
                    "measure '\(name)' is totalled from its values as read, so it cannot take \(technique.keyword) (noise belongs in aggregate.dp)"
                )
            }
        }
        if let entity, spec.by.contains(entity) || spec.measures.contains(entity) {
            reader.report(node, "aggregate", "the entity column '\(entity)' is counted, not grouped by or totalled")
        }
        if let value = byKey["percentiles"], let items = reader.list(value, "aggregate.percentiles") {
            for (index, item) in items.enumerated() {
                let path = "aggregate.percentiles[\(index)]"
                guard let number = reader.number(item, path) else { continue }
                if number > 0 && number < 100 {
                    spec.percentiles.append(number)
                } else {
                    reader.report(item, path, "a percentile is between 0 and 100 (50 = the median)")
                }
            }
        }
        if let value = byKey["min_entities"] {
            spec.minEntities =
                reader.integer(value, "aggregate.min_entities", in: 1...1_000_000_000) ?? spec.minEntities
        }
        if let value = byKey["dominance"] {
            spec.dominance = readDominance(value)
        }
        if let value = byKey["failing"] {
            spec.failing =
                reader.choice(value, "aggregate.failing", "choice", among: AggregateReleaseSpec.Failing.allCases)
                ?? .suppress
        }
        if let value = byKey["margins"] { spec.margins = reader.bool(value, "aggregate.margins") ?? false }
        if spec.failing == .merge {
            if let first = spec.by.first {
                let generalized: Bool
                if case .generalize(let generalization)? = columns.first(where: { $0.name == first })?.technique {
                    generalized = generalization.level < generalization.levelCount
                } else {
                    generalized = false
                }
                if !generalized {
                    reader.report(
                        byKey["failing"] ?? node, "aggregate.failing",
                        "merge needs a coarser level of the first 'by' column ('\(first)'): give it a generalization with a level above the one applied"
                    )
                }
            } else {
                reader.report(byKey["failing"] ?? node, "aggregate.failing", "merge needs a 'by' column to merge along")
            }
        }
        if let value = byKey["dp"] {
            spec.privacy = readAggregatePrivacy(value, spec: spec, filters: filters)
            if spec.privacy != nil {
                for (key, problem) in [
                    ("dominance", "dominance rules read the true totals; with dp the noise protects dominant entities"),
                    ("percentiles", "percentiles are not released with dp"),
                    ("margins", "margins with dp would spend more of the budget; publish them as a second release"),
                ] where byKey[key] != nil && (key != "margins" || spec.margins) {
                    reader.report(byKey[key]!, "aggregate.\(key)", "cannot be combined with aggregate.dp: \(problem)")
                }
                if spec.failing == .merge {
                    reader.report(
                        byKey["failing"]!, "aggregate.failing",
                        "cannot be merge with aggregate.dp: a cell below min_entities (by its noisy count) is suppressed"
                    )
                }
            }
        }
        if let value = byKey["budget"],
            let budgetEntries = reader.mapping(value, "aggregate.budget", allowed: PolicyLoader.budgetKeys)
        {
            for entry in budgetEntries {
                spec.lifetimeEpsilon = reader.number(entry.value, "aggregate.budget.lifetime_epsilon", positive: true)
            }
            if spec.privacy == nil && byKey["dp"] == nil {
                reader.report(
                    value, "aggregate.budget", "a budget is spent by differential privacy: give aggregate.dp too")
            }
        }
        return spec
    }

    private func readDominance(_ node: Node) -> AggregateReleaseSpec.Dominance? {
        guard let entries = reader.mapping(node, "aggregate.dominance", allowed: PolicyLoader.dominanceKeys) else {
            return nil
        }
        var dominance = AggregateReleaseSpec.Dominance(n: 1, percent: 0)
        var hasPercent = false
        for entry in entries {
            let path = "aggregate.dominance.\(entry.key)"
            if entry.key == "n" {
                dominance.n = reader.integer(entry.value, path, in: 1...1000) ?? 1
            } else if let percent = reader.number(entry.value, path) {
                if percent > 0 && percent <= 100 {
                    dominance.percent = percent
                    hasPercent = true
                } else {
                    reader.report(entry.value, path, "a share in percent, above 0 and at most 100")
                }
            }
        }
        if !hasPercent && !entries.contains(where: { $0.key == "percent" }) {
            reader.report(
                node, "aggregate.dominance", "missing key 'percent': the share the n largest entities may hold")
        }
        return hasPercent ? dominance : nil
    }

    private func readAggregatePrivacy(_ node: Node, spec: AggregateReleaseSpec, filters: [RecordFilterRule])
        -> AggregateReleaseSpec.Privacy?
    {
        guard let entries = reader.mapping(node, "aggregate.dp", allowed: PolicyLoader.dpKeys) else { return nil }
        var epsilon: Double?
        var bounds: [String: ClosedRange<Double>] = [:]
        var maxCells: Int?
        var maxReadings: Int?
        var decimals = 3
        var maxDelta = 1e-6
        for entry in entries {
            let path = "aggregate.dp.\(entry.key)"
            switch entry.key {
            case "epsilon":
                if let value = reader.number(entry.value, path, positive: true) {
                    if DPRational(value) == nil || value > 100 {
                        reader.report(entry.value, path, "give epsilon as a decimal of at most 6 places, at most 100")
                    } else {
                        epsilon = value
                    }
                }
            case "bounds":
                guard let boundEntries = reader.mapping(entry.value, path, allowed: spec.measures) else { continue }
                for bound in boundEntries {
                    let boundPath = "\(path).\(bound.key)"
                    guard case .sequence(let items) = bound.value, items.count == 2,
                        let low = reader.number(items[0], boundPath), let high = reader.number(items[1], boundPath)
                    else {
                        reader.report(
                            bound.value, boundPath, "expected [lower, upper]: every reading is clamped to them")
                        continue
                    }
                    if low < high {
                        bounds[bound.key] = low...high
                    } else {
                        reader.report(bound.value, boundPath, "the lower bound must be below the upper one")
                    }
                }
            case "delta":
                if let value = reader.number(entry.value, path, positive: true) {
                    if value < 0.001 {
                        maxDelta = value
                    } else {
                        reader.report(entry.value, path, "delta is a small probability, below 0.001 (1e-6 is usual)")
                    }
                }
            case "max_cells": maxCells = reader.integer(entry.value, path, in: 1...1_000_000)
            case "max_readings": maxReadings = reader.integer(entry.value, path, in: 1...1_000_000)
            default: decimals = reader.integer(entry.value, path, in: 0...6) ?? decimals
            }
        }
        if epsilon == nil && !entries.contains(where: { $0.key == "epsilon" }) {
            reader.report(node, "aggregate.dp", "missing key 'epsilon': the privacy loss of this release")
        }
        for measure in spec.measures where bounds[measure] == nil {
            reader.report(
                node, "aggregate.dp.bounds",
                "measure '\(measure)' needs bounds: [lower, upper] that every reading is clamped to (chosen without looking at the data)"
            )
        }
        if maxCells == nil {
            // The time filter bounds the buckets one entity can appear in (one cell each, when
            // the `by` columns are fixed per entity): known before the data is read.
            if let buckets = DPDefaults.buckets(of: spec, filters: filters) {
                maxCells = buckets
            } else {
                reader.report(
                    node, "aggregate.dp",
                    "missing key 'max_cells' (the cells one entity may contribute to), or a filter on '\(spec.timeColumn)' with 'from' and 'before' that bounds the time buckets"
                )
            }
        }
        let readings = maxReadings ?? max(1, DPDefaults.seconds(of: spec.every) / 1800)
        guard let epsilon, let maxCells, spec.measures.allSatisfy({ bounds[$0] != nil }) else { return nil }
        if Double(maxCells) * Double(readings) > 1e9 {
            reader.report(node, "aggregate.dp", "max_cells times max_readings is above 10^9: no sum could be useful")
            return nil
        }
        return AggregateReleaseSpec.Privacy(
            epsilon: epsilon, bounds: bounds, maxCells: maxCells, maxReadings: readings, decimals: decimals,
            maxDelta: maxDelta)
    }
}

/// The defaults of `aggregate.dp` that come from the policy alone, never from the data.
enum DPDefaults {
    /// The longest a bucket of `unit` lasts, in seconds.
    static func seconds(of unit: TimeUnit) -> Int {
        switch unit {
        case .minute: 60
        case .quarterHour: 900
        case .halfHour: 1800
        case .hour: 3600
        case .day: 86400
        case .week: 7 * 86400
        case .month: 31 * 86400
        case .year: 366 * 86400
        }
    }

    /// The time buckets a filter `from <= time < before` on the time column spans.
    static func buckets(of spec: AggregateReleaseSpec, filters: [RecordFilterRule]) -> Int? {
        for rule in filters where rule.column == spec.timeColumn {
            guard let from = rule.from.flatMap({ TimestampValue.parse(Array($0.utf8)) }),
                let before = rule.before.flatMap({ TimestampValue.parse(Array($0.utf8)) })
            else { continue }
            let end = before.secondsSinceEpoch - 1
            let start = from.truncated(to: spec.every)
            guard end >= from.secondsSinceEpoch else { return 1 }
            // The last second the filter keeps, as a timestamp, in its bucket.
            var last = TimestampValue.parse(Array("1970-01-01 00:00:00".utf8))!
            last.date = CivilDate(daysSinceEpoch: end / 86_400)
            last.hour = (end % 86_400) / 3600
            last.minute = (end % 3600) / 60
            last.second = end % 60
            last = last.truncated(to: spec.every)
            let count: Int
            switch spec.every {
            case .month:
                count = (last.date.year * 12 + last.date.month) - (start.date.year * 12 + start.date.month) + 1
            case .year: count = last.date.year - start.date.year + 1
            default: count = (last.secondsSinceEpoch - start.secondsSinceEpoch) / seconds(of: spec.every) + 1
            }
            return max(1, count)
        }
        return nil
    }
}
