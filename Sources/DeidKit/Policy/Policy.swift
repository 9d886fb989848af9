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
    /// The privacy models the release must satisfy (k-anonymity and its relatives), if any.
    public var privacy: PrivacySpec?
    /// Risk gates of the release and the trace uniqueness test (Docs/RISK.md), if any.
    public var risk: RiskPolicy?
    /// The linkage gate of the release (Docs/LINKAGE.md), if any.
    public var linkage: LinkagePolicy? = nil
    /// The SHA-256 of the policy's bytes as read (the manifest's policy fingerprint: the file is
    /// read once, so a policy from a pipe is fingerprinted too).
    public var sha256 = ""

    /// The column policy named `name`.
    public func column(_ name: String) -> ColumnPolicy? { columns.first { $0.name == name } }

    /// The quasi-identifiers that stay in the output, in the input's order.
    public var quasiIdentifiers: [ColumnPolicy] {
        columns.filter { column in
            guard column.role == .quasiIdentifier else { return false }
            if case .drop? = column.technique { return false }
            return true
        }
    }
}

/// A policy's `linkage` section: what the release is checked against before it is written.
public struct LinkagePolicy: Sendable, Equatable {
    /// Files (relative paths: to the policy's directory) the release must not link to.
    public var against: [String] = []
    /// Check against every release in the catalog.
    public var catalog = false
    /// The largest share of the release's individuals any combination may single out.
    public var maxUniqueLinkShare: Double?
}

/// A policy's `risk` section: the release's risk gates and how to measure trace uniqueness.
public struct RiskPolicy: Sendable {
    public var thresholds = RiskThresholds()
    /// Prosecutor risk above this counts an individual as at risk.
    public var threshold = 0.2
    public var trace: TraceSpec?
}

/// The privacy models of a release and the information loss the search minimizes
/// (see Docs/PRIVACY.md).
public struct PrivacySpec: Sendable, Equatable {
    /// Every equivalence class must hold at least k individuals.
    public var k: Int = 1
    /// The share of individuals that may be suppressed (0...1).
    public var suppressionLimit: Double = 0
    public var lDiversity: LDiversitySpec?
    public var tCloseness: TClosenessSpec?
    public var metric: InformationLossMetric = .entropy

    public init() {}
}

/// l-diversity of one sensitive column (Machanavajjhala et al. 2007).
public struct LDiversitySpec: Sendable, Equatable {
    public enum Variant: String, Sendable, CaseIterable { case distinct, entropy, recursive }
    public var column: String
    public var l: Double
    public var variant: Variant
    /// The constant of recursive (c,l)-diversity.
    public var c: Double?
}

/// t-closeness of one sensitive column (Li et al. 2007).
public struct TClosenessSpec: Sendable, Equatable {
    public enum Distance: String, Sendable, CaseIterable {
        /// Every pair of distinct values is at distance 1 (half the L1 distance).
        case equal
        /// Values are ordered (numerically when all are numbers); ordered earth mover's distance.
        case ordered
    }
    public var column: String
    public var t: Double
    /// Nil: ordered when every value of the column is a number, equal otherwise.
    public var distance: Distance?
}

/// The information loss a search minimizes.
public enum InformationLossMetric: String, Sendable, CaseIterable, Codable {
    /// Non-uniform entropy, as ARX computes it.
    case entropy
    /// Iyengar's loss metric: the share of each column's domain a generalized value covers.
    case loss
    /// Discernibility (Bayardo and Agrawal 2005): class sizes squared, suppressed rows times all.
    case discernibility
    /// Normalized average equivalence class size (LeFevre et al. 2006).
    case averageClassSize = "average_class_size"
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
    /// The largest Laplace scale or Gaussian sigma a policy may give.
    public static let maximumScale = 1e12
    /// The largest multiplicative noise, in percent of the value.
    public static let maximumPercent = 1000.0
    /// Decimal places after noise; nil keeps the input's own decimals.
    public var decimals: Int?
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
