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
