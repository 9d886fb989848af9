import DeidCSV

/// Settings of a profiling pass.
package struct ProfileOptions: Sendable {
    /// Distinct values counted exactly per column before switching to a HyperLogLog estimate.
    package var exactDistinctLimit: Int = 100_000
    /// Bytes of distinct values kept per column for exact counting.
    package var exactDistinctBytes: Int = 8 << 20
    /// Memory for exact counting in all columns together: a wide file gets less per column
    /// (each distinct value costs its bytes plus about 28 bytes of index).
    package var exactDistinctBudgetBytes: Int = 160 << 20
    /// Memory for the HyperLogLog estimates of all columns together: a wide file's estimates
    /// get fewer registers (at most 2^14, at least 2^6, a column).
    package var sketchBudgetBytes: Int = 32 << 20
    /// Memory for tracking which columns determine which (one value of A, one value of B), in
    /// bytes. It grows with the square of the width: a file too wide for it is not tracked.
    package var dependencyBudgetBytes: Int = 32 << 20

    package init() {}
}

/// Profiles a CSV input in one streaming pass: per column its type, empty count, distinct count
/// and a suggested de-identification role with the reason.
///
/// Memory is bounded by the options (distinct values kept per column and the dependency
/// budget), whatever the size of the input.
package struct Profiler {
    private let header: CSVHeader
    private let options: ProfileOptions
    private var columns: [ColumnStatistics]
    private var rows = 0
    /// Per column: the hash of every other column at the first row of each distinct value
    /// (value index * columnCount + other column), while the value index is below `dependencyLimit`.
    private var firstHashes: [[UInt64]]
    /// Per column: the columns it still determines (each of its values has one value there).
    private var determines: [[Int]]
    private let dependencyLimit: Int
    private var rowHashes: [UInt64]
    /// Per column, the value index in the current row (or `emptyValue`, `uncountedValue`).
    private var valueIndexes: [Int]
    /// Per column, whether the current row's value differs from the previous row's.
    private var changed: [Bool]

    /// A profiler for records with `header`'s columns.
    package init(header: CSVHeader, options: ProfileOptions = ProfileOptions()) {
        self.header = header
        self.options = options
        let count = header.count
        let share = options.exactDistinctBudgetBytes / max(count, 1)
        let byteLimit = min(options.exactDistinctBytes, share / 2)
        let exactLimit = max(1, min(options.exactDistinctLimit, share / 2 / 28))
        let sketchPrecision = Profiler.sketchPrecision(columns: count, budgetBytes: options.sketchBudgetBytes)
        columns = (0..<count).map { _ in
            ColumnStatistics(
                distinct: DistinctValues(exactLimit: exactLimit, byteLimit: byteLimit, sketchPrecision: sketchPrecision)
            )
        }
        // The other columns' hashes at each distinct value fill the budget; each column's list
        // of the columns it may determine (8 bytes each) may take half as much again, else the
        // file is too wide to track.
        let tracked = count >= 2 && 8 * count * count <= options.dependencyBudgetBytes / 2
        dependencyLimit =
            tracked ? min(options.exactDistinctLimit, options.dependencyBudgetBytes / (8 * count * count)) : 0
        firstHashes = Array(repeating: [], count: count)
        determines = (0..<count).map { column in tracked ? (0..<count).filter { $0 != column } : [] }
        rowHashes = Array(repeating: 0, count: count)
        valueIndexes = Array(repeating: Profiler.emptyValue, count: count)
        changed = Array(repeating: true, count: count)
    }

    /// Takes in one record (with the header's field count). `previous`, the record added just
    /// before, lets values repeated from one row to the next (a household's attributes over its
    /// readings) skip hashing and lookup.
    package mutating func add(_ record: CSVRecord, previous: CSVRecord? = nil) {
        rows += 1
        let count = header.count
        for column in 0..<count {
            if let previous, record.field(column, equalsFieldOf: previous) {
                changed[column] = false
                if valueIndexes[column] == Profiler.emptyValue { columns[column].empty += 1 }
                continue
            }
            changed[column] = true
            if record.length(of: column) == 0 {
                columns[column].empty += 1
                rowHashes[column] = 0
                valueIndexes[column] = Profiler.emptyValue
                continue
            }
            let hash = record.fieldHash(at: column)
            rowHashes[column] = hash
            switch columns[column].distinct.insert(record, field: column, hash: hash) {
            case .new(let index):
                columns[column].classify(record[column])
                columns[column].totalLength += record.length(of: column)
                columns[column].longest = max(columns[column].longest, record.length(of: column))
                valueIndexes[column] = index
            case .repeated(let index):
                valueIndexes[column] = index
            case .uncounted:
                columns[column].classify(record[column])
                columns[column].totalLength += record.length(of: column)
                columns[column].longest = max(columns[column].longest, record.length(of: column))
                valueIndexes[column] = Profiler.uncountedValue
            }
        }
        trackDependencies()
    }

    /// The HyperLogLog precision that keeps `columns` estimates within `budgetBytes` (one
    /// byte a register), between 6 and 14.
    static func sketchPrecision(columns: Int, budgetBytes: Int) -> Int {
        var precision = 14
        while precision > 6 && (1 << precision) * max(columns, 1) > budgetBytes { precision -= 1 }
        return precision
    }

    private static let emptyValue = -1
    private static let uncountedValue = -2

    /// Keeps, for each column A, the columns B such that each value of A came with one value of B.
    private mutating func trackDependencies() {
        let count = header.count
        for column in 0..<count where !determines[column].isEmpty {
            let index = valueIndexes[column]
            if index == Profiler.emptyValue { continue }
            if index == Profiler.uncountedValue || index >= dependencyLimit {
                // Beyond what is tracked: the dependency cannot be shown.
                determines[column] = []
                firstHashes[column] = []
                continue
            }
            let base = index * count
            if base == firstHashes[column].count {
                firstHashes[column].append(contentsOf: rowHashes)
                continue
            }
            // The same value as the row before, with the same targets: nothing new to learn.
            if !changed[column] && !determines[column].contains(where: { changed[$0] }) { continue }
            let holds = determines[column].allSatisfy { firstHashes[column][base + $0] == rowHashes[$0] }
            if !holds {
                determines[column] = determines[column].filter { firstHashes[column][base + $0] == rowHashes[$0] }
                if determines[column].isEmpty { firstHashes[column] = [] }
            }
        }
    }

    /// The profile of everything added so far.
    package func finish(source: String, delimiter: CSVDelimiter, compressed: Bool) -> FileProfile {
        let facts = (0..<header.count).map { column in
            ColumnFacts(
                name: header.names[column], statistics: columns[column], rows: rows,
                determines: Set(determines[column].map { header.names[$0] }),
                dependencyKnown: columns[column].distinct.isExact && columns[column].distinct.count <= dependencyLimit)
        }
        let advice = RoleAdvisor(columns: facts, rows: rows).advise()
        let profiles = facts.enumerated().map { offset, fact in
            ColumnProfile(
                name: fact.name, type: fact.type, empty: fact.statistics.empty,
                distinct: fact.statistics.distinct.count, distinctExact: fact.statistics.distinct.isExact,
                format: fact.type == .timestamp || fact.type == .date ? fact.statistics.temporalFormat : nil,
                minimum: fact.statistics.minimum.isFinite ? fact.statistics.minimum : nil,
                maximum: fact.statistics.maximum.isFinite ? fact.statistics.maximum : nil,
                role: advice.roles[offset].role, reason: advice.roles[offset].reason, longest: fact.statistics.longest)
        }
        return FileProfile(
            file: source, delimiter: delimiter.name, compressed: compressed, rows: rows,
            entity: advice.entity, columns: profiles)
    }
}

/// A column's statistics with what the role advisor needs beside them.
struct ColumnFacts {
    var name: String
    var statistics: ColumnStatistics
    var rows: Int
    /// Names of the columns this one determines (one value there for each value here).
    var determines: Set<String>
    /// False when the column had too many values for dependencies to be tracked.
    var dependencyKnown: Bool
    var hint: ColumnNameHint
    var type: ColumnType

    init(name: String, statistics: ColumnStatistics, rows: Int, determines: Set<String>, dependencyKnown: Bool) {
        self.name = name
        self.statistics = statistics
        self.rows = rows
        self.determines = determines
        self.dependencyKnown = dependencyKnown
        self.hint = ColumnNameHint.of(name)
        self.type = statistics.type(rows: rows)
    }

    var nonEmpty: Int { rows - statistics.empty }
    var distinct: Int { statistics.distinct.count }
    /// Values repeat: there are at least 10% more values than distinct values.
    var repeats: Bool { distinct > 0 && nonEmpty * 10 >= distinct * 11 }
}
