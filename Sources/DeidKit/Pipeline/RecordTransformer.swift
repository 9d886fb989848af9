import DeidCSV
import DeidEngine

/// Applies a plan to records, one at a time: filters, then every column's operation. Holds the
/// per-worker state (memos of deterministic results, the noise stream); make one per thread.
///
/// The per-column operations are kept as parallel arrays (kind, input column, payload, memo)
/// rather than an array of objects or of enums with payloads: the loop then neither retains an
/// object per field nor copies payloads, which measured as a fifth of the time per record.
package struct RecordTransformer {
    package let plan: TransformPlan
    private let kinds: [ColumnStep.Kind]
    private let inputs: [Int]
    /// The steps, called without retaining each one per record.
    private let steps: UnretainedReferences<ColumnStep>
    /// The memos, by output column up to the last that memoizes. A copy of the transformer
    /// shares them (one per thread).
    private let memos: FieldMemos
    private var random: NoiseRandom
    /// A seeded record-by-record plan with noise: each record's noise is drawn from a stream
    /// of the seed and the record's own fields (`recordStream`), so that a record gets the same
    /// noise however the input is cut into blocks, files or shards (Docs/SCALE-OUT.md).
    private let recordSeed: UInt64?
    private let hasFilters: Bool
    /// The leading output columns that are computed from one input field each, the same way
    /// every time (copies, pseudonyms, masks, generalizations, suppressed cells), and their
    /// input fields: when a record's fields there equal the previous record's (one household's
    /// readings), a sink that can repeats the previous record's output for them at once.
    private let repeatableCount: Int
    /// Finds how many repeatable input fields of a record equal the last record's (the last
    /// record transformed into a repeating sink).
    private var repeats: LeadingFieldsMatcher
    /// The input named in error positions.
    package var sourceName: String

    /// - Parameters:
    ///   - stream: separates the noise streams of workers or blocks of one seeded run.
    package init(plan: TransformPlan, sourceName: String, stream: UInt64 = 0) {
        self.init(plan: plan, sourceName: sourceName, stream: stream, shared: nil)
    }

    /// - Parameter shared: the plan's steps (`sharedSteps(plan:)`) for transformers that run at
    ///   once: taken instead of made again (a file of 100,000 columns has as many steps).
    init(plan: TransformPlan, sourceName: String, stream: UInt64 = 0, shared: [ColumnStep]?) {
        self.plan = plan
        self.sourceName = sourceName
        let steps = plan.columns.indices.map { index in
            if let shared, shared[index].isShareable { return shared[index] }
            return ColumnStep(plan.columns[index])
        }
        self.steps = UnretainedReferences(steps)
        kinds = steps.map(\.kind)
        inputs = steps.map(\.input)
        // Memos up to the last column that uses one (a wide file's copied columns need none).
        memos = FieldMemos(
            count: (kinds.lastIndex { [.pseudonymize, .mask, .generalize].contains($0) } ?? -1) + 1, capacity: 1 << 18)
        hasFilters = !plan.filters.isEmpty
        repeatableCount = steps.firstIndex { !$0.isDeterministicInOneField } ?? steps.count
        repeats = LeadingFieldsMatcher(indices: Array(steps.prefix(repeatableCount).map(\.input)))
        random = plan.seed.map { NoiseRandom.seeded($0, stream: stream) } ?? .system()
        let hasNoise = plan.columns.contains { if case .noise = $0.operation { true } else { false } }
        recordSeed = hasNoise && plan.aggregation == nil ? plan.seed : nil
    }

    /// A record's noise stream: a hash of its fields (`CSVRecord.recordHash`). Records with the
    /// same fields draw the same noise.
    static func recordStream(_ record: CSVRecord) -> UInt64 { record.recordHash() }

    /// Steps that transformers running at once may share: they are immutable, but a mask holds
    /// a `Regex<AnyRegexOutput>`, which is not `Sendable`: each transformer makes its own masks.
    static func sharedSteps(plan: TransformPlan) -> [ColumnStep] { plan.columns.map(ColumnStep.init) }

    /// Restarts a seeded run's noise stream: per block (`TransformRun`, `AggregateRun`; a record-by-record
    /// plan then restarts it per record), or per aggregated row (`TimeSeriesAggregator`).
    package mutating func reseed(stream: UInt64) {
        if let seed = plan.seed { random = .seeded(seed, stream: stream) }
    }

    /// Appends the transformed `record`'s fields to `output` (an emptied `CSVRecord`, or a
    /// writer whose record the caller ends); false, with nothing appended, when a filter drops
    /// the record.
    /// - Throws: `TransformError` naming the record and column when a value does not fit its technique.
    package mutating func transform<Sink: CSVFieldSink>(_ record: CSVRecord, into output: inout Sink)
        throws(TransformError) -> Bool
    {
        if hasFilters {
            for filter in plan.filters {
                do {
                    if try !filter.keeps(record[filter.column]) { return false }
                } catch {
                    throw failure(error, record: record, column: filter.column)
                }
            }
        }
        if let recordSeed { random = .seeded(recordSeed, stream: Self.recordStream(record)) }
        var first = 0
        if Sink.repeatsFields && repeatableCount > 0 {
            // The leading repeatable fields equal to the previous record's are repeated at once.
            // Without filters every record read comes here, in order.
            let matched = repeats.match(record, readInOrder: !hasFilters)
            if matched > 0 && output.repeatFields(matched) { first = matched }
        }
        for position in first..<kinds.count {
            let input = inputs[position]
            do {
                switch kinds[position] {
                case .copy:
                    output.append(fieldOf: record, at: input)
                case .pseudonymize, .mask, .generalize:
                    // Computed once per distinct value; the step is reached only on a miss.
                    try memos.append(column: position, valueFor: input, of: record, to: &output) { value in
                        try steps.with(position) { try $0.compute(value) }
                    }
                default:
                    try steps.with(position) { try $0.apply(record, to: &output, random: &random) }
                }
            } catch let problem as ValueProblem {
                throw failure(problem, record: record, column: input)
            } catch {
                throw failure(ValueProblem("\(error)"), record: record, column: input)
            }
            if Sink.repeatsFields && position < repeatableCount { output.markField() }
        }
        return true
    }

    /// Noise for an aggregate.
    mutating func perturb(_ value: Double, decimals: Int, with adder: NoiseAdder) throws(ValueProblem) -> [UInt8] {
        try adder.perturb(value, decimals: decimals, random: &random)
    }

    private func failure(_ problem: ValueProblem, record: CSVRecord, column: Int) -> TransformError {
        TransformError(
            position: InputPosition(
                source: sourceName, line: record.line, record: record.number,
                column: plan.inputHeader[column]), problem: problem.message)
    }
}

