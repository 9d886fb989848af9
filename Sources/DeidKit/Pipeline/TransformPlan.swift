import DeidCSV
import Foundation

/// The value of a manifest parameter.
public enum ManifestValue: Codable, Sendable, Equatable {
    case text(String)
    case number(Double)
    case flag(Bool)
    case list([ManifestValue])

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .number(let number):
            if number == number.rounded(), abs(number) < 1e15 {
                try container.encode(Int64(number))
            } else {
                try container.encode(number)
            }
        case .flag(let flag): try container.encode(flag)
        case .list(let items): try container.encode(items)
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            self = .flag(flag)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let text = try? container.decode(String.self) {
            self = .text(text)
        } else {
            self = .list(try container.decode([ManifestValue].self))
        }
    }
}

/// How one technique is named in the manifest: the technique, its ISO/IEC 20889 family, its
/// parameters (never a key, only a key id), and its traits for the report and the linkage checker.
public struct AppliedTechnique: Codable, Sendable, Equatable {
    public var technique: String
    public var family: String
    public var parameters: [String: ManifestValue]
    /// Deterministic (same input, same output: joinable across files), coarsening (fewer
    /// distinct values), suppressing (values removed), randomized (noise).
    public var traits: [String]
}

/// The policy compiled against the input's header: one operation per output column, the record
/// filters and the aggregation. A plan is immutable and shared; each worker makes its own
/// `RecordTransformer` from it.
package struct TransformPlan: Sendable {
    /// What produces one output column.
    enum Operation: Sendable {
        case copy
        case pseudonymize(Pseudonymizer)
        /// A pseudonym whose key changes every period of the time in `timeInput`.
        case pseudonymizeRotating(RotatingPseudonyms, timeInput: Int)
        case mask(Masker)
        case suppress(CellSuppressor)
        case generalize(Generalizer, level: Int, latitudeInput: Int?)
        case noise(NoiseAdder)
        /// Shift the date per entity, then optionally generalize it.
        case shiftDate(DateShifter, entityInput: Int, then: Generalizer?, level: Int)
        /// A value aggregated later (its noise is applied to the aggregate).
        case aggregatedValue
    }

    struct OutputColumn: Sendable {
        var name: String
        var input: Int
        var operation: Operation
    }

    package let policy: Policy
    package let inputHeader: [String]
    /// The output's column names.
    package let outputHeader: [String]
    let columns: [OutputColumn]
    let filters: [RecordFilter]
    let aggregation: AggregationPlan?
    /// Per input column: the techniques applied, for the manifest (empty when passed through).
    package let techniques: [String: [AppliedTechnique]]
    /// Keys in use: policy path -> key id.
    package let keyIDs: [String: String]
    /// The seed of the noise, when reproducible.
    package let seed: UInt64?
    /// Where the privacy models' columns are, when the policy has a `privacy` section.
    var privacy: PrivacyLayout?

    /// Whether a privacy run's pass 1 spools repeat frames (`SpoolFrame`); off, every frame is
    /// full (the slow twin the tests and fuzz targets compare with).
    package var spoolsRepeatFrames: Bool {
        get { privacy?.repeatFrames ?? false }
        set { privacy?.repeatFrames = newValue }
    }

    /// Compiles `policy` for an input with `header`.
    /// - Parameters:
    ///   - releaseID: the release's id, from which per-release keys are derived.
    ///   - seed: makes noise reproducible; nil uses the system CSPRNG.
    package init(
        policy: Policy, header: [String], releaseID: String, seed: UInt64?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        self.policy = policy
        self.inputHeader = header
        self.seed = seed
        var columns: [OutputColumn] = []
        var techniques: [String: [AppliedTechnique]] = [:]
        var keyIDs: [String: String] = [:]
        var searchedGeneralizations: [String: Generalizer] = [:]
        let index = Dictionary(uniqueKeysWithValues: header.enumerated().map { ($1, $0) })
        let aggregatedColumns = Set(policy.columns.compactMap(\.aggregate).flatMap { $0.sum + $0.mean })

        func key(_ reference: KeyReference, perRelease: Bool, path: String, purpose: String) throws -> SecretKey {
            var key = try KeyResolver.resolve(reference, environment: environment)
            keyIDs[path] = key.id
            if perRelease { key = key.derived(forRelease: releaseID, purpose: purpose) }
            return key
        }

        for column in policy.columns {
            let input = index[column.name]!
            let path = "columns.\(column.name)"
            var applied: [AppliedTechnique] = []
            var operation = Operation.copy
            var generalizer: Generalizer?
            var level = 0
            do {
                switch column.technique {
                case .drop?:
                    applied.append(
                        AppliedTechnique(
                            technique: "attribute removal", family: "suppression",
                            parameters: [:], traits: ["suppressing"]))
                    techniques[column.name] = applied
                    continue
                case .pseudonymize(let spec)?:
                    let secret = try key(
                        spec.key, perRelease: spec.perRelease, path: "\(path).pseudonymize.key",
                        purpose: "pseudonymize/\(column.name)")
                    var parameters: [String: ManifestValue] = [
                        "key_id": .text(keyIDs["\(path).pseudonymize.key"]!),
                        "length": .number(Double(spec.length)),
                        "encoding": .text(spec.encoding.rawValue), "per_release": .flag(spec.perRelease),
                    ]
                    if let rotation = spec.rotation {
                        operation = .pseudonymizeRotating(
                            RotatingPseudonyms(
                                key: secret, length: spec.length, encoding: spec.encoding, every: rotation.every,
                                purpose: "pseudonymize/\(column.name)"),
                            timeInput: index[rotation.column]!)
                        parameters["rotate"] = .text(rotation.every.rawValue)
                        parameters["rotate_column"] = .text(rotation.column)
                    } else {
                        operation = .pseudonymize(
                            Pseudonymizer(key: secret, length: spec.length, encoding: spec.encoding))
                    }
                    applied.append(
                        AppliedTechnique(
                            technique: "keyed hash (HMAC-SHA256)", family: "pseudonymization",
                            parameters: parameters, traits: spec.perRelease ? ["randomized"] : ["deterministic"]))
                case .mask(let spec)?:
                    operation = .mask(try Masker(spec: spec))
                    var parameters: [String: ManifestValue] = ["char": .text(spec.character)]
                    if let pattern = spec.pattern {
                        parameters["pattern"] = .text(pattern)
                    } else {
                        parameters["keep_first"] = .number(Double(spec.keepFirst))
                        parameters["keep_last"] = .number(Double(spec.keepLast))
                    }
                    applied.append(
                        AppliedTechnique(
                            technique: "masking", family: "suppression", parameters: parameters,
                            traits: ["deterministic", "suppressing"]))
                case .suppress(let spec)?:
                    operation = .suppress(CellSuppressor(spec: spec))
                    var parameters: [String: ManifestValue] = ["token": .text(spec.token)]
                    parameters["values"] = spec.values.map { .number(Double($0.count)) } ?? .text("all")
                    applied.append(
                        AppliedTechnique(
                            technique: "local suppression", family: "suppression", parameters: parameters,
                            traits: ["deterministic", "suppressing"]))
                case .generalize(let spec)?:
                    let built = try Generalizer(spec: spec)
                    generalizer = built
                    // A level the search chooses: the first pass keeps the value (level 0).
                    let searched = policy.privacy != nil && column.role == .quasiIdentifier && !spec.levelGiven
                    level = searched ? 0 : spec.level
                    if searched { searchedGeneralizations[column.name] = built }
                    var latitudeInput: Int?
                    if case .grid(_, .longitude, let latitude?) = spec.method { latitudeInput = index[latitude] }
                    // Level 0 is the value itself: copied, unless a date shift comes first.
                    operation = searched ? .copy : .generalize(built, level: level, latitudeInput: latitudeInput)
                    applied.append(TransformPlan.describe(spec))
                case .noise(let spec)?:
                    operation =
                        aggregatedColumns.contains(column.name) ? .aggregatedValue : .noise(NoiseAdder(spec: spec))
                    var parameters: [String: ManifestValue] = [:]
                    switch spec.distribution {
                    case .laplace(let scale): parameters["laplace"] = .number(scale)
                    case .gaussian(let sigma): parameters["gaussian"] = .number(sigma)
                    case .percent(let percent): parameters["percent"] = .number(percent)
                    }
                    if let minimum = spec.minimum { parameters["min"] = .number(minimum) }
                    if let maximum = spec.maximum { parameters["max"] = .number(maximum) }
                    if let decimals = spec.decimals { parameters["round"] = .number(Double(decimals)) }
                    parameters["seeded"] = .flag(seed != nil)
                    if aggregatedColumns.contains(column.name) { parameters["applied_to"] = .text("aggregates") }
                    applied.append(
                        AppliedTechnique(
                            technique: "noise addition", family: "randomization", parameters: parameters,
                            traits: ["randomized"]))
                case nil:
                    if aggregatedColumns.contains(column.name) { operation = .aggregatedValue }
                }
                if let aggregate = column.aggregate {
                    let spec = GeneralizationSpec(method: .time([aggregate.every]), level: 1)
                    generalizer = try Generalizer(spec: spec)
                    level = 1
                    operation = .generalize(generalizer!, level: 1, latitudeInput: nil)
                    var parameters: [String: ManifestValue] = ["every": .text(aggregate.every.rawValue)]
                    if !aggregate.sum.isEmpty { parameters["sum"] = .list(aggregate.sum.map { .text($0) }) }
                    if !aggregate.mean.isEmpty { parameters["mean"] = .list(aggregate.mean.map { .text($0) }) }
                    if let count = aggregate.countColumn { parameters["count_column"] = .text(count) }
                    applied.append(
                        AppliedTechnique(
                            technique: "aggregation (time series per entity)", family: "statistical tools",
                            parameters: parameters, traits: ["deterministic", "coarsening"]))
                }
                if let shift = column.dateShift, let entity = policy.entity, let entityInput = index[entity] {
                    let secret = try key(
                        shift.key, perRelease: shift.perRelease, path: "\(path).date_shift.key", purpose: "date_shift")
                    operation = .shiftDate(
                        DateShifter(key: secret, maxDays: shift.maxDays), entityInput: entityInput,
                        then: generalizer, level: level)
                    applied.insert(
                        AppliedTechnique(
                            technique: "date shift per entity", family: "randomization",
                            parameters: [
                                "max_days": .number(Double(shift.maxDays)),
                                "key_id": .text(keyIDs["\(path).date_shift.key"]!),
                                "per_release": .flag(shift.perRelease),
                            ], traits: ["deterministic"]), at: 0)
                }
            } catch let error as KeyError {
                throw PolicyError([
                    PolicyDiagnostic(file: policy.source, line: nil, column: nil, path: path, message: error.message)
                ])
            }
            techniques[column.name] = applied
            columns.append(OutputColumn(name: column.name, input: input, operation: operation))
        }
        var outputHeader = columns.map(\.name)
        var aggregation: AggregationPlan?
        if let timestamp = policy.columns.first(where: { $0.aggregate != nil }), let spec = timestamp.aggregate,
            let entity = policy.entity, let entityInput = index[entity]
        {
            var values: [AggregationPlan.Value] = []
            for (position, column) in columns.enumerated() where aggregatedColumns.contains(column.name) {
                var noise: NoiseAdder?
                if case .noise(let noiseSpec)? = policy.column(column.name)?.technique {
                    noise = NoiseAdder(spec: noiseSpec)
                }
                values.append(.init(output: position, mean: spec.mean.contains(column.name), noise: noise))
            }
            if let count = spec.countColumn { outputHeader.append(count) }
            aggregation = AggregationPlan(
                entityInput: entityInput, timestampOutput: columns.firstIndex { $0.name == timestamp.name }!,
                values: values, addsCount: spec.countColumn != nil)
        }
        self.outputHeader = outputHeader
        self.columns = columns
        self.aggregation = aggregation
        self.techniques = techniques
        self.keyIDs = keyIDs
        filters = policy.filters.map { RecordFilter(rule: $0, column: index[$0.column]!) }
        if policy.privacy != nil {
            let quasiIdentifiers = policy.quasiIdentifiers.map(\.name)
            let outputs = quasiIdentifiers.map { name in columns.firstIndex { $0.name == name }! }
            let sensitive = policy.privacy?.lDiversity?.column ?? policy.privacy?.tCloseness?.column
            privacy = PrivacyLayout(
                columns: quasiIdentifiers, outputs: outputs,
                generalizers: quasiIdentifiers.map { searchedGeneralizations[$0] },
                sensitiveOutput: sensitive.flatMap { name in columns.firstIndex { $0.name == name } },
                entityInput: policy.entity.flatMap { index[$0] })
        } else {
            privacy = nil
        }
    }

    static func describe(_ spec: GeneralizationSpec) -> AppliedTechnique {
        var parameters: [String: ManifestValue] = [
            "level": .number(Double(spec.level)), "levels": .number(Double(spec.levelCount)),
        ]
        let technique: String
        // Level 0 leaves values unchanged: the method is named, without a level's parameter.
        let step = spec.level - 1
        switch spec.method {
        case .round(let bases):
            technique = "rounding"
            if step >= 0 { parameters["base"] = .number(bases[step]) }
        case .intervals(let breaks):
            technique = "rounding to intervals"
            if step >= 0 {
                parameters["breaks"] = .list(Generalizer.breakPoints(breaks, level: spec.level).map { .number($0) })
            }
        case .topBottom(let bottom, let top):
            technique = "top and bottom coding"
            if let bottom { parameters["bottom"] = .number(bottom) }
            if let top { parameters["top"] = .number(top) }
        case .time(let units):
            technique = "time truncation"
            if step >= 0 { parameters["unit"] = .text(units[step].rawValue) }
        case .age(let reference, let bands):
            technique = "birth date to age band"
            parameters["at"] = .text(reference.description)
            if step >= 0 { parameters["band"] = .number(Double(bands[step])) }
        case .prefix(let lengths):
            technique = "prefix (truncation)"
            if step >= 0 { parameters["length"] = .number(Double(lengths[step])) }
        case .decimals(let places):
            technique = "coordinate rounding"
            if step >= 0 { parameters["decimals"] = .number(Double(places[step])) }
        case .grid(let metres, let axis, _):
            technique = "coordinate grid"
            if step >= 0 { parameters["metres"] = .number(metres[step]) }
            parameters["axis"] = .text(axis.rawValue)
        case .hierarchy(let path, _):
            technique = "full-domain generalization (hierarchy)"
            parameters["hierarchy"] = .text(PathName.base(of: path))
        }
        return AppliedTechnique(
            technique: technique, family: "generalization", parameters: parameters,
            traits: ["deterministic", "coarsening"])
    }

    /// The record-suppression step (filters), for the manifest.
    package var filterTechnique: AppliedTechnique? {
        guard !policy.filters.isEmpty else { return nil }
        return AppliedTechnique(
            technique: "record filtering", family: "suppression",
            parameters: ["conditions": .number(Double(policy.filters.count))], traits: ["suppressing"])
    }

    /// True when noise is drawn from a seed or is absent: the output is then a function of the
    /// input, the policy, the keys and the seed.
    package var isReproducible: Bool {
        seed != nil || !columns.contains { if case .noise = $0.operation { true } else { false } }
    }
}

