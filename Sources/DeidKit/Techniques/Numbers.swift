import DeidCSV
import Foundation

/// Reading and writing decimal numbers as field bytes, without going through `String`.
enum DecimalText {
    /// The number in `bytes` and its count of decimal places, or nil when the bytes are not a
    /// plain decimal (`-12`, `0.196`, `+3.5`, `1e3`).
    static func parse<Bytes: Collection>(_ bytes: Bytes) -> (value: Double, decimals: Int)? where Bytes.Element == UInt8 {
        if let parsed = bytes.withContiguousStorageIfAvailable({ parse(UnsafeRawBufferPointer($0)) }) { return parsed }
        return Array(bytes).withUnsafeBytes { parse($0) }
    }

    /// The number in `bytes` and its count of decimal places (see the generic `parse`). Up to
    /// 18 digits are read into an integer in one loop without overflow checks, and divided by
    /// an exact power of ten (a correctly rounded result); more digits or an exponent go
    /// through the general parser.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> (value: Double, decimals: Int)? {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return nil }
        let count = bytes.count
        var index = 0
        let sign = base.load(as: UInt8.self)
        let negative = sign == 0x2D
        if negative || sign == 0x2B { index = 1 }
        var mantissa: UInt64 = 0
        var digits = 0
        var point = -1
        while index < count {
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            let digit = byte &- 0x30
            if digit < 10 {
                mantissa = mantissa &* 10 &+ UInt64(digit)
                digits &+= 1
            } else if byte == 0x2E && point < 0 {
                point = index
            } else {
                // Only an exponent (`1e3`, `2.5E-1`) needs the general parser; any other byte
                // means the field is not a number (text is rejected without building a String).
                guard digits > 0, byte == 0x65 || byte == 0x45 else { return nil }
                return general(bytes, decimals: point < 0 ? 0 : index &- point &- 1)
            }
            index &+= 1
        }
        guard digits > 0 else { return nil }
        let decimals = point < 0 ? 0 : count &- point &- 1
        guard digits <= 18 else { return general(bytes, decimals: decimals) }
        var value = Double(mantissa)
        if decimals > 0 { value /= decimals < exactPowersOfTen.count ? exactPowersOfTen[decimals] : pow(10, Double(decimals)) }
        return (negative ? -value : value, decimals)
    }

    /// The number in `bytes` by the standard library's parser (many digits, an exponent).
    private static func general(_ bytes: UnsafeRawBufferPointer, decimals: Int) -> (value: Double, decimals: Int)? {
        guard let text = String(validating: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self), let value = Double(text),
              value.isFinite else { return nil }
        return (value, decimals)
    }

    /// 10^0 ... 10^22, every one exact in a Double.
    private static let exactPowersOfTen: [Double] = (0...22).map { pow(10, Double($0)) }

    static let powersOfTen: [Double] = (0...22).map { pow(10, Double($0)) }

    /// `value` with exactly `decimals` places (`-0` written as `0`).
    static func format(_ value: Double, decimals: Int) -> [UInt8] {
        var output: [UInt8] = []
        write(value, decimals: decimals, into: &output)
        return output
    }

    /// Appends `value` with exactly `decimals` places to `output` (`-0` written as `0`).
    static func write(_ value: Double, decimals: Int, into output: inout [UInt8]) {
        DecimalFormat.append(value, places: decimals, to: &output)
    }

    /// The shortest text of a policy number: `5`, `2.5`.
    static func label(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// Decimal places needed to write `value` as `label` writes it.
    static func places(of value: Double) -> Int {
        let text = label(value)
        guard let point = text.firstIndex(of: ".") else { return 0 }
        return text.distance(from: point, to: text.endIndex) - 1
    }
}