/// One output column's operation, unpacked from the plan for the hot loop.
final class ColumnStep {
    enum Kind {
        case copy, pseudonymize, pseudonymizeRotating, mask, suppress, generalize, generalizeWithLatitude, noise,
            shiftDate
    }

    /// The techniques of a step that is not a copy, in an object of their own: a copy (most
    /// columns of a wide file) is a few words, not the size of every technique's settings.
    private final class Techniques {
        var pseudonymizer: Pseudonymizer?
        var rotation: RotationState?
        var masker: Masker?
        var suppressor: CellSuppressor?
        var generalizer: Generalizer?
        var adder: NoiseAdder?
        var shifter: DateShifter?
    }

    let kind: Kind
    let input: Int
    private let level: Int
    private let otherInput: Int
    /// Nil for a copy.
    private let techniques: Techniques?
    private var pseudonymizer: Pseudonymizer? { techniques?.pseudonymizer }
    private var masker: Masker? { techniques?.masker }
    private var suppressor: CellSuppressor? { techniques?.suppressor }
    private var generalizer: Generalizer? { techniques?.generalizer }
    private var adder: NoiseAdder? { techniques?.adder }
    private var shifter: DateShifter? { techniques?.shifter }

    init(_ column: TransformPlan.OutputColumn) {
        input = column.input
        let techniques = Techniques()
        var level = 0
        var otherInput = -1
        switch column.operation {
        case .copy, .aggregatedValue: kind = .copy
        case .pseudonymize(let value):
            kind = .pseudonymize
            techniques.pseudonymizer = value
        case .pseudonymizeRotating(let value, let time):
            kind = .pseudonymizeRotating
            techniques.rotation = RotationState(value)
            otherInput = time
        case .mask(let value):
            kind = .mask
            techniques.masker = value
        case .suppress(let value):
            kind = .suppress
            techniques.suppressor = value
        case .generalize(let value, let chosen, let latitude):
            techniques.generalizer = value
            level = chosen
            if let latitude {
                kind = .generalizeWithLatitude
                otherInput = latitude
            } else {
                kind = .generalize
            }
        case .noise(let value):
            kind = .noise
            techniques.adder = value
        case .shiftDate(let value, let entity, let then, let chosen):
            kind = .shiftDate
            techniques.shifter = value
            otherInput = entity
            techniques.generalizer = then
            level = chosen
        }
        self.techniques = kind == .copy ? nil : techniques
        self.level = level
        self.otherInput = otherInput
    }

