import DeidCSV
import Foundation

/// The measures of `deid risk`, computed from the one pass's data (see Docs/RISK.md).
package enum RiskAnalysis {
    /// Measures `data` under `spec`; `inputs` names the files.
    package static func report(
        _ data: RiskData, spec: RiskSpec, inputs: [String], thresholds: RiskThresholds = RiskThresholds()
    ) throws -> RiskReport {
        let statistics = data.statistics
        let table = ClassTable(finest: statistics, width: statistics.width)
        let sizes = table.individualSizes()
        // Each individual's smallest class: its own class, or for an entity with rows in several
        // classes the smallest of them (the one that identifies it best).
        var smallest: [Int] = []
        smallest.reserveCapacity(statistics.individuals)
        for found in 0..<table.count {
            smallest.append(contentsOf: repeatElement(sizes[found], count: table.individuals[found]))
        }
        for entity in 0..<table.multi.rowCount {
            var size = Int.max
            for entry in table.multi.offsets[entity]..<table.multi.offsets[entity + 1] {
                size = min(size, sizes[Int(table.multi.keys[entry])])
            }
            smallest.append(size)
        }
        var classesOfSize: [Int: Int] = [:]
        var individualsOfSize: [Int: Int] = [:]
        for size in sizes { classesOfSize[size, default: 0] += 1 }
        for size in smallest { individualsOfSize[size, default: 0] += 1 }
        let classSizes = Set(classesOfSize.keys).union(individualsOfSize.keys).sorted().map {
            ClassSizeCount(size: $0, classes: classesOfSize[$0] ?? 0, individuals: individualsOfSize[$0] ?? 0)
        }
        let individuals = smallest.count
        let prosecutor = summary(of: smallest.map { 1 / Double($0) }, threshold: spec.threshold)

        // Marketer risk, the share of individuals an attacker who links everyone gets right, is
        // the mean of each individual's risk (El Emam 2013): prosecutor risk here, journalist
        // risk with a population table. (Classes / individuals is the same only when each
        // individual is in one class; with entities spanning classes it exceeded 1.)
        var report = RiskReport(
            inputs: inputs, quasiIdentifiers: statistics.columns, entity: spec.entity, records: statistics.records,
            individuals: individuals, equivalenceClasses: table.count, minClassSize: sizes.min() ?? 0,
            sampleUniques: individualsOfSize[1] ?? 0, classSizes: classSizes, prosecutor: prosecutor,
            marketer: prosecutor.average)
        if let population = spec.population {
            let populationSizes = try population.sizes(of: statistics, sampleSizes: sizes)
            // An individual's journalist risk: 1 / the population size of its class (of its
            // smallest one for an entity in several).
            var risks: [Double] = []
            for found in 0..<table.count {
                risks.append(
                    contentsOf: repeatElement(1 / Double(populationSizes[found]), count: table.individuals[found]))
            }
            for entity in 0..<table.multi.rowCount {
                var size = Int.max
                for entry in table.multi.offsets[entity]..<table.multi.offsets[entity + 1] {
                    size = min(size, populationSizes[Int(table.multi.keys[entry])])
                }
                risks.append(1 / Double(size))
            }
            report.journalist = summary(of: risks, threshold: spec.threshold)
            report.marketer = report.journalist!.average
        }
        if let fraction = spec.samplingFraction {
            report.populationUniqueness = PopulationUniqueness(classSizes: classesOfSize, samplingFraction: fraction)
        }
        if let column = spec.sensitive {
            report.attributeDisclosure = attributeDisclosure(
                table, statistics: statistics, column: column, distance: spec.distance,
                reference: spec.tReference)
        }
        if let discovery = data.discovery, let discoverySpec = spec.discovery {
            report.quasiIdentifierDiscovery = discovery.result(
                discoverySpec, notCombinedBefore: discovery.candidatesBeyondLimit)
        }
        if let trace = data.trace, let traceSpec = spec.trace, let entity = spec.entity {
            report.traceUniqueness = trace.measure(
                entityColumn: entity, timeColumn: traceSpec.time, valueColumn: traceSpec.value)
        }
        report.smallestClasses = smallestClasses(table, sizes: sizes, statistics: statistics, count: 20)
        report.gates = thresholds.gates(of: report)
        return report
    }

    static func summary(of risks: [Double], threshold: Double) -> RiskSummary {
        guard !risks.isEmpty else { return RiskSummary(max: 0, average: 0, atRiskShare: 0, threshold: threshold) }
        var highest = 0.0
        var above = 0
        for risk in risks {
            highest = max(highest, risk)
            if risk > threshold + 1e-12 { above += 1 }
        }
        // Summed in sorted order: the individuals' order depends on how the data was read.
        return RiskSummary(
            max: highest, average: orderFreeSum(risks) / Double(risks.count),
            atRiskShare: Double(above) / Double(risks.count),
            threshold: threshold)
    }

    /// l and t of every class, the lowest l and highest t reported: t against `reference`
    /// when given (and then also against the file's own distribution), else the file's own.
    static func attributeDisclosure(
        _ table: ClassTable, statistics: PrivacyStatistics, column: String,
        distance: TClosenessSpec.Distance?, reference: SensitiveReference?
    ) -> AttributeDisclosure {
        var distribution = SensitiveDistribution(statistics: statistics, distance: distance, reference: reference)
        var own = reference.map { _ in SensitiveDistribution(statistics: statistics, distance: distribution.distance) }
        var perClass = [[(Int, Int)]](repeating: [], count: table.count)
        for found in 0..<table.count {
            for entry in table.histogram.offsets[found]..<table.histogram.offsets[found + 1] {
                perClass[found].append((Int(table.histogram.keys[entry]), table.histogram.counts[entry]))
            }
        }
        for entity in 0..<table.multi.rowCount {
            for entry in table.multi.offsets[entity]..<table.multi.offsets[entity + 1] {
                perClass[Int(table.multi.keys[entry])].append((Int(table.multiSensitive[entry]), 1))
            }
        }
        var lowestDistinct = Int.max
        var lowestEntropy = Double.infinity
        var highest = 0.0
        var highestOwn = 0.0
        var homogeneous = 0
        for entries in perClass where !entries.isEmpty {
            let counts = distribution.counts(entries)
            lowestDistinct = min(lowestDistinct, counts.count)
            if counts.count == 1 { homogeneous += 1 }
            if let l = SensitiveDistribution.entropyL(counts) { lowestEntropy = min(lowestEntropy, l) }
            if let t = distribution.closeness(entries) { highest = max(highest, t) }
            if let t = own?.closeness(entries) { highestOwn = max(highestOwn, t) }
        }
        return AttributeDisclosure(
            column: column, lowestDistinctL: lowestDistinct == Int.max ? 0 : lowestDistinct,
            lowestEntropyL: lowestEntropy.isFinite ? lowestEntropy : 0, highestT: highest,
            tDistance: distribution.distance.rawValue, tReference: reference?.name ?? "file",
            highestTFile: own != nil ? highestOwn : nil, homogeneousClasses: homogeneous)
    }

    /// The `count` smallest classes with their values (confidential).
    static func smallestClasses(_ table: ClassTable, sizes: [Int], statistics: PrivacyStatistics, count: Int)
        -> [SmallClass]
    {
        let order = (0..<table.count).sorted { sizes[$0] != sizes[$1] ? sizes[$0] < sizes[$1] : $0 < $1 }.prefix(count)
        return order.map { found in
            let tuple = Int(table.representative[found])
            return SmallClass(
                values: (0..<statistics.width).map {
                    String(decoding: statistics.values[$0][statistics.code(tuple: tuple, column: $0)], as: UTF8.self)
                },
                individuals: sizes[found], records: table.records[found])
        }
    }
}
