import Foundation

extension FileProfile {
    /// The `--json` output: stable keys, sorted, pretty-printed.
    package func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// A table for people: one line per column, then the suggested entity.
    package func table() -> String {
        var lines = [
            "\(file): \(rows) rows, \(columns.count) columns, \(delimiter)-separated\(compressed ? ", gzip" : "")", "",
        ]
        let headings = ["column", "type", "empty", "distinct", "role", "reason"]
        let body: [[String]] = columns.map { column in
            let type = column.format.map { "\(column.type.rawValue) \($0)" } ?? column.type.rawValue
            let share = rows == 0 ? 0 : 100 * Double(column.empty) / Double(rows)
            let empty = column.empty == 0 ? "0" : String(format: "%.1f%%", share)
            let distinct = column.distinctExact ? "\(column.distinct)" : "~\(column.distinct)"
            return [column.name, type, empty, distinct, column.role.rawValue, column.reason]
        }
        var widths = headings.map(\.count)
        for row in body {
            for (index, cell) in row.enumerated() where index < 5 { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index < 5 ? cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) : cell
            }.joined(separator: "  ")
        }
        lines.append(line(headings))
        for row in body { lines.append(line(row)) }
        lines.append("")
        if let entity {
            lines.append("entity: \(entity) (records are counted per distinct \(entity), not per row)")
        } else {
            lines.append("entity: none found (each row is taken to be one individual)")
        }
        if columns.contains(where: { !$0.distinctExact }) {
            lines.append("~ marks an estimate (HyperLogLog): the column had too many values to count exactly.")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
