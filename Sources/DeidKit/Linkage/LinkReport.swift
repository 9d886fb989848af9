import Foundation

/// What `deid link` reports (`--json`: schema `deid.link/1`, Docs/LINKAGE.md).
public struct LinkReport: Codable, Sendable {
    public var schema = "deid.link/1"
    public var files: [LinkedFile]
    public var pairs: [LinkPair]
    public var pseudonymReuse: [PseudonymReuse]
    public var sharedKeys: [SharedKey]
    /// Files whose bytes are a catalogued release's data: not linked to that release.
    public var sameData: [SameDataRelease] = []
    public var gate: LinkGate?

    enum CodingKeys: String, CodingKey {
        case schema, files, pairs, gate
        case pseudonymReuse = "pseudonym_reuse"
        case sharedKeys = "shared_keys"
        case sameData = "same_data"
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The pairs whose unique-link share exceeds the gate's limit.
    public var failedPairs: [LinkPair] {
        guard let gate else { return [] }
        return pairs.filter { $0.measures.uniqueLinkShare > gate.maxUniqueLinkShare }
    }
}

/// A file that is a catalogued release's data (equal SHA-256), and that release.
public struct SameDataRelease: Codable, Sendable {
    public var file: String
    public var release: String
    public var releaseID: String

    enum CodingKeys: String, CodingKey {
        case file, release
        case releaseID = "release_id"
    }
}

/// A file or catalogued release taking part.
public struct LinkedFile: Codable, Sendable {
    public var name: String
    /// "file" or "release" (from the catalog).
    public var kind: String
    public var records: Int
    public var individuals: Int
    public var entity: String?
    public var releaseID: String?

    enum CodingKeys: String, CodingKey {
        case name, kind, records, individuals, entity
        case releaseID = "release_id"
    }
}

/// A column two sides share, and how they were compared.
public struct SharedColumnReport: Codable, Sendable {
    public var left: String
    public var right: String
    public var comparison: String
    public var reason: String
    /// Whether it is a join column (false: a pseudonym, entity or direct identifier, reported apart).
    public var joins: Bool
}

/// One combination of join columns and the unique links it creates (estimated from sketches;
/// exact while the sides have fewer distinct values than the sketch holds).
public struct LinkCombination: Codable, Sendable {
    public var columns: [String]
    public var uniqueLinks: Int
    public var uniqueLinkShare: Double

    enum CodingKeys: String, CodingKey {
        case columns
        case uniqueLinks = "unique_links"
        case uniqueLinkShare = "unique_link_share"
    }
}

/// One direction of a pair: how many of `left`'s individuals the join singles out in `right`.
public struct LinkPair: Codable, Sendable {
    public var left: String
    public var right: String
    public var sharedColumns: [String]
    public var columns: [SharedColumnReport]
    public var joinColumns: [String]
    public var measures: LinkMeasures
    /// The right side holds direct identifiers: its unique links are re-identifications.
    public var reidentification: Bool
    public var rightIdentifiers: [String]
    public var combinations: [LinkCombination]
    public var suggestion: String?

    enum CodingKeys: String, CodingKey {
        case left, right, columns, reidentification, combinations, suggestion
        case sharedColumns = "shared_columns"
        case joinColumns = "join_columns"
        case rightIdentifiers = "right_identifiers"
    }

    package init(
        left: String, right: String, columns: [SharedColumnReport], measures: LinkMeasures, rightIdentifiers: [String],
        combinations: [LinkCombination], suggestion: String?
    ) {
        self.left = left
        self.right = right
        self.columns = columns
        sharedColumns = columns.map(\.left)
        joinColumns = columns.filter(\.joins).map(\.left)
        self.measures = measures
        self.rightIdentifiers = rightIdentifiers
        reidentification = measures.uniqueLinks > 0 && !rightIdentifiers.isEmpty
        self.combinations = combinations
        self.suggestion = suggestion
    }

    // The measures sit flat in the pair's object (the fixed keys scripts read): they are
    // encoded into the same object, with their own keys (`LinkMeasures.CodingKeys`).
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(left, forKey: .left)
        try container.encode(right, forKey: .right)
        try container.encode(sharedColumns, forKey: .sharedColumns)
        try container.encode(columns, forKey: .columns)
        try container.encode(joinColumns, forKey: .joinColumns)
        try measures.encode(to: encoder)
        try container.encode(reidentification, forKey: .reidentification)
        try container.encode(rightIdentifiers, forKey: .rightIdentifiers)
        try container.encode(combinations, forKey: .combinations)
        try container.encodeIfPresent(suggestion, forKey: .suggestion)
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        left = try container.decode(String.self, forKey: .left)
        right = try container.decode(String.self, forKey: .right)
        sharedColumns = try container.decode([String].self, forKey: .sharedColumns)
        columns = try container.decode([SharedColumnReport].self, forKey: .columns)
        joinColumns = try container.decode([String].self, forKey: .joinColumns)
        measures = try LinkMeasures(from: decoder)
        reidentification = try container.decode(Bool.self, forKey: .reidentification)
        rightIdentifiers = try container.decode([String].self, forKey: .rightIdentifiers)
        combinations = try container.decode([LinkCombination].self, forKey: .combinations)
        suggestion = try container.decodeIfPresent(String.self, forKey: .suggestion)
    }
}

/// Pseudonym values two sides share: a deterministic pseudonym is a join key.
public struct PseudonymReuse: Codable, Sendable {
    public var left: String
    public var right: String
    public var column: String
    public var rightColumn: String
    /// "pseudonym" (both columns look like pseudonyms) or "identifier" (the same identifier or
    /// entity column in both).
    public var kind: String
    /// Distinct values both hold (estimated when a side has more than the sketch keeps).
    public var sharedValues: Int
    /// Shared values over the smaller side's distinct values.
    public var sharedShare: Double

    enum CodingKeys: String, CodingKey {
        case left, right, column, kind
        case rightColumn = "right_column"
        case sharedValues = "shared_values"
        case sharedShare = "shared_share"
    }
}

/// Releases (or a candidate and a release) whose pseudonyms were made under one key.
public struct SharedKey: Codable, Sendable {
    public var left: String
    public var right: String
    public var keyID: String
    public var columns: [String]

    enum CodingKeys: String, CodingKey {
        case left, right, columns
        case keyID = "key_id"
    }
}

public struct LinkGate: Codable, Sendable {
    public var maxUniqueLinkShare: Double
    public var worst: Double
    public var passed: Bool

    enum CodingKeys: String, CodingKey {
        case worst, passed
        case maxUniqueLinkShare = "max_unique_link_share"
    }
}
