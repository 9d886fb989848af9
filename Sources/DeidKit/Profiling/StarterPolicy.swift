import Foundation

/// A starter policy in the `deid` policy format (version 1; see Docs/POLICY.md when it lands):
/// every column named, with the suggested role and the reason as a comment. Identifiers get a
/// technique so that the policy is complete: direct identifiers are dropped, the entity column
/// is pseudonymized under a key read from the environment.
package struct StarterPolicy {
    /// The profile the policy is written from.
    package var profile: FileProfile
    /// The dataset name written into the policy.
    package var datasetName: String

    /// A starter policy for `profile`, naming the dataset `datasetName`.
    package init(profile: FileProfile, datasetName: String) {
        self.profile = profile
        self.datasetName = datasetName
    }

    /// The YAML text.
    package func yaml() -> String {
        var lines = [
            "# Starter policy written by `deid profile` from \(comment(profile.file)).",
            "# Every column of the file is listed: review each role and technique before publishing.",
            "version: 1",
            "dataset:",
            "  name: \(quoted(datasetName))",
        ]
        if let entity = profile.entity { lines.append("entity: \(quoted(entity))") }
        lines.append("columns:")
        for column in profile.columns {
            let role: String
            var technique = ""
            switch column.role {
            case .identifier:
                role = "identifier"
                technique = ", drop: true"
            case .entity:
                role = "identifier"
                technique = ", pseudonymize: { key: \"env:DEID_KEY\", length: 16 }"
            case .quasiIdentifier:
                role = "quasi_identifier"
                technique = searchLevels(column)
            case .sensitive: role = "sensitive"
            case .insensitive, .timestamp: role = "insensitive"
            }
            let note =
                column.role == .timestamp || column.role == .entity
                ? "\(column.role.rawValue): \(column.reason)" : column.reason
            lines.append("  \(quoted(column.name)): { role: \(role)\(technique) }  # \(comment(note))")
        }
        if profile.columns.contains(where: { $0.role == .quasiIdentifier }) {
            // Safe by default: the release must be 5-anonymous, counted in entities; the search
            // chooses the levels of the quasi-identifiers' generalizations.
            lines.append("# Every class of quasi-identifier values must hold 5 or more individuals; the search")
            lines.append(
                "# chooses each generalization's level, suppressing at most 5% of individuals (Docs/PRIVACY.md).")
            lines.append("privacy:")
            lines.append("  k: 5")
            lines.append("  suppression_limit: 0.05")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Levels the privacy search can choose among for a quasi-identifier: postcodes by prefix,
    /// whole numbers rounded, timestamps truncated; other values have no levels to suggest.
    private func searchLevels(_ column: ColumnProfile) -> String {
        let name = column.name.lowercased()
        if name.contains("postcode") || name.contains("zip") || name.contains("postal") {
            return ", generalize: { prefix: [4, 3, 2, 1, 0] }"
        }
        switch column.type {
        case .integer: return ", generalize: { round: [2, 10, 100] }"
        case .timestamp, .date: return ", generalize: { time: [day, week, month, year] }"
        default: return ""
        }
    }

    /// A YAML double-quoted scalar (JSON escapes are valid YAML).
    private func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    result += String(format: "\\u%04X", scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    private func comment(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}
