/// The suggested de-identification role of a column, as `deid profile` reports it. The first
/// four are the policy's roles; `entity` (the column naming the person or household a record
/// belongs to) and `timestamp` are reported where they apply.
public enum SuggestedRole: String, Sendable, Codable, CaseIterable {
    case identifier
    case quasiIdentifier = "quasi_identifier"
    case sensitive
    case insensitive
    case entity
    case timestamp
}

/// The profile of one column.
public struct ColumnProfile: Sendable, Codable, Equatable {
    /// The column name from the header.
    public var name: String
    /// The inferred type.
    public var type: ColumnType
    /// Empty fields.
    public var empty: Int
    /// Distinct non-empty values (exact, or an estimate when `distinctExact` is false).
    public var distinct: Int
    /// True when `distinct` was counted exactly.
    public var distinctExact: Bool
    /// The strftime-style format of a timestamp or date column.
    public var format: String?
    /// The smallest and largest numeric values, for numeric columns.
    public var minimum: Double?
    /// The largest numeric value.
    public var maximum: Double?
    /// The suggested role.
    public var role: SuggestedRole
    /// Why that role, in words.
    public var reason: String
    /// The longest value, in bytes (not in the JSON).
    public var longest = 0

    enum CodingKeys: String, CodingKey {
        case name, type, empty, distinct, format, minimum, maximum, role, reason
        case distinctExact = "distinct_exact"
    }
}

/// The profile of a file: the `--json` output of `deid profile`.
public struct FileProfile: Sendable, Codable, Equatable {
    /// The input's name as given.
    public var file: String
    /// The delimiter: comma, semicolon, tab or pipe.
    public var delimiter: String
    /// True when the input was gzip.
    public var compressed: Bool
    /// Records, the header excluded.
    public var rows: Int
    /// The suggested entity column, if any.
    public var entity: String?
    /// In file order.
    public var columns: [ColumnProfile]
}
