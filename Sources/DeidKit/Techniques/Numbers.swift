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

    /// The number in `bytes` and its count of decimal places (see the generic `parse`).
    static func parse(_ bytes: UnsafeRawBufferPointer) -> (value: Double, decimals: Int)? {
        var mantissa: UInt64 = 0
        var digits = 0, decimals = 0
        var negative = false, seenPoint = false, simple = true
        var index = 0
        let count = bytes.count
        if index < count, bytes[index] == 0x2D || bytes[index] == 0x2B {
            negative = bytes[index] == 0x2D
            index += 1
        }
        while index < count {
            let byte = bytes[index]
            if byte >= 0x30 && byte <= 0x39 {
                if digits < 18 { mantissa = mantissa * 10 + UInt64(byte - 0x30) } else { simple = false }
                digits += 1
                if seenPoint { decimals += 1 }
            } else if byte == 0x2E && !seenPoint {
                seenPoint = true
            } else {
                // Only an exponent (`1e3`, `2.5E-1`) needs the general parser; any other byte
                // means the field is not a number (text is rejected without building a String).
                guard digits > 0, byte == 0x65 || byte == 0x45 else { return nil }
                simple = false
                break
            }
            index += 1
        }
        if simple {
            guard digits > 0 else { return nil }
            var value = Double(mantissa)
            if decimals > 0 { value /= powersOfTen[min(decimals, powersOfTen.count - 1)] }
            return (negative ? -value : value, decimals)
        }
        guard let text = String(validating: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self), let value = Double(text),
              value.isFinite else { return nil }
        return (value, seenPoint ? decimals : 0)
    }

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
