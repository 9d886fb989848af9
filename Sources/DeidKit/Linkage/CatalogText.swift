import Foundation

/// How catalog entries are shown.
package enum CatalogText {
    package static func table(_ releases: [CatalogRelease]) -> String {
        if releases.isEmpty { return "no releases\n" }
        var lines = ["id\tcreated\tdataset\trecords\tretention\tstatus"]
        for release in releases {
            lines.append(
                "\(release.id)\t\(release.created)\t\(release.name)\t\(release.records)\t\(release.retention ?? "-")\t\(release.isPending ? "pending" : "published")"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One line per dataset that spent privacy budget.
    package static func table(_ budgets: [DatasetBudget]) -> String {
        if budgets.isEmpty { return "no privacy budget spent\n" }
        var lines = ["dataset\treleases\tepsilon_spent\tdelta_spent\tlifetime_epsilon\tepsilon_left"]
        for budget in budgets {
            lines.append(
                "\(budget.dataset)\t\(budget.releases)\t\(DecimalText.label(budget.epsilonSpent))\t\(String(format: "%.3g", budget.deltaSpent))\t\(budget.lifetimeEpsilon.map(DecimalText.label) ?? "-")\t\(budget.epsilonLeft.map(DecimalText.label) ?? "-")"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    package static func json(_ budgets: [DatasetBudget]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(budgets), as: UTF8.self) + "\n"
    }

    package static func details(_ release: CatalogRelease) -> String {
        var lines = [
            "release \(release.id)\(release.isPending ? " (pending: its publish was interrupted, or is under way)" : "")",
            "  dataset     \(release.name)", "  created     \(release.created)",
        ]
        for (label, value) in [
            ("purpose", release.purpose), ("controller", release.controller), ("retention", release.retention),
            ("location", release.location),
        ] {
            if let value { lines.append("  \(label.padding(toLength: 11, withPad: " ", startingAt: 0)) \(value)") }
        }
        lines.append("  policy      sha256 \(release.policyFingerprint)")
        lines.append(
            "  data        \(release.dataFile) sha256 \(release.dataSHA256): \(release.records) records, \(release.individuals) individuals"
                + (release.entity.map { " (distinct \($0))" } ?? ""))
        for input in release.inputs {
            lines.append("  input       \(input.name) sha256 \(input.sha256 ?? "-"): \(input.records) records")
        }
        for column in release.columns {
            var text = "  column      \(column.name): \(column.role)"
            if let technique = column.technique { text += ", \(technique) (\(column.family ?? "-"))" }
            if let key = column.keyID { text += ", key \(key)\(column.perRelease ? " per release" : "")" }
            lines.append(text)
        }
        lines.append(
            "  classes     \(release.classes.count) over \(release.quasiIdentifiers.isEmpty ? "no quasi-identifiers" : release.quasiIdentifiers.joined(separator: ", "))"
        )
        lines.append(
            "  sketches    \(release.columnSketches.count) columns, \(release.pseudonymSketches.count) pseudonym columns"
        )
        return lines.joined(separator: "\n") + "\n"
    }

    struct Entry: Encodable {
        var id, name, created, policySHA256, dataFile, dataSHA256, status: String
        var purpose, controller, retention, location, entity: String?
        var records, individuals: Int
        var quasiIdentifiers: [String]
        var columns: [ColumnEntry]?
        var classes: Int?

        enum CodingKeys: String, CodingKey {
            case id, name, created, purpose, controller, retention, location, entity, records, individuals, columns,
                classes, status
            case policySHA256 = "policy_sha256", dataFile = "data_file", dataSHA256 = "data_sha256", quasiIdentifiers =
                "quasi_identifiers"
        }
    }

    struct ColumnEntry: Encodable {
        var name, role: String
        var technique, family, keyID: String?
        var perRelease: Bool

        enum CodingKeys: String, CodingKey {
            case name, role, technique, family, keyID = "key_id", perRelease = "per_release"
        }
    }

    package static func json(_ releases: [CatalogRelease], full: Bool = false) throws -> String {
        let entries = releases.map { release in
            Entry(
                id: release.id, name: release.name, created: release.created, policySHA256: release.policyFingerprint,
                dataFile: release.dataFile, dataSHA256: release.dataSHA256,
                status: release.isPending ? "pending" : "published", purpose: release.purpose,
                controller: release.controller,
                retention: release.retention, location: release.location, entity: release.entity,
                records: release.records,
                individuals: release.individuals, quasiIdentifiers: release.quasiIdentifiers,
                columns: release.columns.map {
                    ColumnEntry(
                        name: $0.name, role: $0.role, technique: $0.technique, family: $0.family,
                        keyID: $0.keyID, perRelease: $0.perRelease)
                },
                classes: full ? release.classes.count : nil)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(entries), as: UTF8.self) + "\n"
    }
}
