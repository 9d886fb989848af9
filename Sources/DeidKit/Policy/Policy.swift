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
    package var filters: [RecordFilterRule]
    /// One entry per input column, in the input's order.
    package var columns: [ColumnPolicy]
    /// The privacy models the release must satisfy (k-anonymity and its relatives), if any.
    package var privacy: PrivacySpec?
    /// Risk gates of the release and the trace uniqueness test (Docs/RISK.md), if any.
    package var risk: RiskPolicy?
    /// The linkage gate of the release (Docs/LINKAGE.md), if any.
    package var linkage: LinkagePolicy? = nil
    /// An aggregate release (Docs/AGGREGATES.md): cells instead of records, if any.
    package var aggregateRelease: AggregateReleaseSpec? = nil
    /// The SHA-256 of the policy's bytes as read (the manifest's policy fingerprint: the file is
    /// read once, so a policy from a pipe is fingerprinted too).
    public var sha256 = ""

    /// The column policy named `name`.
    package func column(_ name: String) -> ColumnPolicy? { columns.first { $0.name == name } }

    /// The quasi-identifiers that stay in the output, in the input's order.
    package var quasiIdentifiers: [ColumnPolicy] {
        columns.filter { column in
            guard column.role == .quasiIdentifier else { return false }
            if case .drop? = column.technique { return false }
            return true
        }
    }
}

/// A policy's `linkage` section: what the release is checked against before it is written.
package struct LinkagePolicy: Sendable, Equatable {
    /// Files (relative paths: to the policy's directory) the release must not link to.
    package var against: [String] = []
    /// Check against every release in the catalog.
    package var catalog = false
    /// The largest share of the release's individuals any combination may single out.
    package var maxUniqueLinkShare: Double?
}

/// A policy's `risk` section: the release's risk gates and how to measure trace uniqueness.
package struct RiskPolicy: Sendable {
    package var thresholds = RiskThresholds()
    /// Prosecutor risk above this counts an individual as at risk.
    package var threshold = 0.2
    package var trace: TraceSpec?
}

/// The privacy models of a release and the information loss the search minimizes
/// (see Docs/PRIVACY.md).
package struct PrivacySpec: Sendable, Equatable {
    /// Every equivalence class must hold at least k individuals.
    package var k: Int = 1
    /// The share of individuals that may be suppressed (0...1).
    package var suppressionLimit: Double = 0
    package var lDiversity: LDiversitySpec?
    package var tCloseness: TClosenessSpec?
    package var metric: InformationLossMetric = .entropy

    package init() {}
}

/// l-diversity of one sensitive column (Machanavajjhala et al. 2007).
package struct LDiversitySpec: Sendable, Equatable {
    package enum Variant: String, Sendable, CaseIterable { case distinct, entropy, recursive }
    package var column: String
    package var l: Double
    package var variant: Variant
    /// The constant of recursive (c,l)-diversity.
    package var c: Double?
}

/// t-closeness of one sensitive column (Li et al. 2007).
package struct TClosenessSpec: Sendable, Equatable {
    package enum Distance: String, Sendable, CaseIterable {
        /// Every pair of distinct values is at distance 1 (half the L1 distance).
        case equal
        /// Values are ordered (numerically when all are numbers); ordered earth mover's distance.
        case ordered
    }
    package var column: String
    package var t: Double
    /// Nil: ordered when every value of the column is a number, equal otherwise.
    package var distance: Distance?
}

