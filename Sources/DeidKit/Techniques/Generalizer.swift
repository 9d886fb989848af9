import DeidCSV
import Foundation

/// A generalization with all its levels: `generalize(_:level:)` coarsens one value to any level
/// (0 leaves it unchanged), so a search can try levels and a policy can fix one. Empty values
/// stay empty at every level.
package struct Generalizer: Sendable {
    package let spec: GeneralizationSpec
    let hierarchy: HierarchyTable?

    /// - Throws: `ValueProblem` when a hierarchy file cannot be read.
    package init(spec: GeneralizationSpec) throws {
        self.spec = spec
        if case .hierarchy(let path, _) = spec.method {
            hierarchy = try HierarchyTable.load(path: path, displayName: PathName.base(of: path))
        } else {
            hierarchy = nil
        }
    }

    /// Levels above the value itself.
    package var levelCount: Int { spec.levelCount }

    /// True when the result depends on the value alone (a longitude grid also needs the
    /// latitude), so results can be memoized per value.
    package var dependsOnValueOnly: Bool {
        if case .grid(_, .longitude, _) = spec.method { return false }
        return true
    }

    /// The value at `level`.
    /// - Parameter latitude: the row's latitude, for a longitude grid.
    package func generalize(_ value: ArraySlice<UInt8>, level: Int, latitude: ArraySlice<UInt8>? = nil)
        throws(ValueProblem) -> [UInt8]
    {
        if level == 0 || value.isEmpty { return Array(value) }
        let step = min(level, levelCount) - 1
        switch spec.method {
        case .round(let bases):
            let number = try Generalizer.number(value)
            let base = bases[step]
            return DecimalText.format(
                (number / base + 1e-9).rounded(.down) * base, decimals: DecimalText.places(of: base))
        case .intervals(let breaks):
            let number = try Generalizer.number(value)
            let points = Generalizer.breakPoints(breaks, level: step + 1)
            if number < points[0] { return Array("<\(DecimalText.label(points[0]))".utf8) }
            for (low, high) in zip(points, points.dropFirst()) where number < high {
                return Array("[\(DecimalText.label(low)),\(DecimalText.label(high)))".utf8)
            }
            return Array(">=\(DecimalText.label(points[points.count - 1]))".utf8)
        case .topBottom(let bottom, let top):
            let number = try Generalizer.number(value)
            if let top, number >= top { return Array(">=\(DecimalText.label(top))".utf8) }
            if let bottom, number <= bottom { return Array("<=\(DecimalText.label(bottom))".utf8) }
            return Array(value)
        case .time(let units):
            guard let time = TimestampValue.parse(value) else {
                throw ValueProblem("not a date or timestamp in a known layout (YYYY-MM-DD[ HH:MM[:SS]])")
            }
            var output: [UInt8] = []
            time.truncated(to: units[step]).write(into: &output)
            return output
        case .age(let reference, let bands):
            guard let birth = TimestampValue.parse(value)?.date else {
                throw ValueProblem("not a birth date in a known layout (YYYY-MM-DD)")
            }
            var age = reference.year - birth.year
            if (reference.month, reference.day) < (birth.month, birth.day) { age -= 1 }
            guard age >= 0 else { throw ValueProblem("the birth date is after the reference date of the age") }
            let band = bands[step]
            if band == 1 { return Array(String(age).utf8) }
            let low = age / band * band
            return Array("\(low)-\(low + band - 1)".utf8)
        case .prefix(let lengths):
            let length = lengths[step]
            if length == 0 { return [0x2A] }
            var scalars = 0
            var end = value.startIndex
            while end < value.endIndex && scalars < length {
                end += 1
                while end < value.endIndex && value[end] & 0xC0 == 0x80 { end += 1 }  // continuation bytes
                scalars += 1
            }
            var result = Array(value[value.startIndex..<end])
            while result.last == 0x20 { result.removeLast() }
            return result
        case .decimals(let places):
            let number = try Generalizer.number(value)
            return DecimalText.format(number, decimals: places[step])
        case .grid(let metres, let axis, _):
            let number = try Generalizer.number(value)
            let cell = metres[step] / 111_320
            switch axis {
            case .latitude:
                return DecimalText.format(Generalizer.cellCentre(number, cell), decimals: 6)
            case .longitude:
                guard let latitude, let row = DecimalText.parse(latitude)?.value else {
                    throw ValueProblem("the row's latitude is missing or not a number")
                }
                let latitudeCentre = Generalizer.cellCentre(row, cell)
                let width = cell / max(cos(latitudeCentre * .pi / 180), 1e-6)
                return DecimalText.format(Generalizer.cellCentre(number, width), decimals: 6)
            }
        case .hierarchy(let path, _):
            guard let generalized = hierarchy?.generalization(of: value, level: step + 1) else {
                throw ValueProblem("the value is not in the hierarchy file \(PathName.base(of: path))")
            }
            return generalized
        }
    }

    static func number(_ value: ArraySlice<UInt8>) throws(ValueProblem) -> Double {
        guard let number = DecimalText.parse(value)?.value else { throw ValueProblem("not a number") }
        return number
    }

    static func cellCentre(_ value: Double, _ cell: Double) -> Double {
        ((value / cell).rounded(.down) + 0.5) * cell
    }

    /// The break points in use at `level` (1 = all): every 2^(level-1)-th, the last always kept.
    static func breakPoints(_ breaks: [Double], level: Int) -> [Double] {
        let stride = 1 << (level - 1)
        var points = Swift.stride(from: 0, to: breaks.count, by: stride).map { breaks[$0] }
        if points.last != breaks.last { points.append(breaks[breaks.count - 1]) }
        return points
    }
}
