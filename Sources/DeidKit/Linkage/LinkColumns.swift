import DeidCSV
import DeidEngine
import Foundation

/// What linkage knows of one column before the full pass: its profile (type, suggested role)
/// and the distinct values of the sampled rows (the first block of a file, or a catalogued
/// release's class table).
package struct LinkColumn: Sendable, Codable, Equatable {
    package var name: String
    package var type: ColumnType
    package var role: SuggestedRole
    /// The coarsest time unit every sampled value sits on (temporal columns).
    package var resolution: TimeUnit?
    /// The longest sampled value, in bytes.
    package var maxLength: Int
    /// Every sampled value is hexadecimal or base32 of one length of at least 8: a pseudonym.
    package var pseudonymLike: Bool
    /// Interval labels (`[20,30)`, `<20`, `>=80`, `20-29`) parsed from the sampled values, when
    /// most of them are such labels: a generalized number.
    package var bands: [NumberBand]
    /// The regular grid every sampled number sits on (multiples of a step, or the centres of
    /// cells of a step), when there is one: a coarsened number or coordinate.
    package var grid: NumberGrid? = nil
    /// Distinct sampled values (at most `valueCap`), for overlap tests; not stored.
    package var values: Set<String> = []
    /// The most distinct values the sample kept of this column (`LinkSample.valueLimit(columns:)`).
    package var valueCap = LinkSample.valueLimit
    /// Non-empty sampled values, repeats included.
    package var sampledValues = 0

    enum CodingKeys: String, CodingKey {
        case name, type, role, resolution
        case maxLength = "max_length"
        case pseudonymLike = "pseudonym_like"
        case bands
    }

    /// Lower-case letters and digits only: `Post Code`, `post_code` and `postcode` are one name.
    package var normalizedName: String {
        String(name.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) })
    }

    /// An identifier or entity by its profile, with enough distinct values to name individuals:
    /// at least 10, or most sampled values distinct (a `vendor_id` with two values in 14,000
    /// rows names no one; the names of 30 households, each repeated over their readings, do).
    package var namesIndividuals: Bool {
        (role == .identifier || role == .entity) && (values.count >= 10 || values.count * 2 >= sampledValues)
    }

    /// About how many distinct values the column holds, when the sample saw them all (each
    /// value on average at least four times); nil when it may hold many more.
    package var distinctEstimate: Int? {
        guard !values.isEmpty, values.count < valueCap, values.count * 4 <= sampledValues else { return nil }
        return values.count
    }

    var isTemporal: Bool { type == .timestamp || type == .date }
    var isNumeric: Bool { type == .integer || type == .decimal }
}

extension TimeUnit: Codable {}

/// A numeric interval a generalized value stands for: `low <= x < high` (either side open).
package struct NumberBand: Sendable, Codable, Equatable {
    package var label: String
    package var low: Double?
    package var high: Double?
    /// Whether `high` itself belongs to the band (`20-29` holds 29; `[20,30)` does not hold 30).
    package var closedHigh: Bool

    package func contains(_ number: Double) -> Bool {
        if let low, number < low { return false }
        if let high { return closedHigh ? number <= high : number < high }
        return true
    }

    /// Parses our interval labels and the common `a-b` form; nil for anything else.
    package static func parse(_ text: String) -> NumberBand? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        func number(_ part: Substring) -> Double? { Double(part.trimmingCharacters(in: .whitespaces)) }
        if trimmed.hasPrefix("["), trimmed.hasSuffix(")") {
            let inner = trimmed.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false)
            guard inner.count == 2, let low = number(inner[0]), let high = number(inner[1]), low < high else {
                return nil
            }
            return NumberBand(label: trimmed, low: low, high: high, closedHigh: false)
        }
        for (prefix, isLow, closed) in [(">=", true, false), ("<=", false, true), ("<", false, false)]
        where trimmed.hasPrefix(prefix) {
            guard let bound = number(trimmed.dropFirst(prefix.count)) else { return nil }
            return isLow
                ? NumberBand(label: trimmed, low: bound, high: nil, closedHigh: false)
                : NumberBand(label: trimmed, low: nil, high: bound, closedHigh: closed)
        }
        let parts = trimmed.split(separator: "-", omittingEmptySubsequences: false)
        if parts.count == 2, let low = number(parts[0]), let high = number(parts[1]), low < high {
            return NumberBand(label: trimmed, low: low, high: high, closedHigh: true)
        }
        return nil
    }
}