/// The information loss a search minimizes.
package enum InformationLossMetric: String, Sendable, CaseIterable, Codable {
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
package enum ColumnRole: String, Sendable, Codable, CaseIterable {
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
package struct ColumnPolicy: Sendable {
    package var name: String
    package var role: ColumnRole
    /// The value technique, or nil to pass the column through unchanged.
    package var technique: ColumnTechnique?
    /// A per-entity date shift applied before the technique (timestamp and date columns).
    package var dateShift: DateShiftSpec?
    /// Aggregation of the time series into coarser buckets (the timestamp column only).
    package var aggregate: AggregateSpec?
}

/// The technique applied to a column's values.
package enum ColumnTechnique: Sendable {
    case drop
    case pseudonymize(PseudonymizeSpec)
    case mask(MaskSpec)
    case suppress(SuppressSpec)
    case generalize(GeneralizationSpec)
    case noise(NoiseSpec)

    /// The policy keyword.
    package var keyword: String {
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
package enum KeyReference: Sendable, Equatable, CustomStringConvertible {
    case environment(String)
    case file(String)

    /// `env:NAME` or `file:PATH`, as written in the policy.
    package var description: String {
        switch self {
        case .environment(let name): "env:\(name)"
        case .file(let path): "file:\(path)"
        }
    }
}

/// Keyed pseudonyms: HMAC-SHA256 of the value under the key, truncated and encoded.
package struct PseudonymizeSpec: Sendable, Equatable {
    package enum Encoding: String, Sendable, CaseIterable { case hex, base32 }
    package var key: KeyReference
    /// Characters of the encoded pseudonym.
    package var length: Int
    package var encoding: Encoding
    /// Derive the key per release (HKDF with the release id): two releases cannot be joined.
    package var perRelease: Bool
    /// Derive the key per period of a time column: one entity's pseudonym changes every period.
    package var rotation: Rotation?

    /// A new key every day, week (from Monday) or month of the record's time in `column`.
    package struct Rotation: Sendable, Equatable {
        package var every: TimeUnit
        package var column: String
    }

    /// The periods a pseudonym may rotate over.
    package static let rotationUnits: [TimeUnit] = [.day, .week, .month]
}

/// Masking: keep the first and last characters, or replace what a pattern matches.
package struct MaskSpec: Sendable, Equatable {
    package var keepFirst: Int
    package var keepLast: Int
    /// A regular expression; every character it matches is replaced. Nil masks all but the kept ends.
    package var pattern: String?
    package var character: String
}

/// Cell suppression: listed values (or every value) replaced by a token.
package struct SuppressSpec: Sendable, Equatable {
    package var token: String
    /// The values to suppress; nil suppresses every non-empty cell.
    package var values: [String]?
}

/// A consistent random shift of all of one entity's dates, within ±`maxDays`.
package struct DateShiftSpec: Sendable, Equatable {
    package var maxDays: Int
    package var key: KeyReference
    package var perRelease: Bool
}

/// Noise addition to numbers, then clamping and rounding.
package struct NoiseSpec: Sendable, Equatable {
    package enum Distribution: Sendable, Equatable {
        /// Laplace noise with scale b.
        case laplace(Double)
        /// Gaussian noise with standard deviation sigma.
        case gaussian(Double)
        /// Multiplicative noise: the value times (1 + u), u uniform in ±percent/100.
        case percent(Double)
    }
    package var distribution: Distribution
    package var minimum: Double?
    package var maximum: Double?
    /// The largest Laplace scale or Gaussian sigma a policy may give.
    package static let maximumScale = 1e12
    /// The largest multiplicative noise, in percent of the value.
    package static let maximumPercent = 1000.0
    /// Decimal places after noise; nil keeps the input's own decimals.
    package var decimals: Int?
}

/// Time-series aggregation: readings per entity summed or averaged into coarser buckets.
package struct AggregateSpec: Sendable, Equatable {
    package var every: TimeUnit
    package var sum: [String]
    package var mean: [String]
    /// An added output column holding the number of readings in each bucket.
    package var countColumn: String?
}

/// A condition a record must meet to be kept.
package struct RecordFilterRule: Sendable, Equatable {
    package var column: String
    /// Timestamps or dates: keep `from <= value < before`.
    package var from: String?
    package var before: String?
    /// Numbers: keep `min <= value <= max`.
    package var minimum: Double?
    package var maximum: Double?
    /// Keep only these values / drop these values.
    package var oneOf: [String]?
    package var noneOf: [String]?
    /// Drop records whose value is empty.
    package var notEmpty: Bool
    /// The policy path of the rule, for messages.
    package var path: String
}
