import DeidCSV
import Foundation

/// A population table for journalist risk: the quasi-identifiers' values and how many people
/// of the population have them (a census table, a register count). Rows with the same values
/// add up.
package struct PopulationTable: Sendable {
    package let source: String
    private let columns: [String]
    private var counts: [[[UInt8]]: Int] = [:]

    /// Reads `path` (CSV or gzip CSV), which must have every quasi-identifier column and
    /// `countColumn` holding whole numbers.
    package init(
        path: String, quasiIdentifiers: [String], countColumn: String, options: CSVReadOptions = CSVReadOptions()
    ) throws {
        let reader = try CSVReader(source: InputSource(path: path, encoding: options.encoding), options: options)
        source = reader.source.displayName
        columns = quasiIdentifiers
        func index(_ name: String) throws -> Int {
            if let index = reader.header.index(of: name) { return index }
            throw TransformError(
                position: InputPosition(source: source, line: 1),
                problem:
                    "the population table has no column '\(name)'\(Suggestion.phrase(for: name, among: reader.header.names))"
            )
        }
        let fields = try quasiIdentifiers.map(index)
        let count = try index(countColumn)
        var record = CSVRecord()
        while try reader.readRecord(into: &record) {
            guard let value = DecimalText.parse(record[count]), value.decimals == 0, value.value >= 1,
                value.value < 1e15
            else {
                throw TransformError(
                    position: InputPosition(
                        source: source, line: record.line, record: record.number, column: countColumn),
                    problem: "not a whole number of at least 1 (the population count)")
            }
            counts[fields.map { Array(record[$0]) }, default: 0] += Int(value.value)
        }
    }

    /// The population size of each of the sample's classes (by tuple).
    /// - Throws: when a class of the sample is missing from the table or smaller there than in
    ///   the sample (the table cannot be the population the sample came from).
    func sizes(of statistics: PrivacyStatistics, sampleSizes: [Int]) throws -> [Int] {
        var missing = 0
        var smaller = 0
        var result: [Int] = []
        for tuple in 0..<statistics.tupleCount {
            let key = (0..<statistics.width).map { statistics.values[$0][statistics.code(tuple: tuple, column: $0)] }
            guard let size = counts[key] else {
                missing += 1
                result.append(1)
                continue
            }
            if size < sampleSizes[tuple] { smaller += 1 }
            result.append(max(size, sampleSizes[tuple]))
        }
        if missing > 0 || smaller > 0 {
            var problems: [String] = []
            if missing > 0 {
                problems.append("\(missing) of the sample's \(statistics.tupleCount) classes have no row")
            }
            if smaller > 0 { problems.append("\(smaller) classes count fewer people than the sample holds") }
            throw TransformError(
                position: InputPosition(source: source),
                problem:
                    "\(problems.joined(separator: " and ")) in the population table: it must cover the sample's quasi-identifier values (\(columns.joined(separator: ", ")))"
            )
        }
        return result
    }
}