/// The columns of one file (or release) as linkage sees them.
package struct LinkSample: Sendable {
    package var name: String
    package var columns: [LinkColumn]

    /// Distinct values kept per column for overlap tests.
    package static let valueLimit = 20_000
    /// Values longer than this (free text) are not kept for overlap tests.
    package static let longestValue = 1024

    /// Distinct values kept per column of a file with `columns` columns: `valueLimit`, or fewer
    /// for a wide file (about 256 Ki in all, at least 4 a column: a set of distinct values costs
    /// some 40 bytes a value and 100 bytes of its own, kept for each file of a link).
    package static func valueLimit(columns: Int) -> Int { max(4, min(valueLimit, (256 << 10) / max(columns, 1))) }

    package init(name: String, columns: [LinkColumn]) {
        self.name = name
        self.columns = columns
    }

    /// The sample's profile (types and roles) counts distinct values in less memory than
    /// `deid profile` does: a link or a publish holds more than the profile at the same time.
    static var profileOptions: ProfileOptions {
        var options = ProfileOptions()
        options.exactDistinctBudgetBytes = 48 << 20
        options.sketchBudgetBytes = 8 << 20
        return options
    }

    /// Bytes of whole records sampled from the start of a file.
    package static let sampleBytes = 8 << 20

    /// Samples the first `sampleBytes` of whole records of `input`, read ahead: the full pass
    /// still gets every block from the start (the file is not opened twice, so a pipe works).
    package init(input: BlockInput) throws {
        let displayName = input.source.displayName
        name = displayName
        let (pieces, endsInsideRecord) = try input.sample(bytes: Self.sampleBytes)
        func reader() throws -> CSVReader {
            try CSVReader(
                source: InputSource(pieces: pieces, chunkSizes: [input.options.chunkSize], displayName: displayName),
                options: input.options, endsInsideRecord: endsInsideRecord)
        }
        let profiled = try profile(reader: reader(), options: Self.profileOptions)
        let valueLimit = Self.valueLimit(columns: input.header.count)
        var values = [[String]](repeating: [], count: input.header.count)
        var seen = [Set<String>](repeating: [], count: input.header.count)
        var nonEmpty = [Int](repeating: 0, count: input.header.count)
        let sampleReader = try reader()
        var record = CSVRecord()
        while try sampleReader.readRecord(into: &record) {
            for column in 0..<record.count where !record[column].isEmpty { nonEmpty[column] += 1 }
            // Free text (a value over 1 KiB) is no join key: kept out of the value sets.
            for column in 0..<record.count
            where seen[column].count < valueLimit && !record[column].isEmpty
                && record.length(of: column) <= LinkSample.longestValue
            {
                let text = record.string(at: column)
                if seen[column].insert(text).inserted { values[column].append(text) }
            }
        }
        columns = profiled.columns.enumerated().map { index, column in
            var linkColumn = LinkColumn(profile: column, values: values[index], distinct: seen[index])
            linkColumn.sampledValues = nonEmpty[index]
            linkColumn.valueCap = valueLimit
            return linkColumn
        }
    }

    /// A release's sample from its class table: per quasi-identifier, the values of the table.
    package init(name: String, columnNames: [String], tuples: [[String]]) {
        self.name = name
        columns = columnNames.indices.map { index in
            var seen = Set<String>()
            var values: [String] = []
            for tuple in tuples where !tuple[index].isEmpty && seen.count < Self.valueLimit {
                if seen.insert(tuple[index]).inserted { values.append(tuple[index]) }
            }
            return LinkColumn(name: columnNames[index], inferringFrom: values)
        }
    }
}

