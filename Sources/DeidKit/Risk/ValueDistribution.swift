import DeidCSV
import DeidEngine
import Foundation

/// Which columns to count the values of, for the report's before/after distributions.
package struct DistributionRequest: Sendable {
    /// (name, index in the records counted).
    package var columns: [(name: String, index: Int)]
    /// The entity column's index, to count individuals per value; nil: every record is one.
    package var entity: Int?
    /// Individuals counted per value up to this (the public report hides values with fewer).
    package var individualsCap: Int
    /// Every this many records one is counted (the charts are pictures; counting every record
    /// cost the publish pass a fifth of its time).
    package var sampleEvery = 8

    /// The sampling for inputs of `bytes` in all: one record in 8 up to 256 MiB, then one in
    /// twice as many each time the input doubles (at most one in 64), so that a large input's
    /// charts take about as many records as a 256 MiB input's (a 1 GB input: one in 32).
    package static func sampleEvery(forInputBytes bytes: Int) -> Int {
        var every = 8
        var covered = 256 << 20
        while bytes > covered && every < 64 {
            every *= 2
            covered *= 2
        }
        return every
    }

    package init(columns: [(name: String, index: Int)], entity: Int?, individualsCap: Int) {
        self.columns = columns
        self.entity = entity
        self.individualsCap = max(1, individualsCap)
    }
}

/// Records and (up to a cap) distinct individuals holding one value or one numeric bin. The
/// first individual is kept inline: a block is mostly one household, so most values of a
/// block's distribution have one individual, and no array.
struct ValueCount: Sendable {
    var records = 0
    /// Hashes of distinct entities, at most the cap: `first` (when `hasFirst`), then `others`.
    private var first: UInt64 = 0
    private var hasFirst = false
    private var others: [UInt64] = []
    var firstIndividual: UInt64 { first }
    var otherIndividuals: [UInt64] { others }

    /// The number of distinct individuals counted (at most the cap).
    var individualCount: Int { hasFirst ? 1 &+ others.count : 0 }

    @inline(__always) mutating func add(records count: Int, individual: UInt64?, cap: Int) {
        records &+= count
        guard let individual else { return }
        // A household's records come in runs: the individual counted first is the likeliest.
        if !hasFirst {
            first = individual
            hasFirst = true
        } else if individual != first {
            insert(individual, cap: cap)
        }
    }

    private mutating func insert(_ individual: UInt64, cap: Int) {
        if individualCount < cap, individual != first, !others.contains(individual) { others.append(individual) }
    }

    mutating func merge(_ other: ValueCount, cap: Int) {
        records += other.records
        guard other.hasFirst else { return }
        if !hasFirst {
            first = other.first
            hasFirst = true
        } else {
            insert(other.first, cap: cap)
        }
        for individual in other.others { insert(individual, cap: cap) }
    }
}

