/// What one non-empty value looks like, judged from its bytes alone.
struct ValueShape: Equatable {
    var isInteger = false
    var isDecimal = false
    /// The strftime-style format of a date or timestamp value (`%Y-%m-%d %H:%M:%S`).
    var temporalFormat: String?
    var isTimestamp = false
    var number: Double?
    var isEmail = false
    var isPhone = false
    var isPersonName = false
    var isUKPostcode = false

    /// Values longer than this are text: no number, date, e-mail, phone, postcode or name is,
    /// and a 50 MB field is not copied to find that out.
    static let longestClassified = 255

    init<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        guard bytes.count <= ValueShape.longestClassified else { return }
        let value = Array(bytes)
        classifyNumber(value)
        if !isInteger && !isDecimal { classifyTemporal(value) }
        if temporalFormat == nil && !isDecimal {
            isEmail = ValueShape.looksLikeEmail(value)
            isPhone = !isEmail && ValueShape.looksLikePhone(value)
            isUKPostcode = ValueShape.looksLikeUKPostcode(value)
            isPersonName = !isUKPostcode && ValueShape.looksLikePersonName(value)
        }
    }

    private mutating func classifyNumber(_ value: [UInt8]) {
        var index = 0
        if index < value.count, value[index] == 0x2D || value[index] == 0x2B { index += 1 }
        var digits = 0
        var fraction = 0
        var dot = false
        var exponent = false
        while index < value.count {
            let byte = value[index]
            if byte >= 0x30 && byte <= 0x39 {
                if dot { fraction += 1 } else { digits += 1 }
            } else if byte == 0x2E && !dot && !exponent {
                dot = true
            } else if (byte == 0x65 || byte == 0x45) && !exponent && digits + fraction > 0 {
                exponent = true
                dot = true
                if index + 1 < value.count, value[index + 1] == 0x2D || value[index + 1] == 0x2B { index += 1 }
                if index + 1 >= value.count { return }
            } else {
                return
            }
            index += 1
        }
        guard digits + fraction > 0 else { return }
        // A leading zero on a multi-digit integer (`007`, `0123`) is a code, not a number.
        if !dot && !exponent {
            let first = value[value[0] == 0x2D || value[0] == 0x2B ? 1 : 0]
            if first == 0x30 && digits > 1 { return }
            isInteger = true
        } else {
            isDecimal = true
        }
        number = Double(String(decoding: value, as: UTF8.self))
    }

    private mutating func classifyTemporal(_ value: [UInt8]) {
        var format = ""
        var index = 0
        func digits(_ count: Int) -> Bool {
            guard index + count <= value.count else { return false }
            for offset in 0..<count where !(value[index + offset] >= 0x30 && value[index + offset] <= 0x39) {
                return false
            }
            return true
        }
        func take(_ byte: UInt8) -> Bool {
            guard index < value.count, value[index] == byte else { return false }
            index += 1
            return true
        }
        func number(_ count: Int) -> Int {
            var result = 0
            for offset in 0..<count { result = result * 10 + Int(value[index + offset] - 0x30) }
            return result
        }
        // Date part: YYYY-MM-DD, YYYY/MM/DD, DD/MM/YYYY or MM/DD/YYYY.
        if digits(4), index + 4 < value.count, value[index + 4] == 0x2D || value[index + 4] == 0x2F {
            let separator = value[index + 4]
            index += 5
            guard digits(2) else { return }
            let month = number(2)
            index += 2
            guard take(separator), digits(2) else { return }
            let day = number(2)
            index += 2
            guard (1...12).contains(month), (1...31).contains(day) else { return }
            format = separator == 0x2D ? "%Y-%m-%d" : "%Y/%m/%d"
        } else if digits(2), index + 2 < value.count, value[index + 2] == 0x2F {
            let first = number(2)
            index += 3
            guard digits(2) else { return }
            let second = number(2)
            index += 2
            guard take(0x2F), digits(4) else { return }
            index += 4
            if first > 12 && (1...12).contains(second) {
                format = "%d/%m/%Y"
            } else if second > 12 && (1...12).contains(first) {
                format = "%m/%d/%Y"
            } else if (1...12).contains(first) && (1...12).contains(second) {
                format = "%d/%m/%Y|%m/%d/%Y"
            } else {
                return
            }
        } else {
            return
        }
        if index == value.count {
            temporalFormat = format
            return
        }
        // Time part: [ T]HH:MM[:SS[.fff]][Z|+HH:MM|-HH:MM]
        guard index < value.count, value[index] == 0x20 || value[index] == 0x54 else { return }
        format += value[index] == 0x54 ? "T" : " "
        index += 1
        guard digits(2), number(2) < 24 else { return }
        index += 2
        guard take(0x3A), digits(2), number(2) < 60 else { return }
        index += 2
        format += "%H:%M"
        if take(0x3A) {
            guard digits(2), number(2) <= 60 else { return }
            index += 2
            format += ":%S"
            if take(0x2E) {
                var fractionDigits = 0
                while index < value.count, value[index] >= 0x30 && value[index] <= 0x39 {
                    index += 1
                    fractionDigits += 1
                }
                guard fractionDigits > 0 else { return }
                format += ".%\(fractionDigits)f"
            }
        }
        if take(0x5A) {
            format += "Z"
        } else if index < value.count, value[index] == 0x2B || value[index] == 0x2D {
            index += 1
            guard digits(2) else { return }
            index += 2
            _ = take(0x3A)
            guard digits(2) else { return }
            index += 2
            format += "%z"
        }
        guard index == value.count else { return }
        temporalFormat = format
        isTimestamp = true
    }

    static func looksLikeEmail(_ value: [UInt8]) -> Bool {
        guard let at = value.firstIndex(of: 0x40), at > 0, at < value.count - 3 else { return false }
        let domain = value[(at + 1)...]
        guard let dot = domain.lastIndex(of: 0x2E), dot > at + 1, dot < value.count - 1 else { return false }
        return !value.contains(0x20) && value.filter { $0 == 0x40 }.count == 1
    }

    static func looksLikePhone(_ value: [UInt8]) -> Bool {
        var digits = 0
        for (offset, byte) in value.enumerated() {
            switch byte {
            case 0x30...0x39: digits += 1
            case 0x2B where offset == 0: continue
            case 0x20, 0x2D, 0x28, 0x29, 0x2E: continue
            default: return false
            }
        }
        // Separators or a leading + tell a phone number from a plain integer.
        let formatted = value.count > digits
        return formatted && (7...15).contains(digits)
    }

    /// `SW1A 1AA`, `N7 6QP`, `EC2V 7HH`: outward code (1-2 letters, a digit, an optional letter
    /// or digit), a space, inward code (a digit and two letters).
    static func looksLikeUKPostcode(_ value: [UInt8]) -> Bool {
        func letter(_ byte: UInt8) -> Bool { byte >= 0x41 && byte <= 0x5A }
        func digit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
        guard let space = value.firstIndex(of: 0x20) else { return false }
        let outward = value[..<space]
        let inward = value[(space + 1)...]
        guard inward.count == 3, digit(inward[inward.startIndex]), letter(inward[inward.startIndex + 1]),
            letter(inward[inward.startIndex + 2])
        else { return false }
        guard (2...4).contains(outward.count), letter(outward[0]) else { return false }
        var index = 1
        if index < outward.count, letter(outward[index]) { index += 1 }
        guard index < outward.count, digit(outward[index]) else { return false }
        index += 1
        if index < outward.count, letter(outward[index]) || digit(outward[index]) { index += 1 }
        return index == outward.count
    }

    /// Two or three words, each a capital letter then lower-case letters (hyphens and
    /// apostrophes allowed): `Ada Lovelace`, `Mary-Jane O'Neil`.
    static func looksLikePersonName(_ value: [UInt8]) -> Bool {
        let words = value.split(separator: 0x20, omittingEmptySubsequences: false)
        guard (2...3).contains(words.count) else { return false }
        for word in words {
            guard word.count >= 2, let first = word.first, first >= 0x41 && first <= 0x5A else { return false }
            for byte in word.dropFirst() {
                let lower = byte >= 0x61 && byte <= 0x7A
                guard lower || byte == 0x2D || byte == 0x27 || (byte >= 0x41 && byte <= 0x5A) else { return false }
            }
            guard word.dropFirst().contains(where: { $0 >= 0x61 && $0 <= 0x7A }) else { return false }
        }
        return true
    }
}
