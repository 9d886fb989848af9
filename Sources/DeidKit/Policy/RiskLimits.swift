// What a policy's `risk` section asks of a release: the measurements it names and the limits
// it sets (`RiskSpec` resolves them against the data).

/// Trace uniqueness (de Montjoye et al. 2013): how many entities p points of their own trace
/// single out.
public struct TraceSpec: Sendable {
    public var time: String
    public var value: String
    /// The number of points an attacker knows.
    public var points = 4
    /// Time buckets: readings of one entity in one bucket are summed (a daily total); nil: each
    /// distinct timestamp is a point.
    public var timeUnit: TimeUnit?
    /// Values are rounded to multiples of this; nil: compared as they are.
    public var valueStep: Double?
    /// Independent draws of points per entity; the spread over them is reported.
    public var repetitions = 10
    public var seed: UInt64 = 1
    /// The curve against the number of points goes from 1 to this (at least `points`).
    public var maxPoints = 8

    public init(time: String, value: String) {
        self.time = time
        self.value = value
    }
}

/// Thresholds a pipeline sets: exceeding one is exit 1 (and a refused release in `publish`).
public struct RiskThresholds: Sendable, Equatable {
    public var maxProsecutorRisk: Double?
    public var minClassSize: Int?
    public var maxTraceUniqueness: Double?

    public init(maxProsecutorRisk: Double? = nil, minClassSize: Int? = nil, maxTraceUniqueness: Double? = nil) {
        self.maxProsecutorRisk = maxProsecutorRisk
        self.minClassSize = minClassSize
        self.maxTraceUniqueness = maxTraceUniqueness
    }

    public var isEmpty: Bool { maxProsecutorRisk == nil && minClassSize == nil && maxTraceUniqueness == nil }
}

extension Policy {
    /// The smallest class and the largest trace uniqueness (4 points) a record-level release may
    /// have when its policy makes no choice of its own (Docs/POLICY.md, "Safe by default").
    package static let defaultMinClassSize = 5
    package static let defaultMaxTraceUniqueness = 0.5

    /// Whether the policy chose how its release is protected: a `privacy`, `risk` or
    /// `aggregate` section.
    package var choosesProtection: Bool { privacy != nil || risk != nil || aggregateRelease != nil }

    /// The gates of a policy that chose nothing: a smallest class of 5 individuals, and trace
    /// uniqueness on 4 points at most 0.5 when the release has a series to trace (the entity, a
    /// time column that is aggregated or generalized in time, and a value column).
    package var defaultRisk: RiskPolicy {
        var risk = RiskPolicy()
        risk.thresholds = RiskThresholds(minClassSize: Self.defaultMinClassSize)
        guard let entity, let entityColumn = column(entity), !entityColumn.isDropped else { return risk }
        let kept = columns.filter { !$0.isDropped && $0.name != entity }
        let time =
            kept.first { $0.aggregate != nil }
            ?? kept.first { column in
                if case .generalize(let spec)? = column.technique, case .time = spec.method { return true }
                return column.dateShift != nil
            }
        guard let time else { return risk }
        let value =
            time.aggregate.flatMap { ($0.sum + $0.mean).first }
            ?? kept.first { $0.role == .sensitive && $0.name != time.name }?.name
        guard let value else { return risk }
        risk.thresholds.maxTraceUniqueness = Self.defaultMaxTraceUniqueness
        risk.trace = TraceSpec(time: time.name, value: value)
        return risk
    }
}

extension ColumnPolicy {
    var isDropped: Bool {
        if case .drop? = technique { return true }
        return false
    }
}
