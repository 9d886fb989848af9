import Foundation

extension RiskSpec {
    /// The roles a policy gives: its kept quasi-identifiers, its entity, the sensitive column of
    /// its l-diversity or t-closeness model, and its `risk` section's trace test and threshold.
    public init(policy: Policy) {
        self.init(
            quasiIdentifiers: policy.quasiIdentifiers.map(\.name), entity: policy.entity,
            sensitive: policy.privacy?.lDiversity?.column ?? policy.privacy?.tCloseness?.column)
        distance = policy.privacy?.tCloseness?.distance
        trace = policy.risk?.trace
        threshold = policy.risk?.threshold ?? 0.2
        publicMinimumClassSize = policy.privacy?.k ?? policy.risk?.thresholds.minClassSize ?? 5
    }
}

extension RiskReport {
    /// The compact table for people (stdout of `deid risk`).
    public func table() -> String {
        func percent(_ share: Double) -> String { String(format: "%.1f%%", share * 100) }
        func number(_ value: Double) -> String { String(format: "%.4f", value) }
        var rows: [(String, String)] = [
            ("quasi-identifiers", quasiIdentifiers.joined(separator: ", ")),
            ("records", "\(records)"),
            ("individuals", entity.map { "\(individuals) (distinct \($0))" } ?? "\(individuals)"),
            ("equivalence classes", "\(equivalenceClasses)"),
            ("smallest class", "\(minClassSize)"),
            (
                "sample uniques",
                "\(sampleUniques) (\(percent(individuals > 0 ? Double(sampleUniques) / Double(individuals) : 0)))"
            ),
            (
                "prosecutor risk",
                "max \(number(prosecutor.max)), average \(number(prosecutor.average)), \(percent(prosecutor.atRiskShare)) above \(DecimalText.label(prosecutor.threshold))"
            ),
            ("marketer risk", number(marketer)),
        ]
        if let journalist {
            rows.append(
                (
                    "journalist risk",
                    "max \(number(journalist.max)), average \(number(journalist.average)), \(percent(journalist.atRiskShare)) above \(DecimalText.label(journalist.threshold))"
                ))
        }
        if let population = populationUniqueness {
            func estimate(_ value: UniquenessEstimate?) -> String {
                value.map { String(format: "%.1f (%@)", $0.uniques, percent($0.share)) } ?? "no solution"
            }
            rows.append(
                (
                    "population uniques",
                    "\(estimate(population.dankar)) by \(population.dankarModel) (Dankar's rule), sampling fraction \(DecimalText.label(population.samplingFraction))"
                ))
            rows.append(
                (
                    "  pitman / zayatz / snb",
                    "\(estimate(population.pitman)) / \(estimate(population.zayatz)) / \(estimate(population.snb))"
                ))
        }
        if let disclosure = attributeDisclosure {
            rows.append(
                (
                    "sensitive \(disclosure.column)",
                    "lowest distinct l \(disclosure.lowestDistinctL), lowest entropy l \(String(format: "%.2f", disclosure.lowestEntropyL)), highest t \(number(disclosure.highestT)) (\(disclosure.tDistance)\(disclosure.highestTFile.map { ", from the \(disclosure.tReference)'s distribution; \(number($0)) from this file's" } ?? "")); \(disclosure.homogeneousClasses) classes with one value"
                ))
        }
        if let trace = traceUniqueness {
            rows.append(
                (
                    "trace uniqueness",
                    "\(percent(trace.share)) of \(trace.entities) entities singled out by \(trace.points) points (min \(percent(trace.min)), max \(percent(trace.max)), \(trace.repetitions) draws, seed \(trace.seed))"
                ))
            rows.append(("  resolution", "time \(trace.timeResolution), value \(trace.valueResolution)"))
        }
        var text = ""
        let width = rows.map(\.0.count).max() ?? 0
        for (name, value) in rows {
            text += name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + value + "\n"
        }
        text +=
            "class sizes (individuals): "
            + classSizes.prefix(8).map { "\($0.size):\($0.classes)" }.joined(separator: " ")
            + (classSizes.count > 8 ? " ..." : "") + "\n"
        if let discovery = quasiIdentifierDiscovery {
            text += "most identifying combinations of \(discovery.candidates.joined(separator: ", ")):\n"
            for combination in discovery.combinations.prefix(5) {
                text +=
                    "  \(combination.columns.joined(separator: " + ")): \(combination.uniqueIndividuals) unique (\(percent(combination.uniqueShare))), distinction \(String(format: "%.3f", combination.distinction)), separation \(String(format: "%.3f", combination.separation))\n"
            }
            for column in discovery.leftOut {
                text +=
                    "  left out \(column.column): \(column.distinct) distinct values (too many to combine; identifying on its own)\n"
            }
            if discovery.maxColumns < min(3, discovery.candidates.count) || discovery.notCombined > 0 {
                text +=
                    "  (combinations of up to \(discovery.maxColumns) columns\(discovery.notCombined > 0 ? "; \(discovery.notCombined) more candidate columns not combined" : ""): "
                    + "the file is too wide or too long to combine them all; name the columns with --candidates)\n"
            }
        }
        for gate in gates {
            text +=
                "gate \(gate.name) \(DecimalText.label(gate.limit)): \(gate.passed ? "within" : "EXCEEDED") (\(gate.value == gate.value.rounded() ? DecimalText.label(gate.value) : number(gate.value)))\n"
        }
        return text
    }
}
