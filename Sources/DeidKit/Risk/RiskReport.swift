import DeidCSV
import Foundation

/// Prosecutor (or journalist) risk over the individuals.
public struct RiskSummary: Codable, Sendable, Equatable {
    /// The highest risk of any individual: 1 / the smallest class.
    public var max: Double
    /// The mean risk over individuals.
    public var average: Double
    /// Share of individuals whose risk is above `threshold`.
    public var atRiskShare: Double
    public var threshold: Double

    enum CodingKeys: String, CodingKey {
        case max, average, threshold
        case atRiskShare = "at_risk_share"
    }
}

/// Classes of one size, and the individuals whose smallest class has that size.
public struct ClassSizeCount: Codable, Sendable, Equatable {
    public var size: Int
    public var classes: Int
    public var individuals: Int
}

/// Attribute disclosure of the sensitive column over the classes.
public struct AttributeDisclosure: Codable, Sendable, Equatable {
    public var column: String
    /// The lowest distinct l over classes (1: some class has one sensitive value only).
    public var lowestDistinctL: Int
    /// The lowest entropy l (e to the class's entropy) over classes.
    public var lowestEntropyL: Double
    /// The highest t-closeness distance of a class from the reference distribution `tReference`.
    public var highestT: Double
    public var tDistance: String
    /// What `highestT` is measured against: `file` (the measured file's own distribution) or
    /// `input` (a release's input before suppression: the distribution the privacy model is
    /// enforced against).
    public var tReference: String
    /// With another reference than the file: the highest distance from the file's own
    /// distribution (what a tool that sees only the file, such as pycanon, measures).
    public var highestTFile: Double?
    /// Classes whose individuals all share one sensitive value.
    public var homogeneousClasses: Int

    enum CodingKeys: String, CodingKey {
        case column
        case lowestDistinctL = "lowest_distinct_l"
        case lowestEntropyL = "lowest_entropy_l"
        case highestT = "highest_t"
        case tDistance = "t_distance"
        case homogeneousClasses = "homogeneous_classes"
        case tReference = "t_reference"
        case highestTFile = "highest_t_file"
    }
}

/// Quasi-identifier discovery's result.
public struct DiscoveryResult: Codable, Sendable, Equatable {
    /// The candidate columns combined.
    public var candidates: [String]
    public var leftOut: [LeftOutColumn]
    public var combinations: [CombinationRisk]
    /// The most columns a combination measured holds: 3, or fewer when the file is too wide or
    /// has too many rows for every combination of 3 to be measured (`DiscoverySpec.workLimit`).
    public var maxColumns: Int
    /// Candidate columns not combined at all: past `DiscoverySpec.maxCandidates`, or past the
    /// work limit (then the candidates with the most distinct values are combined).
    public var notCombined: Int

    enum CodingKeys: String, CodingKey {
        case candidates, combinations
        case leftOut = "left_out"
        case maxColumns = "max_columns"
        case notCombined = "not_combined"
    }
}

/// One of the smallest classes, with its values: for the confidential report only.
public struct SmallClass: Codable, Sendable, Equatable {
    public var values: [String]
    public var individuals: Int
    public var records: Int
}

/// A threshold a pipeline set, and whether the file is within it.
public struct RiskGate: Codable, Sendable, Equatable {
    public var name: String
    public var limit: Double
    public var value: Double
    public var passed: Bool
}

/// Everything `deid risk` reports about a file (`--json`: see Docs/RISK.md for the schema).
public struct RiskReport: Codable, Sendable, Equatable {
    public var schema = "deid.risk/1"
    public var inputs: [String]
    public var quasiIdentifiers: [String]
    public var entity: String?
    public var records: Int
    public var individuals: Int
    public var equivalenceClasses: Int
    public var minClassSize: Int
    public var sampleUniques: Int
    public var classSizes: [ClassSizeCount]
    public var prosecutor: RiskSummary
    public var marketer: Double
    public var journalist: RiskSummary?
    public var populationUniqueness: PopulationUniqueness?
    public var attributeDisclosure: AttributeDisclosure?
    public var quasiIdentifierDiscovery: DiscoveryResult?
    public var traceUniqueness: TraceUniqueness?
    public var gates: [RiskGate] = []
    /// The smallest classes with their values: kept out of the JSON and the public report.
    public var smallestClasses: [SmallClass] = []

    enum CodingKeys: String, CodingKey {
        case schema, inputs, entity, records, individuals, prosecutor, marketer, journalist, gates
        case quasiIdentifiers = "quasi_identifiers"
        case equivalenceClasses = "equivalence_classes"
        case minClassSize = "min_class_size"
        case sampleUniques = "sample_uniques"
        case classSizes = "class_sizes"
        case populationUniqueness = "population_uniqueness"
        case attributeDisclosure = "attribute_disclosure"
        case quasiIdentifierDiscovery = "quasi_identifier_discovery"
        case traceUniqueness = "trace_uniqueness"
    }

    /// Gates that failed.
    public var failedGates: [RiskGate] { gates.filter { !$0.passed } }

    /// The report as JSON, keys sorted, without the confidential smallest classes.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

extension RiskThresholds {
    /// The gates of `report` (a trace gate without a trace measurement fails: it was asked for).
    public func gates(of report: RiskReport) -> [RiskGate] {
        var gates: [RiskGate] = []
        if let limit = maxProsecutorRisk {
            gates.append(
                RiskGate(
                    name: "max_prosecutor_risk", limit: limit, value: report.prosecutor.max,
                    passed: report.prosecutor.max <= limit + 1e-12))
        }
        if let limit = minClassSize {
            gates.append(
                RiskGate(
                    name: "min_class_size", limit: Double(limit), value: Double(report.minClassSize),
                    passed: report.records == 0 || report.minClassSize >= limit))
        }
        if let limit = maxTraceUniqueness {
            let value = report.traceUniqueness?.share ?? 1
            gates.append(
                RiskGate(
                    name: "max_trace_uniqueness", limit: limit, value: value,
                    passed: report.traceUniqueness != nil && value <= limit + 1e-12))
        }
        return gates
    }
}
