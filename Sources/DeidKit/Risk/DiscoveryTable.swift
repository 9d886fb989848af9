import DeidCSV
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
        case uniqueIndividuals = "unique_individuals", uniqueShare = "unique_share"
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
public struct DiscoveryTable: Sendable {
    let header: [String]
    let candidates: [Int]
    /// The candidates still in the rows, in `candidates` order.
    private(set) var activeColumns: [Int]
    let hasEntity: Bool
    let rowLimit: Int
    /// Per input column: value -> code.
    private var codes: [Int: [[UInt8]: UInt32]] = [:]
    /// Rows: `[entity, code per active column]` -> records.
    private var rows: [[UInt32]: Int] = [:]
    public private(set) var leftOut: [LeftOutColumn] = []

    init(header: [String], candidates: [Int], hasEntity: Bool, rowLimit: Int) {
        self.header = header
        self.candidates = candidates
        activeColumns = candidates
        self.hasEntity = hasEntity
        self.rowLimit = max(1, rowLimit)
        for column in candidates { codes[column] = [:] }
    }

    public var candidateNames: [String] { candidates.map { header[$0] } }

    /// The non-entity columns that the profile of the first block does not take for direct
    /// identifiers.
    static func defaultCandidates(of input: BlockInput, excluding: [Int]) throws -> [Int] {
        guard let block = input.pendingFirstBlock else { return [] }
        let reader = try CSVReader(source: InputSource(bytes: block.bytes, chunkSizes: [input.options.chunkSize], displayName: input.source.displayName),
                                   options: input.options, endsInsideRecord: block.endsInsideRecord)
        let sample = try profile(reader: reader)
        return sample.columns.indices.filter { index in
            !excluding.contains(index) && sample.columns[index].role != .identifier && sample.columns[index].role != .entity
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
            positions.enumerated().map { index, position in maps[index][Int(block.tupleCodes[local * width + position])] }
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

    /// The combinations of 1 to `maxColumns` candidates that single out the most individuals.
    public func combinations(maxColumns: Int, top: Int) -> [CombinationRisk] {
        let flat = rows.map { (row: $0.key, records: $0.value) }
        var results: [CombinationRisk] = []
        var chosen: [Int] = []
        func visit(from start: Int) {
            if !chosen.isEmpty { results.append(measure(chosen, flat)) }
            guard chosen.count < maxColumns else { return }
            for position in start..<activeColumns.count {
                chosen.append(position)
                visit(from: position + 1)
                chosen.removeLast()
            }
        }
        visit(from: 0)
        results.sort {
            if $0.uniqueIndividuals != $1.uniqueIndividuals { return $0.uniqueIndividuals > $1.uniqueIndividuals }
            if $0.columns.count != $1.columns.count { return $0.columns.count < $1.columns.count }
            if $0.distinction != $1.distinction { return $0.distinction > $1.distinction }
            return $0.columns.lexicographicallyPrecedes($1.columns)
        }
        return Array(results.prefix(top))
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
            if let existing = classOf[key] { found = existing } else {
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
        var individuals = 0, unique = 0
        if hasEntity {
            // An entity is singled out when any one of its classes holds it alone.
            var smallest: [UInt32: Int] = [:]
            for member in members { smallest[member.entity] = min(smallest[member.entity] ?? Int.max, sizes[member.found]) }
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
        return CombinationRisk(columns: positions.map { header[activeColumns[$0]] }, uniqueIndividuals: unique,
                               uniqueShare: individuals > 0 ? Double(unique) / Double(individuals) : 0,
                               distinction: records > 0 ? Double(sizes.count) / Double(records) : 0,
                               separation: allPairs > 0 ? 1 - samePairs / allPairs : 0)
    }
}