extension LinkColumn {
    /// - Parameter distinct: `values` as a set, when the caller has it (not made twice).
    init(profile: ColumnProfile, values: [String], distinct: Set<String>? = nil) {
        self.init(
            name: profile.name, type: profile.type, role: profile.role, resolution: nil, maxLength: 0,
            pseudonymLike: false, bands: [])
        describe(values, distinct: distinct)
    }

    /// A column known only by its values (a release's class table): the type is inferred here.
    init(name: String, inferringFrom values: [String]) {
        let type: ColumnType
        if values.isEmpty {
            type = .empty
        } else if values.allSatisfy({ Int($0) != nil }) {
            type = .integer
        } else if values.allSatisfy({ Double($0) != nil }) {
            type = .decimal
        } else if values.allSatisfy({ TimestampValue.parse(Array($0.utf8)) != nil }) {
            type = values.contains { TimestampValue.parse(Array($0.utf8))!.hasTime } ? .timestamp : .date
        } else {
            type = .categorical
        }
        self.init(
            name: name, type: type, role: .quasiIdentifier, resolution: nil, maxLength: 0, pseudonymLike: false,
            bands: [])
        describe(values)
    }

    private mutating func describe(_ sample: [String], distinct: Set<String>? = nil) {
        values = distinct ?? Set(sample)
        maxLength = sample.map(\.utf8.count).max() ?? 0
        if isTemporal {
            let times = sample.compactMap { TimestampValue.parse(Array($0.utf8)) }
            resolution = TimeUnit.allCases.reversed().first { unit in
                !times.isEmpty && times.allSatisfy { $0.truncated(to: unit).secondsSinceEpoch == $0.secondsSinceEpoch }
            }
        }
        let lengths = Set(sample.map(\.utf8.count))
        pseudonymLike =
            sample.count >= 2 && lengths.count == 1 && maxLength >= 8
            && sample.allSatisfy { value in
                value.utf8.allSatisfy { byte in
                    (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) || (0x61...0x7A).contains(byte)
                        || (0x41...0x5A).contains(byte)
                }
            } && sample.contains { $0.utf8.contains { !(0x30...0x39).contains($0) } }
        if !isNumeric && !isTemporal {
            let parsed = sample.compactMap(NumberBand.parse)
            if !parsed.isEmpty, parsed.count * 5 >= sample.count * 4 { bands = parsed }
        }
        if isNumeric { grid = NumberGrid.detect(sample.compactMap { Double($0) }) }
    }
}

/// A regular grid of numbers: multiples of `step` (rounded numbers), or the centres of cells
/// of `step` (gridded coordinates). A raw number joins a grid's value when it lies in the same
/// cell: `floor(x / step)` for cells and rounded-down bases, the nearest multiple for decimal
/// places (steps that are powers of ten up to 1).
package struct NumberGrid: Sendable, Equatable, Codable {
    package var step: Double
    package var centred: Bool

    /// How far (in steps) a value may be off the grid and still be on it: published centres
    /// are written with 6 decimals.
    static let tolerance = 0.02

    /// Whether a raw number maps to the nearest multiple (decimal places) rather than to the
    /// cell below it.
    var nearest: Bool {
        guard !centred, step <= 1 else { return false }
        let exponent = log10(step)
        return abs(exponent - exponent.rounded()) < 1e-9
    }

    /// The cell of `number`.
    func cell(_ number: Double) -> Double {
        nearest ? (number / step).rounded() : (number / step + 1e-6).rounded(.down)
    }

    /// Whether `number` is one of the grid's values.
    func holds(_ number: Double) -> Bool {
        let position = number / step - (centred ? 0.5 : 0)
        return abs(position - position.rounded()) < Self.tolerance
    }

    /// The grid at least 4 distinct numbers sit on, if any. The step comes from the smallest
    /// gap, refined over the whole range; the values are written rounded, so far from zero that
    /// estimate cannot place the cells, and the steps deid's own coarsening uses are tried
    /// first: a whole number of metres of latitude (`grid`, metres / 111,320 degrees) and a
    /// round number of two significant digits (`round`, `decimals`).
    static func detect(_ numbers: [Double]) -> NumberGrid? {
        let distinct = Array(Set(numbers)).sorted()
        guard distinct.count >= 4, let first = distinct.first, let last = distinct.last else { return nil }
        var gap = Double.infinity
        for (a, b) in zip(distinct, distinct.dropFirst()) { gap = min(gap, b - a) }
        let steps = ((last - first) / gap).rounded()
        guard gap > 0, steps >= 1, steps < 1e9 else { return nil }
        let estimate = (last - first) / steps
        let metres = (estimate * 111_320).rounded()
        let magnitude = pow(10, (log10(estimate)).rounded(.down) - 1)
        var candidates = [estimate]
        if metres >= 1, abs(metres - estimate * 111_320) < 0.005 * metres { candidates.insert(metres / 111_320, at: 0) }
        candidates.insert((estimate / magnitude).rounded() * magnitude, at: 0)
        for step in candidates {
            for centred in [true, false] {
                let grid = NumberGrid(step: step, centred: centred)
                if distinct.allSatisfy(grid.holds) { return grid }
            }
        }
        return nil
    }
}

