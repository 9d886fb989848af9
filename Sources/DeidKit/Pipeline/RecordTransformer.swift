import DeidCSV

/// Applies a plan to records, one at a time: filters, then every column's operation. Holds the
/// per-worker state (memos of deterministic results, the noise stream); make one per thread.
public struct RecordTransformer {
    public let plan: TransformPlan
    private var memos: [FieldMemo]
    private var random: NoiseRandom
    /// The input named in error positions.
    public var sourceName: String

    /// - Parameters:
    ///   - stream: separates the noise streams of workers of one seeded run.
    public init(plan: TransformPlan, sourceName: String, stream: UInt64 = 0) {
        self.plan = plan
        self.sourceName = sourceName
        memos = plan.columns.map { _ in FieldMemo(capacity: 1 << 18) }
        random = plan.seed.map { NoiseRandom.seeded($0, stream: stream) } ?? .system()
    }

    /// Fills `output` with the transformed `record`; false when a filter drops the record.
    /// - Throws: `TransformError` naming the record and column when a value does not fit its technique.
    public mutating func transform(_ record: CSVRecord, into output: inout CSVRecord) throws(TransformError) -> Bool {
        for filter in plan.filters {
            do {
                if try !filter.keeps(record[filter.column]) { return false }
            } catch {
                throw failure(error, record: record, column: filter.column)
            }
        }
        output.removeAll()
        for position in plan.columns.indices {
            let column = plan.columns[position]
            let input = column.input
            do {
                switch column.operation {
                case .copy, .aggregatedValue:
                    output.append(fieldOf: record, at: input)
                case .pseudonymize(let pseudonymizer):
                    memos[position].append(valueFor: input, of: record, to: &output) { value in
                        value.isEmpty ? [] : pseudonymizer.pseudonym(for: value)
                    }
                case .mask(let masker):
                    memos[position].append(valueFor: input, of: record, to: &output) { masker.mask($0) }
                case .suppress(let suppressor):
                    output.append(field: suppressor.suppress(record[input]))
                case .generalize(let generalizer, let level, let latitudeInput):
                    if let latitudeInput {
                        output.append(field: try generalizer.generalize(record[input], level: level, latitude: record[latitudeInput]))
                    } else {
                        try memos[position].append(valueFor: input, of: record, to: &output) { value throws(ValueProblem) in
                            try generalizer.generalize(value, level: level)
                        }
                    }
                case .noise(let adder):
                    output.append(field: try adder.apply(record[input], random: &random))
                case .shiftDate(let shifter, let entityInput, let generalizer, let level):
                    let value = record[input]
                    if value.isEmpty { output.append(field: []); continue }
                    guard let time = TimestampValue.parse(value) else {
                        throw ValueProblem("not a date or timestamp in a known layout (YYYY-MM-DD[ HH:MM[:SS]])")
                    }
                    var shifted: [UInt8] = []
                    time.shifted(days: shifter.days(for: record[entityInput])).write(into: &shifted)
                    if let generalizer { shifted = try generalizer.generalize(shifted[...], level: level) }
                    output.append(field: shifted)
                }
            } catch let problem as ValueProblem {
                throw failure(problem, record: record, column: input)
            } catch {
                throw failure(ValueProblem("\(error)"), record: record, column: input)
            }
        }
        return true
    }

    /// Noise for an aggregate.
    mutating func perturb(_ value: Double, decimals: Int, with adder: NoiseAdder) -> [UInt8] {
        adder.perturb(value, decimals: decimals, random: &random)
    }

    private func failure(_ problem: ValueProblem, record: CSVRecord, column: Int) -> TransformError {
        TransformError(position: InputPosition(source: sourceName, line: record.line, record: record.number,
                                               column: plan.inputHeader[column]), problem: problem.message)
    }
}
