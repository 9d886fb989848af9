import Foundation

/// The manifest's `privacy` object: the models, the transformation chosen, what it costs and
/// how the search went. Scripts rely on `transformation`, `information_loss`,
/// `suppressed_records`, `suppressed_entities` and `min_class_size`.
public struct PrivacyManifest: Codable, Sendable, Equatable {
    public struct Models: Codable, Sendable, Equatable {
        public var k: Int
        public var suppressionLimit: Double
        public var lDiversity: [String: ManifestValue]?
        public var tCloseness: [String: ManifestValue]?
        enum CodingKeys: String, CodingKey {
            case k
            case suppressionLimit = "suppression_limit"
            case lDiversity = "l_diversity"
            case tCloseness = "t_closeness"
        }
    }
    public struct Search: Codable, Sendable, Equatable {
        public var algorithm: String
        public var nodes: Int
        public var nodesChecked: Int
        public var milliseconds: Double
        enum CodingKeys: String, CodingKey {
            case algorithm, nodes
            case nodesChecked = "nodes_checked"
            case milliseconds
        }
    }
    public var models: Models
    public var metric: String
    /// Quasi-identifier -> level chosen (0 = the value itself).
    public var transformation: [String: Int]
    public var informationLoss: Double
    public var individuals: Int
    public var suppressedRecords: Int
    public var suppressedEntities: Int
    public var classes: Int
    public var minClassSize: Int
    /// Published classes by size in individuals (bucket label -> classes).
    public var classSizes: [String: Int]
    public var entitiesInSeveralClasses: Int
    public var lowestDistinctL: Int?
    /// The highest t-closeness distance of a published class from the input's distribution
    /// (the whole table before suppression: what the model is enforced against; `t_reference`).
    public var highestTDistance: Double?
    /// `input` with a t-closeness model: what `highest_t_distance` is measured against.
    public var tReference: String?
    /// The highest distance of a published class from the release's own distribution (what a
    /// tool that sees only the release measures), beside the model's.
    public var highestTDistanceRelease: Double?
    public var search: Search

    enum CodingKeys: String, CodingKey {
        case models, metric, transformation
        case informationLoss = "information_loss"
        case individuals
        case
            suppressedRecords = "suppressed_records"
        case suppressedEntities = "suppressed_entities"
        case classes
        case
            minClassSize = "min_class_size"
        case classSizes = "class_sizes"
        case entitiesInSeveralClasses = "entities_in_several_classes"
        case
            lowestDistinctL = "lowest_distinct_l"
        case highestTDistance = "highest_t_distance"
        case search
        case
            tReference = "t_reference"
        case highestTDistanceRelease = "highest_t_distance_release"
    }

    package init(outcome: PrivacyOutcome, spec: PrivacySpec) {
        var lDiversity: [String: ManifestValue]?
        if let model = spec.lDiversity {
            lDiversity = [
                "column": .text(model.column), "l": .number(model.l), "variant": .text(model.variant.rawValue),
            ]
            if let c = model.c { lDiversity?["c"] = .number(c) }
        }
        var tCloseness: [String: ManifestValue]?
        if let model = spec.tCloseness {
            tCloseness = [
                "column": .text(model.column), "t": .number(model.t),
                "distance": .text((outcome.tClosenessDistance ?? .equal).rawValue),
            ]
        }
        models = Models(
            k: spec.k, suppressionLimit: spec.suppressionLimit, lDiversity: lDiversity, tCloseness: tCloseness)
        let result = outcome.result
        metric = result.metric.rawValue
        transformation = Dictionary(uniqueKeysWithValues: zip(outcome.statistics.columns, result.levels))
        informationLoss = result.informationLoss
        individuals = outcome.statistics.individuals
        suppressedRecords = outcome.suppressedRecords
        suppressedEntities = result.suppressedIndividuals
        classes = result.classes
        minClassSize = result.minClassSize
        var buckets: [String: Int] = [:]
        for (size, count) in result.classSizes { buckets[Self.bucket(size), default: 0] += count }
        classSizes = buckets
        entitiesInSeveralClasses = result.entitiesInSeveralClasses
        lowestDistinctL = result.lowestDistinctL
        highestTDistance = result.highestDistance
        tReference = spec.tCloseness != nil ? "input" : nil
        search = Search(
            algorithm: "flash (full-domain lattice, monotone pruning)", nodes: result.nodes,
            nodesChecked: result.nodesChecked,
            milliseconds: (result.seconds * 1000 * 10).rounded() / 10)
    }

    /// Size buckets: 1, 2, 3, 4, 5-9, 10-19, 20-49, 50-99, 100-999, 1000+.
    static func bucket(_ size: Int) -> String {
        let edges = [1, 2, 3, 4, 5, 10, 20, 50, 100, 1000]
        guard let index = edges.lastIndex(where: { $0 <= size }) else { return "0" }
        if index == edges.count - 1 { return "1000+" }
        let low = edges[index]
        let high = edges[index + 1] - 1
        return low == high ? "\(low)" : "\(low)-\(high)"
    }
}