/// How the values of a shared column are brought to one level before they are compared.
package enum JoinNormalizer: Sendable, Equatable {
    /// The values as they are.
    case exact
    /// Numbers compared as numbers (`1.0` = `1`).
    case number
    /// Dates and timestamps truncated to a unit (the coarser side's).
    case time(TimeUnit)
    /// The first N characters (a postcode's district against full postcodes).
    case prefix(Int)
    /// A number mapped to the band holding it; band labels kept as they are.
    case bands([NumberBand])
    /// A number mapped to its cell of the coarser side's grid (gridded coordinates against raw
    /// ones, rounded numbers against exact ones).
    case grid(NumberGrid)

    /// Words for reports.
    package var description: String {
        switch self {
        case .exact: return "equal values"
        case .number: return "equal numbers"
        case .time(let unit): return "times truncated to \(unit.rawValue)"
        case .prefix(let length): return "first \(length) characters"
        case .bands(let bands): return "numbers placed in the \(bands.count) bands of the coarser file"
        case .grid(let grid):
            return
                "numbers placed in the coarser file's \(grid.centred ? "cells" : "multiples") of \(DecimalText.label(grid.step))"
        }
    }

    /// The key of field `index` of `record` (no copy for equal values and prefixes).
    @inline(__always) func key(of record: CSVRecord, at index: Int) -> UInt64? {
        switch self {
        case .exact: return record.length(of: index) == 0 ? nil : record.fieldHash(at: index)
        default: return key(record[index])
        }
    }

    /// An optional minus and 1 to 15 digits (exact as a Double), else nil.
    @inline(__always) static func plainInteger<Bytes: Collection>(_ value: Bytes) -> Int?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        var index = value.startIndex
        let negative = value[index] == 0x2D
        if negative { index += 1 }
        guard (1...15).contains(value.endIndex - index) else { return nil }
        var result = 0
        while index < value.endIndex {
            let digit = value[index] &- 0x30
            guard digit < 10 else { return nil }
            result = result &* 10 &+ Int(digit)
            index += 1
        }
        return negative ? -result : result
    }

    /// The comparable key of one value, hashed; nil when the value is empty or cannot be
    /// brought to the join's level (a non-number where bands are expected): it joins nothing.
    package func key<Bytes: Collection>(_ value: Bytes) -> UInt64? where Bytes.Element == UInt8, Bytes.Index == Int {
        if value.isEmpty { return nil }
        switch self {
        case .exact:
            return FieldHash.hash(bytes: value)
        case .number:
            // Plain integers (most numeric join columns: years, counts) skip the decimal parser.
            let number: Double
            if let integer = Self.plainInteger(value) {
                number = Double(integer)
            } else {
                guard let parsed = DecimalText.parse(value)?.value else { return FieldHash.hash(bytes: value) }
                number = parsed
            }
            return FieldHash.finalize((number == 0 ? 0.0 : number).bitPattern ^ 0x6E75_6D62_6572)
        case .time(let unit):
            guard let time = TimestampValue.parse(value) else { return nil }
            return FieldHash.finalize(
                UInt64(bitPattern: Int64(time.truncated(to: unit).secondsSinceEpoch)) ^ 0x7469_6D65)
        case .prefix(let length):
            // Cut, then trailing spaces dropped: "SW1A 1AA" and "E1 6AN" cut to 4 are "SW1A"
            // and "E1 6"; "CR1 2AB" is "CR1", as a generalizer that trims would publish it.
            var cut = Array(value.prefix(length))
            while cut.last == 0x20 { cut.removeLast() }
            return cut.isEmpty ? nil : FieldHash.hash(bytes: cut)
        case .bands(let bands):
            if let number = DecimalText.parse(value)?.value {
                guard let band = bands.first(where: { $0.contains(number) }) else { return nil }
                return FieldHash.hash(bytes: Array(band.label.utf8))
            }
            return FieldHash.hash(bytes: value)
        case .grid(let grid):
            guard let number = DecimalText.parse(value)?.value else { return nil }
            let cell = grid.cell(number)
            return FieldHash.finalize((cell == 0 ? 0.0 : cell).bitPattern ^ 0x6772_6964)
        }
    }
}

