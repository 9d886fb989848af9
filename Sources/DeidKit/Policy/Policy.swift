/// A de-identification policy (format version 1, see Docs/POLICY.md): what the dataset is, which
/// column identifies the person or household, which records to keep, and for every column its
/// role and the technique applied to it. Built by `PolicyLoader`, which validates it against the
/// input's header; a `Policy` value is always complete and consistent.
public struct Policy: Sendable {
    /// The policy file's name, for messages and the manifest.
    public var source: String
    /// The directory that relative paths in the policy (hierarchy files) are resolved against.
    public var directory: String
    public var dataset: DatasetDescription
    /// The column that identifies the person or household, if the data has one.
    public var entity: String?
    /// Conditions a record must meet to be kept (data minimization), all of them.
    public var filters: [RecordFilterRule]
    /// One entry per input column, in the input's order.
    public var columns: [ColumnPolicy]

    /// The column policy named `name`.
    public func column(_ name: String) -> ColumnPolicy? { columns.first { $0.name == name } }
}

/// Who publishes the data and why (ISO/IEC 27570: purpose, controller, retention).
public struct DatasetDescription: Sendable, Codable, Equatable {
    public var name: String
    public var purpose: String?
    public var controller: String?
    /// Until when the release may be kept (free text, usually a date).
    public var retention: String?
    public var description: String?
    public var license: String?
}

/// What a column is, for privacy.
public enum ColumnRole: String, Sendable, Codable, CaseIterable {
    /// Identifies a person on its own (name, e-mail, meter number): must be dropped,
    /// pseudonymized or masked.
    case identifier
    /// Identifies in combination with others (postcode, dwelling type, occupants).
    case quasiIdentifier = "quasi_identifier"
    /// The information that must not be linked to a person (consumption, diagnosis).
    case sensitive
    /// Neither: passed through or transformed as the policy says.
    case insensitive
}

/// The policy of one column.
public struct ColumnPolicy: Sendable {
    public var name: String
    public var role: ColumnRole
    /// The value technique, or nil to pass the column through unchanged.
    public var technique: ColumnTechnique?
    /// A per-entity date shift applied before the technique (timestamp and date columns).
    public var dateShift: DateShiftSpec?
    /// Aggregation of the time series into coarser buckets (the timestamp column only).
    public var aggregate: AggregateSpec?
}

/// The technique applied to a column's values.
public enum ColumnTechnique: Sendable {
    case drop
    case pseudonymize(PseudonymizeSpec)
    case mask(MaskSpec)
    case suppress(SuppressSpec)
    case generalize(GeneralizationSpec)
    case noise(NoiseSpec)

    /// The policy keyword.
    public var keyword: String {
        switch self {
        case .drop: "drop"
        case .pseudonymize: "pseudonymize"
        case .mask: "mask"
        case .suppress: "suppress"
        case .generalize: "generalize"
        case .noise: "noise"
        }
    }
}

/// Where a secret key comes from: an environment variable or a file. Never the policy text.
public enum KeyReference: Sendable, Equatable, CustomStringConvertible {
    case environment(String)
    case file(String)

    /// `env:NAME` or `file:PATH`, as written in the policy.
    public var description: String {
        switch self {
        case .environment(let name): "env:\(name)"
        case .file(let path): "file:\(path)"
        }
    }
}

/// Keyed pseudonyms: HMAC-SHA256 of the value under the key, truncated and encoded.
public struct PseudonymizeSpec: Sendable, Equatable {
    public enum Encoding: String, Sendable, CaseIterable { case hex, base32 }
    public var key: KeyReference
    /// Characters of the encoded pseudonym.
    public var length: Int
    public var encoding: Encoding
    /// Derive the key per release (HKDF with the release id): two releases cannot be joined.
    public var perRelease: Bool
}

/// Masking: keep the first and last characters, or replace what a pattern matches.
public struct MaskSpec: Sendable, Equatable {
    public var keepFirst: Int
    public var keepLast: Int
    /// A regular expression; every character it matches is replaced. Nil masks all but the kept ends.
    public var pattern: String?
    public var character: String
}

/// Cell suppression: listed values (or every value) replaced by a token.
public struct SuppressSpec: Sendable, Equatable {
    public var token: String
    /// The values to suppress; nil suppresses every non-empty cell.
    public var values: [String]?
}

/// A consistent random shift of all of one entity's dates, within ±`maxDays`.
public struct DateShiftSpec: Sendable, Equatable {
    public var maxDays: Int
    public var key: KeyReference
    public var perRelease: Bool
}

/// Noise addition to numbers, then clamping and rounding.
public struct NoiseSpec: Sendable, Equatable {
    public enum Distribution: Sendable, Equatable {
        /// Laplace noise with scale b.
        case laplace(Double)
        /// Gaussian noise with standard deviation sigma.
        case gaussian(Double)
        /// Multiplicative noise: the value times (1 + u), u uniform in ±percent/100.
        case percent(Double)
    }
    public var distribution: Distribution
    public var minimum: Double?
    public var maximum: Double?
    /// Decimal places after noise; nil keeps the input's own decimals.
    public var decimals: Int?
}

/// Units of time, finest first: the levels of timestamp generalization.
public enum TimeUnit: String, Sendable, CaseIterable, Comparable {
    case minute
    case quarterHour = "15min"
    case halfHour = "30min"
    case hour, day, week, month, year

    public static func < (lhs: TimeUnit, rhs: TimeUnit) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Time-series aggregation: readings per entity summed or averaged into coarser buckets.
public struct AggregateSpec: Sendable, Equatable {
    public var every: TimeUnit
    public var sum: [String]
    public var mean: [String]
    /// An added output column holding the number of readings in each bucket.
    public var countColumn: String?
}

/// A condition a record must meet to be kept.
public struct RecordFilterRule: Sendable, Equatable {
    public var column: String
    /// Timestamps or dates: keep `from <= value < before`.
    public var from: String?
    public var before: String?
    /// Numbers: keep `min <= value <= max`.
    public var minimum: Double?
    public var maximum: Double?
    /// Keep only these values / drop these values.
    public var oneOf: [String]?
    public var noneOf: [String]?
    /// Drop records whose value is empty.
    public var notEmpty: Bool
    /// The policy path of the rule, for messages.
    public var path: String
}