/// The columns the privacy models look at, for a plan with a `privacy` section.
struct PrivacyLayout: Sendable {
    /// Whether pass 1 may spool a record that repeats the one before as a repeat frame
    /// (`SpoolFrame`); tests turn it off to compare with full frames only.
    var repeatFrames = true
    /// The quasi-identifiers kept in the output, in the input's order.
    var columns: [String]
    /// Their output positions.
    var outputs: [Int]
    /// Per quasi-identifier: its generalization when the search chooses the level; nil when the
    /// first pass already wrote the published value.
    var generalizers: [Generalizer?]
    /// The output position of the sensitive column of l-diversity or t-closeness.
    var sensitiveOutput: Int?
    var entityInput: Int?
    /// Output positions of other fields the release's risk reads (trace time and value, charted
    /// columns): each frame notes where they are in its line, for pass 2 to count them.
    var measuredOutputs: [Int] = []
}

/// How the aggregation stage combines records.
struct AggregationPlan: Sendable {
    struct Value: Sendable {
        var output: Int
        var mean: Bool
        var noise: NoiseAdder?
    }
    var entityInput: Int
    var timestampOutput: Int
    var values: [Value]
    var addsCount: Bool
}

/// A compiled filter rule.
struct RecordFilter: Sendable {
    let rule: RecordFilterRule
    let column: Int
    let from: Int?
    let before: Int?
    let oneOf: Set<[UInt8]>?
    let noneOf: Set<[UInt8]>?

