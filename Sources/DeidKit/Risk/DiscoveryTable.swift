import DeidCSV
import DeidEngine
import Foundation

/// How identifying one combination of columns is.
public struct CombinationRisk: Codable, Sendable, Equatable {
    public var columns: [String]
    /// Individuals alone in one of their classes on these columns.
    public var uniqueIndividuals: Int
    public var uniqueShare: Double
    /// Classes / records (ARX's distinction: 1 when every record has its own values).
    public var distinction: Double
    /// Share of pairs of individuals the columns tell apart (ARX's separation).
    public var separation: Double

    enum CodingKeys: String, CodingKey {
        case columns, distinction, separation
        case uniqueIndividuals = "unique_individuals"
        case uniqueShare = "unique_share"
    }
}

/// A candidate column left out of discovery, with the distinct values it had when it was.
public struct LeftOutColumn: Codable, Sendable, Equatable {
    public var column: String
    public var distinct: Int
}

/// The distinct (individual, candidate values) rows of a file, from which the classes of every
/// combination of candidate columns are counted.
///
/// Memory is bounded: when the rows pass `rowLimit`, the candidate with the most distinct values
/// is left out (its rows merged), and the workers stop reading it. Such a column has nearly as
/// many values as rows: it is identifying on its own (a timestamp, a reading) and is named in
/// the report; trace uniqueness is the measure for time series.
package struct DiscoveryTable: Sendable {
    let header: [String]
    let candidates: [Int]
    /// The candidates still in the rows, in `candidates` order.
    private(set) var activeColumns: [Int]
    let hasEntity: Bool
    let rowLimit: Int
    /// Candidates not taken at all, past `DiscoverySpec.maxCandidates`.
    let candidatesBeyondLimit: Int
    /// Per input column: value -> code.
    private var codes: [Int: [[UInt8]: UInt32]] = [:]
    /// Rows: `[entity, code per active column]` -> records.
    private var rows: [[UInt32]: Int] = [:]
    package private(set) var leftOut: [LeftOutColumn] = []

    /// - Parameter rowLimit: rows kept at most; fewer for many candidates (`spec.cellLimit`).
    init(header: [String], candidates: [Int], hasEntity: Bool, spec: DiscoverySpec, candidatesBeyondLimit: Int = 0) {
        self.header = header
        self.candidates = candidates
        activeColumns = candidates
        self.hasEntity = hasEntity
        self.rowLimit = max(1, min(spec.rowLimit, spec.cellLimit / (candidates.count + 1)))
        self.candidatesBeyondLimit = candidatesBeyondLimit
        for column in candidates { codes[column] = [:] }
    }

    /// Values longer than this make a column free text, not a candidate by default.
    static let longestCandidateValue = 1024

    /// The non-entity columns that the profile of the first block does not take for direct
    /// identifiers or free text (a value over `longestCandidateValue` bytes).
    static func defaultCandidates(of input: BlockInput, excluding: [Int]) throws -> [Int] {
        guard let block = input.pendingFirstBlock else { return [] }
        let reader = try CSVReader(
            source: InputSource(
                bytes: block.bytes, chunkSizes: [input.options.chunkSize], displayName: input.source.displayName),
            options: input.options, endsInsideRecord: block.endsInsideRecord)
        let sample = try profile(reader: reader)
        return sample.columns.indices.filter { index in
            let column = sample.columns[index]
            return !excluding.contains(index) && column.role != .identifier && column.role != .entity
                && column.longest <= longestCandidateValue
        }
    }

    /// Adds a block's rows, counted over `columns`, with `entities` mapping its entity codes.
    mutating func add(_ block: BlockStatistics, columns: [Int], entities: [UInt32]) {
        let positions = activeColumns.map { columns.firstIndex(of: $0)! }
        // Each block column's values to codes once, then the block's tuples through them.
        let width = columns.count
        let maps: [[UInt32]] = positions.map { position in
            let column = columns[position]
            return (block.columnValues.isEmpty ? [] : block.columnValues[position]).map { value in
                if let code = codes[column]![value] { return code }
                let code = UInt32(codes[column]!.count)
                codes[column]![value] = code
                return code
            }
        }
        let tupleCodes: [[UInt32]] = (0..<block.tupleCount).map { local in
            positions.enumerated().map { index, position in maps[index][Int(block.tupleCodes[local * width + position])]
            }
        }
        var key: [UInt32] = []
        for group in block.groups {
            key.removeAll(keepingCapacity: true)
            key.append(hasEntity ? entities[Int(group.entity)] : 0)
            key.append(contentsOf: tupleCodes[Int(group.tuple)])
            rows[key, default: 0] += group.records
        }
        while rows.count > rowLimit, !activeColumns.isEmpty {
            leaveOutWidestColumn()
        }
    }

    private mutating func leaveOutWidestColumn() {
        let position = activeColumns.indices.max { codes[activeColumns[$0]]!.count < codes[activeColumns[$1]]!.count }!
        let column = activeColumns.remove(at: position)
        leftOut.append(LeftOutColumn(column: header[column], distinct: codes[column]!.count))
        codes[column] = [:]
        var merged: [[UInt32]: Int] = [:]
        merged.reserveCapacity(rows.count / 2)
        for (row, records) in rows {
            var shorter = row
            shorter.remove(at: position + 1)
            merged[shorter, default: 0] += records
        }
        rows = merged
    }

    /// The combinations of 1 to `spec.maxColumns` candidates that single out the most
    /// individuals (the top `spec.top`), measured within `spec.workLimit` rows looked at: fewer
    /// columns a combination, then fewer candidates (those with the most distinct values) when
    /// every combination would take more.
    /// - Complexity: O(combinations measured × rows), at most `spec.workLimit`.
    package func result(_ spec: DiscoverySpec, notCombinedBefore: Int) -> DiscoveryResult {
        let flat = rows.map { (row: $0.key, records: $0.value) }
        let (size, count) = Self.plan(
            candidates: activeColumns.count, rows: flat.count, maxColumns: spec.maxColumns, workLimit: spec.workLimit)
        // The candidates combined: all, or the `count` with the most distinct values (in file order).
        let positions = activeColumns.indices.sorted {
            codes[activeColumns[$0]]!.count > codes[activeColumns[$1]]!.count
        }
        .prefix(count).sorted()
        var best: [CombinationRisk] = []
        func better(_ a: CombinationRisk, _ b: CombinationRisk) -> Bool {
            if a.uniqueIndividuals != b.uniqueIndividuals { return a.uniqueIndividuals > b.uniqueIndividuals }
            if a.columns.count != b.columns.count { return a.columns.count < b.columns.count }
            if a.distinction != b.distinction { return a.distinction > b.distinction }
            return a.columns.lexicographicallyPrecedes(b.columns)
        }
        var chosen: [Int] = []
        func visit(from start: Int) {
            if !chosen.isEmpty {
                // Only the best `top` are kept, in order.
                let measured = measure(chosen, flat)
                let place = best.firstIndex { better(measured, $0) } ?? best.count
                if place < spec.top {
                    best.insert(measured, at: place)
                    if best.count > spec.top { best.removeLast() }
                }
            }
            guard chosen.count < size else { return }
            for index in start..<positions.count {
                chosen.append(positions[index])
                visit(from: index + 1)
                chosen.removeLast()
            }
        }
        visit(from: 0)
        return DiscoveryResult(
            candidates: positions.map { header[activeColumns[$0]] }, leftOut: leftOut, combinations: best,
            maxColumns: size, notCombined: notCombinedBefore + activeColumns.count - count)
    }

    /// How many columns a combination holds and how many candidates are combined so that every
    /// combination of up to that many of them, each reading `rows` rows, stays within `workLimit`.
    static func plan(candidates: Int, rows: Int, maxColumns: Int, workLimit: Int) -> (size: Int, candidates: Int) {
        guard candidates > 0 else { return (0, 0) }
        // A combination costs its rows and a fixed setup (its tables), counted as 50 rows.
        let perCombination = rows + 50
        func combinations(_ n: Int, _ size: Int) -> Int {
            var total = 0
            var term = 1
            for k in 1...max(size, 1) {
                // C(n, k) from C(n, k-1), saturating: only the comparison with the limit matters.
                term = term.multipliedReportingOverflow(by: n - k + 1).overflow ? Int.max / 2 : term * (n - k + 1) / k
                total = min(total &+ term, Int.max / 2)
            }
            return total
        }
        var size = min(maxColumns, candidates)
        while size > 1
            && combinations(candidates, size).multipliedReportingOverflow(by: perCombination).partialValue > workLimit
            || size > 1 && combinations(candidates, size).multipliedReportingOverflow(by: perCombination).overflow
        {
            size -= 1
        }
        let count = size == 1 ? min(candidates, max(1, workLimit / perCombination)) : candidates
        return (max(size, 1), count)
    }

    /// The classes of the columns at `positions` (of `activeColumns`), measured.
    private func measure(_ positions: [Int], _ flat: [(row: [UInt32], records: Int)]) -> CombinationRisk {
        var classOf: [[UInt32]: Int] = [:]
        var sizes: [Int] = []
        var key = [UInt32](repeating: 0, count: positions.count)
        var members: [(entity: UInt32, found: Int)] = []
        var pairs = Set<UInt64>()
        for (row, records) in flat {
            for (index, position) in positions.enumerated() { key[index] = row[position + 1] }
            let found: Int
            if let existing = classOf[key] {
                found = existing
            } else {
                found = sizes.count
                classOf[key] = found
                sizes.append(0)
            }
            if hasEntity {
                // An entity counts once in each class it has rows in.
                if pairs.insert(UInt64(found) << 32 | UInt64(row[0])).inserted {
                    sizes[found] += 1
                    members.append((row[0], found))
                }
            } else {
                sizes[found] += records
            }
        }
        let records = flat.reduce(0) { $0 + $1.records }
        var individuals = 0
        var unique = 0
        if hasEntity {
            // An entity is singled out when any one of its classes holds it alone.
            var smallest: [UInt32: Int] = [:]
            for member in members {
                smallest[member.entity] = min(smallest[member.entity] ?? Int.max, sizes[member.found])
            }
            individuals = smallest.count
            unique = smallest.values.filter { $0 == 1 }.count
        } else {
            individuals = sizes.reduce(0, +)
            unique = sizes.filter { $0 == 1 }.count
        }
        let memberships = Double(sizes.reduce(0, +))
        var samePairs = 0.0
        for size in sizes { samePairs += Double(size) * Double(size - 1) }
        let allPairs = memberships * (memberships - 1)
        return CombinationRisk(
            columns: positions.map { header[activeColumns[$0]] }, uniqueIndividuals: unique,
            uniqueShare: individuals > 0 ? Double(unique) / Double(individuals) : 0,
            distinction: records > 0 ? Double(sizes.count) / Double(records) : 0,
            separation: allPairs > 0 ? 1 - samePairs / allPairs : 0)
    }
}
