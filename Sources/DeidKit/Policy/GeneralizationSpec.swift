/// A generalization and the level chosen among its levels. Level 0 is always the value itself;
/// levels 1...levelCount coarsen step by step, so a search (k-anonymity) can choose among them.
public struct GeneralizationSpec: Sendable, Equatable {
    /// How values are coarsened, with the parameters of every level.
    public enum Method: Sendable, Equatable {
        /// Round numbers to a multiple of the base; one base per level.
        case round([Double])
        /// Replace numbers by the interval between break points (`[1,3)`); coarser levels merge
        /// neighbouring intervals pairwise.
        case intervals([Double])
        /// Replace numbers at or above `top` by `>=top`, at or below `bottom` by `<=bottom`.
        case topBottom(bottom: Double?, top: Double?)
        /// Truncate timestamps to a unit, keeping the input's format; one unit per level.
        case time([TimeUnit])
        /// Replace a birth date by the age in whole years at `reference`, then by age bands of
        /// the given widths (1 = the age itself); one width per level.
        case age(reference: CivilDate, bands: [Int])
        /// Keep the first characters (postcode districts); one length per level.
        case prefix([Int])
        /// Round coordinates to decimal places; one count per level.
        case decimals([Int])
        /// Snap coordinates to a grid of square cells of the given size in metres (the cell's
        /// centre); a longitude needs its row's latitude column.
        case grid(metres: [Double], axis: CoordinateAxis, latitudeColumn: String?)
        /// A hierarchy file in ARX's format (`value;level1;level2;...`).
        case hierarchy(path: String, levels: Int)
    }

    public var method: Method
    /// The level applied: 0 leaves values unchanged, 1...levelCount coarsen. With a `privacy`
    /// section a level the policy does not give is chosen by the search.
    public var level: Int
    /// True when the policy gives `level`; false when it is the default (1) or searched.
    public var levelGiven: Bool

    public init(method: Method, level: Int, levelGiven: Bool = true) {
        self.method = method
        self.level = level
        self.levelGiven = levelGiven
    }

    /// How many levels above the value itself the method offers.
    public var levelCount: Int {
        switch method {
        case .round(let bases): return bases.count
        case .intervals(let breaks):
            var intervals = breaks.count - 1, count = 1
            while intervals > 1 { intervals = (intervals + 1) / 2; count += 1 }
            return count
        case .topBottom: return 1
        case .time(let units): return units.count
        case .age(_, let bands): return bands.count
        case .prefix(let lengths): return lengths.count
        case .decimals(let places): return places.count
        case .grid(let metres, _, _): return metres.count
        case .hierarchy(_, let levels): return levels
        }
    }
}

/// Which coordinate a column holds.
public enum CoordinateAxis: String, Sendable, CaseIterable {
    case latitude, longitude
}

/// A calendar date without a time zone (proleptic Gregorian).
public struct CivilDate: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD`.
    public init?(iso text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...12).contains(month), (1...CivilDate.daysIn(month: month, year: year)).contains(day) else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// Days since 1970-01-01 (negative before).
    public var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }

    /// The date `days` days after 1970-01-01.
    public init(daysSinceEpoch days: Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let dayOfEra = z - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day)
    }

    /// ISO weekday: 1 Monday ... 7 Sunday.
    public var isoWeekday: Int {
        let days = daysSinceEpoch  // 1970-01-01 was a Thursday (4)
        return ((days % 7) + 7 + 3) % 7 + 1
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    public static func < (lhs: CivilDate, rhs: CivilDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    public var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }
}
