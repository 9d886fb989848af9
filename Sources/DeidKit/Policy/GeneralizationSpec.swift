/// A generalization and the level chosen among its levels. Level 0 is always the value itself;
/// levels 1...levelCount coarsen step by step, so a search (k-anonymity) can choose among them.
package struct GeneralizationSpec: Sendable, Equatable {
    /// How values are coarsened, with the parameters of every level.
    package enum Method: Sendable, Equatable {
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

    package var method: Method
    /// The level applied: 0 leaves values unchanged, 1...levelCount coarsen. With a `privacy`
    /// section a level the policy does not give is chosen by the search.
    package var level: Int
    /// True when the policy gives `level`; false when it is the default (1) or searched.
    package var levelGiven: Bool

    package init(method: Method, level: Int, levelGiven: Bool = true) {
        self.method = method
        self.level = level
        self.levelGiven = levelGiven
    }

    /// How many levels above the value itself the method offers.
    package var levelCount: Int {
        switch method {
        case .round(let bases): return bases.count
        case .intervals(let breaks):
            var intervals = breaks.count - 1
            var count = 1
            while intervals > 1 {
                intervals = (intervals + 1) / 2
                count += 1
            }
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
package enum CoordinateAxis: String, Sendable, CaseIterable {
    case latitude, longitude
}