    /// True when transformers on other threads may use this step too (`RecordTransformer.sharedSteps`).
    var isShareable: Bool { kind != .mask && kind != .pseudonymizeRotating }

    /// True when the column's output depends on its one input field alone, the same every time.
    var isDeterministicInOneField: Bool {
        switch kind {
        case .copy, .pseudonymize, .mask, .suppress, .generalize: true
        case .pseudonymizeRotating, .generalizeWithLatitude, .noise, .shiftDate: false
        }
    }

    /// The deterministic result for one value (pseudonym, mask, generalization).
    func compute(_ value: ArraySlice<UInt8>) throws -> [UInt8] {
        switch kind {
        case .pseudonymize: value.isEmpty ? [] : pseudonymizer.unsafelyUnwrapped.pseudonym(for: value)
        case .mask: masker.unsafelyUnwrapped.mask(value)
        default: try generalizer.unsafelyUnwrapped.generalize(value, level: level)
        }
    }

    /// Appends this column's output for `record` (the memoized kinds are handled by the caller).
    func apply<Sink: CSVFieldSink>(_ record: CSVRecord, to output: inout Sink, random: inout NoiseRandom) throws {
        switch kind {
        case .copy:
            output.append(fieldOf: record, at: input)
        case .pseudonymize, .mask, .generalize:
            output.append(field: try compute(record[input]))
        case .suppress:
            output.append(field: suppressor.unsafelyUnwrapped.suppress(record[input]))
        case .pseudonymizeRotating:
            let value = record[input]
            if value.isEmpty {
                output.append(field: [])
                return
            }
            guard let time = TimestampValue.parse(record[otherInput]) else {
                throw ValueProblem(
                    "the rotation's time field of the record is not a date or timestamp in a known layout (YYYY-MM-DD[ HH:MM[:SS]])"
                )
            }
            output.append(
                field: techniques.unsafelyUnwrapped.rotation.unsafelyUnwrapped.pseudonym(for: value, at: time))
        case .generalizeWithLatitude:
            output.append(
                field: try generalizer.unsafelyUnwrapped.generalize(
                    record[input], level: level, latitude: record[otherInput]))
        case .noise:
            try adder.unsafelyUnwrapped.apply(record, field: input, random: &random, to: &output)
        case .shiftDate:
            let value = record[input]
            if value.isEmpty {
                output.append(field: [])
                return
            }
            guard let time = TimestampValue.parse(value) else {
                throw ValueProblem("not a date or timestamp in a known layout (YYYY-MM-DD[ HH:MM[:SS]])")
            }
            var shifted: [UInt8] = []
            time.shifted(days: shifter.unsafelyUnwrapped.days(for: record[otherInput])).write(into: &shifted)
            if let generalizer { shifted = try generalizer.generalize(shifted[...], level: level) }
            output.append(field: shifted)
        }
    }
}
