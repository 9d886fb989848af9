import DeidCSV
import Foundation

/// Which columns to count the values of, for the report's before/after distributions.
public struct DistributionRequest: Sendable {
    /// (name, index in the records counted).
    public var columns: [(name: String, index: Int)]
    /// The entity column's index, to count individuals per value; nil: every record is one.
    public var entity: Int?
    /// Individuals counted per value up to this (the public report hides values with fewer).
    public var individualsCap: Int
    /// Every this many records one is counted (the charts are pictures; counting every record
    /// cost the publish pass a fifth of its time).
    public var sampleEvery = 8

    public init(columns: [(name: String, index: Int)], entity: Int?, individualsCap: Int) {
        self.columns = columns
        self.entity = entity
        self.individualsCap = max(1, individualsCap)
    }
}

/// Records and (up to a cap) distinct individuals holding one value or one numeric bin.
struct ValueCount: Sendable {
    var records = 0
    /// Hashes of distinct entities, at most the cap.
    var individuals: [UInt64] = []

    mutating func add(records count: Int, individual: UInt64?, cap: Int) {
        records += count
        if let individual, individuals.count < cap, !individuals.contains(individual) { individuals.append(individual) }
    }

    mutating func merge(_ other: ValueCount, cap: Int) {
        records += other.records
        for individual in other.individuals where individuals.count < cap && !individuals.contains(individual) {
            individuals.append(individual)
        }
    }
}

/// One column's values: numbers in fine bins (coarsened tenfold when there are too many), text
/// values up to a bound (the rest counted as other). Memory is bounded per column.
public struct ValueDistribution: Sendable {
    public let column: String
    /// Number bins: key * scale is the bin's lower bound, in thousandths at first.
    var numbers: [Int64: ValueCount] = [:]
    var scale: Double = 0.001
    var texts: [HashedBytes: ValueCount] = [:]
    var otherRecords = 0
    var emptyRecords = 0
    /// The last text value counted: a household's attributes repeat record after record.
    private var previousText: HashedBytes?
    /// Whether individuals are entities (else records).
    var byEntity = false
    /// One record in this many was counted.
    public internal(set) var sampleEvery = 1
    static let maxBins = 4096
    static let maxTexts = 1000

    init(column: String) { self.column = column }

    public var records: Int {
        numbers.values.reduce(0) { $0 + $1.records } + texts.values.reduce(0) { $0 + $1.records } + otherRecords + emptyRecords
    }

    mutating func add(_ field: ArraySlice<UInt8>, count: Int = 1, individual: UInt64?, cap: Int) {
        if field.isEmpty {
            emptyRecords += count
        } else if let previous = previousText, previous.bytes[...] == field {
            texts[previous]!.add(records: count, individual: individual, cap: cap)
        } else if let number = DecimalText.parse(field)?.value, number.isFinite {
            numbers[Int64((number / scale).rounded(.down)), default: ValueCount()].add(records: count, individual: individual, cap: cap)
            if numbers.count > Self.maxBins { coarsen(cap: cap) }
        } else {
            let key = HashedBytes(Array(field))
            if texts[key] != nil || texts.count < Self.maxTexts {
                previousText = key
                texts[key, default: ValueCount()].add(records: count, individual: individual, cap: cap)
            } else {
                otherRecords += count
            }
        }
    }

    private mutating func coarsen(cap: Int) {
        var coarser: [Int64: ValueCount] = [:]
        for (key, count) in numbers {
            let floorDivided = key >= 0 ? key / 10 : (key - 9) / 10
            coarser[floorDivided, default: ValueCount()].merge(count, cap: cap)
        }
        numbers = coarser
        scale *= 10
    }

    mutating func merge(_ other: ValueDistribution, cap: Int) {
        var other = other
        while other.scale < scale { other.coarsen(cap: cap) }
        while scale < other.scale { coarsen(cap: cap) }
        for (key, count) in other.numbers { numbers[key, default: ValueCount()].merge(count, cap: cap) }
        while numbers.count > Self.maxBins { coarsen(cap: cap) }
        for (key, count) in other.texts {
            if texts[key] != nil || texts.count < Self.maxTexts {
                texts[key, default: ValueCount()].merge(count, cap: cap)
            } else {
                otherRecords += count.records
            }
        }
        otherRecords += other.otherRecords
        emptyRecords += other.emptyRecords
    }

