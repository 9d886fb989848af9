import Foundation

/// A file one scale-out step writes for the next: its format's name and version, checked when
/// it is read (`ScaleOut.load`), and what it was made for.
package protocol ScaleOutFile: Codable {
    static var formatName: String { get }
    static var currentVersion: Int { get }
    var format: String { get }
    var version: Int { get }
}

/// What one kind of scale-out file holds besides what every one holds (`ScaleOutDocument`).
package protocol ScaleOutBody: Codable, Sendable {
    static var formatName: String { get }
    static var currentVersion: Int { get }
}

/// A scale-out file (Docs/SCALE-OUT.md): its format and version, the fingerprint of the policy
/// and the input header it was made for, and its kind's body, all as keys of one flat JSON
/// object. The body's fields read as the document's own (`file.summary`).
@dynamicMemberLookup
package struct ScaleOutDocument<Body: ScaleOutBody>: ScaleOutFile, Sendable {
    package static var formatName: String { Body.formatName }
    package static var currentVersion: Int { Body.currentVersion }

    package var format = Body.formatName
    package var version = Body.currentVersion
    package var policySHA256: String
    package var header: [String]
    package var body: Body

    package init(policySHA256: String, header: [String], _ body: Body) {
        self.policySHA256 = policySHA256
        self.header = header
        self.body = body
    }

    package subscript<Value>(dynamicMember field: WritableKeyPath<Body, Value>) -> Value {
        get { body[keyPath: field] }
        set { body[keyPath: field] = newValue }
    }

    enum CodingKeys: String, CodingKey {
        case format, version
        case policySHA256 = "policy_sha256"
        case header
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        format = try container.decode(String.self, forKey: .format)
        version = try container.decode(Int.self, forKey: .version)
        policySHA256 = try container.decode(String.self, forKey: .policySHA256)
        header = try container.decode([String].self, forKey: .header)
        body = try Body(from: decoder)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(format, forKey: .format)
        try container.encode(version, forKey: .version)
        try container.encode(policySHA256, forKey: .policySHA256)
        try container.encode(header, forKey: .header)
        // The body's keys go into the same object.
        try body.encode(to: encoder)
    }
}

extension ScaleOutDocument: Equatable where Body: Equatable {}

/// One shard's statistics, as `deid stats` writes them: what the search needs of the shard's
/// records, and the shard's inputs and their fingerprints.
package typealias StatisticsFile = ScaleOutDocument<ShardStatistics>

package struct ShardStatistics: ScaleOutBody, Equatable {
    package static let formatName = "deid-statistics"
    package static let currentVersion = 1

    /// Records read, filtered and counted, over the shard's inputs (sorted by name).
    package var summary: RunSummary
    /// The privacy models' counts; nil for a policy without a privacy section.
    package var counts: ShardCounts?
    /// A policy that aggregates per entity: the entities of the shard, sorted (every entity's
    /// records must be in one shard).
    package var entities: [Data]?
}

/// A plan made on the merged statistics of every shard, as `deid plan` writes it: the search's
/// decision (levels, suppressed classes and entities by value, key ids, the seed) with the
/// release id that per-release keys are derived from, and what the release's manifest says
/// of it. It names suppressed entities, so it is as confidential as the input; it holds no key.
package typealias PlanFile = ScaleOutDocument<ShardPlan>

package struct ShardPlan: ScaleOutBody, Equatable {
    package static let formatName = "deid-plan"
    package static let currentVersion = 1

    package var releaseID: String
    /// The keys' ids (by policy path) and the seed every shard uses.
    package var keyIDs: [String: String]
    package var seed: UInt64?
    /// The search's decision, and the manifest's `privacy` object for the whole release (nil
    /// without a privacy section: there is no search).
    package var plan: PrivacyPlan?
    package var privacy: PrivacyManifest?
    /// The merged statistics' counts of records and inputs.
    package var summary: RunSummary
    /// SHA-256 of the merged statistics file's bytes (`ScaleOut.encode`).
    package var statisticsSHA256: String

    enum CodingKeys: String, CodingKey {
        case releaseID = "release_id"
        case keyIDs = "key_ids"
        case seed, plan, privacy, summary
        case statisticsSHA256 = "statistics_sha256"
    }
}