    init(rule: RecordFilterRule, column: Int) {
        self.rule = rule
        self.column = column
        from = rule.from.flatMap { TimestampValue.parse(Array($0.utf8))?.secondsSinceEpoch }
        before = rule.before.flatMap { TimestampValue.parse(Array($0.utf8))?.secondsSinceEpoch }
        oneOf = rule.oneOf.map { Set($0.map { Array($0.utf8) }) }
        noneOf = rule.noneOf.map { Set($0.map { Array($0.utf8) }) }
    }

    /// True when `value` passes the rule.
    func keeps(_ value: ArraySlice<UInt8>) throws(ValueProblem) -> Bool {
        if value.isEmpty {
            return !rule.notEmpty && from == nil && before == nil && rule.minimum == nil && rule.maximum == nil
                && oneOf == nil
        }
        if from != nil || before != nil {
            guard let time = TimestampValue.parse(value)?.secondsSinceEpoch else {
                throw ValueProblem("not a date or timestamp (the filter \(rule.path) compares dates)")
            }
            if let from, time < from { return false }
            if let before, time >= before { return false }
        }
        if rule.minimum != nil || rule.maximum != nil {
            guard let number = DecimalText.parse(value)?.value else {
                throw ValueProblem("not a number (the filter \(rule.path) compares numbers)")
            }
            if let minimum = rule.minimum, number < minimum { return false }
            if let maximum = rule.maximum, number > maximum { return false }
        }
        if let oneOf, !oneOf.contains(Array(value)) { return false }
        if let noneOf, noneOf.contains(Array(value)) { return false }
        return true
    }
}
