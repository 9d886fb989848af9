import DeidCSV

/// The inferred type of a column, from all its non-empty values.
package enum ColumnType: String, Sendable, Codable, CaseIterable {
    case integer, decimal, timestamp, date, categorical, text
    /// Every value is empty.
    case empty
}

/// What one streaming pass learns about a column.
struct ColumnStatistics {
    var empty = 0
    var distinct: DistinctValues
    /// Values seen while counting was exact are classified once; afterwards every value is.
    var classified = 0
    var integers = 0
    var decimals = 0
    var temporal = 0
    var timestamps = 0
    /// The date/time formats every temporal value so far agrees with.
    var temporalFormats: Set<String>?
    /// The last format intersected into `temporalFormats`: the same format again changes nothing.
    var lastTemporalFormat: String?
    var emails = 0
    var phones = 0
    var personNames = 0
    var ukPostcodes = 0
    var minimum = Double.infinity
    var maximum = -Double.infinity
    var totalLength = 0
    /// The longest value counted, in bytes.
    var longest = 0

    init(distinct: DistinctValues) { self.distinct = distinct }

    mutating func classify(_ value: ArraySlice<UInt8>) {
        let shape = ValueShape(value)
        classified += 1
        if shape.isInteger { integers += 1 }
        if shape.isDecimal { decimals += 1 }
        if let number = shape.number {
            minimum = min(minimum, number)
            maximum = max(maximum, number)
        }
        if let format = shape.temporalFormat {
            temporal += 1
            if shape.isTimestamp { timestamps += 1 }
            if format != lastTemporalFormat {
                let options = Set(format.split(separator: "|").map(String.init))
                temporalFormats = temporalFormats.map { $0.intersection(options) } ?? options
                lastTemporalFormat = format
            }
        }
        if shape.isEmail { emails += 1 }
        if shape.isPhone { phones += 1 }
        if shape.isPersonName { personNames += 1 }
        if shape.isUKPostcode { ukPostcodes += 1 }
    }

    /// The share of classified values with a property.
    func share(_ count: Int) -> Double { classified == 0 ? 0 : Double(count) / Double(classified) }

    func type(rows: Int) -> ColumnType {
        guard classified > 0 else { return .empty }
        if integers == classified { return .integer }
        if integers + decimals == classified { return .decimal }
        if temporal == classified, let formats = temporalFormats, !formats.isEmpty {
            return timestamps == classified ? .timestamp : (timestamps == 0 ? .date : .text)
        }
        let nonEmpty = rows - empty
        let count = distinct.count
        // Categorical: few values, each repeated (on average twice for up to 20 values, five
        // times for up to 1,000).
        if distinct.isExact && ((count <= 20 && count * 2 <= nonEmpty) || (count <= 1000 && count * 5 <= nonEmpty)) {
            return .categorical
        }
        return .text
    }

    /// The single date/time format of a temporal column, when the values agree on one.
    var temporalFormat: String? {
        guard let formats = temporalFormats, !formats.isEmpty else { return nil }
        return formats.sorted().first
    }
}
