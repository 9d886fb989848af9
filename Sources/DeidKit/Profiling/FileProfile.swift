/// The suggested de-identification role of a column, as `deid profile` reports it. The first
/// four are the policy's roles; `entity` (the column naming the person or household a record
/// belongs to) and `timestamp` are reported where they apply.
package enum SuggestedRole: String, Sendable, Codable, CaseIterable {
    case identifier
    case quasiIdentifier = "quasi_identifier"
    case sensitive
    case insensitive
    case entity
    case timestamp
}

/// The profile of one column.
package struct ColumnProfile: Sendable, Codable, Equatable {
    /// The column name from the header.
    package var name: String
    /// The inferred type.
    package var type: ColumnType
    /// Empty fields.
    package var empty: Int
    /// Distinct non-empty values (exact, or an estimate when `distinctExact` is false).
    package var distinct: Int
    /// True when `distinct` was counted exactly.
    package var distinctExact: Bool
    /// The strftime-style format of a timestamp or date column.
    package var format: String?
    /// The smallest and largest numeric values, for numeric columns.
    package var minimum: Double?
    /// The largest numeric value.
    package var maximum: Double?
    /// The suggested role.
    package var role: SuggestedRole
    /// Why that role, in words.
    package var reason: String
    /// The longest value, in bytes (not in the JSON).
    package var longest = 0

    enum CodingKeys: String, CodingKey {
        case name, type, empty, distinct, format, minimum, maximum, role, reason
        case distinctExact = "distinct_exact"
    }
}

/// The profile of a file: the `--json` output of `deid profile`.
package struct FileProfile: Sendable, Codable, Equatable {
    /// The input's name as given.
    package var file: String
    /// The delimiter: comma, semicolon, tab or pipe.
    package var delimiter: String
    /// True when the input was gzip.
    package var compressed: Bool
    /// Records, the header excluded.
    package var rows: Int
    /// The suggested entity column, if any.
    package var entity: String?
    /// In file order.
    package var columns: [ColumnProfile]
}