    /// Bars for a chart: numbers in at most `bins` equal ranges, or the most frequent texts.
    /// With `minimumIndividuals` > 1, a bar held by fewer individuals is left out and its
    /// records reported as hidden (the public report).
    func bars(bins: Int = 20, top: Int = 15, minimumIndividuals: Int) -> (bars: [(label: String, records: Int)], hidden: Int, numeric: Bool) {
        var hidden = 0
        func shown(_ count: ValueCount) -> Bool {
            minimumIndividuals <= 1 || count.individuals.count >= minimumIndividuals
        }
        let numericRecords = numbers.values.reduce(0) { $0 + $1.records }
        let unit = Int64((1 / scale).rounded())
        let textRecords = texts.values.reduce(0) { $0 + $1.records } + otherRecords
        if numericRecords >= textRecords, let low = numbers.keys.min(), let high = numbers.keys.max() {
            hidden += textRecords
            var width = max(1, Int64((Double(high - low + 1) / Double(bins)).rounded(.up)))
            // Whole numbers over a short range (household sizes, ages): one bar per number.
            if unit >= 1, numbers.keys.allSatisfy({ $0 % unit == 0 }), (high - low) / unit < Int64(bins) * 2 { width = unit }
            var grouped: [Int64: ValueCount] = [:]
            for (key, count) in numbers { grouped[(key - low) / width, default: ValueCount()].merge(count, cap: Int.max) }
            var result: [(String, Int)] = []
            for bin in grouped.keys.sorted() {
                let count = grouped[bin]!
                guard shown(count) else { hidden += count.records; continue }
                let from = Double(low + bin * width) * scale, to = Double(low + (bin + 1) * width) * scale
                result.append((width == unit ? Self.short(from) : "\(Self.short(from))-\(Self.short(to))", count.records))
            }
            return (result, hidden, true)
        }
        hidden += numericRecords
        var result: [(String, Int)] = []
        for (key, count) in texts.sorted(by: { $0.value.records != $1.value.records ? $0.value.records > $1.value.records : $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }) {
            guard shown(count), result.count < top else { hidden += count.records; continue }
            result.append((String(decoding: key.bytes, as: UTF8.self), count.records))
        }
        return (result, hidden + otherRecords, false)
    }

    static func short(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e12 { return String(Int64(value)) }
        return String(format: "%.3g", value)
    }
}

/// The distributions a run collected, merged in block order on the thread that consumes blocks.
public final class DistributionCollector: @unchecked Sendable {
    public private(set) var counter: DistributionCounter?

    func merge(_ other: DistributionCounter?) {
        guard let other else { return }
        if counter == nil { counter = other } else { counter!.merge(other) }
    }

    public var distributions: [ValueDistribution] { counter?.distributions ?? [] }
}

/// Counts a block's (or a whole single-threaded run's) records into one distribution per column.
public struct DistributionCounter: Sendable {
    let request: DistributionRequest
    private(set) var distributions: [ValueDistribution]
    private var previousEntityHash: UInt64?
    private var previousEntity: [UInt8] = []
    /// Records until the next one counted: the first, then every `sampleEvery`-th.
    private var untilSample = 1

    init(_ request: DistributionRequest) {
        self.request = request
        distributions = request.columns.map {
            var distribution = ValueDistribution(column: $0.name)
            distribution.byEntity = request.entity != nil
            distribution.sampleEvery = request.sampleEvery
            return distribution
        }
    }

    @inline(__always) mutating func add(_ record: CSVRecord) {
        // Called for every record: the records not counted cost a decrement.
        untilSample &-= 1
        guard untilSample == 0 else { return }
        untilSample = request.sampleEvery
        addSampled(record)
    }

    @inline(never) private mutating func addSampled(_ record: CSVRecord) {
        var individual: UInt64?
        if let entity = request.entity {
            // A household's records come in runs: its hash is computed once per run.
            if let previous = previousEntityHash, record.field(entity, equals: previousEntity[...]) {
                individual = previous
            } else {
                previousEntity = Array(record[entity])
                let hash = record.fieldHash(at: entity)
                previousEntityHash = hash
                individual = hash
            }
        } else {
            individual = UInt64(bitPattern: Int64(record.number))
        }
        for (position, column) in request.columns.enumerated() {
            distributions[position].add(record[column.index], individual: individual, cap: request.individualsCap)
        }
    }

    /// Labels the distributions as counted on one record in `every` (when the caller sampled).
    mutating func setSampling(every: Int) {
        for index in distributions.indices { distributions[index].sampleEvery = every }
    }

    mutating func merge(_ other: DistributionCounter) {
        for position in distributions.indices { distributions[position].merge(other.distributions[position], cap: request.individualsCap) }
    }
}

/// One column before and after the policy (the publish report).
public struct ColumnChange: Sendable {
    public var column: String
    public var before: ValueDistribution
    public var after: ValueDistribution
}
