/// A date or timestamp read from a field, remembering its layout so that a changed value is
/// written back in the input's own format (`2013-01-01 00:17:00` truncated to the hour is
/// `2013-01-01 00:00:00`).
///
/// Layouts: `YYYY-MM-DD` (or `/` between the parts), optionally followed by `T` or a space and
/// `HH:MM`, `:SS`, `.fraction`, and a zone (`Z`, `+hh:mm`, `-hhmm`) that is kept as it is.
package struct TimestampValue: Sendable, Equatable {
    package var date: CivilDate
    package var hour = 0
    package var minute = 0
    package var second = 0
    /// The fraction's digits, as written (zeroed by truncation).
    var fraction: [UInt8] = []
    var dateSeparator: UInt8 = 0x2D
    /// 0 for a date alone, else `T` or space.
    var timeSeparator: UInt8 = 0
    var hasSeconds = false
    var zone: [UInt8] = []

    package var hasTime: Bool { timeSeparator != 0 }

    /// Parses a field's bytes; nil when they are not a date or timestamp in a known layout.
    package static func parse<Bytes: Collection>(_ bytes: Bytes) -> TimestampValue?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        let start = bytes.startIndex
        let count = bytes.count
        guard count >= 10 else { return nil }
        func digits(_ offset: Int, _ length: Int) -> Int? {
            var value = 0
            for index in start + offset..<start + offset + length {
                let byte = bytes[index]
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        let separator = bytes[start + 4]
        guard separator == 0x2D || separator == 0x2F, bytes[start + 7] == separator,
            let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
            (1...12).contains(month), day >= 1, day <= CivilDate.daysIn(month: month, year: year)
        else { return nil }
        var value = TimestampValue(date: CivilDate(year: year, month: month, day: day))
        value.dateSeparator = separator
        var offset = 10
        if count > 10 && (bytes[start + 10] == 0x54 || bytes[start + 10] == 0x20) {
            guard count >= 16, bytes[start + 13] == 0x3A, let hour = digits(11, 2), let minute = digits(14, 2),
                hour < 24, minute < 60
            else { return nil }
            value.timeSeparator = bytes[start + 10]
            value.hour = hour
            value.minute = minute
            offset = 16
            if count >= 19 && bytes[start + 16] == 0x3A {
                guard let second = digits(17, 2), second < 61 else { return nil }
                value.second = second
                value.hasSeconds = true
                offset = 19
                if count > 19 && bytes[start + 19] == 0x2E {
                    var end = 20
                    while end < count, bytes[start + end] >= 0x30 && bytes[start + end] <= 0x39 { end += 1 }
                    guard end > 20 else { return nil }
                    value.fraction = Array(bytes[(start + 20)..<(start + end)])
                    offset = end
                }
            }
        }
        if offset < count {
            let zoneStart = bytes[start + offset]
            guard zoneStart == 0x5A || zoneStart == 0x2B || zoneStart == 0x2D, value.hasTime else { return nil }
            value.zone = Array(bytes[(start + offset)..<(start + count)])
        }
        return value
    }

    /// Seconds since 1970-01-01 00:00 in the value's own clock (the zone is not applied).
    package var secondsSinceEpoch: Int {
        date.daysSinceEpoch * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// The value truncated to the start of its `unit` (ISO weeks start on Monday).
    package func truncated(to unit: TimeUnit) -> TimestampValue {
        var value = self
        if !fraction.isEmpty { value.fraction = [UInt8](repeating: 0x30, count: fraction.count) }
        value.second = 0
        switch unit {
        case .minute: break
        case .quarterHour: value.minute -= value.minute % 15
        case .halfHour: value.minute -= value.minute % 30
        case .hour: value.minute = 0
        case .day, .week, .month, .year:
            value.minute = 0
            value.hour = 0
            switch unit {
            case .week: value.date = CivilDate(daysSinceEpoch: date.daysSinceEpoch - (date.isoWeekday - 1))
            case .month: value.date.day = 1
            case .year:
                value.date.day = 1
                value.date.month = 1
            default: break
            }
        }
        return value
    }

    /// The value moved by whole days.
    package func shifted(days: Int) -> TimestampValue {
        var value = self
        value.date = CivilDate(daysSinceEpoch: date.daysSinceEpoch + days)
        return value
    }

    /// Writes the value in its layout.
    package func write(into output: inout [UInt8]) {
        func put(_ number: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = number
            while divisor > 0 {
                output.append(UInt8(0x30 + (rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        put(date.year, 4)
        output.append(dateSeparator)
        put(date.month, 2)
        output.append(dateSeparator)
        put(date.day, 2)
        guard hasTime else { return }
        output.append(timeSeparator)
        put(hour, 2)
        output.append(0x3A)
        put(minute, 2)
        if hasSeconds {
            output.append(0x3A)
            put(second, 2)
            if !fraction.isEmpty {
                output.append(0x2E)
                output.append(contentsOf: fraction)
            }
        }
        output.append(contentsOf: zone)
    }

    /// The value's text in its layout.
    package var text: String {
        var bytes: [UInt8] = []
        write(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
