/// What `deid risk` measures on a file: the columns' roles and the optional analyses.
public struct RiskSpec: Sendable {
    /// The columns an attacker may know; their combinations are the equivalence classes.
    public var quasiIdentifiers: [String]
    /// The column naming the person or household records belong to (individuals = its values).
    public var entity: String?
    /// The column whose disclosure l-diversity and t-closeness measure.
    public var sensitive: String?
    /// t-closeness distance; nil: ordered for numbers, equal otherwise.
    package var distance: TClosenessSpec.Distance?
    /// The distribution t-closeness is measured against; nil: the measured file's own (the
    /// release of a publish with t-closeness gets the input's, which the model is enforced
    /// against, and its own is reported beside it).
    package var tReference: SensitiveReference?
    /// Prosecutor risk above this counts an individual as at risk.
    public var threshold = 0.2
    /// Quasi-identifier discovery: nil to skip it.
    public var discovery: DiscoverySpec? = DiscoverySpec()
    /// Trace uniqueness: nil to skip it.
    public var trace: TraceSpec?
    /// Sample / population, for the population uniqueness estimators.
    public var samplingFraction: Double?
    /// The population table's class sizes, for journalist risk.
    package var population: PopulationTable?
    /// Classes smaller than this never show their values in the public report.
    public var publicMinimumClassSize = 5
    /// Columns whose value distributions are counted (the report's before/after charts).
    public var distributionColumns: [String] = []
    /// One record in this many is counted for those charts (`DistributionRequest.sampleEvery`).
    public var chartSampleEvery = 8

    public init(quasiIdentifiers: [String], entity: String? = nil, sensitive: String? = nil) {
        self.quasiIdentifiers = quasiIdentifiers
        self.entity = entity
        self.sensitive = sensitive
    }
}

/// Which columns quasi-identifier discovery tries, and its memory bound.
public struct DiscoverySpec: Sendable {
    /// The columns whose combinations are tried; nil: every column that is not the entity and
    /// not a direct identifier (by the profile of the first block).
    public var candidates: [String]?
    /// Combinations of at most this many columns.
    public var maxColumns = 3
    /// Distinct (individual, candidate values) rows kept; past it, the candidate with the most
    /// distinct values is left out (and named in the report). A wide file keeps fewer: at most
    /// `cellLimit` codes in all.
    public var rowLimit = 250_000
    /// Codes (rows times candidates) the discovery rows may hold.
    public var cellLimit = 8_000_000
    /// Candidate columns combined at most (the first ones of the file; `--candidates` names
    /// others): a file's width must not decide how much memory and time discovery takes.
    public var maxCandidates = 200
    /// Rows looked at in all, over every combination measured (each combination reads every
    /// row once): past it, combinations get fewer columns, then fewer candidates are combined.
    public var workLimit = 25_000_000
    /// Combinations reported.
    public var top = 10

    public init(candidates: [String]? = nil) { self.candidates = candidates }
}