/// One column two files share, and how they are compared.
package struct SharedColumn: Sendable, Equatable {
    package var left: Int
    package var right: Int
    package var leftName: String
    package var rightName: String
    package var normalizer: JoinNormalizer
    /// Why the columns were paired: "same name" or "value overlap 0.93".
    package var reason: String
    /// A join column (a quasi-identifier both hold); false for pseudonyms, entities and
    /// direct identifiers, which are reported apart.
    package var joins: Bool
}

/// Finds the columns two files share.
package enum LinkMatcher {
    /// Containment of one sample's values in the other's that pairs differently named columns.
    package static let overlapThreshold = 0.8
    /// The most (left, right) column pairs compared by their values.
    package static let overlapPairLimit = 10_000

    /// The shared columns of `left` and `right`: same normalized name and compatible types, or
    /// (text and time columns, at least 3 distinct values) most of one side's values among the
    /// other's. Each column pairs at most once, name matches first.
    package static func shared(_ left: LinkSample, _ right: LinkSample, entities: Set<String> = []) -> [SharedColumn] {
        var result: [SharedColumn] = []
        var usedLeft = Set<Int>()
        var usedRight = Set<Int>()
        func add(_ i: Int, _ j: Int, _ normalizer: JoinNormalizer, _ reason: String) {
            let a = left.columns[i]
            let b = right.columns[j]
            let special =
                a.pseudonymLike || b.pseudonymLike || entities.contains(a.name) || entities.contains(b.name)
                || a.namesIndividuals || b.namesIndividuals
            result.append(
                SharedColumn(
                    left: i, right: j, leftName: a.name, rightName: b.name, normalizer: normalizer,
                    reason: reason, joins: !special))
            usedLeft.insert(i)
            usedRight.insert(j)
        }
        var rightByName: [String: Int] = [:]
        for (j, b) in right.columns.enumerated() where rightByName[b.normalizedName] == nil {
            rightByName[b.normalizedName] = j
        }
        for (i, a) in left.columns.enumerated() {
            guard let j = rightByName[a.normalizedName], !usedRight.contains(j) else { continue }
            if let normalizer = compatibility(a, right.columns[j]) { add(i, j, normalizer, "same name") }
        }
        // Pairing by values compares every remaining text column with every other: only while
        // there are few enough pairs (a wide file is paired by name alone).
        let leftLeft = left.columns.indices.filter {
            !usedLeft.contains($0) && !left.columns[$0].isNumeric && left.columns[$0].values.count >= 3
        }
        let rightLeft = right.columns.indices.filter {
            !usedRight.contains($0) && !right.columns[$0].isNumeric && right.columns[$0].values.count >= 3
        }
        guard leftLeft.count * rightLeft.count <= overlapPairLimit else { return result.sorted { $0.left < $1.left } }
        for i in leftLeft where !usedLeft.contains(i) {
            let a = left.columns[i]
            var best: (j: Int, overlap: Double, normalizer: JoinNormalizer)?
            for j in rightLeft where !usedRight.contains(j) {
                let b = right.columns[j]
                guard let normalizer = compatibility(a, b) else { continue }
                let overlap = Self.overlap(a, b, normalizer)
                if overlap >= overlapThreshold, overlap > (best?.overlap ?? 0) { best = (j, overlap, normalizer) }
            }
            if let best { add(i, best.j, best.normalizer, "value overlap \(String(format: "%.2f", best.overlap))") }
        }
        return result.sorted { $0.left < $1.left }
    }

    /// How two columns compare, or nil when their types cannot be compared.
    static func compatibility(_ a: LinkColumn, _ b: LinkColumn) -> JoinNormalizer? {
        if a.type == .empty || b.type == .empty { return nil }
        if a.isTemporal && b.isTemporal {
            let unit = max(a.resolution ?? .minute, b.resolution ?? .minute)
            return .time(unit)
        }
        if a.isTemporal || b.isTemporal { return nil }
        if a.isNumeric && b.isNumeric { return numberComparison(a, b) }
        if a.isNumeric, !b.bands.isEmpty { return .bands(b.bands) }
        if b.isNumeric, !a.bands.isEmpty { return .bands(a.bands) }
        if a.isNumeric || b.isNumeric { return nil }
        // Text against text: a prefix when the shorter side's values begin the longer side's.
        let (short, long) = a.maxLength <= b.maxLength ? (a, b) : (b, a)
        if short.maxLength > 0, short.maxLength < long.maxLength, !short.values.isEmpty {
            let prefixes = Set(
                long.values.map {
                    String(decoding: Array($0.utf8.prefix(short.maxLength)), as: UTF8.self).trimmingCharacters(
                        in: .whitespaces)
                })
            // Either way round: a sample may hold only some of the longer side's individuals.
            let trimmedShort = Set(short.values.map { $0.trimmingCharacters(in: .whitespaces) })
            let exactShare = max(
                Double(short.values.filter(long.values.contains).count) / Double(short.values.count),
                Double(long.values.filter(short.values.contains).count) / Double(long.values.count))
            let prefixShare = max(
                Double(trimmedShort.filter(prefixes.contains).count) / Double(trimmedShort.count),
                Double(prefixes.filter(trimmedShort.contains).count) / Double(prefixes.count))
            if prefixShare >= overlapThreshold, prefixShare > exactShare + 0.2 { return .prefix(short.maxLength) }
        }
        return .exact
    }

    /// Numbers: at the coarser side's grid when one side sits on a grid the other's values
    /// mostly do not (a fifth of them off it), else as equal numbers.
    static func numberComparison(_ a: LinkColumn, _ b: LinkColumn) -> JoinNormalizer {
        func finer(_ column: LinkColumn, than grid: NumberGrid) -> Bool {
            let numbers = column.values.compactMap { Double($0) }
            guard !numbers.isEmpty else { return false }
            return numbers.filter { !grid.holds($0) }.count * 5 >= numbers.count
        }
        let grids = [a.grid.map { ($0, b) }, b.grid.map { ($0, a) }].compactMap { $0 }
        let coarser = grids.filter { finer($0.1, than: $0.0) }.max { $0.0.step < $1.0.step }
        return coarser.map { .grid($0.0) } ?? .number
    }

    /// The share of `a`'s sampled values whose key `b`'s sample also holds (or the reverse,
    /// whichever is larger).
    static func overlap(_ a: LinkColumn, _ b: LinkColumn, _ normalizer: JoinNormalizer) -> Double {
        func keys(_ column: LinkColumn) -> Set<UInt64> {
            Set(column.values.compactMap { normalizer.key(Array($0.utf8)) })
        }
        let left = keys(a)
        let right = keys(b)
        guard !left.isEmpty, !right.isEmpty else { return 0 }
        let common = Double(left.intersection(right).count)
        return max(common / Double(left.count), common / Double(right.count))
    }
}
