import Foundation

/// The human form of a link report: one block per pair, then pseudonyms and keys.
package enum LinkText {
    /// Shared columns listed one a line per pair (a wide file's are summed up past it).
    static let sharedColumnsListed = 50

    package static func render(_ report: LinkReport) -> String {
        var lines: [String] = []
        func share(_ value: Double) -> String { String(format: "%.4f", value) }
        for file in report.files {
            let unit =
                file.entity.map { "\(file.individuals) individuals (distinct \($0))" } ?? "one individual per record"
            lines.append(
                "\(file.kind == "release" ? "release" : "file")  \(file.name): \(file.records) records, \(unit)")
        }
        for same in report.sameData {
            lines.append("same data  \(same.file) is the data of \(same.release) (equal SHA-256): not linked to it")
        }
        for pair in report.pairs {
            lines.append("")
            lines.append("\(pair.left) -> \(pair.right)")
            if pair.columns.isEmpty {
                lines.append("  no shared columns")
                continue
            }
            for column in pair.columns.prefix(sharedColumnsListed) {
                let name = column.left == column.right ? column.left : "\(column.left) = \(column.right)"
                lines.append(
                    "  shared  \(name): \(column.comparison) (\(column.reason))\(column.joins ? "" : ", not joined")")
            }
            if pair.columns.count > sharedColumnsListed {
                lines.append(
                    "  shared  ... and \(pair.columns.count - sharedColumnsListed) more columns (--json lists them all)"
                )
            }
            guard !pair.joinColumns.isEmpty else {
                lines.append("  no join columns (only pseudonyms, entities or identifiers in common)")
                continue
            }
            let measures = pair.measures
            let estimate = measures.method == "sketch" ? " (estimated)" : ""
            lines.append(
                "  unique links\(estimate): \(measures.uniqueLinks) of \(measures.leftRecords) (share \(share(measures.uniqueLinkShare))); "
                    + "also unique in the left side: \(measures.alsoUniqueInLeft)")
            lines.append(
                "  joinability \(share(measures.joinability)); joined view k = \(measures.joinedMinClassSize.map(String.init) ?? "-")"
            )
            if pair.reidentification {
                lines.append(
                    "  RE-IDENTIFICATION: \(pair.right) holds direct identifiers (\(pair.rightIdentifiers.joined(separator: ", "))); each unique link names a person"
                )
            }
            for combination in pair.combinations.prefix(5) where combination.uniqueLinks > 0 {
                lines.append(
                    "  combination \(combination.columns.joined(separator: "+")): \(combination.uniqueLinks) unique links (share \(share(combination.uniqueLinkShare)))"
                )
            }
            if pair.joinColumns.count > LinkSession.maxRankedJoinColumns {
                lines.append(
                    "  combinations not ranked: \(pair.joinColumns.count) join columns (at most \(LinkSession.maxRankedJoinColumns) are); name fewer with --columns"
                )
            }
            if let suggestion = pair.suggestion { lines.append("  suggestion: \(suggestion)") }
        }
        if !report.pseudonymReuse.isEmpty {
            lines.append("")
            for reuse in report.pseudonymReuse {
                lines.append(
                    "\(reuse.kind) reuse  \(reuse.left).\(reuse.column) ~ \(reuse.right).\(reuse.rightColumn): "
                        + "\(reuse.sharedValues) shared values (share \(share(reuse.sharedShare))): a join key")
            }
        }
        for key in report.sharedKeys {
            lines.append(
                "same key  \(key.left) and \(key.right) pseudonymize under key \(key.keyID) (\(key.columns.joined(separator: ", "))): their pseudonyms join"
            )
        }
        if let gate = report.gate {
            lines.append("")
            lines.append(
                "gate  max unique-link share \(gate.maxUniqueLinkShare): worst \(share(gate.worst)) -> \(gate.passed ? "passed" : "EXCEEDED")"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