/// One column's values: numbers in fine bins (coarsened tenfold when there are too many), text
/// values up to a bound (the rest counted as other). Memory is bounded per column.
///
/// Counted for every sampled record of a release, before and after the policy, so values are
/// looked up in place (a field is copied only when it is a new text value) in open-addressing
/// tables rather than in dictionaries.
package struct ValueDistribution: Sendable {
    package let column: String
    /// Number bins: key * scale is the bin's lower bound, in thousandths at first.
    private(set) var bins = BinIndex()
    private(set) var binCounts: [ValueCount] = []
    var scale: Double = 0.001
    /// Text values by code, and their counts.
    private(set) var texts = ByteCodeIndex()
    private(set) var textCounts: [ValueCount] = []
    /// Records of values not counted one by one: texts past the bound, numbers too large to bin.
    var otherRecords = 0
    var emptyRecords = 0
    /// The code of the last text value counted: a household's attributes repeat record after record.
    private var previousText = -1
    /// Whether individuals are entities (else records).
    var byEntity = false
    /// One record in this many was counted.
    package internal(set) var sampleEvery = 1
    static let maxBins = 4096
    static let maxTexts = 1000
    /// Numbers whose bin key would reach this are counted as other (no bin would be useful).
    private static let binLimit = 0x1p52

    init(column: String) { self.column = column }

    package var records: Int {
        binCounts.reduce(0) { $0 + $1.records } + textCounts.reduce(0) { $0 + $1.records } + otherRecords + emptyRecords
    }

    /// The numeric bins (key * scale is a bin's lower bound).
    var numbers: [Int64: ValueCount] { Dictionary(uniqueKeysWithValues: zip(bins.keys, binCounts)) }

    /// Counts field `field` of `record` (in place).
    @inline(__always) mutating func add(_ record: CSVRecord, field: Int, count: Int = 1, individual: UInt64?, cap: Int)
    {
        if record.length(of: field) == 0 {
            emptyRecords += count
        } else if previousText >= 0, record.field(field, equals: texts.values[previousText][...]) {
            textCounts[previousText].add(records: count, individual: individual, cap: cap)
        } else if let number = record.withField(field, { DecimalText.parse($0) })?.value {
            addNumber(number, count: count, individual: individual, cap: cap)
        } else if texts.count < Self.maxTexts {
            let (code, isNew) = texts.code(of: record, field: field)
            if isNew { textCounts.append(ValueCount()) }
            addText(Int(code), count: count, individual: individual, cap: cap)
        } else if let code = texts.existingCode(of: record, field: field) {
            addText(Int(code), count: count, individual: individual, cap: cap)
        } else {
            otherRecords += count
        }
    }

    /// Counts `field` (for tests and callers without a record).
    mutating func add(_ field: ArraySlice<UInt8>, count: Int = 1, individual: UInt64?, cap: Int) {
        var record = CSVRecord()
        record.append(field: field)
        add(record, field: 0, count: count, individual: individual, cap: cap)
    }

    @inline(__always) private mutating func addText(_ code: Int, count: Int, individual: UInt64?, cap: Int) {
        previousText = code
        textCounts[code].add(records: count, individual: individual, cap: cap)
    }

    private mutating func addNumber(_ number: Double, count: Int, individual: UInt64?, cap: Int) {
        let key = (number / scale).rounded(.down)
        guard abs(key) < Self.binLimit else {
            otherRecords += count
            return
        }
        let position = bins.position(of: Int64(key))
        if position == binCounts.count { binCounts.append(ValueCount()) }
        binCounts[position].add(records: count, individual: individual, cap: cap)
        if bins.count > Self.maxBins { coarsen(cap: cap) }
    }

    private mutating func coarsen(cap: Int) {
        let (keys, counts) = (bins.keys, binCounts)
        bins = BinIndex()
        binCounts = []
        for (key, count) in zip(keys, counts) {
            let floorDivided = key >= 0 ? key / 10 : (key - 9) / 10
            mergeBin(floorDivided, count, cap: cap)
        }
        scale *= 10
    }

    private mutating func mergeBin(_ key: Int64, _ count: ValueCount, cap: Int) {
        let position = bins.position(of: key)
        if position == binCounts.count { binCounts.append(count) } else { binCounts[position].merge(count, cap: cap) }
    }

    mutating func merge(_ other: ValueDistribution, cap: Int) {
        var other = other
        while other.scale < scale { other.coarsen(cap: cap) }
        while scale < other.scale { coarsen(cap: cap) }
        for (key, count) in zip(other.bins.keys, other.binCounts) { mergeBin(key, count, cap: cap) }
        while bins.count > Self.maxBins { coarsen(cap: cap) }
        for (value, count) in zip(other.texts.values, other.textCounts) {
            if texts.count < Self.maxTexts {
                let (code, isNew) = texts.code(of: value[...])
                if isNew { textCounts.append(count) } else { textCounts[Int(code)].merge(count, cap: cap) }
            } else if let code = texts.existingCode(of: value[...]) {
                textCounts[Int(code)].merge(count, cap: cap)
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
    func bars(bins binCount: Int = 20, top: Int = 15, minimumIndividuals: Int) -> (
        bars: [(label: String, records: Int)], hidden: Int, numeric: Bool
    ) {
        var hidden = 0
        func shown(_ count: ValueCount) -> Bool {
            minimumIndividuals <= 1 || count.individualCount >= minimumIndividuals
        }
        let numericRecords = binCounts.reduce(0) { $0 + $1.records }
        let unit = Int64((1 / scale).rounded())
        let textRecords = textCounts.reduce(0) { $0 + $1.records } + otherRecords
        let keys = bins.keys
        if numericRecords >= textRecords, let low = keys.min(), let high = keys.max() {
            hidden += textRecords
            var width = max(1, Int64((Double(high - low + 1) / Double(binCount)).rounded(.up)))
            // Whole numbers over a short range (household sizes, ages): one bar per number.
            if unit >= 1, keys.allSatisfy({ $0 % unit == 0 }), (high - low) / unit < Int64(binCount) * 2 {
                width = unit
            }
            var grouped: [Int64: ValueCount] = [:]
            for (key, count) in zip(keys, binCounts) {
                grouped[(key - low) / width, default: ValueCount()].merge(count, cap: Int.max)
            }
            var result: [(String, Int)] = []
            for bin in grouped.keys.sorted() {
                let count = grouped[bin]!
                guard shown(count) else {
                    hidden += count.records
                    continue
                }
                let from = Double(low + bin * width) * scale
                let to = Double(low + (bin + 1) * width) * scale
                result.append(
                    (width == unit ? Self.short(from) : "\(Self.short(from))-\(Self.short(to))", count.records))
            }
            return (result, hidden, true)
        }
        hidden += numericRecords
        var result: [(String, Int)] = []
        let values = texts.values
        let order = textCounts.indices.sorted {
            textCounts[$0].records != textCounts[$1].records
                ? textCounts[$0].records > textCounts[$1].records
                : values[$0].lexicographicallyPrecedes(values[$1])
        }
        for code in order {
            let count = textCounts[code]
            guard shown(count), result.count < top else {
                hidden += count.records
                continue
            }
            result.append((String(decoding: values[code], as: UTF8.self), count.records))
        }
        return (result, hidden + otherRecords, false)
    }

    static func short(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e12 { return String(Int64(value)) }
        return String(format: "%.3g", value)
    }
}

/// A distribution as a file holds it (`deid apply --plan --charts`, Docs/SCALE-OUT.md): its bins
/// and texts in the order they were first counted, each with its records and (up to the cap)
/// the hashes of its individuals. Decoding rebuilds the same distribution.
extension ValueDistribution: Codable {
    private struct Entry: Codable {
        var key: Int64?
        var text: Data?
        var records: Int
        var individuals: [UInt64]
    }

    enum CodingKeys: String, CodingKey {
        case column, scale, entries
        case otherRecords = "other_records"
        case emptyRecords = "empty_records"
        case byEntity = "by_entity"
        case sampleEvery = "sample_every"
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(column, forKey: .column)
        try container.encode(scale, forKey: .scale)
        let entries =
            zip(bins.keys, binCounts).map {
                Entry(key: $0, text: nil, records: $1.records, individuals: $1.individuals)
            }
            + zip(texts.values, textCounts).map {
                Entry(key: nil, text: Data($0), records: $1.records, individuals: $1.individuals)
            }
        try container.encode(entries, forKey: .entries)
        try container.encode(otherRecords, forKey: .otherRecords)
        try container.encode(emptyRecords, forKey: .emptyRecords)
        try container.encode(byEntity, forKey: .byEntity)
        try container.encode(sampleEvery, forKey: .sampleEvery)
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(column: try container.decode(String.self, forKey: .column))
        scale = try container.decode(Double.self, forKey: .scale)
        for entry in try container.decode([Entry].self, forKey: .entries) {
            let count = ValueCount(records: entry.records, individuals: entry.individuals)
            if let key = entry.key {
                _ = bins.position(of: key)
                binCounts.append(count)
            } else if let text = entry.text {
                _ = texts.code(of: Array(text)[...])
                textCounts.append(count)
            }
        }
        otherRecords = try container.decode(Int.self, forKey: .otherRecords)
        emptyRecords = try container.decode(Int.self, forKey: .emptyRecords)
        byEntity = try container.decode(Bool.self, forKey: .byEntity)
        sampleEvery = try container.decode(Int.self, forKey: .sampleEvery)
    }
}

extension ValueCount {
    /// The individuals' hashes, the first counted first.
    var individuals: [UInt64] { individualCount == 0 ? [] : [firstIndividual] + otherIndividuals }

    init(records: Int, individuals: [UInt64]) {
        self.init()
        self.records = records
        for individual in individuals { add(records: 0, individual: individual, cap: Int.max) }
    }
}

/// The distributions a run collected, merged in block order on the thread that consumes blocks.
package final class DistributionCollector: @unchecked Sendable {
    package private(set) var counter: DistributionCounter?

    func merge(_ other: DistributionCounter?) {
        guard let other else { return }
        if counter == nil { counter = other } else { counter!.merge(other) }
    }

    package var distributions: [ValueDistribution] { counter?.distributions ?? [] }
}

/// Counts a block's (or a whole single-threaded run's) records into one distribution per column.
package struct DistributionCounter: Sendable {
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

    /// True when the next record added is counted.
    var samplesNext: Bool { untilSample == 1 }

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
            distributions[position].add(
                record, field: column.index, individual: individual, cap: request.individualsCap)
        }
    }

    /// Labels the distributions as counted on one record in `every` (when the caller sampled).
    mutating func setSampling(every: Int) {
        for index in distributions.indices { distributions[index].sampleEvery = every }
    }

    mutating func merge(_ other: DistributionCounter) {
        for position in distributions.indices {
            distributions[position].merge(other.distributions[position], cap: request.individualsCap)
        }
    }
}

/// One column before and after the policy (the publish report).
package struct ColumnChange: Sendable {
    package var column: String
    package var before: ValueDistribution
    package var after: ValueDistribution
}
